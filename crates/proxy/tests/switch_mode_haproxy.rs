//! `tcp-request content switch-mode http` side by side with the real haproxy 2.6 on the same
//! config: a `mode tcp` frontend inspects (`tcp-request inspect-delay`), switches to HTTP if
//! the bytes are HTTP and rejects the rest; from then on its `http-request` rules and
//! `use_backend` by path route each request of a keep-alive connection to one of two `mode
//! http` backends (each with its own `http-request` rule). Compared: the answers, the heads
//! the backends receive (the request split across the inspection: its first bytes must not
//! be lost), the log lines (`option tcplog`: one line per request), a non-HTTP client
//! rejected, a stream made HTTP routed to a `mode tcp` backend (closed, `IR`), and a TCP
//! frontend routing to an HTTP backend without `switch-mode` (HAProxy's implicit upgrade:
//! the frontend's HTTP rules run). Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails.

mod common;
use common::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

fn cfg(s: &Setup<'_>) -> String {
    let (p, be) = (s.ports, s.backend);
    format!(
        "{}\
         frontend f\n  bind 127.0.0.1:{}\n  option tcplog\n\
         \x20 tcp-request inspect-delay 5s\n\
         \x20 tcp-request content switch-mode http if HTTP\n\
         \x20 tcp-request content reject\n\
         \x20 http-request set-header X-Sw yes\n\
         \x20 http-request set-header X-Path %[path]\n\
         \x20 use_backend two if {{ path_beg /two }}\n\
         \x20 use_backend raw if {{ path_beg /raw }}\n\
         \x20 default_backend one\n\
         frontend g\n  bind 127.0.0.1:{}\n  option tcplog\n\
         \x20 http-request set-header X-Sw implicit\n\
         \x20 default_backend one\n\
         backend one\n  mode http\n  http-request set-header X-Be one\n  server s {be}\n\
         backend two\n  mode http\n  http-request set-header X-Be two\n  server s {be}\n\
         backend raw\n  server s {be}\n",
        s.head("tcp"),
        p[0],
        p[1],
    )
}

/// A tcplog line without what differs between runs: the client port, the date, the timers,
/// and `%ac/%fc` (the connections open when it is written: a previous client's may still be
/// closing on either side).
fn fields(line: &str) -> String {
    let w: Vec<&str> = line.split_whitespace().collect();
    let mut keep: Vec<String> = Vec::new();
    for (i, f) in w.iter().enumerate() {
        match i {
            0 | 1 | 4 => {}
            7 => keep.push(f.splitn(3, '/').nth(2).unwrap_or(f).to_string()),
            _ => keep.push(f.to_string()),
        }
    }
    keep.join(" ")
}

/// One answer as compared: status, the backend's body, the connection header.
fn answer(r: &std::io::Result<Response>) -> String {
    match r {
        Ok(r) => format!(
            "{} {} {:?}",
            r.status,
            r.text(),
            r.header("connection").map(str::to_ascii_lowercase)
        ),
        Err(e) => format!("error {:?}", e.kind()),
    }
}

/// The next `n` log lines as compared ("none" for each that did not come within 5 s).
async fn lines(side: &Side, n: usize, out: &mut Vec<String>) {
    for _ in 0..n {
        let line = match side.datagram(Duration::from_secs(5)).await {
            Some(d) => fields(d.split_once("]: ").map_or(d.as_str(), |x| x.1).trim_end()),
            None => "none".into(),
        };
        out.push(line);
    }
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    // A keep-alive connection; the first request split across the inspection.
    let mut c = Client::connect(side.addr(0)).await.expect("connect");
    c.send_raw(b"GET /a?x=1 HTTP/1.1\r\nHo")
        .await
        .expect("send");
    // The rules wait for the rest of the head (the inspect delay is 5 s).
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.send_raw(b"st: a\r\nUser-Agent: t\r\n\r\n")
        .await
        .expect("send");
    out.push(answer(&c.read_response(false).await));
    out.push(answer(&c.get("/two/b").await));
    // Two pipelined requests in one segment, the last closing.
    c.send_raw(
        b"GET /c HTTP/1.1\r\nHost: a\r\n\r\nGET /two/d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await
    .expect("send");
    out.push(answer(&c.read_response(false).await));
    out.push(answer(&c.read_response(false).await));
    out.push(format!(
        "closed {}",
        c.closed_within(Duration::from_secs(3)).await
    ));
    lines(&side, 4, &mut out).await;
    // curl: two URLs on one connection.
    let base = format!("http://{}", side.addr(0));
    let o = tokio::process::Command::new("curl")
        .args(["-s", &format!("{base}/e"), &format!("{base}/two/f")])
        .output()
        .await
        .expect("curl");
    out.push(String::from_utf8_lossy(&o.stdout).into_owned());
    lines(&side, 2, &mut out).await;
    // Not HTTP: rejected, logged `PR`.
    out.push(format!(
        "{:?}",
        side.exchange(0, b"SSH-2.0-OpenSSH_9.2\r\n").await
    ));
    lines(&side, 1, &mut out).await;
    // Made HTTP, routed to a `mode tcp` backend: closed without an answer (`IR`). Its `%bc`
    // is left out: haproxy 2.6 still counts the stream in the backend there (1), fulcrum
    // never counted it (0).
    out.push(format!(
        "{:?}",
        side.exchange(0, b"GET /raw HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
    ));
    let mut ir = Vec::new();
    lines(&side, 1, &mut ir).await;
    out.extend(ir.iter().map(|l| l.replace(" 1/0/0 ", " 0/0/0 ")));
    // The implicit upgrade: a TCP frontend routing to an HTTP backend.
    let mut g = Client::connect(side.addr(1)).await.expect("connect");
    out.push(answer(&g.get("/g1").await));
    out.push(answer(&g.get("/g2").await));
    g.s.shutdown().await.expect("shutdown");
    lines(&side, 2, &mut out).await;
    // What the backend received, in order: the request line and the rules' headers.
    for h in side.backend.heads() {
        let line = h.lines().next().unwrap_or("").to_string();
        out.push(format!("{line} {:?}", x_fields(&h)));
    }
    out
}

#[tokio::test]
async fn switch_mode_http_as_haproxy() {
    let (ours, theirs) = side_by_side(2, cfg, drive).await;
    let Some(theirs) = theirs else { return };
    assert_same(&ours, &theirs);
}
