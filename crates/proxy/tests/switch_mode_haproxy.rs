//! `tcp-request content switch-mode http` side by side with the real haproxy 2.6 on the same
//! config: a `mode tcp` frontend inspects (`tcp-request inspect-delay`), switches to HTTP if
//! the bytes are HTTP and rejects the rest; from then on its `http-request` rules and
//! `use_backend` by path route each request of a keep-alive connection to one of two `mode
//! http` backends (each with its own `http-request` rule). Compared: the answers, the heads
//! the backends receive (the request split across the inspection: its first bytes must not
//! be lost), the log lines (`option tcplog`: one line per request), a non-HTTP client
//! rejected, a stream made HTTP routed to a `mode tcp` backend (closed, `IR`), and a TCP
//! frontend routing to an HTTP backend without `switch-mode` (HAProxy's implicit upgrade:
//! the frontend's HTTP rules run). Also: the content rules run once per request, the first
//! request's before the switch (a counter, a variable, a tracked entry and a capture seen by
//! the backend and in the log), and `switch-mode http proto h2` with curl and h2load. Under
//! FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails.

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
    // Made HTTP, routed to a `mode tcp` backend: closed without an answer (`IR`), the stream
    // counted in that backend as its line is written (`%bc` 1).
    out.push(format!(
        "{:?}",
        side.exchange(0, b"GET /raw HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
    ));
    lines(&side, 1, &mut out).await;
    // The implicit upgrade: a TCP frontend routing to an HTTP backend.
    let mut g = Client::connect(side.addr(1)).await.expect("connect");
    out.push(answer(&g.get("/g1").await));
    out.push(answer(&g.get("/g2").await));
    g.s.shutdown().await.expect("shutdown");
    lines(&side, 2, &mut out).await;
    heads(&side, &mut out);
    out
}

/// What the backend received, in order: the request line and the rules' headers.
fn heads(side: &Side, out: &mut Vec<String>) {
    for h in side.backend.heads() {
        let line = h.lines().next().unwrap_or("").to_string();
        out.push(format!("{line} {:?}", x_fields(&h)));
    }
}

/// Runs `drive` against fulcrum and haproxy on `cfg` (`ports` listening ports) and compares.
async fn compare<Fut: std::future::Future<Output = Vec<String>>>(
    ports: usize,
    cfg: fn(&Setup<'_>) -> String,
    drive: fn(Arc<Side>) -> Fut,
) {
    let (ours, theirs) = side_by_side(ports, cfg, drive).await;
    let Some(theirs) = theirs else { return };
    assert_same(&ours, &theirs);
}

#[tokio::test]
async fn switch_mode_http_as_haproxy() {
    compare(2, cfg, drive).await;
}

/// A `mode tcp` frontend whose content rules admit the client (`admit`), track it, count it,
/// set a variable (and run `more`) before `switch`; its `http-request` rules write the
/// counters into headers the backend receives.
fn counting_cfg(s: &Setup<'_>, log: &str, admit: &str, more: &str, switch: &str) -> String {
    format!(
        "{}\
         frontend f\n  bind 127.0.0.1:{}\n  {log}\n\
         \x20 stick-table type ip size 1k expire 30s store gpc0,conn_cnt,http_req_cnt\n\
         \x20 tcp-request inspect-delay 5s\n\
         \x20 tcp-request content reject unless {admit}\n\
         \x20 tcp-request content track-sc0 src\n\
         \x20 tcp-request content sc-inc-gpc0(0)\n\
         \x20 tcp-request content set-var(txn.n) sc0_get_gpc0\n\
         {more}\
         \x20 tcp-request content {switch}\n\
         \x20 http-request set-header X-Gpc %[sc0_get_gpc0]\n\
         \x20 http-request set-header X-N %[var(txn.n)]\n\
         \x20 http-request set-header X-Cnt %[sc0_conn_cnt]\n\
         \x20 http-request set-header X-Req %[sc0_http_req_cnt]\n\
         \x20 default_backend one\n\
         backend one\n  mode http\n  server s {}\n",
        s.head("tcp"),
        s.ports[0],
        s.backend,
    )
}

/// `switch-mode http`, a capture among the content rules, a log line with it and the variable.
fn once_cfg(s: &Setup<'_>) -> String {
    counting_cfg(
        s,
        "log-format \"%ft %b/%s %ST %hr %[var(txn.n)]\"",
        "HTTP",
        "  tcp-request content capture req.hdr(x-c) len 8\n",
        "switch-mode http",
    )
}

/// The next `n` lines of requests: a readiness probe's (a connection without a byte, rejected
/// `f/<NOSRV>`) may come late on a loaded machine, after the harness drained the socket:
/// skipped (bounded).
async fn request_lines(side: &Side, n: usize, out: &mut Vec<String>) {
    let mut left = n;
    for _ in 0..n + 5 {
        if left == 0 {
            return;
        }
        let line = match side.datagram(Duration::from_secs(5)).await {
            Some(d) => d
                .split_once("]: ")
                .map_or(d.as_str(), |x| x.1)
                .trim_end()
                .to_string(),
            None => "none".into(),
        };
        if line.contains(" f/<NOSRV> ") {
            continue;
        }
        out.push(line);
        left -= 1;
    }
}

async fn once_drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    // Three requests on one connection, then two on another.
    for n in [3, 2] {
        let mut c = Client::connect(side.addr(0)).await.expect("connect");
        for i in 0..n {
            let req = format!("GET /{n}/{i} HTTP/1.1\r\nHost: a\r\nX-C: c{n}{i}\r\n\r\n");
            c.send_raw(req.as_bytes()).await.expect("send");
            out.push(answer(&c.read_response(false).await));
            request_lines(&side, 1, &mut out).await;
        }
    }
    heads(&side, &mut out);
    out
}

/// The content rules run once per request, the first one's before the switch (not again
/// after it): the counter, the variable, the tracked entry's connection count and the
/// capture, compared with haproxy 2.6 (before: the first request counted twice, and the
/// entry tracked before the switch stayed for the whole connection).
#[tokio::test]
async fn switch_mode_content_rules_run_once_per_request_as_haproxy() {
    compare(1, once_cfg, once_drive).await;
}

/// `switch-mode http proto h2`: the same content rules, then HTTP/2 with prior knowledge.
fn h2_cfg(s: &Setup<'_>) -> String {
    counting_cfg(
        s,
        "option tcplog",
        "{ req.len gt 0 }",
        "",
        "switch-mode http proto h2",
    )
}

async fn h2_drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    let base = format!("http://{}", side.addr(0));
    // One request with curl (HTTP/2 with prior knowledge), then three on one connection.
    let o = tokio::process::Command::new("curl")
        .args([
            "-s",
            "--http2-prior-knowledge",
            "-w",
            " %{http_version} %{http_code}",
        ])
        .arg(format!("{base}/a"))
        .output()
        .await
        .expect("curl");
    out.push(String::from_utf8_lossy(&o.stdout).into_owned());
    let mut logged = Vec::new();
    request_lines(&side, 1, &mut logged).await;
    let o = tokio::process::Command::new("h2load")
        .args(["-n", "3", "-c", "1", "-m", "1"])
        .arg(format!("{base}/b"))
        .output()
        .await
        .expect("h2load");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    out.extend(
        text.lines()
            .filter(|l| l.starts_with("requests:") || l.starts_with("status codes:"))
            .map(str::to_string),
    );
    request_lines(&side, 3, &mut logged).await;
    out.extend(logged.iter().map(|l| fields(l)));
    heads(&side, &mut out);
    out
}

/// The session is counted once, each HTTP/2 stream runs the frontend's content rules (the
/// first one too: haproxy's upgrade to H2 ends the TCP stream that ran them before) and is
/// logged: the answers, the heads the backend receives and the log lines as haproxy 2.6's.
#[tokio::test]
async fn switch_mode_http_proto_h2_as_haproxy() {
    compare(1, h2_cfg, h2_drive).await;
}
