//! Answers the proxy makes itself (a deny, `return`, a redirect, `auth`'s 401, an
//! `errorfile`, `monitor-uri`, the stats page, the Prometheus exporter), side by side with
//! the real haproxy on the same config, over both codecs: HTTP/1 byte for byte (a client
//! asking to close is told `connection: close`; a HEAD gets the head only), HTTP/2 by status,
//! header names and body. Also: interim `100 Continue` (the server's, and the proxy's own with
//! `option http-buffer-request`) reaches HTTP/2 clients; two requests on one h2c connection;
//! the applets' log lines name them as haproxy does (`<STATS>`, `<PROMEX>`).

mod common;
mod h2_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require::tool;
use h2_support::{backend, curl_h2};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

fn config(h1: u16, h2: u16, buffered: u16, be: SocketAddr, page: &Path) -> String {
    format!(
        "global\n  log stderr format raw local0\n\
         defaults\n  mode http\n  log global\n  option httplog\n  timeout client 10s\n  timeout connect 2s\n  timeout server 10s\n\
         frontend fe\n  bind 127.0.0.1:{h1}\n  bind 127.0.0.1:{h2} proto h2\n  monitor-uri /mon\n\
         \x20 http-request deny if {{ path /deny }}\n\
         \x20 http-request return status 200 content-type text/plain string hello if {{ path /ret }}\n\
         \x20 http-request redirect location /elsewhere code 302 if {{ path /redir }}\n\
         \x20 http-request auth realm Private if {{ path /auth }}\n\
         \x20 http-request use-service prometheus-exporter if {{ path /metrics }}\n\
         \x20 stats enable\n  stats uri /st\n\
         \x20 use_backend none if {{ path /none }}\n  default_backend be\n\
         frontend buffered\n  bind 127.0.0.1:{buffered} proto h2\n  option http-buffer-request\n  default_backend be\n\
         backend be\n  server s1 {be}\n\
         backend none\n  errorfile 503 {}\n",
        page.display()
    )
}

/// The whole answer to `raw` on a new connection, read until the proxy closes it.
fn exchange(port: u16, raw: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(raw.as_bytes()).expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Status line, header names (sorted, lower case) and body of a curl `-D -` output.
fn answer_key(out: &str) -> (Vec<String>, Vec<String>, String) {
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((out, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("").trim().to_string();
    let mut names: Vec<String> = lines
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_ascii_lowercase()))
        .collect();
    names.sort();
    (vec![status], names, body.to_string())
}

/// Frontend, backend/server, the queue/connect/response timers, status and termination state
/// of an httplog line.
fn log_key(line: &str) -> String {
    let f: Vec<&str> = line.split_whitespace().collect();
    let timers: Vec<&str> = f.get(4).map_or(vec![], |t| t.split('/').collect());
    format!(
        "{} {} {:?} {} {} {}",
        f.get(2).unwrap_or(&""),
        f.get(3).unwrap_or(&""),
        timers.get(1..4).unwrap_or(&[]),
        f.get(5).unwrap_or(&""),
        f.get(9).unwrap_or(&""),
        line.split_once('"').map_or("", |(_, r)| r),
    )
}

struct Proxy {
    h1: u16,
    h2: u16,
    buffered: u16,
}

#[test]
fn local_answers_over_http1_and_http2_as_haproxy() {
    let test = "local_answers_over_http1_and_http2_as_haproxy";
    if !tool(test, "curl", "curl")
        || !tool(test, "haproxy", "haproxy")
        || !tool(test, "nghttp", "nghttp2-client")
        || !tool(test, "h2load", "nghttp2-client")
    {
        return;
    }
    let scratch = Scratch::new("local-answers");
    let page = scratch.write(
        "503.http",
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-Page: mine\r\n\r\nbusy\n",
    );
    let (be, seen) = backend();
    let f = Proxy {
        h1: free_port(),
        h2: free_port(),
        buffered: free_port(),
    };
    let h = Proxy {
        h1: free_port(),
        h2: free_port(),
        buffered: free_port(),
    };
    let fcfg = scratch.write("f.cfg", &config(f.h1, f.h2, f.buffered, be, &page));
    let hcfg = scratch.write("h.cfg", &config(h.h1, h.h2, h.buffered, be, &page));
    let fulcrum = Fulcrum::start(&fcfg);
    let mut hcmd = std::process::Command::new("haproxy");
    hcmd.args(["-db", "-f", hcfg.to_str().expect("path")]);
    let haproxy =
        fulcrum_testlab::process::Child::spawn("haproxy", hcmd, scratch.0.join("haproxy.log"))
            .expect("start haproxy");
    let up = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", h.h1)).is_ok()
            && TcpStream::connect(("127.0.0.1", h.h2)).is_ok()
            && TcpStream::connect(("127.0.0.1", h.buffered)).is_ok()
    });
    assert!(up.is_some(), "haproxy never answered: {}", haproxy.output());

    // HTTP/1, byte for byte.
    let h1_requests = [
        "GET /deny HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /deny HTTP/1.0\r\n\r\n",
        "HEAD /deny HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /ret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "HEAD /ret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /redir HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /auth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /mon HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "HEAD /mon HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        // Kept alive, then closed: one connection, three answers.
        "GET /deny HTTP/1.1\r\nHost: x\r\n\r\nGET /none HTTP/1.1\r\nHost: x\r\n\r\nGET /ret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ];
    for raw in h1_requests {
        let fo = exchange(f.h1, raw);
        let ho = exchange(h.h1, raw);
        assert_eq!(
            String::from_utf8_lossy(&fo),
            String::from_utf8_lossy(&ho),
            "HTTP/1 answer to {raw:?} (fulcrum, then haproxy)"
        );
    }
    let deny = exchange(f.h1, h1_requests[0]);
    assert_eq!(deny.len(), 208, "{}", String::from_utf8_lossy(&deny));

    // HTTP/2: status, header names, body.
    let h2_requests: [&[&str]; 9] = [
        &["-D", "-", "URL/deny"],
        &["-I", "URL/deny"],
        &["-D", "-", "URL/ret"],
        &["-I", "URL/ret"],
        &["-D", "-", "URL/redir"],
        &["-D", "-", "URL/auth"],
        &["-D", "-", "URL/none"],
        &["-D", "-", "URL/mon"],
        &["-I", "URL/mon"],
    ];
    for args in h2_requests {
        let mut keys = Vec::new();
        for port in [f.h2, h.h2] {
            let a: Vec<String> = args
                .iter()
                .map(|a| a.replace("URL", &format!("http://127.0.0.1:{port}")))
                .collect();
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            let (ok, out) = curl_h2(&refs);
            assert!(ok, "curl {a:?}: {out}");
            keys.push(answer_key(&out));
        }
        assert_eq!(
            keys[0], keys[1],
            "HTTP/2 answer to {args:?} (fulcrum, then haproxy)"
        );
    }

    // Two requests on one h2c connection, one after the other, then two at once: all
    // answered. (curl 7.88 cannot do this with `--http2-prior-knowledge URL1 URL2`: its second
    // transfer fails with haproxy too, "Error in the HTTP2 framing layer".)
    for port in [f.h2, h.h2] {
        let u = |p: &str| format!("http://127.0.0.1:{port}{p}");
        let (ok, out) =
            h2_support::run("h2load", &["-n", "2", "-c", "1", "-m", "1", &u("/ret")], 20);
        assert!(ok && out.contains("2 succeeded"), "{out}");
        assert!(out.contains("status codes: 2 2xx"), "{out}");
        let (ok, out) = h2_support::run("nghttp", &[&u("/ret"), &u("/a")], 20);
        assert!(
            ok && out.contains("hello") && out.contains("body=0\n"),
            "{out}"
        );
    }

    // `100 Continue` reaches an HTTP/2 client: the server's, relayed; the proxy's own when
    // it waits for the body (`option http-buffer-request`).
    let upload = scratch.write("upload", &"u".repeat(5000));
    let upload = format!("@{}", upload.display());
    for (what, fport, hport) in [
        ("server's", f.h2, h.h2),
        ("proxy's", f.buffered, h.buffered),
    ] {
        let mut statuses = Vec::new();
        for port in [fport, hport] {
            let (ok, out) = curl_h2(&[
                "-D",
                "-",
                "-H",
                "Expect: 100-continue",
                "--expect100-timeout",
                "60",
                "--data-binary",
                &upload,
                &format!("http://127.0.0.1:{port}/up"),
            ]);
            assert!(ok, "{what} 100 Continue: {out}");
            assert!(
                out.contains("body=5000\n"),
                "{what}: the body arrived: {out}"
            );
            let s: Vec<String> = out
                .lines()
                .filter(|l| l.starts_with("HTTP/"))
                .map(|l| l.trim().to_string())
                .collect();
            statuses.push(s);
        }
        assert_eq!(statuses[0], ["HTTP/2 100", "HTTP/2 200"], "{what}: fulcrum");
        assert_eq!(statuses[0], statuses[1], "{what}: fulcrum, then haproxy");
    }
    assert!(seen.len() >= 4, "the uploads reached the backend");

    // The applets' log lines name them as haproxy's do.
    let mut keys = Vec::new();
    for path in ["/st;csv", "/metrics"] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        for port in [f.h1, h.h1] {
            let out = exchange(port, &raw);
            assert!(
                out.starts_with(b"HTTP/1.1 200 OK\r\n"),
                "{path}: {}",
                String::from_utf8_lossy(&out)
            );
        }
        let needle = format!("\"GET {path} HTTP/1.1\"");
        let (_, fl) = fulcrum
            .wait_line(&needle, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("fulcrum log line for {path}: {}", fulcrum.log_text()));
        let find = || {
            haproxy
                .output()
                .lines()
                .find(|l| l.contains(&needle))
                .map(str::to_string)
        };
        fulcrum_testlab::wait::until(Duration::from_secs(10), || find().is_some());
        let hl =
            find().unwrap_or_else(|| panic!("haproxy log line for {path}: {}", haproxy.output()));
        keys.push((log_key(&fl), log_key(&hl)));
    }
    for (fk, hk) in &keys {
        assert_eq!(fk, hk, "log line (fulcrum, then haproxy)");
    }
    assert!(keys[0].0.contains("fe/<STATS>"), "{}", keys[0].0);
    assert!(keys[1].0.contains("fe/<PROMEX>"), "{}", keys[1].0);
}
