//! Maps and ACL files on the runtime socket, side by side with the real HAProxy 2.6 on the same
//! config: `show map|acl`, `get map|acl`, `add/set/del/clear map`, `add/del/clear acl` answer
//! byte for byte as haproxy's (entry addresses and the config file's path set aside, and
//! haproxy's internal `httpclient` ACLs left out), and a change reaches live traffic at once:
//! a request routed by a map goes elsewhere after `add map`/`set map`/`del map`, and a source
//! removed from an ACL file with `del acl` is denied, on both.

mod runtime_support;

use runtime_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

fn config(dir: &Path, files: &Path, port: u16, a: u16, b: u16) -> String {
    let f = files.display();
    format!(
        "global\n stats socket {sock} mode 600 level admin\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n\
         \x20acl local src -f {f}/ips.lst\n\
         \x20http-request deny if !local\n\
         \x20use_backend %[req.hdr(host),lower,map({f}/hosts.map,be_a)]\n\
         \x20acl api path_beg -i /api /v2\n\
         \x20acl hostok hdr(host) -m found\n\
         \x20http-request set-header X-Api 1 if api hostok\n\
         \x20http-request set-header X-B 1 if {{ path_end .js }} !{{ src -f {f}/ips.lst }}\n\
         \x20default_backend be_a\n\
         backend be_a\n\
         \x20acl p2 path -f {f}/ips.lst\n\
         \x20http-request set-header X-M %[path,map_beg({f}/hosts.map)]\n\
         \x20server a 127.0.0.1:{a}\n\
         backend be_b\n server b 127.0.0.1:{b}\n",
        sock = dir.join("admin.sock").display(),
    )
}

/// One request with this Host; the status and the body (the server's name).
fn request(port: u16, host: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET /x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// The answer with what legitimately differs set aside: entry addresses, the config path,
/// haproxy's internal httpclient ACLs.
fn normal(answer: &str, cfg: &Path) -> String {
    answer
        .replace(&cfg.display().to_string(), "CFG")
        .lines()
        .filter(|l| !l.contains("file 'httpclient'"))
        .map(|l| match l.split_once(' ') {
            Some((p, rest)) if p.starts_with("0x") => format!("0xADDR {rest}"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn maps_and_acls_as_haproxy() {
    if !tool("maps_and_acls_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let (a, b) = (CountingServer::start("a"), CountingServer::start("b"));
    let files = Scratch::new("maps-vs-haproxy-files");
    std::fs::write(files.join("hosts.map"), "www.a.com be_a\nb.com be_b\n").expect("map");
    std::fs::write(files.join("ips.lst"), "10.0.0.0/8\n127.0.0.1\n").expect("acl file");
    let hdir = Scratch::new("maps-vs-haproxy-h");
    let hcfg = hdir.join("h.cfg");
    let hport = free_port();
    std::fs::write(&hcfg, config(&hdir, &files, hport, a.port, b.port)).expect("write");
    let haproxy = fulcrum_testlab::process::Child::haproxy(&hcfg, hdir.join("haproxy.log"));
    let fport = free_port();
    let f = Fulcrum::start_bound("maps-vs-haproxy-f", "admin.sock", |dir| {
        config(dir, &files, fport, a.port, b.port)
    });
    wait_haproxy_cli(&hdir, &haproxy);

    let both = |line: &str| -> String {
        let want = normal(
            &query(&hdir.join("admin.sock"), line).expect("haproxy answer"),
            &hcfg,
        );
        let got = normal(
            &query(&f.dir.join("admin.sock"), line).expect("fulcrum answer"),
            &f.cfg,
        );
        assert_eq!(got, want, "'{line}'");
        got
    };
    let route = |host: &str| -> (u16, String) {
        let want = request(hport, host);
        let got = request(fport, host);
        assert_eq!(got, want, "Host: {host} (fulcrum, haproxy)");
        got
    };

    let listing = both("show map");
    assert!(listing.contains("hosts.map"), "{listing}");
    let acls = both("show acl");
    assert!(acls.contains("acl 'path_beg'"), "{acls}");
    let map = listing
        .lines()
        .nth(1)
        .and_then(|l| l.split(' ').next())
        .map(|id| format!("#{id}"))
        .expect("the map's id");
    let hosts = format!("{}/hosts.map", files.display());
    let ips = format!("{}/ips.lst", files.display());
    for line in [
        format!("show map {map}"),
        format!("show map {hosts}"),
        "show acl #0".to_string(),
        format!("show acl {ips}"),
        "show acl #2".to_string(),
        format!("get map {map} b.com"),
        format!("get map {hosts} www.a.com.x"),
        format!("get map {map} nothing"),
        "get acl #0 10.1.1.1".to_string(),
        "get acl #0 192.168.0.1".to_string(),
        "get acl #2 /API/x".to_string(),
        "get acl #2 /z".to_string(),
        "show map nope".to_string(),
        "show acl #99".to_string(),
        "show map #0".to_string(),
        "get map".to_string(),
        format!("get map {map}"),
        "get acl #2".to_string(),
        "get map nope x".to_string(),
        format!("add map {map}"),
        format!("add map {map} k"),
        "add map nope k v".to_string(),
        "add acl #2".to_string(),
        format!("add acl {map} x"),
        "del map".to_string(),
        format!("del map {map} nope"),
        "del acl #2".to_string(),
        "del acl #2 nope".to_string(),
        format!("set map {map} k"),
        format!("set map {map} nope v"),
        "clear map".to_string(),
        "clear acl nope".to_string(),
    ] {
        both(&line);
    }

    // Routing by the map: c.com is not there (the map's default: be_a); added, it goes to
    // be_b at the next request; set back to be_a; deleted.
    assert_eq!(route("c.com"), (200, "a".into()));
    assert_eq!(route("b.com"), (200, "b".into()));
    both(&format!("add map {map} c.com be_b"));
    assert_eq!(route("c.com"), (200, "b".into()));
    both(&format!("show map {map}"));
    both("show map");
    both(&format!("set map {map} c.com be_a"));
    assert_eq!(route("c.com"), (200, "a".into()));
    both(&format!("set map {map} b.com be_a"));
    assert_eq!(route("b.com"), (200, "a".into()));
    both(&format!("del map {map} b.com"));
    both(&format!("get map {map} b.com"));
    both("show map");
    both(&format!("clear map {map}"));
    both("show map");
    both(&format!("add map {map} www.a.com be_b"));
    assert_eq!(route("WWW.A.COM"), (200, "b".into()));

    // The ACL file: 127.0.0.1 removed, the client is denied; added back, allowed.
    both("add acl #0 1.2.3.0/24");
    both("add acl #0 bad");
    both("show acl #0");
    both("del acl #0 127.0.0.1");
    assert_eq!(route("c.com").0, 403);
    both("show acl");
    both("add acl #0 127.0.0.0/8");
    assert_eq!(route("c.com").0, 200);
    both("get acl #0 127.0.0.5");
    both("add acl #2 /zz");
    both("get acl #2 /zz/top");
    both("clear acl #2");
    both("show acl");
    both("get acl #2 /api");
    drop(haproxy);
}
