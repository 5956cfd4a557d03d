//! `http-request|http-response set-map(FILE)`, `del-map(FILE)`, `add-acl(FILE)`,
//! `del-acl(FILE)` side by side with the real HAProxy 2.6: traffic changes a map and an ACL
//! file, the next lookups (a `map` converter, an ACL with `-f`) and `show map|acl` see it, on
//! both, the same way (a new key added, an existing one set, duplicates deleted together, an
//! ACL pattern added once).

mod runtime_support;

use runtime_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

fn config(dir: &Path, files: &Path, port: u16) -> String {
    let f = files.display();
    format!(
        "global\n stats socket {sock} mode 600 level admin\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n\
         \x20acl listed req.hdr(x-k) -f {f}/keys.lst\n\
         \x20http-request set-map({f}/hosts.map) %[req.hdr(x-k)] %[req.hdr(x-v)] if {{ path /set }}\n\
         \x20http-request del-map({f}/hosts.map) %[req.hdr(x-k)] if {{ path /del }}\n\
         \x20http-request add-acl({f}/keys.lst) %[req.hdr(x-k)] if {{ path /addacl }}\n\
         \x20http-request del-acl({f}/keys.lst) %[req.hdr(x-k)] if {{ path /delacl }}\n\
         \x20http-request set-var(txn.l) str(listed) if listed\n\
         \x20http-request return status 200 content-type text/plain lf-string \"%[req.hdr(x-k),map({f}/hosts.map,none)] %[var(txn.l)]\"\n",
        sock = dir.join("admin.sock").display()
    )
}

fn get(port: u16, path: &str, k: &str, v: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return "no connection".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: h\r\nX-K: {k}\r\nX-V: {v}\r\nConnection: close\r\n\r\n"
    );
    let _ = s.write_all(req.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

/// `show map|acl FILE` without the entries' addresses.
fn show(dir: &Path, what: &str, file: &Path) -> String {
    let out = query(
        &dir.join("admin.sock"),
        &format!("show {what} {}", file.display()),
    )
    .unwrap_or_default();
    out.lines()
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn map_and_acl_actions_as_haproxy() {
    if !tool("map_and_acl_actions_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let files = Scratch::new("map-actions-files");
    std::fs::write(files.join("hosts.map"), "a one\nb two\nb two-dup\n").expect("map");
    std::fs::write(files.join("keys.lst"), "k1\n").expect("acl");
    let hdir = Scratch::new("map-actions-h");
    let hcfg = hdir.join("h.cfg");
    let hport = free_port();
    std::fs::write(&hcfg, config(&hdir, &files, hport)).expect("write");
    let _h = fulcrum_testlab::process::Child::haproxy_listening(&hcfg, hdir.join("h.log"), hport);
    let fport = free_port();
    let f = Fulcrum::start_bound("map-actions-f", "admin.sock", |dir| {
        config(dir, &files, fport)
    });
    assert!(
        fulcrum_testlab::wait::listening(fport, Duration::from_secs(10)),
        "fulcrum never listened"
    );
    let steps = [
        ("/", "a", ""),
        ("/set", "a", "uno"),
        ("/set", "c", "three"),
        ("/set", "b", "deux"),
        ("/", "b", ""),
        ("/del", "b", ""),
        ("/", "b", ""),
        ("/", "k2", ""),
        ("/addacl", "k2", ""),
        ("/addacl", "k2", ""),
        ("/", "k1", ""),
        ("/delacl", "k1", ""),
        ("/", "k1", ""),
    ];
    let mut diffs = Vec::new();
    for (path, k, v) in steps {
        let (want, got) = (get(hport, path, k, v), get(fport, path, k, v));
        if got != want {
            diffs.push(format!(
                "GET {path} k={k} v={v}\n    haproxy: {want:?}\n    fulcrum: {got:?}"
            ));
        }
    }
    for (what, file) in [("map", "hosts.map"), ("acl", "keys.lst")] {
        let (want, got) = (
            show(&hdir, what, &files.join(file)),
            show(&f.dir, what, &files.join(file)),
        );
        if got != want {
            diffs.push(format!(
                "show {what}\n    haproxy: {want:?}\n    fulcrum: {got:?}"
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert_eq!(show(&hdir, "acl", &files.join("keys.lst")).trim(), "k2");
}
