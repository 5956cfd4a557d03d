//! The cookie characters of `option httplog`'s termination state (`--NI`, `--VN`, ...) are the
//! same as the real HAProxy's over the same request sequence and config (seed 003's
//! `cookie SRV insert indirect nocache`): both proxies log to a UDP syslog socket of the test,
//! which reads each line's termination state.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn cfg(port: u16, syslog: u16, s0: SocketAddr, s1: SocketAddr, dead: SocketAddr) -> String {
    format!(
        "defaults\n    mode http\n    log 127.0.0.1:{syslog} local0\n    option httplog\n    retries 1\n    option redispatch\n\
         \x20   timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    balance roundrobin\n    cookie SRV insert indirect nocache\n\
         \x20   server s0 {s0} cookie 0\n\
         \x20   server s1 {s1} cookie 1\n\
         \x20   server s2 {dead} cookie 2\n\
         backend plain\n    server s0 {s0}\n"
    )
}

/// Cookie headers sent, one request each on a new connection.
const STEPS: &[Option<&str>] = &[
    None,
    Some("SRV=1"),
    Some("SRV=0"),
    Some("SRV=7"),
    Some("JSESSIONID=x; SRV=1"),
    Some("SRV=2"),
    None,
];

/// Runs the steps against `port`; the termination state of each logged line, in order. Each
/// step's line is awaited before the next step starts: lines of requests on different
/// connections (and worker threads) may otherwise arrive in either order.
async fn flags(port: u16, syslog: &tokio::net::UdpSocket) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8192];
    for cookie in STEPS {
        let mut c = Client::connect(addr(port)).await.expect("connect");
        let mut req = "GET / HTTP/1.1\r\nHost: t\r\n".to_string();
        if let Some(v) = cookie {
            req.push_str(&format!("Cookie: {v}\r\n"));
        }
        req.push_str("Connection: close\r\n\r\n");
        c.send_raw(req.as_bytes()).await.expect("send");
        let _ = tokio::time::timeout(Duration::from_secs(5), c.read_response(false)).await;
        let want = out.len() + 1;
        while out.len() < want {
            let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(5), syslog.recv(&mut buf)).await
            else {
                return out;
            };
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            if line.contains("<BADREQ>") {
                continue; // a readiness probe's connection, not one of the steps
            }
            // "... STATUS BYTES - - TERM CONNS ..."
            let words: Vec<&str> = line.split_whitespace().collect();
            if let Some(i) = words
                .windows(3)
                .position(|w| w[0] == "-" && w[1] == "-" && w[2].len() == 4)
            {
                out.push(words[i + 2].to_string());
            }
        }
    }
    out
}

#[tokio::test]
async fn cookie_termination_flags_match_haproxy() {
    let s0 = Backend::start("s0").await;
    let s1 = Backend::start("s1").await;
    let dead = addr(free_port());
    let syslog = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("syslog socket");
    let sport = syslog.local_addr().expect("addr").port();

    let fport = free_port();
    let h = start(&cfg(fport, sport, s0.addr, s1.addr, dead)).await;
    let ours = flags(fport, &syslog).await;
    h.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        ours.len(),
        STEPS.len(),
        "one log line per request: {ours:?}"
    );
    // Without HAProxy at hand, at least HAProxy's documented meaning.
    assert_eq!(ours[0], "--NI", "no cookie, one inserted");
    assert_eq!(ours[1], "--VN", "valid cookie, nothing set");
    assert_eq!(ours[3], "--II", "invalid cookie, a fresh one inserted");
    assert_eq!(
        ours[5], "--DI",
        "the cookie's server is dead: redispatched, a fresh cookie"
    );

    let hport = free_port();
    let Some(haproxy) =
        Haproxy::start(&cfg(hport, sport, s0.addr, s1.addr, dead), addr(hport)).await
    else {
        assert!(
            std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() != Ok("1"),
            "haproxy is required under FULCRUM_REQUIRE_NETNS=1"
        );
        return;
    };
    let theirs = flags(hport, &syslog).await;
    drop(haproxy);
    assert_eq!(
        ours, theirs,
        "termination states: fulcrum (left) vs HAProxy (right)"
    );
}
