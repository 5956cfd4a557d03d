//! Stick tables on the runtime socket, side by side with the real HAProxy 2.6 on the same
//! config: `show table` (all, one, `key K`, `data.X OP V` filters), `set table`, `clear table`
//! with their errors and levels answer alike (entry addresses and the milliseconds before
//! expiry set aside), and the counters a tracked client leaves — connections, request rate —
//! are the same numbers. Bytes differ by design: HAProxy counts its internal (HTX) form of
//! the messages, fulcrum the bytes on the wire, checked here against what the client sent and
//! read.

mod runtime_support;

use runtime_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

fn config(dir: &Path, port: u16, a: u16) -> String {
    format!(
        "global\n stats socket {admin} mode 600 level admin\n stats socket {user} mode 600 level user\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n\
         \x20stick-table type ip size 1k expire 30s store conn_cnt,http_req_rate(10s),gpc0,bytes_in_rate(10s),bytes_out_cnt,server_id\n\
         \x20http-request track-sc0 src\n\
         \x20http-request return status 200 content-type text/plain lf-string \"{conv}\" if {{ path /conv }}\n\
         \x20default_backend be\n\
         backend be\n\
         \x20stick-table type integer size 10 expire 1m store conn_cur,gpt0,gpc1,http_err_rate(1m)\n\
         \x20server a 127.0.0.1:{a}\n\
         backend bs\n\
         \x20stick-table type string len 32 size 100 store gpc0,http_req_cnt\n",
        conv = CONVERTERS,
        admin = dir.join("admin.sock").display(),
        user = dir.join("user.sock").display(),
    )
}

/// The stick-table converters, answered in a `return` body.
const CONVERTERS: &str = "%[src,table_conn_cnt(fe)] %[src,table_http_req_rate(fe)] \
    %[src,table_gpc0(fe)] %[src,in_table(fe)] %[str(1.2.3.4),in_table(fe)] \
    %[src,table_trackers(fe)] %[src,table_server_id(fe)] %[int(5),table_gpt0(be)] \
    %[int(6),table_gpt0(be)] %[str(nope),table_http_req_cnt(bs)] %[str(hello),in_table(bs)]";

/// The body of `GET /conv` (the converters' values).
fn converters(port: u16) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /conv HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

const REQUEST: &[u8] = b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/// One request; the length of the 200 response read (0: failed).
fn request(port: u16) -> u64 {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(REQUEST).is_err() {
        return 0;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    if out.starts_with("HTTP/1.1 200") {
        out.len() as u64
    } else {
        0
    }
}

/// `bytes_in_rate(...)=N` and `bytes_out_cnt=N` values set aside (see the module's comment).
fn no_bytes(answer: &str) -> String {
    answer
        .split(' ')
        .map(|w| {
            if w.starts_with("bytes_") {
                w.split_once('=')
                    .map_or(w.to_string(), |(k, _)| format!("{k}=B"))
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Entry addresses and expiry delays set aside (`exp=` is checked to be within the table's
/// `expire`).
fn normal(answer: &str) -> String {
    answer
        .lines()
        .map(|l| {
            let l = match l.split_once(": key=") {
                Some((p, rest)) if p.starts_with("0x") => format!("0xADDR: key={rest}"),
                _ => l.to_string(),
            };
            l.split(' ')
                .map(|w| match w.strip_prefix("exp=") {
                    Some(ms) => {
                        let ms: u64 = ms.parse().unwrap_or(u64::MAX);
                        assert!(ms <= 60_000, "exp within the table's expire: {l}");
                        if ms == 0 {
                            "exp=0".to_string()
                        } else {
                            "exp=E".to_string()
                        }
                    }
                    None => w.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn tables_as_haproxy() {
    if !tool("tables_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let a = CountingServer::start("a");
    let hdir = Scratch::new("tables-vs-haproxy-h");
    let hcfg = hdir.join("h.cfg");
    let hport = free_port();
    std::fs::write(&hcfg, config(&hdir, hport, a.port)).expect("write");
    let haproxy = fulcrum_testlab::process::Child::haproxy(&hcfg, hdir.join("haproxy.log"));
    let fport = free_port();
    let f = Fulcrum::start_bound("tables-vs-haproxy-f", "admin.sock", |dir| {
        config(dir, fport, a.port)
    });
    wait_haproxy_cli(&hdir, &haproxy);

    let ask =
        |dir: &Path, sock: &str, line: &str| normal(&query(&dir.join(sock), line).expect("answer"));
    let both_on = |sock: &str, line: &str| -> String {
        let want = no_bytes(&ask(&hdir, sock, line));
        let got = no_bytes(&ask(&f.dir, sock, line));
        assert_eq!(got, want, "{sock}: '{line}'");
        got
    };
    let both = |line: &str| both_on("admin.sock", line);

    both("show table");
    let mut read = 0;
    for _ in 0..3 {
        assert!(request(hport) > 0, "haproxy answers");
        let n = request(fport);
        assert!(n > 0, "fulcrum answers");
        read += n;
    }
    // The tracked entry: same counters once both streams have ended (use=0).
    let line = "show table fe";
    let (mut want, mut got) = (String::new(), String::new());
    let same = fulcrum_testlab::wait::until(Duration::from_secs(5), || {
        want = ask(&hdir, "admin.sock", line);
        got = ask(&f.dir, "admin.sock", line);
        no_bytes(&got) == no_bytes(&want) && got.contains("use=0")
    });
    assert!(
        same.is_some(),
        "show table fe:\nfulcrum {got}\nhaproxy {want}"
    );
    assert!(
        want.contains("key=127.0.0.1 use=0 exp=E server_id=0 gpc0=0 conn_cnt=3 http_req_rate(10000)=3 bytes_in_rate(10000)="),
        "{want}"
    );
    let wire = format!(
        "bytes_in_rate(10000)={} bytes_out_cnt={read}",
        3 * REQUEST.len()
    );
    assert!(got.contains(&wire), "{wire} in {got}");
    // The table converters (after `set table` gave gpt0 and a string key values).
    both("set table be key 5 data.gpt0 9");
    both("set table bs key hello data.http_req_cnt 4");
    let (want, got) = (converters(hport), converters(fport));
    assert_eq!(got, want, "table converters (fulcrum, haproxy)");
    assert_eq!(
        want, "4 4 0 1 0 2 0 9 0 0 1",
        "haproxy's answer (trackers counts its own lookup)"
    );
    // The converters' connections have ended on both sides (the tracked entry's use=0): the
    // client has its answer before a proxy's session has released the entry.
    let idle = fulcrum_testlab::wait::until(Duration::from_secs(5), || {
        [&hdir, &f.dir]
            .iter()
            .all(|d| ask(d, "admin.sock", "show table fe").contains("use=0"))
    });
    assert!(idle.is_some(), "the tracked entry stayed in use");
    for line in [
        "show table",
        "show table fe key 127.0.0.1",
        "show table fe key 127.0.0.2",
        "show table fe data.conn_cnt gt 2",
        "show table fe data.conn_cnt gt 3",
        "show table fe data.conn_cnt ge 1 data.gpc0 eq 0",
        "show table fe data.nope eq 1",
        "show table fe data.gpc0 xx 1",
        "show table fe data.gpc0 eq",
        "show table fe data.gpc0 eq x",
        "show table fe data.gpc0",
        "show table fe key",
        "show table nope",
        "set table fe key 127.0.0.1 data.gpc0 5",
        "show table fe",
        "set table be key 5 data.gpt0 2",
        "set table be key 12 data.gpc1 2",
        "set table be key 7",
        "set table be key x data.gpc1 2",
        "set table be key 7 data.gpt0",
        "set table be key 7 data.gpt0 x",
        "set table be key 7 data.nope 1",
        "set table nope key 1 data.gpt0 1",
        "show table be",
        "show table be data.gpt0 eq 0",
        "set table bs key hello data.http_req_cnt 4",
        "set table bs key abc data.gpc0 1",
        "show table bs",
        "show table",
        "clear table be key 5",
        "show table be",
        "clear table be data.gpt0 eq 0",
        "show table be",
        "clear table be key",
        "clear table",
        "clear table nope",
        "clear table bs",
        "show table bs",
    ] {
        both(line);
    }
    for line in [
        "show table",
        "show table fe",
        "show table fe key 127.0.0.1",
        "set table fe key 127.0.0.1 data.gpc0 1",
        "clear table fe key 127.0.0.1",
        "show table fe",
    ] {
        both_on("user.sock", line);
    }
    drop(haproxy);
}
