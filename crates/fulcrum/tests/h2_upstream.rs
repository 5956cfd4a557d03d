//! HTTP/2 to servers (`server ... proto h2`: h2c with prior knowledge) against a real HTTP/2
//! server (the h2 crate), side by side with the real haproxy 2.6 on the same config: the
//! answers HTTP/2 and HTTP/1.1 clients get (a gRPC-style echo with trailers both ways, a
//! trailers-only answer, a stream reset mapped to 502, a body of unknown length to an
//! HTTP/1.1 client as chunks, a large download), the request heads the server receives,
//! the log lines; many client streams multiplexed on one server connection.
//! Over TLS with ALPN `h2`: `h2_upstream_tls.rs`.

mod common;
mod h2_support;
mod h2_upstream_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require::tool;
use h2_support::{curl_h2, run};
use h2_upstream_support::{config, h2_requests, server, Answer};
use std::time::Duration;

/// The parts of an httplog line that must match haproxy's (as `h2_client.rs`): frontend,
/// backend/server, status, cookies, termination state, request.
fn log_key(line: &str, port: u16) -> String {
    let f: Vec<&str> = line.split_whitespace().collect();
    let req = line.split_once('"').map_or("", |(_, r)| r).to_string();
    let _ = port;
    format!(
        "{} {} {} {} {} {}",
        f.get(3).unwrap_or(&""),
        f.get(5).unwrap_or(&""),
        f.get(7).unwrap_or(&""),
        f.get(8).unwrap_or(&""),
        f.get(9).unwrap_or(&""),
        req
    )
}

/// What one proxy did with the scripted requests.
struct Run {
    answers: Vec<Answer>,
    curl: Vec<String>,
    heads: Vec<String>,
    logs: Vec<String>,
}

fn script(
    h2_port: u16,
    h1_port: u16,
    seen: &h2_upstream_support::Seen,
) -> (Vec<Answer>, Vec<String>, Vec<String>) {
    let mut answers = h2_requests(
        h2_port,
        &[
            (
                "POST",
                "/grpc",
                b"\0\0\0\0\x05hello",
                Some(("x-req-trailer", "t1")),
            ),
            ("POST", "/only", b"\0\0\0\0\0", None),
            ("GET", "/reset", b"", None),
            ("GET", "/x?y=1", b"", None),
            ("POST", "/post", b"twelve bytes", None),
        ],
    );
    for a in &mut answers {
        if let Ok(t) = std::str::from_utf8(&a.body) {
            a.body = t.replace(&h2_port.to_string(), "PORT2").into_bytes();
        }
    }
    let mut curl = Vec::new();
    for (args, h2) in [
        (vec!["-D", "-", "-H", "Cookie: a=1", "URL2/c?d"], true),
        (vec!["-D", "-", "URL1/nolen"], false),
        (vec!["-D", "-", "-d", "abc", "URL1/post1"], false),
        (
            vec![
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{size_download}",
                "URL2/big/300000",
            ],
            true,
        ),
        (vec!["-D", "-", "URL1/reset"], false),
        // Interim answers (103 Early Hints) relayed to both kinds of clients.
        (vec!["-D", "-", "URL1/hints"], false),
        (vec!["-D", "-", "URL2/hints"], true),
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("URL2", &format!("http://127.0.0.1:{h2_port}"))
                    .replace("URL1", &format!("http://127.0.0.1:{h1_port}"))
            })
            .collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, out) = if h2 {
            curl_h2(&refs)
        } else {
            let mut all = vec!["-sS", "--http1.1", "--max-time", "20"];
            all.extend_from_slice(&refs);
            run("curl", &all, 25)
        };
        curl.push(
            out.replace(&h2_port.to_string(), "PORT2")
                .replace(&h1_port.to_string(), "PORT1"),
        );
    }
    let mut heads: Vec<String> = seen
        .take()
        .into_iter()
        .map(|(_, h, n)| {
            format!(
                "{n} {}",
                h.replace(&h2_port.to_string(), "PORT2")
                    .replace(&h1_port.to_string(), "PORT1")
            )
        })
        .collect();
    heads.sort();
    (answers, curl, heads)
}

#[test]
fn h2_servers_answer_as_through_haproxy() {
    let test = "h2_servers_answer_as_through_haproxy";
    if !tool(test, "curl", "curl") || !tool(test, "haproxy", "haproxy") {
        return;
    }
    let scratch = Scratch::new("h2up-vs-haproxy");
    let (be, seen) = server(None);
    let mut runs = Vec::new();
    for who in ["fulcrum", "haproxy"] {
        let (p2, p1) = (free_port(), free_port());
        let cfg = scratch.write(&format!("{who}.cfg"), &config(p2, p1, be, "proto h2"));
        let up = || {
            fulcrum_testlab::wait::until(Duration::from_secs(10), || {
                run(
                    "curl",
                    &[
                        "-s",
                        "-o",
                        "/dev/null",
                        &format!("http://127.0.0.1:{p1}/ping"),
                    ],
                    5,
                )
                .0
            })
        };
        let (answers, curl, heads, log) = if who == "fulcrum" {
            let f = Fulcrum::start(&cfg);
            assert!(up().is_some(), "fulcrum never answered: {}", f.log_text());
            seen.take();
            let (a, c, h) = script(p2, p1, &seen);
            std::thread::sleep(Duration::from_millis(300));
            (a, c, h, f.log_text())
        } else {
            let mut cmd = std::process::Command::new("haproxy");
            cmd.args(["-db", "-f", cfg.to_str().expect("path")]);
            let h = fulcrum_testlab::process::Child::spawn(
                "haproxy",
                cmd,
                scratch.0.join("haproxy.log"),
            )
            .expect("start haproxy");
            assert!(up().is_some(), "haproxy never answered: {}", h.output());
            seen.take();
            let (a, c, hd) = script(p2, p1, &seen);
            std::thread::sleep(Duration::from_millis(300));
            (a, c, hd, h.output())
        };
        let logs: Vec<String> = log
            .lines()
            .filter(|l| l.contains(" fe be/") && !l.contains("/ping"))
            .map(|l| {
                log_key(l, 0)
                    .replace(&p2.to_string(), "PORT2")
                    .replace(&p1.to_string(), "PORT1")
            })
            .collect();
        runs.push(Run {
            answers,
            curl,
            heads,
            logs,
        });
    }
    let (f, h) = (&runs[0], &runs[1]);
    // The answers an HTTP/2 client gets, field for field. One difference on purpose: a
    // response ended on its head (a gRPC trailers-only answer) carries `content-length: 0`
    // from fulcrum (so it goes out on one HEADERS frame with END_STREAM).
    assert_eq!(f.answers.len(), h.answers.len());
    for (i, (fa, ha)) in f.answers.iter().zip(&h.answers).enumerate() {
        let mut fa_cmp = Answer {
            headers: fa.headers.clone(),
            body: fa.body.clone(),
            trailers: fa.trailers.clone(),
            ..*fa
        };
        if i == 1 {
            fa_cmp.headers.retain(|h| h != "content-length: 0");
        }
        assert_eq!(&fa_cmp, ha, "h2 answer {i} (fulcrum, then haproxy)");
    }
    // The gRPC echo: body, the server's trailers, and the client's trailer relayed to the
    // server (`echo t1`); trailers-only; the reset stream.
    assert_eq!(
        f.answers[0].trailers,
        ["grpc-status: 0", "grpc-message: echo t1"]
    );
    assert!(f.answers[1].headers.contains(&"grpc-status: 7".to_string()));
    assert!(f.answers[2].reset && f.answers[2].status == 0);
    // HTTP/1.1 and curl's HTTP/2: the same status lines, fields and bodies (header names
    // compared in lower case: haproxy lower-cases the names rules add, a known difference).
    for (i, (fa, ha)) in f.curl.iter().zip(&h.curl).enumerate() {
        let lower = |t: &str| {
            t.lines()
                .map(|l| match l.split_once(": ") {
                    Some((n, v)) if !n.contains(' ') => format!("{}: {v}", n.to_ascii_lowercase()),
                    _ => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(lower(fa), lower(ha), "curl {i} (fulcrum, then haproxy)");
    }
    assert!(f.curl[1].contains("transfer-encoding: chunked") && f.curl[1].ends_with("hello world"));
    assert_eq!(f.curl[3], "200 300000");
    assert!(f.curl[4].starts_with("HTTP/1.1 502"), "{}", f.curl[4]);
    // The server's two 103 Early Hints reach both kinds of clients, before the answer.
    for (i, status) in [(5, "HTTP/1.1 103"), (6, "HTTP/2 103")] {
        let c = &f.curl[i];
        assert_eq!(c.matches(status).count(), 2, "curl {i}: {c}");
        let (hints, rest) = c.split_at(c.find(" 200").unwrap_or(0));
        assert!(
            hints.contains("link: </b.css>; rel=preload; as=style"),
            "{c}"
        );
        assert!(rest.ends_with("ok"), "{c}");
    }
    // What the HTTP/2 server received: pseudo-headers, fields, body sizes.
    assert_eq!(
        f.heads, h.heads,
        "request heads at the server (fulcrum, then haproxy)"
    );
    assert_eq!(f.heads.len(), 12, "{:?}", f.heads);
    // The log lines (haproxy 2.6 logs no line for the HTTP/2 client's stream it reset after
    // the server's reset; fulcrum logs it as `SH` 502).
    let mut fl: Vec<String> = f
        .logs
        .iter()
        .filter(|l| !l.contains("/reset HTTP/2.0"))
        .cloned()
        .collect();
    let mut hl = h.logs.clone();
    fl.sort();
    hl.sort();
    assert_eq!(fl, hl, "log lines (fulcrum, then haproxy)");
    assert!(
        f.logs
            .iter()
            .any(|l| l.starts_with("be/s1 502 - - SHNN GET http") && l.contains("/reset HTTP/2.0")),
        "{:?}",
        f.logs
    );
    assert_eq!(hl.len(), 11, "{hl:?}");
}

/// Many streams of HTTP/2 clients share one server connection (HAProxy's multiplexing): 40
/// requests in flight at once, each held 300 ms by the server, reach it on one connection;
/// `timeout server` on a server that never answers is a 504.
#[test]
fn h2_server_connection_is_multiplexed() {
    let test = "h2_server_connection_is_multiplexed";
    if !tool(test, "curl", "curl") {
        return;
    }
    let scratch = Scratch::new("h2up-mux");
    let (be, seen) = server(None);
    let (p2, p1) = (free_port(), free_port());
    let cfg = scratch.write("f.cfg", &config(p2, p1, be, "proto h2"));
    let f = Fulcrum::start(&cfg);
    let up = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        run(
            "curl",
            &[
                "-s",
                "-o",
                "/dev/null",
                &format!("http://127.0.0.1:{p1}/ping"),
            ],
            5,
        )
        .0
    });
    assert!(up.is_some(), "fulcrum never answered: {}", f.log_text());
    seen.take();
    let reqs: Vec<h2_upstream_support::Req<'_>> =
        (0..40).map(|_| ("GET", "/slow", &b""[..], None)).collect();
    let answers = h2_requests(p2, &reqs);
    assert!(
        answers.iter().all(|a| a.status == 200 && a.body == b"ok"),
        "{answers:?}"
    );
    let got = seen.take();
    assert_eq!(got.len(), 40);
    let conns: std::collections::BTreeSet<usize> = got.iter().map(|(c, _, _)| *c).collect();
    assert_eq!(conns.len(), 1, "server connections used: {conns:?}");
    // Two HTTP/1.1 clients at once: their requests share the server connection too.
    let a = std::thread::spawn(move || {
        run("curl", &["-s", &format!("http://127.0.0.1:{p1}/slow")], 10)
    });
    let b = run("curl", &["-s", &format!("http://127.0.0.1:{p1}/slow")], 10);
    let a = a.join().expect("curl thread");
    assert_eq!((a.1.as_str(), b.1.as_str()), ("ok", "ok"));
    let got = seen.take();
    assert!(got.iter().all(|(c, _, _)| conns.contains(c)), "{got:?}");
}
