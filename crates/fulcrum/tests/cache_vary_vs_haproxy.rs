//! `process-vary on` side by side with the real HAProxy 2.6 on the same config: responses with
//! `Vary: Accept-Encoding`, `Referer`, both, `*` or another header, from a server that
//! compresses when the request accepts gzip, fetched by a scripted sequence of requests
//! (`Accept-Encoding` values, `q=0`, `*`, referers). Each answer's body carries the server's
//! request count, so a hit and a miss differ: both proxies must give the same bodies, and
//! `show cache` the same objects with the same secondary keys (`vary:0x...`; HAProxy lists
//! the oldest variant of each key), up to `max-secondary-entries`.

mod common;

use common::{free_port, Fulcrum, Scratch};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A test server: `Vary` by path, `Content-Encoding: gzip` on `/ae*` and `/both` when the
/// request accepts gzip, the request count in the body.
fn server(listener: TcpListener) {
    let n = Arc::new(AtomicU32::new(0));
    for conn in listener.incoming() {
        let Ok(mut c) = conn else { continue };
        let n = n.clone();
        std::thread::spawn(move || {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut b = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut b) {
                    Ok(0) | Err(_) => return,
                    Ok(k) => buf.extend_from_slice(&b[..k]),
                }
            }
            let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
            let path = head.split(' ').nth(1).unwrap_or("/").to_string();
            let accepts_gzip = head
                .lines()
                .any(|l| l.starts_with("accept-encoding:") && l.contains("gzip"));
            let vary = match path.as_str() {
                "/ae" | "/ae2" => "Vary: Accept-Encoding\r\n",
                "/ref" => "Vary: Referer\r\n",
                "/both" => "Vary: accept-encoding, referer\r\n",
                "/star" => "Vary: *\r\n",
                "/ua" => "Vary: User-Agent\r\n",
                "/two" => "Vary: Accept-Encoding\r\nVary: Referer\r\n",
                _ => "",
            };
            let gz = accepts_gzip && matches!(path.as_str(), "/ae" | "/ae2" | "/both");
            let count = n.fetch_add(1, Ordering::SeqCst) + 1;
            let body = format!("{path} #{count} {}\n", if gz { "gzip" } else { "identity" });
            let enc = if gz { "Content-Encoding: gzip\r\n" } else { "" };
            let out = format!(
                "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n{vary}{enc}Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = c.write_all(out.as_bytes());
        });
    }
}

fn config(port: u16, app: u16, sock: &std::path::Path) -> String {
    format!(
        "global\n stats socket {sock} level admin\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         cache c\n total-max-size 4\n max-age 60\n process-vary on\n max-secondary-entries 3\n\
         listen f\n bind 127.0.0.1:{port}\n\
         http-request cache-use c\n http-response cache-store c\n\
         server s 127.0.0.1:{app}\n",
        sock = sock.display()
    )
}

/// The body of one request (the path and the server's count: a hit repeats an earlier one).
fn get(port: u16, path: &str, fields: &[&str]) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return "no connection".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for f in fields {
        req.push_str(f);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    let _ = s.write_all(req.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

/// `show cache` objects as (hash, vary, size), sorted; addresses and expiry left out.
fn objects(sock: &std::path::Path) -> Vec<String> {
    let mut s = std::os::unix::net::UnixStream::connect(sock).expect("stats socket");
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    s.write_all(b"show cache\n").expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| l.contains(" hash:"))
        .map(|l| l.split(' ').skip(1).take(3).collect::<Vec<_>>().join(" "))
        .collect();
    v.sort();
    v
}

#[test]
fn process_vary_answers_as_haproxy() {
    if !fulcrum_testlab::require::tool("cache_vary_vs_haproxy", "haproxy", "haproxy") {
        return;
    }
    let (fl, hl) = (
        TcpListener::bind("127.0.0.1:0").expect("bind"),
        TcpListener::bind("127.0.0.1:0").expect("bind"),
    );
    let (fapp, happ) = (
        fl.local_addr().expect("addr").port(),
        hl.local_addr().expect("addr").port(),
    );
    std::thread::spawn(move || server(fl));
    std::thread::spawn(move || server(hl));
    let scratch = Scratch::new("cache-vary");
    let (fport, hport) = (free_port(), free_port());
    let (fsock, hsock) = (scratch.0.join("f.sock"), scratch.0.join("h.sock"));
    let fcfg = scratch.write("f.cfg", &config(fport, fapp, &fsock));
    let hcfg = scratch.write("h.cfg", &config(hport, happ, &hsock));
    let _f = Fulcrum::start(&fcfg);
    let _h =
        fulcrum_testlab::process::Child::haproxy_listening(&hcfg, scratch.0.join("h.log"), hport);
    assert!(
        fulcrum_testlab::wait::listening(fport, Duration::from_secs(10)),
        "fulcrum never listened on {fport}"
    );

    let gzip = "Accept-Encoding: gzip";
    let steps: &[(&str, &[&str])] = &[
        ("/ae", &[]),
        ("/ae", &[]),
        ("/ae", &[gzip]),
        ("/ae", &["Accept-Encoding: gzip, br"]),
        ("/ae", &["Accept-Encoding: identity;q=0, gzip"]),
        ("/ae", &[gzip, "Accept-Encoding: identity;q=0"]),
        ("/ae", &["Accept-Encoding: *"]),
        ("/ae", &["Accept-Encoding: br"]),
        ("/ae2", &[gzip]),
        ("/ae2", &[]),
        ("/ae2", &["Accept-Encoding: identity"]),
        ("/ae2", &["Accept-Encoding: identity"]),
        ("/ae2", &["Accept-Encoding: deflate"]),
        ("/ae2", &["Accept-Encoding: foo"]),
        ("/ref", &["Referer: a"]),
        ("/ref", &["Referer: a"]),
        ("/both", &["Referer: a"]),
        ("/both", &["Referer: a"]),
        ("/both", &["Referer: a", gzip]),
        ("/both", &["Referer: b", gzip]),
        ("/both", &["Referer: b", gzip]),
        ("/both", &["Referer: c", gzip]),
        ("/both", &["Referer: d", gzip]),
        ("/both", &["Referer: d", gzip]),
        ("/two", &[]),
        ("/two", &[]),
        ("/star", &[]),
        ("/star", &[]),
        ("/ua", &[]),
        ("/ua", &[]),
    ];
    let mut diffs = Vec::new();
    for (path, fields) in steps {
        let want = get(hport, path, fields);
        let got = get(fport, path, fields);
        if got != want {
            diffs.push(format!(
                "GET {path} {fields:?}\n    haproxy: {want:?}\n    fulcrum: {got:?}"
            ));
        }
    }
    let (want, got) = (objects(&hsock), objects(&fsock));
    // one line per object key: `show cache` lists the oldest variant of each
    assert!(want.len() >= 5, "haproxy stored: {want:?}");
    assert!(
        diffs.is_empty() && got == want,
        "{}\nshow cache:\n    haproxy: {want:?}\n    fulcrum: {got:?}",
        diffs.join("\n")
    );
}
