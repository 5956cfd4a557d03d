//! What HAProxy 2.6's own reg-tests use and fulcrum refused until the audit
//! (`scripts/regtests-audit.sh`), side by side with the real haproxy on the same config:
//! the converters `sha1 crc32c xxh3 xxh32 xxh64 iif`, the fetches `req.hdr_ip`/`hdr_ip`
//! (with `ipmask`), `http_first_req` over a keep-alive connection and `req.hdr_cnt` without
//! a name; `redirect` with its code before the type, log-format `prefix`/`location` targets
//! and `ignore-empty`. Bodies and status/`Location` lines compared byte for byte.

mod runtime_support;

use runtime_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

fn samples_config(port: u16) -> String {
    let body = [
        "sha1=%[req.hdr(x-k),sha1,hex]",
        "crc32c=%[req.hdr(x-k),crc32c]",
        "crc32c1=%[req.hdr(x-k),crc32c(1)]",
        "xxh3=%[req.hdr(x-k),xxh3]",
        "xxh3s=%[req.hdr(x-k),xxh3(7)]",
        "xxh32=%[req.hdr(x-k),xxh32]",
        "xxh32s=%[req.hdr(x-k),xxh32(5)]",
        "xxh64=%[req.hdr(x-k),xxh64]",
        "xxh64s=%[req.hdr(x-k),xxh64(-3)]",
        "iif=%[req.hdr_cnt(x-k),iif(yes,no)]",
        "cnt=%[req.hdr_cnt]",
        "first=%[http_first_req]",
        "ip=%[req.hdr_ip(x-ip)]",
        "ip1=%[hdr_ip(x-ip,1)]",
        "masked=%[req.hdr_ip(x-ip),ipmask(24,64)]",
    ]
    .join(" ");
    format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n\
         \x20http-request set-var(txn.first) http_first_req\n\
         \x20http-request return status 200 content-type text/plain lf-string \"{body} var=%[var(txn.first)]\"\n"
    )
}

/// Sends each head on one connection in turn; the bodies of the answers (read by their
/// `content-length`), joined.
fn exchange(port: u16, heads: &[String]) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return "no connection".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut out = Vec::new();
    for head in heads {
        if s.write_all(head.as_bytes()).is_err() {
            out.push("write failed".to_string());
            break;
        }
        out.push(read_answer(&mut s));
    }
    out.join("\n")
}

/// One answer: its status line and, by `content-length`, its body.
fn read_answer(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return format!("cut: {}", String::from_utf8_lossy(&buf)),
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    if s.read_exact(&mut body).is_err() {
        return format!("body cut: {head}");
    }
    let status = head.lines().next().unwrap_or("").to_string();
    format!("{status} | {}", String::from_utf8_lossy(&body))
}

/// Asks haproxy (`hport`) and fulcrum (`fport`) the same thing for each case: every answer
/// must be equal (all differences reported at once, each under `name`). Haproxy's answers.
fn same_answers<T>(
    cases: &[T],
    name: impl Fn(&T) -> String,
    ask: impl Fn(u16, &T) -> String,
    hport: u16,
    fport: u16,
) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut seen = Vec::new();
    for c in cases {
        let (want, got) = (ask(hport, c), ask(fport, c));
        if want != got {
            diffs.push(format!(
                "{}\n    haproxy: {want}\n    fulcrum: {got}",
                name(c)
            ));
        }
        seen.push(want);
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    seen
}

fn head(path: &str, extra: &[(&str, &str)]) -> String {
    let mut h = format!("GET {path} HTTP/1.1\r\nHost: h\r\n");
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

fn start_both(
    test: &str,
    config: impl Fn(&Path, u16) -> String,
) -> (u16, u16, Scratch, fulcrum_testlab::process::Child, Fulcrum) {
    let hdir = Scratch::new(&format!("{test}-h"));
    let hcfg = hdir.join("h.cfg");
    let hport = free_port();
    std::fs::write(&hcfg, config(&hdir, hport)).expect("write");
    let h = fulcrum_testlab::process::Child::haproxy_listening(&hcfg, hdir.join("h.log"), hport);
    let fport = free_port();
    let fdir = Fulcrum::dir(&format!("{test}-f"));
    let f = Fulcrum::start(fdir, &config(&hdir, fport));
    assert!(
        fulcrum_testlab::wait::listening(fport, Duration::from_secs(10)),
        "fulcrum never listened: {}",
        f.log()
    );
    (hport, fport, hdir, h, f)
}

#[test]
fn reg_test_converters_and_fetches_as_haproxy() {
    if !tool(
        "reg_test_converters_and_fetches_as_haproxy",
        "haproxy",
        "haproxy",
    ) {
        return;
    }
    let (hport, fport, _hdir, _h, _f) =
        start_both("regtest-samples", |_, port| samples_config(port));
    let cases: Vec<Vec<String>> = vec![
        vec![head("/", &[("x-k", "abc"), ("x-ip", "10.1.2.3")])],
        // a keep-alive connection: http_first_req is false from the second request on
        vec![
            head("/1", &[("x-ip", "10.1.2.3:8080")]),
            head("/2", &[("x-k", "a,b"), ("x-k", "c")]),
            head("/3", &[]),
        ],
        vec![head("/", &[("x-ip", "2001:db8:1:2::1")])],
        vec![head("/", &[("x-ip", "[2001:db8::1]")])],
        vec![head("/", &[("x-ip", "010.001.2.3")])],
        vec![head("/", &[("x-ip", "1.2.3.4:99999")])],
        vec![head("/", &[("x-ip", "1.2.3.4.5")])],
        vec![head("/", &[("x-ip", "junk")])],
        vec![head(
            "/",
            &[("x-ip", "1.1.1.1, 2.2.2.2"), ("x-ip", "3.3.3.3")],
        )],
        vec![head("/", &[("x-k", "")])],
        // Connection's close/keep-alive are not headers to haproxy (req.hdr_cnt)
        vec![head("/", &[("Connection", "keep-alive"), ("x-k", "v")])],
        vec![head(
            "/",
            &[("Connection", "keep-alive, x-k"), ("x-k", "v")],
        )],
    ];
    same_answers(
        &cases,
        |h| format!("{h:?}"),
        |port, h| exchange(port, h),
        hport,
        fport,
    );
    // the comparison saw values, not two empty answers
    let one = exchange(hport, &cases[0]);
    assert!(one.contains("200") && one.contains("ip=10.1.2.3 "), "{one}");
    let three = exchange(hport, &cases[1]);
    assert!(
        three.contains("first=0") && three.contains("first=1"),
        "{three}"
    );
}

fn redirect_config(dir: &Path, port: u16) -> String {
    let map = dir.join("redirect.map");
    std::fs::write(&map, "/old /new\n/gone https://example.org/else\n").expect("map");
    let map = map.display();
    format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n\
         \x20http-request redirect code 301 location %[path,map_str({map})] ignore-empty\n\
         \x20http-request redirect prefix %[req.hdr(x-p)] code 308 if {{ req.hdr(x-p) -m found }}\n\
         \x20http-request redirect code 303 location https://%[req.hdr(host)]%[path]?q=%[query] if {{ path_beg /lf }}\n\
         \x20http-request redirect location %[req.hdr(x-empty)] if {{ path_beg /empty }}\n\
         \x20http-request redirect prefix / drop-query if {{ path_beg /self }}\n\
         \x20http-request redirect scheme %[req.hdr(x-s)] code 307 if {{ req.hdr(x-s) -m found }}\n\
         \x20http-request return file /dev/null hdr x-a b if {{ path /devnull }}\n\
         \x20http-request return status 200 content-type text/plain string fallthrough\n"
    )
}

/// Status line and `location` of one answer.
fn redirect_answer(port: u16, head: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return "no connection".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(head.as_bytes());
    let a = read_answer(&mut s);
    let _ = s.shutdown(std::net::Shutdown::Both);
    a
}

fn redirect_head(path: &str, extra: &[(&str, &str)]) -> String {
    let mut h = format!("GET {path} HTTP/1.1\r\nHost: h.test\r\n");
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

/// Status line and `location` of an answer read whole (a redirect has no body).
fn status_and_location(port: u16, head: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return "no connection".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(head.as_bytes());
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let mut lines = text.lines();
    let mut seen = vec![lines.next().unwrap_or("").to_string()];
    seen.extend(
        lines
            .map(str::to_ascii_lowercase)
            .filter(|l| l.starts_with("location:")),
    );
    seen.join(" | ")
}

#[test]
fn reg_test_redirects_as_haproxy() {
    if !tool("reg_test_redirects_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let (hport, fport, _hdir, _h, _f) = start_both("regtest-redirect", redirect_config);
    let cases = [
        redirect_head("/old", &[]),
        redirect_head("/gone", &[]),
        redirect_head("/missing", &[]),
        redirect_head("/a/b?x=1", &[("x-p", "/pre")]),
        redirect_head("/a/b?x=1", &[("x-p", "/")]),
        redirect_head("/a/b?x=1", &[("x-p", "")]),
        redirect_head("/lf/x?a=b", &[]),
        redirect_head("/empty", &[]),
        redirect_head("/self/x?y=1", &[]),
        redirect_head("/s/x?y=1", &[("x-s", "https")]),
    ];
    same_answers(
        &cases,
        |h| h.lines().next().unwrap_or("").to_string(),
        |port, h| status_and_location(port, h),
        hport,
        fport,
    );
    let old = status_and_location(hport, &cases[0]);
    assert!(
        old.contains("301") && old.contains("location: /new"),
        "{old}"
    );
    // `return file /dev/null` without a content-type (an empty payload needs none): the
    // whole answer, as haproxy's
    let raw = |port: u16| {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return "no connection".to_string();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.write_all(b"GET /devnull HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    let (want, got) = (raw(hport), raw(fport));
    assert_eq!(got, want, "return file /dev/null");
    assert!(want.contains("x-a: b"), "{want}");
    // ignore-empty: no key in the map, the rule is skipped and the next ones run
    let missing = redirect_answer(hport, &cases[2]);
    assert!(missing.contains("fallthrough"), "{missing}");
}

fn wait_config(_dir: &Path, port: u16) -> String {
    format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n\
         \x20http-request wait-for-body time 2s if {{ path /a }}\n\
         \x20http-request set-var(txn.path) path\n\
         \x20http-request wait-for-body time 2s at-least 10 if {{ path /b }}\n\
         \x20http-request return status 200 content-type text/plain lf-string \"p=%[var(txn.path)] len=%[req.body_len] body=%[req.body]\"\n"
    )
}

/// A POST whose body follows its head a little later (the client is slow): the answer.
fn slow_post(port: u16, path: &str, body: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return "no connection".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    // the body comes later than the head: only a rule that waits sees it
    std::thread::sleep(Duration::from_millis(200));
    let _ = s.write_all(body.as_bytes());
    read_answer(&mut s)
}

#[test]
fn two_wait_for_body_rules_as_haproxy() {
    if !tool("two_wait_for_body_rules_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let (hport, fport, _hdir, _h, _f) = start_both("regtest-wait", wait_config);
    same_answers(
        &[("/a", "0123456789abcdef"), ("/b", "0123456789ABCDEFGHIJ")],
        |(path, _)| format!("POST {path}"),
        |port, (path, body)| slow_post(port, path, body),
        hport,
        fport,
    );
    let b = slow_post(hport, "/b", "0123456789ABCDEFGHIJ");
    assert!(
        b.contains("len=20"),
        "the second rule waited on haproxy: {b}"
    );
}

/// A `peers` section's own `table` (HAProxy names it `SECTION/NAME`), shared by two
/// backends' `stick on` rules, as the reg-test `stickiness/lb-services.vtc` uses it.
fn peers_table_config(peers_port: u16, port: u16, s: &[u16; 3]) -> String {
    format!(
        "global\n localpeer A\n\
         peers mypeers\n bind 127.0.0.1:{peers_port}\n server A\n\
         \x20table mytable type string size 10m\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n\
         \x20use_backend be2 if {{ path_beg /two }}\n default_backend be1\n\
         backend be1\n balance roundrobin\n stick on urlp(client) table mypeers/mytable\n\
         \x20server srv1 127.0.0.1:{a}\n server srv2 127.0.0.1:{b}\n\
         backend be2\n balance roundrobin\n stick on urlp(client) table mypeers/mytable\n\
         \x20server other 127.0.0.1:{c}\n server srv2 127.0.0.1:{b}\n",
        a = s[0],
        b = s[1],
        c = s[2],
    )
}

/// The server that answers `path` (its name is the body).
fn served_by(port: u16, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return "no connection".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(head(path, &[]).as_bytes());
    read_answer(&mut s)
}

#[test]
fn peers_section_table_as_haproxy() {
    if !tool("peers_section_table_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let servers = [
        CountingServer::start("srv1"),
        CountingServer::start("srv2"),
        CountingServer::start("other"),
    ];
    let ports = [servers[0].port, servers[1].port, servers[2].port];
    let (hport, fport, _hdir, _h, f) = start_both("regtest-peers", |_, port| {
        peers_table_config(free_port(), port, &ports)
    });
    let steps = [
        "/?client=c1",
        "/?client=c2",
        "/?client=c1",
        "/?client=c3",
        "/two?client=c2",
        "/two?client=c1",
        "/two?client=new",
        "/?client=c2",
    ];
    let seen = same_answers(
        &steps,
        |p| format!("GET {p}"),
        |port, p| served_by(port, p),
        hport,
        fport,
    );
    // c2 stuck to srv2 is found by name in be2, where srv2 is the second server
    assert!(seen[4].ends_with("| srv2"), "{seen:?}");
    assert!(
        f.log().is_empty() || !f.log().contains("panicked"),
        "{}",
        f.log()
    );
}

/// A server that answers every request with `Connection: close` (and closes).
fn closing_server() -> u16 {
    answering_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\nX-S: 1\r\n\r\nok",
    )
}

/// A server that reads each request head (16 connections at most), writes `answer` and
/// closes.
fn answering_server(answer: &'static [u8]) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in l.incoming().take(16) {
            let Ok(mut c) = c else { continue };
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut buf) {
                    Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            let _ = c.write_all(answer);
        }
    });
    port
}

#[test]
fn res_len_with_a_closing_server_as_haproxy() {
    if !tool(
        "res_len_with_a_closing_server_as_haproxy",
        "haproxy",
        "haproxy",
    ) {
        return;
    }
    let app = closing_server();
    let (hport, fport, _hdir, _h, _f) = start_both("regtest-reslen", |_, port| {
        format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend fe\n bind 127.0.0.1:{port}\n default_backend be\n\
             backend be\n http-response set-header x-len %[res.len]\n\
             \x20http-response set-header x-cnt %[res.hdr_cnt]\n server s 127.0.0.1:{app}\n"
        )
    });
    let len = |port: u16| {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return "no connection".to_string();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.lines()
            .filter(|l| l.starts_with("x-len") || l.starts_with("x-cnt"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (want, got) = (len(hport), len(fport));
    assert!(want.contains("x-len: "), "{want}");
    assert_eq!(
        got, want,
        "res.len and res.hdr_cnt of an answer with Connection: close"
    );
}

/// `http-response` and `http-after-response` conditions on the request's content (`path`,
/// `req.hdr`): HAProxy 2.6 warns they never match (the request is gone by then), and they
/// do not; a negated one always does.
#[test]
fn response_rules_on_request_content_as_haproxy() {
    if !tool(
        "response_rules_on_request_content_as_haproxy",
        "haproxy",
        "haproxy",
    ) {
        return;
    }
    let app = CountingServer::start("app");
    let (hport, fport, _hdir, _h, _f) = start_both("regtest-resreq", |_, port| {
        format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend fe\n bind 127.0.0.1:{port}\n acl p path /\n\
             \x20http-response set-header x-fe-path 1 if {{ path / }}\n\
             \x20http-response set-header x-fe-hdr 1 if {{ req.hdr(host) -m found }}\n\
             \x20http-response set-header x-fe-named 1 if p\n\
             \x20http-response set-header x-fe-method 1 if {{ method GET }}\n\
             \x20http-after-response set-header x-ar-path 1 if {{ path / }}\n\
             \x20http-after-response set-header x-ar-not 1 if !{{ path / }}\n\
             \x20http-after-response set-header x-ar-status 1 if {{ status 200 }}\n\
             \x20default_backend be\n\
             backend be\n http-response set-header x-be-path 1 if {{ path / }}\n\
             \x20server s 127.0.0.1:{app}\n",
            app = app.port
        )
    });
    let xs = |port: u16| {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return "no connection".to_string();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        let mut v: Vec<&str> = out.lines().filter(|l| l.starts_with("x-")).collect();
        v.sort_unstable();
        v.join(" ")
    };
    let (want, got) = (xs(hport), xs(fport));
    assert!(want.contains("x-ar-not"), "{want}");
    assert_eq!(got, want);
}

/// The converters the widened audit found (`be2dec be2hex ub64enc ub64dec secure_memcmp
/// sha2 digest`) and `req.fhdr_cnt`, on the values of HAProxy's reg-tests and a few more.
#[test]
fn reg_test_codec_converters_as_haproxy() {
    if !tool("reg_test_codec_converters_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let body = [
        "d1=%[req.hdr(x-in),be2dec(:,1)]",
        "d3=%[req.hdr(x-in),be2dec(-,3)]",
        "d3t=%[req.hdr(x-in),be2dec(::,3,1)]",
        "h=%[req.hdr(x-in),be2hex]",
        "h1=%[req.hdr(x-in),be2hex(:,1)]",
        "h2t=%[req.hdr(x-in),be2hex(-,2,1)]",
        "u=%[req.hdr(x-in),ub64enc]",
        "ud=%[req.hdr(x-in),ub64enc,ub64dec]",
        "sha2=%[req.hdr(x-in),sha2,hex]",
        "sha224=%[req.hdr(x-in),sha2(224),hex]",
        "sha512=%[req.hdr(x-in),sha2(512),hex]",
        "d_sha1=%[req.hdr(x-in),digest(sha1),hex]",
        "d_sha384=%[req.hdr(x-in),digest(sha384),hex]",
        "same=%[var(txn.in),secure_memcmp(txn.ref)]",
        "fcnt=%[req.fhdr_cnt(x-in)] all=%[req.fhdr_cnt]",
        "b=%[bool(false)] t=%[bool(true)] o=%[bool(1)] z=%[bool(0)]",
    ]
    .join(" ");
    let (hport, fport, _hdir, _h, _f) = start_both("regtest-codec", |_, port| {
        format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend fe\n bind 127.0.0.1:{port}\n\
             \x20http-request set-var(txn.in) req.hdr(x-in)\n\
             \x20http-request set-var(txn.ref) req.hdr(x-ref)\n\
             \x20http-request return status 200 content-type text/plain lf-string \"{body}\"\n"
        )
    });
    let cases = [
        vec![head(
            "/",
            &[("x-in", "0123456789"), ("x-ref", "0123456789")],
        )],
        vec![head(
            "/",
            &[("x-in", "abcdefghijklmnopqrstuvwxyz"), ("x-ref", "abc")],
        )],
        vec![head("/", &[("x-in", "1")])],
        vec![head(
            "/",
            &[("x-in", "f"), ("x-in", "fo"), ("Connection", "keep-alive")],
        )],
        vec![head("/", &[])],
    ];
    same_answers(
        &cases,
        |h| format!("{h:?}"),
        |port, h| exchange(port, h),
        hport,
        fport,
    );
    let one = exchange(hport, &cases[0]);
    assert!(
        one.contains("d3=3158322-3355701-3553080-57") && one.contains("same=1"),
        "{one}"
    );
}

/// A server that answers in HTTP/1.0 with a cacheable body (and closes).
fn http10_server() -> u16 {
    answering_server(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nCache-Control: max-age=60\r\n\r\nok")
}

/// A cache hit of a stored HTTP/1.0 answer: the status line says HTTP/1.0, as haproxy's.
#[test]
fn cache_hit_of_an_http10_answer_as_haproxy() {
    if !tool(
        "cache_hit_of_an_http10_answer_as_haproxy",
        "haproxy",
        "haproxy",
    ) {
        return;
    }
    let app = http10_server();
    let (hport, fport, _hdir, _h, _f) = start_both("regtest-cache10", |_, port| {
        format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             cache c\n total-max-size 4\n max-age 60\n\
             frontend fe\n bind 127.0.0.1:{port}\n default_backend be\n\
             backend be\n http-request cache-use c\n http-response cache-store c\n\
             \x20server s 127.0.0.1:{app}\n"
        )
    });
    let status = |port: u16| {
        (0..2)
            .map(|_| {
                let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                    return "no connection".to_string();
                };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = s.write_all(b"GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                out.lines().next().unwrap_or("").to_string()
            })
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let (want, got) = (status(hport), status(fport));
    assert!(want.contains("200"), "{want}");
    assert_eq!(got, want, "status lines of a miss then a hit");
}

/// A server answering `/NNN` with status NNN, its head first and its 10-byte body 200 ms
/// later (and closing).
fn slow_body_server() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in l.incoming().take(32) {
            let Ok(mut c) = c else { continue };
            std::thread::spawn(move || {
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                let text = String::from_utf8_lossy(&got).to_string();
                let status = text
                    .split_whitespace()
                    .nth(1)
                    .and_then(|p| p.trim_start_matches('/').parse::<u16>().ok())
                    .unwrap_or(200);
                let head = format!("HTTP/1.1 {status} X\r\nContent-Length: 10\r\n\r\n");
                let _ = c.write_all(head.as_bytes());
                std::thread::sleep(Duration::from_millis(200));
                let _ = c.write_all(b"0123456789");
            });
        }
    });
    port
}

/// `http-response wait-for-body` rules with conditions on the answer (the reg-test's
/// `status eq 200` / `status eq 201` pair): the first that matches waits, `res.len` then
/// counts the body, as on haproxy; an answer none matches is not waited for.
#[test]
fn conditional_response_waits_as_haproxy() {
    if !tool(
        "conditional_response_waits_as_haproxy",
        "haproxy",
        "haproxy",
    ) {
        return;
    }
    let app = slow_body_server();
    let (hport, fport, _hdir, _h, _f) = start_both("regtest-reswait", |_, port| {
        format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend fe\n bind 127.0.0.1:{port}\n default_backend be\n\
             backend be\n\
             \x20http-response wait-for-body time 2s if {{ status eq 200 }}\n\
             \x20http-response wait-for-body time 2s at-least 5 if {{ status eq 201 }}\n\
             \x20http-response set-header x-len %[res.len]\n server s 127.0.0.1:{app}\n"
        )
    });
    let get = |port: u16, path: &str| {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return "no connection".to_string();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let req = format!("GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        let _ = s.write_all(req.as_bytes());
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        let status = out.lines().next().unwrap_or("").to_string();
        let len = out
            .lines()
            .find(|l| l.starts_with("x-len"))
            .unwrap_or("")
            .to_string();
        format!("{status} {len}")
    };
    same_answers(
        &["/200", "/201", "/202"],
        |p| format!("GET {p}"),
        |port, p| get(port, p),
        hport,
        fport,
    );
    let waited = get(hport, "/200");
    let not = get(hport, "/202");
    assert_ne!(
        waited,
        not.replace("202", "200"),
        "the wait shows in res.len: {waited} / {not}"
    );
}

/// `json_query` on request bodies (the reg-test `converter/json_query.vtc`'s paths and types).
#[test]
fn json_query_as_haproxy() {
    if !tool("json_query_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let body = [
        "iss=%[var(txn.iss)]",
        "int=%[var(txn.int)]",
        "dbl=%[var(txn.dbl)]",
        "t=%[var(txn.t)]",
        "arr=%[var(txn.arr)]",
        "obj=%[var(txn.obj)]",
        "deep=%[var(txn.deep)]",
    ]
    .join(" ");
    let (hport, fport, _hdir, _h, _f) = start_both("regtest-json", |_, port| {
        format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             \x20option http-buffer-request\n\
             frontend fe\n bind 127.0.0.1:{port}\n\
             \x20http-request set-var(txn.iss) req.body,json_query('$.iss')\n\
             \x20http-request set-var(txn.int) req.body,json_query('$.integer',\"int\"),add(1)\n\
             \x20http-request set-var(txn.dbl) req.body,json_query('$.double')\n\
             \x20http-request set-var(txn.t) req.body,json_query('$.boolean-true')\n\
             \x20http-request set-var(txn.arr) req.body,json_query('$.my\\.key')\n\
             \x20http-request set-var(txn.obj) req.body,json_query('$.o')\n\
             \x20http-request set-var(txn.deep) req.body,json_query('$.o.a[1]')\n\
             \x20http-request return status 200 content-type text/plain lf-string \"{body}\"\n"
        )
    });
    let post = |port: u16, json: &str| {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return "no connection".to_string();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let req = format!(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        );
        let _ = s.write_all(req.as_bytes());
        read_answer(&mut s)
    };
    let docs = [
        r#"{"iss":"kubernetes.io/serviceaccount"}"#,
        r#"{"integer":4,"double":4.5,"boolean-true":true}"#,
        r#"{"integer":-4,"double":1234567.25}"#,
        r#"{"my.key":["val1","val2","val3"],"key2":"val4"}"#,
        // an ASCII `\u` escape (mjson writes `\u00XX` as one byte, gives up on others;
        // fulcrum writes any character in UTF-8: README)
        r#"{"o":{"a":["x","y\u0041"]}}"#,
        "not json",
    ];
    same_answers(
        &docs,
        |j| j.to_string(),
        |port, j| post(port, j),
        hport,
        fport,
    );
    let one = post(hport, r#"{"integer":4,"double":4.5,"boolean-true":true}"#);
    assert!(one.contains("int=5") && one.contains("dbl=4.5"), "{one}");
}
