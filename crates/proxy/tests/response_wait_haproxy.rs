//! `http-response wait-for-body time T [at-least N]` side by side with the real haproxy 2.6:
//! a server sends its answer's head at once and its body 200 ms later; the `http-response`
//! rules see the whole body when they wait for it (`res.len` in a header), the part that came
//! with the head when they do not, a part of it with `at-least`, and nothing more when the
//! time runs out first (a 504); a wait after other response rules (they see the part that
//! came with the head, the rules after it the whole body; its condition reads a variable a
//! rule before it set). Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A server sending `head + "abc"`, then 200 ms later the rest of a 10-byte body.
async fn late_body_server() -> SocketAddr {
    head_server(|mut s, _| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = s.write_all(b"defghij").await;
    })
    .await
}

fn cfg(port: u16, server: SocketAddr) -> String {
    let be = |name: &str, wait: &str| {
        format!(
            "backend {name}\n{wait}  http-response set-header x-len %[res.len]\n  server s {server}\n"
        )
    };
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{port}\n\
         \x20 use_backend all if {{ path /all }}\n\
         \x20 use_backend some if {{ path /some }}\n\
         \x20 use_backend short if {{ path /short }}\n\
         \x20 use_backend after if {{ path /after }}\n\
         \x20 default_backend none\n{}{}{}{}{}",
        be("all", "  http-response wait-for-body time 2s\n"),
        be("some", "  http-response wait-for-body time 2s at-least 5\n"),
        be("short", "  http-response wait-for-body time 50ms\n"),
        be("none", ""),
        be(
            "after",
            "  http-response set-header x-before %[res.len]\n  http-response set-var(txn.w) status\n  http-response wait-for-body time 2s if { var(txn.w) -m int 200 }\n"
        ),
    )
}

async fn run(port: u16) -> Vec<String> {
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    let mut out = Vec::new();
    for path in ["/all", "/some", "/short", "/none", "/after"] {
        let r = get(to, path).await.expect("answer");
        out.push(format!(
            "{path} {} {} {} {}",
            r.status,
            r.header("x-before").unwrap_or("-"),
            r.header("x-len").unwrap_or("-"),
            r.text()
        ));
    }
    out
}

#[tokio::test]
async fn response_body_waits_as_haproxy() {
    let server = late_body_server().await;
    let port = free_port();
    let proxy = start(&cfg(port, server)).await;
    let ours = run(port).await;
    proxy.shutdown(Duration::from_secs(1)).await;
    assert_ne!(ours[0], ours[3], "{ours:?}");
    assert_eq!(
        ours[4], "/after 200 53 70 abcdefghij",
        "the rules before the wait saw the head's part: {ours:?}"
    );
    let hport = free_port();
    let Some(_h) = Haproxy::start(
        &cfg(hport, server),
        SocketAddr::from(([127, 0, 0, 1], hport)),
    )
    .await
    else {
        return;
    };
    let theirs = run(hport).await;
    assert_eq!(ours, theirs, "fulcrum vs haproxy");
}
