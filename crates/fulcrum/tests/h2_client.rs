//! HTTP/2 on the client side (`bind ... proto h2`, h2c with prior knowledge) against a real
//! HTTP/1 backend, side by side with the real haproxy on the same config: what the backend
//! receives, what the client gets back (headers, HEAD/204 without body, chunked answers), the
//! log line, the advertised `tune.h2.*` settings; h2load with 100 streams on one connection;
//! a large download and upload; streams reset by the client. Reloads: `h2_reload.rs`.

mod common;
mod h2_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require::tool;
use h2_support::{backend, big_byte, config, curl_h2, run};
use std::time::Duration;

/// The parts of an httplog line that must match haproxy's: frontend, backend/server,
/// status, cookies, termination state, request (client address, date, timers, byte count and
/// connection counts left out).
fn log_key(line: &str, port: u16) -> String {
    let f: Vec<&str> = line.split_whitespace().collect();
    let req = line
        .split_once('"')
        .map_or("", |(_, r)| r)
        .replace(&port.to_string(), "PORT");
    format!(
        "{} {} {} {} {} {} {}",
        f.get(2).unwrap_or(&""),
        f.get(3).unwrap_or(&""),
        f.get(5).unwrap_or(&""),
        f.get(7).unwrap_or(&""),
        f.get(8).unwrap_or(&""),
        f.get(9).unwrap_or(&""),
        req
    )
}

/// The frontend's `stot req_tot hrsp_2xx` and the server's `stot hrsp_2xx` from the stats
/// CSV (fetched over HTTP/2).
fn counters(port: u16) -> Vec<i64> {
    let (ok, csv) = curl_h2(&[&format!("http://127.0.0.1:{port}/st;csv")]);
    assert!(ok, "stats: {csv}");
    let head: Vec<&str> = csv
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |row: &str, name: &str| -> i64 {
        let i = head
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        row.split(',')
            .nth(i)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let row = |px: &str, sv: &str| -> String {
        csv.lines()
            .find(|l| l.starts_with(&format!("{px},{sv},")))
            .unwrap_or_else(|| panic!("no row {px}/{sv}: {csv}"))
            .to_string()
    };
    let (fe, s1) = (row("fe", "FRONTEND"), row("be", "s1"));
    vec![
        col(&fe, "stot"),
        col(&fe, "req_tot"),
        col(&fe, "hrsp_2xx"),
        col(&s1, "stot"),
        col(&s1, "hrsp_2xx"),
    ]
}

/// Response header names (lowercase, sorted), minus `date`.
fn header_names(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_ascii_lowercase()))
        .filter(|n| n != "date")
        .collect();
    v.sort();
    v
}

/// The requests both proxies get, as curl arguments (`URL` is replaced).
fn requests(upload: &str) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        s(&[
            "-D",
            "-",
            "-H",
            "Cookie: a=1",
            "-H",
            "Cookie: b=2",
            "URL/x?y=1",
        ]),
        s(&["-D", "-", "-H", "Cookie: SRV=s1", "URL/again"]),
        s(&["-D", "-", "-d", "hello", "URL/post"]),
        // No content-length: the body goes to the server chunked.
        s(&[
            "-D",
            "-",
            "-H",
            "Content-Length:",
            "--data-binary",
            "@",
            "-X",
            "PUT",
            "URL/put",
        ])
        .into_iter()
        .map(|a| if a == "@" { format!("@{upload}") } else { a })
        .collect(),
        s(&["-I", "URL/head"]),
        s(&["-D", "-", "URL/nocontent"]),
        s(&["-D", "-", "URL/chunked"]),
    ]
}

#[test]
fn h2_requests_reach_http1_servers_as_through_haproxy() {
    let test = "h2_requests_reach_http1_servers_as_through_haproxy";
    if !tool(test, "curl", "curl")
        || !tool(test, "haproxy", "haproxy")
        || !tool(test, "nghttp", "nghttp2-client")
    {
        return;
    }
    let scratch = Scratch::new("h2-vs-haproxy");
    let upload = scratch.write("small-upload", "twelve bytes");
    let upload = upload.to_str().expect("utf-8 path").to_string();
    let (be, seen) = backend();
    let (fport, hport) = (free_port(), free_port());
    let fcfg = scratch.write("f.cfg", &config(fport, be, 1));
    let hcfg = scratch.write("h.cfg", &config(hport, be, 1));
    let f = Fulcrum::start(&fcfg);
    let mut hcmd = std::process::Command::new("haproxy");
    hcmd.args(["-db", "-f", hcfg.to_str().expect("path")]);
    let h = fulcrum_testlab::process::Child::spawn("haproxy", hcmd, scratch.0.join("haproxy.log"))
        .expect("start haproxy");
    let up = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        curl_h2(&[&format!("http://127.0.0.1:{hport}/ping")]).0
    });
    assert!(up.is_some(), "haproxy never answered: {}", h.output());
    seen.take();
    let hlines_before = h
        .output()
        .lines()
        .filter(|l| l.contains("HTTP/2.0"))
        .count();

    let mut answers = Vec::new();
    for (who, port) in [("fulcrum", fport), ("haproxy", hport)] {
        let mut got = Vec::new();
        for args in requests(&upload) {
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("URL", &format!("http://127.0.0.1:{port}")))
                .collect();
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let (ok, out) = curl_h2(&refs);
            assert!(ok, "{who}: curl {args:?} failed: {out}");
            got.push(out.replace(&port.to_string(), "PORT"));
        }
        let heads: Vec<String> = seen
            .take()
            .into_iter()
            .map(|(h, n)| format!("{n} {}", h.replace(&port.to_string(), "PORT")))
            .collect();
        answers.push((who, got, heads));
    }
    let (_, fgot, fheads) = &answers[0];
    let (_, hgot, hheads) = &answers[1];
    assert_eq!(
        fheads, hheads,
        "the backend saw different requests (fulcrum, then haproxy)"
    );
    assert!(
        fheads[0].starts_with("0 GET /x?y=1 HTTP/1.1\r\nhost: 127.0.0.1:PORT\r\n"),
        "{}",
        fheads[0]
    );
    assert!(
        fheads[0].contains("x-ver: 2.0\r\n") && fheads[0].contains("cookie: a=1; b=2\r\n"),
        "{}",
        fheads[0]
    );
    assert!(
        fheads[3].contains("transfer-encoding: chunked") && fheads[3].starts_with("12 PUT /put"),
        "{}",
        fheads[3]
    );
    for (i, (fo, ho)) in fgot.iter().zip(hgot).enumerate() {
        assert_eq!(
            fo.lines().next(),
            ho.lines().next(),
            "status of request {i}"
        );
        assert_eq!(
            header_names(fo),
            header_names(ho),
            "response header names of request {i}:\nfulcrum {fo}\nhaproxy {ho}"
        );
        let body = |o: &str| {
            o.split_once("\r\n\r\n")
                .map(|(_, b)| b.to_string())
                .unwrap_or_default()
        };
        assert_eq!(body(fo), body(ho), "body of request {i}");
    }
    assert!(fgot[0].contains("set-cookie: SRV=s1"), "{}", fgot[0]);
    assert_eq!(
        fgot[4].split_once("\r\n\r\n").map(|(_, b)| b),
        Some(""),
        "HEAD has no body"
    );
    assert!(fgot[5].starts_with("HTTP/2 204"), "{}", fgot[5]);
    assert!(
        fgot[6].ends_with("hello world"),
        "chunked answer de-chunked: {}",
        fgot[6]
    );

    // The log lines: one per stream, as haproxy writes them.
    let n = requests(&upload).len();
    let mut flog = Vec::new();
    for _ in 0..n {
        let (_, l) = f
            .wait_line("HTTP/2.0\"", Duration::from_secs(10))
            .unwrap_or_else(|| panic!("fulcrum log line missing: {}", f.log_text()));
        flog.push(log_key(&l, fport));
    }
    let mut hlog = Vec::new();
    assert!(fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        h.output()
            .lines()
            .filter(|l| l.contains("HTTP/2.0"))
            .count()
            >= hlines_before + n
    })
    .is_some());
    for l in h
        .output()
        .lines()
        .filter(|l| l.contains("HTTP/2.0"))
        .skip(hlines_before)
    {
        hlog.push(log_key(l, hport));
    }
    assert_eq!(flog, hlog, "log lines (fulcrum, then haproxy)");

    // tune.h2.* as advertised in the server's SETTINGS frame.
    for (who, port) in [("fulcrum", fport), ("haproxy", hport)] {
        let (ok, out) = run(
            "nghttp",
            &["-nv", &format!("http://127.0.0.1:{port}/s")],
            20,
        );
        assert!(ok, "{who}: nghttp: {out}");
        let settings = out
            .split("recv SETTINGS frame")
            .nth(1)
            .unwrap_or_default()
            .split("send SETTINGS frame")
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            settings.contains("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):7"),
            "{who}: {settings}"
        );
        assert!(
            settings.contains("SETTINGS_INITIAL_WINDOW_SIZE(0x04):1048576"),
            "{who}: {settings}"
        );
    }

    // Stats counters move as haproxy's: one session per connection, one request per stream.
    let mut deltas = Vec::new();
    for (who, port) in [("fulcrum", fport), ("haproxy", hport)] {
        let before = counters(port);
        let (ok, out) = run(
            "h2load",
            &[
                "-n",
                "5",
                "-c",
                "1",
                "-m",
                "5",
                &format!("http://127.0.0.1:{port}/a"),
            ],
            20,
        );
        assert!(ok && out.contains("5 succeeded"), "{who}: {out}");
        let after = counters(port);
        let d: Vec<i64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        deltas.push(d);
    }
    assert_eq!(
        deltas[0], deltas[1],
        "stats deltas (fe stot req_tot 2xx, server stot 2xx), fulcrum then haproxy"
    );
    assert_eq!(
        deltas[0][..2],
        [2, 6],
        "one h2load connection and a stats request: 2 sessions, 6 requests"
    );

    // A large download and a large upload, through fulcrum.
    let file = scratch.0.join("download");
    let size = 3_000_000;
    let (ok, out) = curl_h2(&[
        "-o",
        file.to_str().expect("path"),
        &format!("http://127.0.0.1:{fport}/big/{size}"),
    ]);
    assert!(ok, "{out}");
    let got = std::fs::read(&file).expect("downloaded file");
    assert_eq!(got.len(), size);
    assert!(
        got.iter().enumerate().all(|(i, b)| *b == big_byte(i)),
        "download corrupted"
    );
    let big = scratch.0.join("upload");
    std::fs::write(&big, vec![b'u'; 5_000_000]).expect("write upload");
    let (ok, out) = curl_h2(&[
        "--data-binary",
        &format!("@{}", big.to_str().expect("path")),
        &format!("http://127.0.0.1:{fport}/up"),
    ]);
    assert!(ok && out.starts_with("body=5000000\n"), "{out}");
}

#[test]
fn h2load_many_streams_on_one_connection() {
    let test = "h2load_many_streams_on_one_connection";
    if !tool(test, "h2load", "nghttp2-client") {
        return;
    }
    let scratch = Scratch::new("h2-h2load");
    let (be, seen) = backend();
    let port = free_port();
    // 100 concurrent streams (HAProxy's default limit).
    let cfg = config(port, be, 1).replace(
        "tune.h2.max-concurrent-streams 7",
        "tune.h2.max-concurrent-streams 100",
    );
    let _f = Fulcrum::start(&scratch.write("f.cfg", &cfg));
    let (ok, out) = run(
        "h2load",
        &[
            "-n",
            "2000",
            "-c",
            "1",
            "-m",
            "100",
            &format!("http://127.0.0.1:{port}/x"),
        ],
        60,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout"),
        "{out}"
    );
    assert!(out.contains("status codes: 2000 2xx"), "{out}");
    assert_eq!(seen.len(), 2000, "every stream reached the backend once");
    // Streams reuse idle server connections: at most one per stream in flight (100), and
    // a few more while a connection goes back to the pool; not one per stream.
    assert!(
        seen.connections() <= 200,
        "{} server connections for 2000 streams",
        seen.connections()
    );
    eprintln!("{} server connections for 2000 streams", seen.connections());
    eprintln!(
        "{}",
        out.lines()
            .find(|l| l.starts_with("finished in"))
            .unwrap_or("")
    );
}

#[test]
fn a_stream_reset_by_the_client_is_logged_as_a_client_abort_and_the_connection_goes_on() {
    let scratch = Scratch::new("h2-reset");
    let (be, _seen) = backend();
    let port = free_port();
    let f = Fulcrum::start(&scratch.write("f.cfg", &config(port, be, 1)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (first, second) = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (client, conn) = h2::client::handshake(tcp).await.expect("handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let get = |path: &str| {
            http::Request::get(format!("http://127.0.0.1:{port}{path}"))
                .body(())
                .expect("request")
        };
        let mut c = client.ready().await.expect("ready");
        let (resp, _) = c.send_request(get("/big/5000000"), true).expect("send");
        let resp = resp.await.expect("response");
        let mut body = resp.into_body();
        let got = body
            .data()
            .await
            .and_then(|d| d.ok())
            .map_or(0, |d| d.len());
        // Dropping the body resets the stream (RST_STREAM CANCEL) long before its end.
        drop(body);
        let mut c = c.ready().await.expect("ready again");
        let (resp, _) = c.send_request(get("/after"), true).expect("send");
        let resp = resp.await.expect("second response on the same connection");
        let status = resp.status();
        let mut body = resp.into_body();
        let mut text = Vec::new();
        while let Some(Ok(d)) = body.data().await {
            let _ = body.flow_control().release_capacity(d.len());
            text.extend_from_slice(&d);
        }
        (got, (status, String::from_utf8_lossy(&text).into_owned()))
    });
    assert!(first > 0, "the first stream got data before its reset");
    assert_eq!(second.0, 200);
    assert!(second.1.contains("GET /after HTTP/1.1"), "{}", second.1);
    let (_, line) = f
        .wait_line("/big/5000000 HTTP/2.0\"", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no log line for the reset stream: {}", f.log_text()));
    assert!(line.contains(" CD"), "a client abort: {line}");
}

#[test]
fn a_stream_reset_while_the_server_thinks_is_a_client_abort() {
    let scratch = Scratch::new("h2-reset-wait");
    let (be, _seen) = backend();
    let port = free_port();
    let f = Fulcrum::start(&scratch.write("f.cfg", &config(port, be, 1)));
    // Its own threads drive the connection while this thread waits for the log line.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let sent = std::time::Instant::now();
    let _open = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (client, conn) = h2::client::handshake(tcp).await.expect("handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut c = client.ready().await.expect("ready");
        let req = http::Request::get(format!("http://127.0.0.1:{port}/slow"))
            .body(())
            .expect("request");
        let (resp, _) = c.send_request(req, true).expect("send");
        // The backend answers /slow after 4 s; the client gives up after 300 ms (dropping the
        // response resets the stream). The connection stays open: only the stream ends.
        assert!(tokio::time::timeout(Duration::from_millis(300), resp)
            .await
            .is_err());
        c
    });
    // The session learns of the abort when the server answers (as for an HTTP/1 client that
    // goes away: the session does not watch its client while the server thinks).
    let (at, line) = f
        .wait_line("/slow HTTP/2.0\"", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no log line within 10 s: {}", f.log_text()));
    assert!(
        line.contains(" CH") || line.contains(" CD"),
        "a client abort: {line}"
    );
    eprintln!("logged {:?} after the request", at.duration_since(sent));
}
