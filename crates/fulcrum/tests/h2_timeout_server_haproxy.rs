//! `timeout server` on an HTTP/2 client's streams (their waits are deadlines in their
//! connection's list: `http::h2::deadlines`), side by side with haproxy 2.6 on the same
//! config: a server that takes requests and never answers gives each stream a 504, also
//! three streams at once on one connection, and an answering server still answers after.

mod common;

use common::{free_port, Fulcrum, Scratch};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

fn config(port: u16, app: u16) -> String {
    format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 10s\n timeout server 1s\n\
         frontend f\n bind 127.0.0.1:{port} proto h2\n default_backend b\n\
         backend b\n server s 127.0.0.1:{app}\n"
    )
}

/// A server that reads each request and answers only `/ok` (keeps the others hanging).
fn app(listener: TcpListener) {
    for s in listener.incoming().flatten() {
        std::thread::spawn(move || conn(s));
    }
}

fn conn(mut s: TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut chunk) {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        }
        if !buf.starts_with(b"GET /ok ") {
            // Never answered: held until the proxy gives up.
            let _ = s.read(&mut chunk);
            return;
        }
        buf.clear();
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
}

/// curl over h2c, all `paths` on one connection at once: the HTTP statuses.
fn statuses(port: u16, paths: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-w",
        "%{http_code}\\n",
        "--http2-prior-knowledge",
        "--max-time",
        "15",
    ]);
    if paths.len() > 1 {
        cmd.args(["--parallel", "--parallel-immediate"]);
    }
    for p in paths {
        cmd.args(["-o", "/dev/null", &format!("http://127.0.0.1:{port}{p}")]);
    }
    let out = cmd.output().expect("run curl");
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    got.sort();
    got
}

#[test]
fn timeout_server_on_http2_streams_as_haproxy() {
    if !fulcrum_testlab::require::tool("h2_timeout_server_haproxy", "haproxy", "haproxy")
        || !fulcrum_testlab::require::tool("h2_timeout_server_haproxy", "curl", "curl")
    {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").expect("bind app");
    let app_port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || app(l));
    let scratch = Scratch::new("h2-timeout-server");
    let (fport, hport) = (free_port(), free_port());
    let fcfg = scratch.write("f.cfg", &config(fport, app_port));
    let hcfg = scratch.write("h.cfg", &config(hport, app_port));
    let _f = Fulcrum::start(&fcfg);
    let _h = fulcrum_testlab::process::Child::haproxy(&hcfg, hcfg.with_extension("log"));
    for port in [fport, hport] {
        let up = fulcrum_testlab::wait::listening(port, Duration::from_secs(10));
        assert!(up, "nothing listened on {port}");
    }
    let cases: [&[&str]; 3] = [&["/hang"], &["/hang", "/ok", "/hang2"], &["/ok"]];
    for paths in cases {
        assert_eq!(statuses(fport, paths), statuses(hport, paths), "{paths:?}");
    }
    assert_eq!(statuses(fport, &["/hang"]), ["504"]);
    assert_eq!(
        statuses(fport, &["/hang", "/ok", "/hang2"]),
        ["200", "504", "504"]
    );
}
