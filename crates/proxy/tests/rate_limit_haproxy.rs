//! Stick counters side by side with the real haproxy 2.6: the README's rate limiter (429
//! past N requests per 10 s per source, `http-request track-sc0 src`) and a connection-level
//! tracker (`tcp-request connection track-sc1 src`, reject past N connections, the counters
//! written into headers the backend receives). Same config, same clients, same answers.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

fn cfg(limit: u16, conns: u16, server: SocketAddr) -> String {
    format!(
        "global\n  stats socket {sock} level admin\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend limit\n  bind 127.0.0.1:{limit}\n\
         \x20 stick-table type ip size 100k expire 10s store http_req_rate(10s)\n\
         \x20 http-request track-sc0 src\n\
         \x20 http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt 5 }}\n\
         \x20 default_backend b\n\
         frontend conns\n  bind 127.0.0.1:{conns}\n\
         \x20 stick-table type ip size 1k expire 10s store conn_cur,conn_cnt,conn_rate(10s),http_req_cnt,gpc0\n\
         \x20 tcp-request connection track-sc1 src\n\
         \x20 tcp-request connection reject if {{ sc1_conn_rate gt 4 }}\n\
         \x20 http-request set-header X-Cur %[sc1_conn_cur]\n\
         \x20 http-request set-header X-Cnt %[sc1_conn_cnt]\n\
         \x20 http-request set-header X-Rate %[sc1_conn_rate]\n\
         \x20 http-request set-header X-Src-Rate %[src_conn_rate]\n\
         \x20 http-request set-header X-Req %[sc1_http_req_cnt]\n\
         \x20 http-request set-header X-Gpc %[sc1_inc_gpc0]\n\
         \x20 http-request set-header X-Untracked \"[%[sc2_conn_cur]]\"\n\
         \x20 default_backend b\n\
         backend b\n  server s {server}\n",
        sock = sock(limit).display()
    )
}

/// The runtime socket of the proxy whose limiter listens on `limit` (haproxy only: fulcrum
/// runs in-process here and its table is read directly).
fn sock(limit: u16) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "fulcrum-ratelimit-{}-{limit}.sock",
        std::process::id()
    ))
}

/// How a side shows the connection tracker's table (`show table conns`).
type ShowTable<'a> = &'a dyn Fn() -> String;

/// `show table conns` through haproxy's runtime socket.
fn haproxy_table(limit: u16) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(sock(limit)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"show table conns\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// `show table conns` of the in-process fulcrum.
fn fulcrum_table(proxy: &fulcrum_proxy::ProxyHandle) -> String {
    let Some(gen) = proxy.generation() else {
        return String::new();
    };
    let tables: Vec<_> = gen.tables.get("conns").cloned().into_iter().collect();
    fulcrum_proxy::track_cli::answer(&tables, &["show", "table", "conns"], true).unwrap_or_default()
}

/// Waits (bounded: 5 s) until no connection of the tracker is still counted: a client has its
/// answer and the proxy's close before the proxy's session has released the entry, so the
/// next connection may otherwise see the last one's `conn_cur` (seen with haproxy under load).
async fn settled(show: ShowTable<'_>) {
    for _ in 0..500 {
        let t = show();
        if t.contains("# table: conns")
            && !t
                .lines()
                .any(|l| l.contains("key=") && !l.contains("conn_cur=0"))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the tracked connections were still counted after 5 s: {}",
        show()
    );
}

/// Status of one request on a new connection from 127.0.0.2 (so the readiness probes,
/// from 127.0.0.1, do not count), or "closed".
async fn one(to: SocketAddr, path: &str) -> String {
    let attempt = async {
        let sock = tokio::net::TcpSocket::new_v4().ok()?;
        sock.bind(SocketAddr::from(([127, 0, 0, 2], 0))).ok()?;
        let mut s = sock.connect(to).await.ok()?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        let text = String::from_utf8_lossy(&buf).into_owned();
        text.split_whitespace().nth(1).map(str::to_string)
    };
    match tokio::time::timeout(Duration::from_secs(4), attempt).await {
        Ok(Some(code)) => code,
        Ok(None) => "closed".into(),
        Err(_) => "hung".into(),
    }
}

/// Statuses of 8 requests on one keep-alive connection and of 8 more on new connections
/// to the limiter, then 6 connections to the connection tracker; and the counter headers
/// the backend received.
async fn run(
    limit: u16,
    conns: u16,
    server: &Backend,
    show: ShowTable<'_>,
) -> (Vec<String>, Vec<String>, Vec<Vec<String>>) {
    let mut limited = Vec::new();
    let mut c = Client::connect(addr(limit)).await.expect("connect");
    for i in 0..8 {
        c.send_raw(format!("GET /k{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .expect("send");
        let r = c.read_response(false).await.expect("answer");
        limited.push(r.status.to_string());
        if r.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            c = Client::connect(addr(limit)).await.expect("reconnect");
        }
    }
    for i in 0..8 {
        limited.push(one(addr(limit), &format!("/n{i}")).await);
    }
    let mut tracked = Vec::new();
    for i in 0..6 {
        settled(show).await;
        tracked.push(one(addr(conns), &format!("/c{i}")).await);
    }
    let heads: Vec<Vec<String>> = server
        .heads()
        .iter()
        .filter(|h| h.starts_with("GET /c"))
        .map(|h| x_fields(h))
        .collect();
    (limited, tracked, heads)
}

#[tokio::test]
async fn stick_counters_limit_as_haproxy_limits() {
    let server = Backend::start("app").await;
    let (limit, conns) = (free_port(), free_port());
    let proxy = start(&cfg(limit, conns, server.addr)).await;
    let ours = run(limit, conns, &server, &|| fulcrum_table(&proxy)).await;
    proxy.shutdown(Duration::from_secs(1)).await;
    // Not vacuous: per source, the first 5 requests pass and the rest get 429 (the new
    // connections come from another source); the fifth connection is rejected.
    let expect: Vec<&str> = [["200"; 5].as_slice(), &["429"; 3], &["200"; 5], &["429"; 3]].concat();
    assert_eq!(ours.0, expect, "{ours:?}");
    assert_eq!(
        ours.1,
        ["200", "200", "200", "200", "closed", "closed"],
        "{ours:?}"
    );
    assert_eq!(ours.2.len(), 4, "{ours:?}");
    assert!(ours.2[3].contains(&"x-req=4".to_string()), "{ours:?}");

    let server2 = Backend::start("app").await;
    let (hl, hc) = (free_port(), free_port());
    let Some(_haproxy) = Haproxy::start(&cfg(hl, hc, server2.addr), addr(hl)).await else {
        return;
    };
    assert!(wait_listening(addr(hc)).await);
    let theirs = run(hl, hc, &server2, &|| haproxy_table(hl)).await;
    let _ = std::fs::remove_file(sock(hl));
    assert_eq!(
        ours.0, theirs.0,
        "rate limiter statuses: fulcrum vs haproxy"
    );
    assert_eq!(
        ours.1, theirs.1,
        "connection tracker statuses: fulcrum vs haproxy"
    );
    assert_eq!(
        ours.2, theirs.2,
        "counter headers the backend received: fulcrum vs haproxy"
    );
}
