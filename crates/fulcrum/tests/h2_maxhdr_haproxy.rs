//! `tune.http.maxhdr` on HTTP/2 request heads, side by side with haproxy 2.6 on the same
//! config: HAProxy decodes a head into `2 * maxhdr` slots (pseudo-header fields included,
//! one kept for the end), so with `tune.http.maxhdr 8` a curl request (4 pseudo fields,
//! `user-agent`, `accept`) with 9 more fields passes and with 10 the connection ends
//! (GOAWAY COMPRESSION_ERROR). Compared: whether curl succeeds, and the HTTP status. (curl's
//! exit code differs on the refused head, 18 against haproxy's 16: fulcrum's GOAWAY names the
//! refused stream as the last one processed where haproxy's says 0.)

mod common;

use common::{free_port, Fulcrum, Scratch};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

fn config(port: u16, app: u16) -> String {
    format!(
        "global\n tune.http.maxhdr 8\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend f\n bind 127.0.0.1:{port} proto h2\n default_backend b\n\
         backend b\n server s 127.0.0.1:{app}\n"
    )
}

/// A server answering 200 to each request (one per connection).
fn app(listener: TcpListener) {
    for mut s in listener.incoming().flatten() {
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut chunk) {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    }
}

/// curl over h2c with `n` extra fields: (success, HTTP status).
fn curl(port: u16, n: usize) -> (bool, String) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--http2-prior-knowledge",
    ]);
    for i in 0..n {
        cmd.args(["-H", &format!("x-h{i}: 1")]);
    }
    cmd.arg(format!("http://127.0.0.1:{port}/"));
    let out = cmd.output().expect("run curl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

fn wait_port(port: u16) {
    let up = fulcrum_testlab::wait::listening(port, Duration::from_secs(10));
    assert!(up, "nothing listened on {port}");
}

#[test]
fn maxhdr_limits_http2_heads_as_haproxy() {
    if !fulcrum_testlab::require::tool("h2_maxhdr_haproxy", "haproxy", "haproxy")
        || !fulcrum_testlab::require::tool("h2_maxhdr_haproxy", "curl", "curl")
    {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").expect("bind app");
    let app_port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || app(l));
    let scratch = Scratch::new("h2-maxhdr");
    let (fport, hport) = (free_port(), free_port());
    let fcfg = scratch.write("f.cfg", &config(fport, app_port));
    let hcfg = scratch.write("h.cfg", &config(hport, app_port));
    let _f = Fulcrum::start(&fcfg);
    let _h = fulcrum_testlab::process::Child::haproxy(&hcfg, hcfg.with_extension("log"));
    wait_port(fport);
    wait_port(hport);
    for n in [0, 9, 10, 20] {
        assert_eq!(curl(fport, n), curl(hport, n), "{n} extra fields");
    }
    assert_eq!(curl(fport, 9), (true, "200".to_string()));
    assert_eq!(
        curl(fport, 10),
        (false, "000".to_string()),
        "10 extra fields"
    );
}
