//! `unique-id-format` / `unique-id-header`, the `unique-id` fetch and `%ID` in `log-format`
//! side by side with the real haproxy 2.6: the header the backend receives has the same shape
//! (HAProxy's documented `%{+X}o %ci:%cp_%fi:%fp_%Ts_%rt:%pid`, hexadecimal), carries this
//! connection's addresses, and is the value `%[unique-id]` and the log line's `%ID` show; a
//! plain (decimal) format with a sample gives identical headers once ports are masked.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "global\n  log 127.0.0.1:{} local0\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend hex\n  bind 127.0.0.1:{}\n  log global\n\
         \x20 unique-id-format %{{+X}}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid\n\
         \x20 unique-id-header X-Unique-ID\n\
         \x20 http-request set-header X-Copy %[unique-id]\n\
         \x20 log-format \"id=%ID end\"\n  default_backend b\n\
         frontend plain\n  bind 127.0.0.1:{}\n\
         \x20 unique-id-format %ci-%fp-%[req.hdr(host),lower]\n\
         \x20 unique-id-header X-Req\n  default_backend b\n\
         backend b\n  server s {}\n",
        s.syslog, s.ports[0], s.ports[1], s.backend
    )
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// (the hex id the backend saw, its copy, the client port, the log line's id, the plain id).
async fn run(side: Arc<Side>) -> (String, String, u16, String, String) {
    let mut c = Client::connect(side.addr(0)).await.expect("connect");
    let cport = c.s.local_addr().expect("local").port();
    c.send_raw(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .expect("send");
    assert_eq!(c.read_response(false).await.expect("answer").status, 200);
    let line = side.line().await;
    let logged = line
        .split_once("id=")
        .and_then(|(_, r)| r.split_once(" end"))
        .map_or(String::new(), |(id, _)| id.to_string());
    let mut p = Client::connect(side.addr(1)).await.expect("connect");
    p.send_raw(b"GET /b HTTP/1.1\r\nHost: Example.COM\r\n\r\n")
        .await
        .expect("send");
    assert_eq!(p.read_response(false).await.expect("answer").status, 200);
    let heads = side.backend.heads();
    let id = header(&heads[0], "x-unique-id").unwrap_or("").to_string();
    let copy = header(&heads[0], "x-copy").unwrap_or("").to_string();
    let plain_id = header(&heads[1], "x-req").unwrap_or("").to_string();
    (
        id,
        copy,
        cport,
        logged,
        plain_id.replace(&side.port(1).to_string(), "PORT"),
    )
}

fn check(who: &str, got: &(String, String, u16, String, String), hex: u16) {
    let re = regex::Regex::new(
        r"^7F000001:([0-9A-F]{4})_7F000001:([0-9A-F]{4})_([0-9A-F]{8})_[0-9A-F]{4,}:[0-9A-F]{4,}$",
    )
    .expect("re");
    let c = re
        .captures(&got.0)
        .unwrap_or_else(|| panic!("{who}: id shape: {got:?}"));
    assert_eq!(c[1].to_string(), format!("{:04X}", got.2), "{who}: %cp");
    assert_eq!(c[2].to_string(), format!("{hex:04X}"), "{who}: %fp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let ts = u64::from_str_radix(&c[3], 16).expect("hex");
    assert!(ts.abs_diff(now) <= 5, "{who}: %Ts {ts} vs {now}");
    assert_eq!(got.1, got.0, "{who}: %[unique-id] is the header's id");
    assert_eq!(got.3, got.0, "{who}: %ID is the header's id");
}

#[tokio::test]
async fn unique_ids_as_haproxy() {
    let (ours, theirs) = side_by_side(2, cfg, |side: Arc<Side>| async move {
        let hex = side.port(0);
        (run(side).await, hex)
    })
    .await;
    check("fulcrum", &ours.0, ours.1);
    assert_eq!(ours.0 .4, "127.0.0.1-PORT-example.com");
    if let Some(theirs) = theirs {
        check("haproxy", &theirs.0, theirs.1);
        assert_eq!(ours.0 .4, theirs.0 .4, "plain format: fulcrum vs haproxy");
    }
}
