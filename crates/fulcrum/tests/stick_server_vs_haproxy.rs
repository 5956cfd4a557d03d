//! Stickiness and counters in one stick table, side by side with the real HAProxy 2.6 on the
//! same config: `stick on src` beside `track-sc0 src` on an IP table, `stick match` +
//! `stick store-request` on a string table, `stick match src` + `stick store-response src`
//! on an IP table. The server a stick rule stores is in the table's
//! entry (`show table`: `server_id=N ... server_key=NAME`, the `table_server_id` converter),
//! `clear table` forgets the stickiness too (the next request is balanced again), and `set
//! table ... data.server_id` does not move a client (HAProxy 2.6 follows `server_key`).

mod runtime_support;

use runtime_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

fn config(dir: &Path, port: u16, a: u16, b: u16) -> String {
    format!(
        "global\n stats socket {admin} mode 600 level admin\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n\
         \x20http-request return status 200 content-type text/plain lf-string \"%[src,table_server_id(b)] %[req.hdr(x-k),table_server_id(b2)]\" if {{ path /conv }}\n\
         \x20use_backend b2 if {{ path_beg /k }}\n\
         \x20use_backend b3 if {{ path_beg /m }}\n\
         \x20default_backend b\n\
         backend b\n\
         \x20stick-table type ip size 1k expire 1m store gpc0,http_req_cnt\n\
         \x20http-request track-sc0 src\n\
         \x20stick on src\n\
         \x20server s1 127.0.0.1:{a}\n\
         \x20server s2 127.0.0.1:{b}\n\
         backend b2\n\
         \x20stick-table type string len 32 size 1k expire 1m\n\
         \x20stick match req.hdr(x-k)\n\
         \x20stick store-request req.hdr(x-k)\n\
         \x20server s1 127.0.0.1:{a}\n\
         \x20server s2 127.0.0.1:{b}\n\
         backend b3\n\
         \x20stick-table type ip size 1k expire 1m store http_req_cnt\n\
         \x20http-request track-sc1 src\n\
         \x20stick match src\n\
         \x20stick store-response src\n\
         \x20server s1 127.0.0.1:{a}\n\
         \x20server s2 127.0.0.1:{b}\n",
        admin = dir.join("admin.sock").display(),
    )
}

/// One request; the body (the server's name, or the converters' answer).
fn request(port: u16, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nX-K: k1\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return String::new();
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

#[test]
fn stick_rules_write_the_server_into_the_table_as_haproxy() {
    if !tool("stick server versus haproxy", "haproxy", "haproxy") {
        return;
    }
    let (a, b) = (CountingServer::start("s1"), CountingServer::start("s2"));
    let (hport, fport) = (free_port(), free_port());
    let (hdir, _haproxy, f) = versus(
        "stick-server",
        |dir| config(dir, hport, a.port, b.port),
        |dir| config(dir, fport, a.port, b.port),
    );

    let ask = |dir: &Path, line: &str| {
        table_normal(&query(&dir.join("admin.sock"), line).expect("answer"))
    };
    let both = |line: &str| same_table_answer(&hdir, &f.dir, line);
    // Both proxies serve the same request the same way.
    let same = |path: &str| -> String {
        let want = request(hport, path);
        let got = request(fport, path);
        assert_eq!(got, want, "GET {path} (fulcrum, haproxy)");
        assert!(!got.is_empty(), "GET {path} answered");
        got
    };
    // `show table T` once the tracked entry is released on both sides (use=0).
    let settled = |t: &str| -> String {
        let line = format!("show table {t}");
        let idle = fulcrum_testlab::wait::until(Duration::from_secs(5), || {
            [&hdir, &f.dir]
                .iter()
                .all(|d| !ask(d, &line).contains("use=1"))
        });
        assert!(idle.is_some(), "the entry stayed in use");
        both(&line)
    };

    both("show table");
    assert_eq!(same("/app"), "s1");
    assert_eq!(same("/app"), "s1", "stuck");
    let t = settled("b");
    assert!(
        t.contains("key=127.0.0.1 use=0 exp=E server_id=1 gpc0=0 http_req_cnt=2 server_key=s1"),
        "{t}"
    );
    assert_eq!(same("/k"), "s1");
    let t = settled("b2");
    assert!(
        t.contains("key=k1 use=0 exp=E server_id=1 server_key=s1"),
        "{t}"
    );
    assert_eq!(same("/conv"), "1 1");

    // `set table ... data.server_id` changes the number, not where the client goes.
    both("set table b key 127.0.0.1 data.server_id 2");
    settled("b");
    assert_eq!(same("/app"), "s1", "server_key still says s1");
    settled("b");

    // `clear table` forgets the stickiness: the next request is balanced again.
    both("clear table b");
    assert!(!settled("b").contains("key="), "cleared");
    assert_eq!(same("/app"), "s2");
    let t = settled("b");
    assert!(
        t.contains("server_id=2 gpc0=0 http_req_cnt=1 server_key=s2"),
        "{t}"
    );
    both("clear table b2 key k1");
    assert_eq!(same("/k"), "s2");
    let t = settled("b2");
    assert!(
        t.contains("key=k1 use=0 exp=E server_id=2 server_key=s2"),
        "{t}"
    );
    assert_eq!(same("/conv"), "2 2");

    // An address table with `stick match src` + `stick store-response src`.
    assert_eq!(same("/m"), "s1");
    assert_eq!(same("/m"), "s1", "matched");
    let t = settled("b3");
    assert!(
        t.contains("key=127.0.0.1 use=0 exp=E server_id=1 http_req_cnt=2 server_key=s1"),
        "{t}"
    );
}
