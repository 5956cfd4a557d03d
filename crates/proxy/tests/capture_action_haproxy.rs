//! `http-request capture SAMPLE len N` side by side with the real haproxy 2.6: the rules'
//! slots take their place among the `capture request header` slots (in the order written),
//! hold the sample's value cut to N bytes (or nothing when the rule's condition fails), and
//! the log lines (`%hr`, `%hrl`) read from a UDP syslog socket are the same bytes.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

fn cfg(syslog: u16, front: u16, server: SocketAddr) -> String {
    format!(
        "global\n  log 127.0.0.1:{syslog} local0\n\
         defaults\n  mode http\n  log global\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{front}\n  log-format \"hr=%hr hrl=%hrl end\"\n\
         \x20 capture request header Host len 10\n\
         \x20 http-request capture req.hdr(User-Agent),lower len 5\n\
         \x20 http-request capture path len 20 if {{ path_beg /p }}\n\
         \x20 capture request header X-B len 4\n\
         \x20 http-request capture str(a|b{{c}}) len 10\n\
         \x20 default_backend b\n\
         backend b\n  server s {server}\n"
    )
}

const REQUESTS: &[&str] = &[
    "GET /p/abc HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\nX-B: 123456\r\nConnection: close\r\n\r\n",
    "GET /q HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
];

async fn run(sys: &tokio::net::UdpSocket, front: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 2048];
    for raw in REQUESTS {
        let mut c = Client::connect(addr(front)).await.expect("connect");
        c.send_raw(raw.as_bytes()).await.expect("send");
        assert_eq!(c.read_response(false).await.expect("answer").status, 200);
        let n = tokio::time::timeout(Duration::from_secs(5), sys.recv(&mut buf))
            .await
            .expect("a log line within 5 s")
            .expect("recv");
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        out.push(
            line.split_once("hr=")
                .map_or("", |x| x.1)
                .trim()
                .to_string(),
        );
    }
    out
}

#[tokio::test]
async fn capture_action_as_haproxy() {
    let server = Backend::start("app").await;
    let sys = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let front = free_port();
    let f = start(&cfg(
        sys.local_addr().expect("a").port(),
        front,
        server.addr,
    ))
    .await;
    let ours = run(&sys, front).await;
    f.shutdown(Duration::from_secs(1)).await;
    assert!(
        ours[0].starts_with("{example.co|mozil|/p/abc|1234|"),
        "{ours:?}"
    );

    let server2 = Backend::start("app").await;
    let hsys = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let hfront = free_port();
    let Some(_h) = Haproxy::start(
        &cfg(hsys.local_addr().expect("a").port(), hfront, server2.addr),
        addr(hfront),
    )
    .await
    else {
        return;
    };
    // The readiness probe's connection may have logged a line: drop it.
    drain_syslog(&hsys).await;
    let theirs = run(&hsys, hfront).await;
    assert_eq!(ours, theirs, "fulcrum (left) vs haproxy (right)");
}
