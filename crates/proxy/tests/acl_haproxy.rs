//! ACLs and conditions on the sample engine, side by side with the real haproxy 2.6: the
//! same config (ACL keywords, expressions with converters, every match method, flags, `-f`
//! pattern files, `!`, `||`/`or`, anonymous `{ }` and predefined ACLs, `unless`,
//! `use_backend ... if`) and the same requests; the backend must receive the same marker
//! headers and each request must reach the same backend.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

/// (marker, condition): the backend gets `X-M-<marker>: 1` when the condition holds.
const CONDS: &[(&str, &str)] = &[
    ("api", "api"),
    ("json", "json"),
    ("host-ex", "host_ex"),
    ("host-lower", "host_lower"),
    ("multi", "multi"),
    ("multi-f", "multi_f"),
    ("cnt", "cnt"),
    ("sid", "sid"),
    ("sid-hex", "sid_hex"),
    ("idp", "idp"),
    ("len", "short"),
    ("local", "lhost"),
    ("sub", "sub"),
    ("dir", "dir"),
    ("q", "q"),
    ("v10", "v10"),
    ("meth", "meth"),
    ("file", "listed"),
    ("dup", "dup"),
    ("end-i", "end_i"),
    ("beg-conv", "beg_conv"),
    ("len-m", "len_m"),
    ("int-str", "int_str"),
    ("and", "api json"),
    ("or", "api || json"),
    ("or-word", "short or sid"),
    ("not", "!api"),
    ("not-spaced", "! api"),
    ("anon", "{ path_reg ^/api/v[0-9]+/ }"),
    ("anon2", "{ req.hdr(host) -m sub -i EXAMPLE } !json"),
    ("anon-neg", "!{ method GET }"),
    ("get", "METH_GET"),
    ("h11-local", "HTTP_1.1 LOCALHOST"),
    ("slash", "HTTP_URL_SLASH"),
    ("content", "HTTP_CONTENT"),
    ("http", "HTTP"),
    ("true-false", "TRUE !FALSE"),
    // every value of the header is tried as an address (`ip:port` too)
    ("hdr-ip", "ipf"),
    ("hdr-ip-net", "ipnet"),
];

fn cfg(front: u16, b1: SocketAddr, b2: SocketAddr, list: &str, map: &str) -> String {
    let mut c = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{front}\n\
         \x20 acl api path_beg /api/\n\
         \x20 acl json path_end .json\n\
         \x20 acl host_ex hdr_dom(host) -i example\n\
         \x20 acl host_lower req.hdr(host),lower -m str www.example.com\n\
         \x20 acl multi hdr(x-list) two\n\
         \x20 acl multi_f req.fhdr(x-list) two\n\
         \x20 acl cnt hdr_cnt(x-list) ge 2\n\
         \x20 acl sid cook(SID) -m found\n\
         \x20 acl sid_hex cook(SID) -m reg ^[a-f0-9]+$\n\
         \x20 acl idp url_param(id) -m int gt 10\n\
         \x20 acl short path_len 1:5\n\
         \x20 acl lhost src 127.0.0.0/8\n\
         \x20 acl sub url_sub -i CHECK\n\
         \x20 acl dir path_dir v1\n\
         \x20 acl q query -m found\n\
         \x20 acl v10 req.ver 1.0\n\
         \x20 acl meth method POST PUT\n\
         \x20 acl listed path -f {list}\n\
         \x20 acl dup path /nothing\n\
         \x20 acl dup path /x\n\
         \x20 acl end_i path_end -i .JSON\n\
         \x20 acl beg_conv path,upper -m beg /API\n\
         \x20 acl len_m req.hdr(host) -m len gt 10\n\
         \x20 acl int_str req.hdr(content-length) -m int 3\n\
         \x20 acl ipf hdr_ip(x-f) 10.0.0.1\n\
         \x20 acl ipnet req.hdr_ip(x-f) 10.0.0.0/8\n"
    );
    for (m, cond) in CONDS {
        c.push_str(&format!("  http-request set-header X-M-{m} 1 if {cond}\n"));
    }
    c.push_str("  http-request set-header X-M-unless 1 unless api\n");
    c.push_str(&format!(
        "  use_backend %[req.hdr(host),lower,map({map})] if {{ req.hdr(x-dyn) -m found }}\n\
         \x20 use_backend b2 if api !json || {{ hdr(host) -i two.example }}\n\
         \x20 default_backend b1\n\
         backend b1\n  server s {b1}\n\
         backend b2\n  server s {b2}\n"
    ));
    c
}

const REQUESTS: &[&str] = &[
    "GET /api/v1/items.json?id=42 HTTP/1.1\r\nHost: WWW.Example.com\r\nX-F: 10.0.0.1, 1.1.1.1\r\nX-List: one, two\r\nX-List: three\r\nCookie: a=1; SID=abc123\r\n\r\n",
    "POST /api/v2/x?id=5 HTTP/1.1\r\nHost: two.example\r\nContent-Length: 3\r\n\r\nabc",
    "GET /CHECK/a HTTP/1.0\r\nHost: other\r\nX-F: 10.0.0.1:80, 1.1.1.1\r\n\r\n",
    "PUT /x HTTP/1.1\r\nHost: h\r\nCookie: SID=XYZ\r\nContent-Length: 0\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: www.example.com\r\nX-List: one,two\r\nX-F: junk, 10.0.0.2\r\n\r\n",
    "HEAD /api/z.JSON HTTP/1.1\r\nHost: a.example.org:8080\r\n\r\n",
    // `use_backend %[...]`: a map names the backend; an unknown name or none: default_backend.
    "GET /dyn HTTP/1.1\r\nHost: DYN2\r\nX-Dyn: 1\r\n\r\n",
    "GET /api/dyn HTTP/1.1\r\nHost: bad\r\nX-Dyn: 1\r\n\r\n",
    "GET /api/dyn HTTP/1.1\r\nHost: unmapped\r\nX-Dyn: 1\r\n\r\n",
];

/// Each request's marker headers (sorted) and the backend that answered, by request.
async fn run(front: u16, b1: &Backend, b2: &Backend) -> Vec<(String, Vec<String>)> {
    let mut routed = Vec::new();
    for (i, raw) in REQUESTS.iter().enumerate() {
        let raw = raw.replacen("\r\n", &format!("\r\nX-Id: {i}\r\n"), 1);
        let mut c = Client::connect(addr(front)).await.expect("connect");
        c.send_raw(raw.as_bytes()).await.expect("send");
        let head = raw.starts_with("HEAD");
        let r = c.read_response(head).await.expect("answer");
        assert_eq!(r.status, 200, "{raw}");
        routed.push(r.header("x-server").unwrap_or("").to_string());
    }
    let mut out = vec![(String::new(), Vec::new()); REQUESTS.len()];
    for h in b1.heads().iter().chain(b2.heads().iter()) {
        let id: usize = h
            .lines()
            .find_map(|l| {
                l.strip_prefix("X-Id: ")
                    .or_else(|| l.strip_prefix("x-id: "))
            })
            .and_then(|v| v.trim().parse().ok())
            .expect("x-id");
        let marks: Vec<String> = h
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-m-"))
            .map(|(n, v)| format!("{}={}", n.to_ascii_lowercase(), v.trim()))
            .collect();
        out[id] = (routed[id].clone(), marks);
    }
    for m in &mut out {
        m.1.sort();
    }
    out
}

#[tokio::test]
async fn conditions_match_as_haproxy_matches_them() {
    let dir = TempDir::new("acl");
    let list = dir.0.join("paths.lst");
    std::fs::write(&list, "# paths\n/x\n\n/CHECK/a\n").expect("write list");
    let list = list.display().to_string();
    let map = dir.0.join("hosts.map");
    std::fs::write(&map, "dyn2 b2\ndyn1 b1\nbad nosuch\n").expect("write map");
    let map = map.display().to_string();

    let (b1, b2) = (Backend::start("b1").await, Backend::start("b2").await);
    let front = free_port();
    let h = start(&cfg(front, b1.addr, b2.addr, &list, &map)).await;
    let ours = run(front, &b1, &b2).await;
    h.shutdown(Duration::from_secs(1)).await;
    // Not vacuous: markers differ between requests, and both backends are used.
    assert!(ours[0].1.contains(&"x-m-api=1".to_string()), "{ours:?}");
    assert!(!ours[2].1.contains(&"x-m-api=1".to_string()), "{ours:?}");
    assert_eq!(ours[1].0, "b2", "{ours:?}");
    assert_eq!(ours[2].0, "b1", "{ours:?}");
    assert_eq!(ours[6].0, "b2", "routed by the map: {ours:?}");
    assert_eq!(
        ours[7].0, "b1",
        "unknown backend name: default_backend: {ours:?}"
    );

    let (h1, h2) = (Backend::start("b1").await, Backend::start("b2").await);
    let hfront = free_port();
    let Some(_haproxy) =
        Haproxy::start(&cfg(hfront, h1.addr, h2.addr, &list, &map), addr(hfront)).await
    else {
        return;
    };
    let theirs = run(hfront, &h1, &h2).await;
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(
            o,
            t,
            "request {i} ({:?}): (backend, markers) fulcrum vs haproxy",
            REQUESTS[i].lines().next()
        );
    }
}
