//! HTTP/2 over TLS chosen by ALPN (`bind ... ssl crt FILE alpn h2,http/1.1`), side by side
//! with the real haproxy on the same config: curl `--http2` over TLS (the request heads an
//! HTTP/1 backend receives, the response status and header names, the log lines), answers
//! the proxy makes itself over HTTP/2 (a `deny` 403, a `redirect`, `http-request return`, the
//! stats page), HTTP/1.1 still served on the same bind when the client offers only that, and
//! h2load over TLS with many streams.

mod common;
mod h2_support;
mod tls_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require::tool;
use h2_support::{backend, run};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tls_support::{Ca, Key};

const HOST: &str = "a.test";

/// The config both proxies run: TLS with ALPN h2 then http/1.1, rules that answer locally,
/// fetches the backend sees as headers, httplog to stderr.
fn config(port: u16, cert: &Path, be: SocketAddr) -> String {
    format!(
        "global\n  log stderr format raw local0\n\
         defaults\n  mode http\n  log global\n  option httplog\n  timeout client 10s\n  timeout connect 2s\n  timeout server 10s\n\
         frontend fe\n  bind 127.0.0.1:{port} ssl crt {cert} alpn h2,http/1.1\n\
         \x20 stats enable\n  stats uri /st\n\
         \x20 http-request deny if {{ path /deny }}\n\
         \x20 http-request redirect location /new code 302 if {{ path /old }}\n\
         \x20 http-request return status 200 content-type text/plain string hello-local if {{ path /ret }}\n\
         \x20 http-request set-header X-Ver %[req.ver]\n\
         \x20 http-request set-header X-Alpn %[ssl_fc_alpn]\n\
         \x20 http-request set-header X-Sni %[ssl_fc_sni]\n\
         \x20 default_backend be\n\
         backend be\n  server s1 {be}\n",
        cert = cert.display()
    )
}

/// curl over TLS to `HOST` on `port` with `args` (`PATH` first); (success, output).
fn curl(ca: &Path, port: u16, path: &str, args: &[&str]) -> (bool, String) {
    let url = format!("https://{HOST}:{port}{path}");
    let resolve = format!("{HOST}:{port}:127.0.0.1");
    let ca = ca.to_str().expect("utf-8 path");
    let mut all = vec![
        "-sS",
        "--max-time",
        "20",
        "--cacert",
        ca,
        "--resolve",
        &resolve,
    ];
    all.extend_from_slice(args);
    all.push(&url);
    run("curl", &all, 25)
}

fn haproxy(dir: &Path, cfg: &Path, port: u16) -> fulcrum_testlab::process::Child {
    let mut cmd = std::process::Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(cfg);
    let child = fulcrum_testlab::process::Child::spawn("haproxy", cmd, dir.join("haproxy.log"))
        .expect("start haproxy");
    let up = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up.is_some(), "haproxy did not listen: {}", child.output());
    child
}

/// The parts of an httplog line that must match haproxy's: frontend, backend/server, status,
/// termination state, request line (client address, date, timers, bytes and connection
/// counts left out).
fn log_key(line: &str, port: u16) -> String {
    let f: Vec<&str> = line.split_whitespace().collect();
    let req = line
        .split_once('"')
        .map_or("", |(_, r)| r)
        .replace(&port.to_string(), "PORT");
    format!(
        "{} {} {} {} {}",
        f.get(2).unwrap_or(&""),
        f.get(3).unwrap_or(&""),
        f.get(5).unwrap_or(&""),
        f.get(9).unwrap_or(&""),
        req
    )
}

/// The status line and the response header names (lowercase, sorted, minus `date`).
fn answer_key(out: &str) -> (String, Vec<String>) {
    let status = out.lines().next().unwrap_or_default().trim().to_string();
    let mut names: Vec<String> = out
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_ascii_lowercase()))
        .filter(|n| n != "date")
        .collect();
    names.sort();
    (status, names)
}

fn body(out: &str) -> String {
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

fn tools(test: &str) -> bool {
    tool(test, "curl", "curl")
        && tool(test, "openssl", "openssl")
        && tool(test, "haproxy", "haproxy")
}

#[test]
fn h2_over_tls_by_alpn_as_through_haproxy() {
    let test = "h2_over_tls_by_alpn_as_through_haproxy";
    if !tools(test) {
        return;
    }
    let scratch = Scratch::new("h2-tls-vs-haproxy");
    let ca = Ca::new(&scratch.0.join("ca"), "Fulcrum H2 Test CA");
    let cert = ca.issue("a.pem", HOST, &[HOST], Key::Ec, false);
    let (be, seen) = backend();
    let (fport, hport) = (free_port(), free_port());
    let fcfg = scratch.write("f.cfg", &config(fport, &cert, be));
    let hcfg = scratch.write("h.cfg", &config(hport, &cert, be));
    let f = Fulcrum::start(&fcfg);
    let h = haproxy(&scratch.0, &hcfg, hport);
    let hlog = |h: &fulcrum_testlab::process::Child| -> Vec<String> {
        h.output()
            .lines()
            .filter(|l| l.contains("HTTP/2.0\""))
            .map(|l| log_key(l, hport))
            .collect()
    };
    let hbefore = hlog(&h).len();

    // Forwarded (curl says HTTP/2), then answered by the proxy itself.
    let forwarded = ["/x?y=1", "/again"];
    let local = ["/deny", "/old", "/ret", "/st;csv"];
    let mut results = Vec::new();
    for (who, port) in [("fulcrum", fport), ("haproxy", hport)] {
        let mut got = Vec::new();
        for p in forwarded.iter().chain(&local) {
            let (ok, out) = curl(ca.ca_pem().as_path(), port, p, &["--http2", "-D", "-"]);
            assert!(ok, "{who}: curl {p}: {out}");
            assert!(out.starts_with("HTTP/2 "), "{who} {p}: not HTTP/2: {out}");
            got.push(out.replace(&port.to_string(), "PORT"));
        }
        let heads: Vec<String> = seen
            .take()
            .into_iter()
            .map(|(h, n)| format!("{n} {}", h.replace(&port.to_string(), "PORT")))
            .collect();
        results.push((who, got, heads));
    }
    let (_, fgot, fheads) = &results[0];
    let (_, hgot, hheads) = &results[1];
    assert_eq!(fheads.len(), forwarded.len(), "{fheads:?}");
    assert_eq!(
        fheads, hheads,
        "the backend saw different requests (fulcrum, then haproxy)"
    );
    assert!(
        fheads[0].contains("x-ver: 2.0\r\n")
            && fheads[0].contains("x-alpn: h2\r\n")
            && fheads[0].contains("x-sni: a.test\r\n"),
        "{}",
        fheads[0]
    );
    for (i, (fo, ho)) in fgot.iter().zip(hgot).enumerate() {
        let p = forwarded.iter().chain(&local).nth(i).copied().unwrap_or("");
        if p == "/st;csv" {
            // The stats CSV: the same status, a CSV with a FRONTEND row (columns differ).
            assert_eq!(answer_key(fo).0, answer_key(ho).0, "{p}");
            assert!(body(fo).contains("fe,FRONTEND,"), "{p}: {fo}");
            continue;
        }
        assert_eq!(
            answer_key(fo),
            answer_key(ho),
            "{p}:\nfulcrum {fo}\nhaproxy {ho}"
        );
        assert_eq!(body(fo), body(ho), "body of {p}");
    }
    assert!(fgot[2].starts_with("HTTP/2 403"), "{}", fgot[2]);
    assert!(
        fgot[3].starts_with("HTTP/2 302") && fgot[3].contains("location: /new"),
        "{}",
        fgot[3]
    );
    assert_eq!(body(&fgot[4]), "hello-local");

    // One log line per stream, as haproxy writes them.
    let n = forwarded.len() + local.len();
    let mut flog = Vec::new();
    for _ in 0..n {
        let (_, l) = f
            .wait_line("HTTP/2.0\"", Duration::from_secs(10))
            .unwrap_or_else(|| panic!("fulcrum log line missing: {}", f.log_text()));
        flog.push(log_key(&l, fport));
    }
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || hlog(&h).len() >= hbefore + n)
            .is_some(),
        "haproxy log lines: {}",
        h.output()
    );
    let hl: Vec<String> = hlog(&h).into_iter().skip(hbefore).take(n).collect();
    assert_eq!(flog, hl, "log lines (fulcrum, then haproxy)");

    // A client offering only HTTP/1.1 on the same bind is served in HTTP/1.1.
    let (ok, out) = curl(
        ca.ca_pem().as_path(),
        fport,
        "/one",
        &["--http1.1", "-D", "-"],
    );
    assert!(ok && out.starts_with("HTTP/1.1 200"), "{out}");
    let heads = seen.take();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let head = heads[0].0.to_ascii_lowercase();
    assert!(
        head.contains("x-ver: 1.1\r\n") && head.contains("x-alpn: http/1.1\r\n"),
        "{head}"
    );
}

#[test]
fn h2load_over_tls() {
    let test = "h2load_over_tls";
    if !tool(test, "openssl", "openssl") || !tool(test, "h2load", "nghttp2-client") {
        return;
    }
    let scratch = Scratch::new("h2load-tls");
    let ca = Ca::new(&scratch.0.join("ca"), "Fulcrum H2 Test CA");
    let cert = ca.issue("a.pem", HOST, &[HOST], Key::Ec, false);
    let (be, seen) = backend();
    let port = free_port();
    let cfg = scratch.write("f.cfg", &config(port, &cert, be));
    let _f = Fulcrum::start(&cfg);
    let (ok, out) = run(
        "h2load",
        &[
            "-n",
            "2000",
            "-c",
            "4",
            "-m",
            "50",
            &format!("https://127.0.0.1:{port}/load"),
        ],
        60,
    );
    assert!(ok, "{out}");
    assert!(out.contains("Application protocol: h2"), "{out}");
    assert!(
        out.contains("2000 succeeded, 0 failed"),
        "h2load over TLS: {out}"
    );
    assert_eq!(seen.len(), 2000, "every stream reached the backend");
}
