//! `http-error status N` with log-format parts (`lf-string`, `lf-file`, samples in `hdr`
//! values) and with `errorfiles NAME`, side by side with the real haproxy 2.6: the whole
//! answer (status line, fields in order, body) for a backend without servers (503), a
//! frontend's `deny` (403), a backend's 503 falling back to the frontend's page, and a
//! section without the status (the built-in page). A head that does not parse (`GARBAGE`, an
//! invalid `Content-Length`) gets haproxy's built-in 400 page even under `http-error status
//! 400`: haproxy's mux answers its parse errors itself (a `deny_status 400` gets the page).
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

fn cfg(front: u16, dir: &std::path::Path) -> String {
    let d = dir.display();
    format!(
        "http-errors S\n  errorfile 503 {d}/e503.http\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{front}\n\
         \x20 http-error status 403 content-type text/plain lf-string \"no %[path] for you (%ST)\" hdr x-why \"%[req.hdr(x-why)]\"\n\
         \x20 http-error status 503 content-type text/plain lf-string \"frontend page for %[path]\"\n\
         \x20 http-error status 400 content-type text/plain lf-string \"custom 400 for %[path]\"\n\
         \x20 http-request deny if {{ path /deny }}\n\
         \x20 http-request deny deny_status 400 if {{ path /deny400 }}\n\
         \x20 use_backend b2 if {{ path /b2 }}\n\
         \x20 use_backend b3 if {{ path /b3 }}\n\
         \x20 use_backend b4 if {{ path /b4 }}\n\
         \x20 use_backend b5 if {{ path /b5 }}\n\
         \x20 default_backend b\n\
         backend b\n\
         \x20 http-error status 503 content-type text/plain lf-string \"src=%[src] path=%[path] st=%ST\" hdr x-a \"%[path]\" hdr x-e \"%[req.hdr(x-none)]\"\n\
         backend b2\n  http-error status 503 errorfiles S\n\
         backend b3\n  http-error status 503 content-type text/plain lf-file {d}/lf.txt\n\
         backend b4\n  http-error status 503 errorfiles T\n\
         backend b5\n  timeout connect 1s\n\
         http-errors T\n  errorfile 502 {d}/e503.http\n"
    )
}

fn files(dir: &std::path::Path) {
    std::fs::write(
        dir.join("e503.http"),
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n\r\nfrom-S\n",
    )
    .expect("write");
    std::fs::write(dir.join("lf.txt"), "file path=%[path] q=%[query]\n").expect("write");
}

async fn run(front: u16) -> Vec<String> {
    let mut out = Vec::new();
    for p in ["/x", "/deny", "/b2", "/b3?k=v", "/b4", "/b5"] {
        let mut c = Client::connect(addr(front)).await.expect("connect");
        c.send_raw(format!("GET {p} HTTP/1.1\r\nHost: h\r\nx-why: because\r\n\r\n").as_bytes())
            .await
            .expect("send");
        let r = c.read_response(false).await.expect("answer");
        out.push(format!("{}{}", r.head, String::from_utf8_lossy(&r.body)));
    }
    for raw in [
        "GET /deny400 HTTP/1.1\r\nHost: h\r\n\r\n",
        "GARBAGE\r\n\r\n",
        "GET /cl HTTP/1.1\r\nHost: h\r\nContent-Length: zz\r\n\r\n",
    ] {
        let mut c = Client::connect(addr(front)).await.expect("connect");
        c.send_raw(raw.as_bytes()).await.expect("send");
        let r = c.read_response(false).await.expect("answer");
        out.push(format!("{}{}", r.head, String::from_utf8_lossy(&r.body)));
    }
    out
}

#[tokio::test]
async fn http_error_pages_render_as_haproxy() {
    let dir = TempDir::new("http-error");
    files(&dir.0);
    let front = free_port();
    let h = start(&cfg(front, &dir.0)).await;
    let ours = run(front).await;
    h.shutdown(Duration::from_secs(1)).await;
    assert!(ours[0].contains("src=127.0.0.1 path=/x st=503"), "{ours:?}");
    assert!(ours[1].contains("no /deny for you (403)"), "{ours:?}");
    assert!(ours[3].contains("file path=/b3 q=k=v"), "{ours:?}");
    assert!(ours[6].contains("custom 400 for /deny400"), "{ours:?}");
    for bad in &ours[7..] {
        assert!(
            bad.contains("Your browser sent an invalid request."),
            "{ours:?}"
        );
    }

    let hfront = free_port();
    let Some(_haproxy) = Haproxy::start(&cfg(hfront, &dir.0), addr(hfront)).await else {
        return;
    };
    let theirs = run(hfront).await;
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(o, t, "answer {i}: fulcrum vs haproxy");
    }
}
