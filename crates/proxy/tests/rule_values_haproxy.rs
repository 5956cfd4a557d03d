//! Header values and `lf-string` bodies are HAProxy log-format strings: fulcrum and the real
//! haproxy 2.6 run the same config, and the backend sees the same added headers (names, order,
//! values) for the same requests, and the client the same `lf-string` body. Before the sample
//! engine, `%[url]` reached the backend as the literal text "%[url]".
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

fn cfg(front: u16, lf: u16, backend: SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{front}\n\
         \x20 http-request set-header X-Url %[url]\n\
         \x20 http-request set-header X-Host %[req.hdr(host),lower]\n\
         \x20 http-request set-header X-Q %[query]\n\
         \x20 http-request set-header X-P %[url_param(id)]\n\
         \x20 http-request set-header X-C %[req.cook(SID)]\n\
         \x20 http-request set-header X-Cnt %[req.hdr_cnt(x-multi)]\n\
         \x20 http-request set-header X-M %[req.hdr(x-multi)]\n\
         \x20 http-request set-header X-M1 %[req.hdr(x-multi,1)]\n\
         \x20 http-request set-header X-F %[req.fhdr(x-multi)]\n\
         \x20 http-request set-header X-Meth %[method]\n\
         \x20 http-request set-header X-Ver %[req.ver]\n\
         \x20 http-request set-header X-Base %[base]\n\
         \x20 http-request set-header X-Mix \"pre-%[path,upper]-%HM-%HV-%%\"\n\
         \x20 http-request set-header X-Missing \"[%[req.hdr(nope)]]\"\n\
         \x20 http-request set-header X-Hash %[req.hdr(host),lower,crc32]\n\
         \x20 http-request add-header X-Src %[src]\n\
         \x20 http-request set-header X-St \"st=%ST\"\n\
         \x20 default_backend b\n\
         backend b\n  server s1 {backend}\n\
         frontend lf\n  bind 127.0.0.1:{lf}\n\
         \x20 http-request return status 200 content-type text/plain lf-string \"path=%[path] q=%[query] host=%[req.hdr(host)] m=%[req.hdr(nope)] c=%[req.cook_cnt(SID)] st=%ST\" hdr x-st \"%ST\"\n"
    )
}

const REQUESTS: &[&str] = &[
    "GET /a/b?id=42&x=y HTTP/1.1\r\nHost: Example.COM\r\nCookie: SID=abc; other=1\r\nX-Multi: one, two\r\nX-Multi: three\r\n\r\n",
    "POST /plain HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
    "GET /q?id= HTTP/1.0\r\nHost: h2\r\n\r\n",
];

/// The X-* headers of each request the backend received, in order, lowercased names.
fn added(heads: &[String]) -> Vec<Vec<String>> {
    heads
        .iter()
        .map(|h| {
            h.lines()
                .filter(|l| {
                    l.to_ascii_lowercase().starts_with("x-")
                        && !l.to_ascii_lowercase().starts_with("x-multi")
                })
                .map(|l| {
                    let (n, v) = l.split_once(':').unwrap_or((l, ""));
                    format!("{}: {}", n.to_ascii_lowercase(), v.trim())
                })
                .collect()
        })
        .collect()
}

async fn exchange(front: u16, lf: u16) -> Vec<String> {
    let mut bodies = Vec::new();
    for raw in REQUESTS {
        let mut c = Client::connect(addr(front)).await.expect("connect");
        c.send_raw(raw.as_bytes()).await.expect("send");
        let r = c.read_response(false).await.expect("answer");
        assert_eq!(r.status, 200, "{raw}");
        let mut c = Client::connect(addr(lf)).await.expect("connect lf");
        c.send_raw(raw.as_bytes()).await.expect("send lf");
        bodies.push(c.read_response(false).await.expect("lf answer").text());
    }
    bodies
}

#[tokio::test]
async fn rule_values_are_rendered_as_haproxy_renders_them() {
    let b = Backend::start("app").await;
    let (front, lf) = (free_port(), free_port());
    let h = start(&cfg(front, lf, b.addr)).await;
    let our_bodies = exchange(front, lf).await;
    h.shutdown(Duration::from_secs(1)).await;
    let ours = added(&b.heads());
    assert_eq!(ours.len(), REQUESTS.len());
    // `%ST` before a response is haproxy's -1; in an answer the proxy makes, its status
    assert!(ours[0].iter().any(|l| l == "x-st: st=-1"), "{:?}", ours[0]);
    assert!(our_bodies[0].ends_with(" st=200"), "{:?}", our_bodies[0]);
    assert!(
        ours[0].iter().any(|l| l == "x-url: /a/b?id=42&x=y"),
        "{:?}",
        ours[0]
    );
    assert!(
        !our_bodies.iter().any(|b| b.contains("%[")),
        "{our_bodies:?}"
    );

    let b2 = Backend::start("app").await;
    let (hfront, hlf) = (free_port(), free_port());
    let Some(_haproxy) = Haproxy::start(&cfg(hfront, hlf, b2.addr), addr(hfront)).await else {
        return;
    };
    assert!(wait_listening(addr(hlf)).await);
    let their_bodies = exchange(hfront, hlf).await;
    let theirs = added(&b2.heads());
    assert_eq!(
        ours, theirs,
        "headers the backend received: fulcrum vs haproxy"
    );
    assert_eq!(
        our_bodies, their_bodies,
        "lf-string bodies: fulcrum vs haproxy"
    );
}
