//! `http-request set-priority-class` / `set-priority-offset` side by side with the real
//! haproxy 2.6 on the same config: a server with `maxconn 1` busy with a first request,
//! four more queue behind it with different priorities; the server must see them in the same
//! order from both (the lowest class first, then the earliest arrival plus offset), and the
//! `prio_class`/`prio_offset` fetches give the same values in a response header; the same
//! with `tcp-request content set-priority-class`, in HTTP mode and in a TCP listen.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A server answering each request 300 ms after it came, recording its path.
async fn slow_server(seen: Arc<Mutex<Vec<String>>>) -> SocketAddr {
    head_server(move |mut s, head| {
        let path = head.split(' ').nth(1).unwrap_or("?").to_string();
        if let Ok(mut v) = seen.lock() {
            v.push(path);
        }
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
        }
    })
    .await
}

fn cfg(port: u16, server: SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n  timeout queue 5s\n\
         frontend f\n  bind 127.0.0.1:{port}\n\
         \x20 http-request set-priority-class int(5) if {{ path /b }}\n\
         \x20 tcp-request content set-priority-class int(1) if {{ path /c }}\n\
         \x20 http-request set-priority-class int(1) if {{ path /d }}\n\
         \x20 http-request set-priority-offset int(-1000) if {{ path /d }}\n\
         \x20 http-request set-priority-class int(9999) if {{ path /big }}\n\
         \x20 http-response set-header x-prio \"%[prio_class]/%[prio_offset]\"\n\
         \x20 default_backend b\n\
         backend b\n  server s {server} maxconn 1\n\
         listen t\n  mode tcp\n  bind 127.0.0.1:{}\n  tcp-request inspect-delay 1s\n\
         \x20 tcp-request content set-priority-class int(5) if {{ req.payload(0,6) -m str \"GET /b\" }}\n\
         \x20 tcp-request content accept if {{ req.len gt 0 }}\n\
         \x20 server s {server} maxconn 1\n",
        port + 1
    )
}

async fn run(port: u16, seen: &Arc<Mutex<Vec<String>>>) -> (Vec<String>, Vec<String>) {
    if let Ok(mut v) = seen.lock() {
        v.clear();
    }
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    let mut tasks = Vec::new();
    for path in ["/a", "/b", "/c", "/d", "/e"] {
        tasks.push(tokio::spawn(async move {
            match get(to, path).await {
                Ok(r) => format!("{path} {} {}", r.status, r.header("x-prio").unwrap_or("-")),
                Err(e) => format!("{path} {e}"),
            }
        }));
        // each one queued after the one before
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap_or_else(|e| e.to_string()));
    }
    let mut c = Client::connect(to).await.expect("connect");
    let r = c.get("/big").await.expect("answer");
    answers.push(format!("/big {}", r.header("x-prio").unwrap_or("-")));
    // a TCP listen: `tcp-request content set-priority-class`
    let tcp = SocketAddr::from(([127, 0, 0, 1], port + 1));
    let mut tasks = Vec::new();
    for path in ["/a", "/b", "/e"] {
        tasks.push(tokio::spawn(async move {
            match get(tcp, path).await {
                Ok(r) => format!("tcp {path} {}", r.status),
                Err(e) => format!("tcp {path} {e}"),
            }
        }));
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    for t in tasks {
        answers.push(t.await.unwrap_or_else(|e| e.to_string()));
    }
    let order = seen.lock().map(|v| v.clone()).unwrap_or_default();
    (answers, order)
}

#[tokio::test]
async fn queue_order_as_haproxy() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = slow_server(seen.clone()).await;
    let port = free_range(2);
    let proxy = start(&cfg(port, server)).await;
    let ours = run(port, &seen).await;
    proxy.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        ours.1,
        ["/a", "/e", "/d", "/c", "/b", "/big", "/a", "/e", "/b"],
        "{ours:?}"
    );
    let hport = free_range(2);
    let Some(_h) = Haproxy::start(
        &cfg(hport, server),
        SocketAddr::from(([127, 0, 0, 1], hport)),
    )
    .await
    else {
        return;
    };
    let theirs = run(hport, &seen).await;
    assert_eq!(ours.0, theirs.0, "answers: fulcrum vs haproxy");
    assert_eq!(ours.1, theirs.1, "the server's order: fulcrum vs haproxy");
}
