//! The `redirect` proxy keyword side by side with the real HAProxy 2.6 on the same config:
//! `redirect scheme|prefix|location` with their options and conditions, in a frontend and a
//! backend, run after the proxy's `http-request` rules (an `http-request redirect` written
//! after a `redirect` line still wins). Status line, `Location` and `Set-Cookie` compared.

mod runtime_support;

use runtime_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

fn config(_dir: &Path, port: u16, app: u16) -> String {
    format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n\
         \x20redirect scheme https code 301 if {{ path_beg /s }}\n\
         \x20redirect prefix /p drop-query if {{ path_beg /q }}\n\
         \x20redirect location /loc code 308 set-cookie A=1 if {{ path /l }}\n\
         \x20redirect location /second if {{ path /both }}\n\
         \x20http-request redirect location /first if {{ path /both }}\n\
         \x20redirect prefix /slash append-slash if {{ path /dir }}\n\
         \x20default_backend be\n\
         backend be\n\
         \x20redirect location /from-backend clear-cookie B if {{ path /b }}\n\
         \x20server s 127.0.0.1:{app}\n"
    )
}

/// Status line, `location` and `set-cookie` of one answer.
fn answer(port: u16, target: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return "no connection".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    let _ = s.write_all(req.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let head = out.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.lines();
    let mut seen = vec![lines.next().unwrap_or("").to_string()];
    for l in lines {
        let lower = l.to_ascii_lowercase();
        if lower.starts_with("location:") || lower.starts_with("set-cookie:") {
            seen.push(lower);
        }
    }
    seen.join(" | ")
}

#[test]
fn redirect_keyword_as_haproxy() {
    if !tool("redirect_keyword_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let app = CountingServer::start("app");
    let hdir = Scratch::new("redirect-h");
    let hcfg = hdir.join("h.cfg");
    let hport = free_port();
    std::fs::write(&hcfg, config(&hdir, hport, app.port)).expect("write");
    let _h = fulcrum_testlab::process::Child::haproxy_listening(&hcfg, hdir.join("h.log"), hport);
    let fport = free_port();
    let fdir = Fulcrum::dir("redirect-f");
    let _f = Fulcrum::start(fdir, &config(&hdir, fport, app.port));
    assert!(
        fulcrum_testlab::wait::listening(fport, Duration::from_secs(10)),
        "fulcrum never listened"
    );
    let mut diffs = Vec::new();
    for t in [
        "/s/x?a=1", "/q/y?a=1", "/l", "/both", "/dir", "/dir?a=1", "/b", "/other",
    ] {
        let (want, got) = (answer(hport, t), answer(fport, t));
        if got != want {
            diffs.push(format!("GET {t}\n    haproxy: {want}\n    fulcrum: {got}"));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert!(answer(hport, "/both").contains("location: /first"));
}
