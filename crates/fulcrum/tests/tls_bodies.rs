//! Large answer bodies relayed from a plain HTTP server to clients over TLS, side by side with
//! the real HAProxy 2.6 on the same configuration: a 1 MB `Content-Length` body and a 1 MB
//! chunked one (odd chunk sizes), three answers on one keep-alive connection, read at full
//! speed and by a slow reader (`curl --limit-rate`: writes to the client stop half-way and go
//! on). fulcrum reads such a body from the server several TLS records at a time
//! (`http::session::relay`): every byte must still arrive, in order, on both proxies.

mod common;
mod tls_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use tls_support::{Ca, Key};

const T: &str = "tls_bodies";
const SIZE: usize = 1 << 20;

fn tools() -> bool {
    require::tool(T, "openssl", "openssl")
        && require::tool(T, "curl", "curl")
        && require::tool(T, "haproxy", "haproxy")
}

/// The body every answer carries: bytes that differ from one offset to the next (a lost,
/// repeated or reordered record shows).
fn body() -> Vec<u8> {
    (0..SIZE).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// One keep-alive connection of the server: `/len` answers with `Content-Length`, anything
/// else chunked in chunks of 1 to 40,000 bytes.
fn serve(s: TcpStream, body: &[u8]) -> std::io::Result<()> {
    let mut r = BufReader::new(s.try_clone()?);
    let mut w = std::io::BufWriter::with_capacity(1 << 16, s);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let chunked = !line.contains("/len ");
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 {
                return Ok(());
            }
            if h == "\r\n" {
                break;
            }
        }
        if chunked {
            w.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?;
            let (mut at, mut n) = (0, 1);
            while at < body.len() {
                let k = n.min(body.len() - at);
                write!(w, "{k:x}\r\n")?;
                w.write_all(&body[at..at + k])?;
                w.write_all(b"\r\n")?;
                at += k;
                n = (n * 37 + 1001) % 40_000 + 1;
            }
            w.write_all(b"0\r\n\r\n")?;
        } else {
            write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )?;
            w.write_all(body)?;
        }
        w.flush()?;
    }
}

fn server(port: u16) {
    let l = TcpListener::bind(("127.0.0.1", port)).expect("bind the server");
    std::thread::spawn(move || {
        let body: &'static [u8] = body().leak();
        for s in l.incoming().flatten() {
            std::thread::spawn(move || serve(s, body));
        }
    });
}

/// Three answers on one connection (`/len`, `/chunked`, `/len`) through the proxy on `port`,
/// each saved in `dir`; curl's exit code.
fn fetch(dir: &Path, ca: &Path, port: u16, tag: &str, extra: &[&str]) -> i32 {
    let resolve = format!("a.test:{port}:127.0.0.1");
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "30", "--http1.1", "--cacert"])
        .arg(ca)
        .args(["--resolve", &resolve])
        .args(extra);
    for (i, path) in ["len", "chunked", "len"].iter().enumerate() {
        c.arg(format!("https://a.test:{port}/{path}"))
            .arg("-o")
            .arg(dir.join(format!("{tag}-{i}")));
    }
    let out = c.stdin(Stdio::null()).output().expect("run curl");
    if !out.status.success() {
        eprintln!("curl: {}", String::from_utf8_lossy(&out.stderr));
    }
    out.status.code().unwrap_or(-1)
}

#[test]
fn large_bodies_reach_tls_clients_whole_as_through_haproxy() {
    if !tools() {
        return;
    }
    let dir = Scratch::new("tls-bodies");
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let srv = ca.issue("a.pem", "a.test", &["a.test"], Key::Ec, false);
    let app = free_port();
    server(app);
    let cfg = |port: u16| {
        format!(
            "global\n nbthread 1\n\
             defaults\n mode http\n timeout connect 2s\n timeout client 20s\n timeout server 20s\n\
             frontend f\n bind 127.0.0.1:{port} ssl crt {} alpn http/1.1\n default_backend b\n\
             backend b\n server s 127.0.0.1:{app}\n",
            srv.display()
        )
    };
    let hport = free_port();
    let hcfg = dir.write("h.cfg", &cfg(hport));
    let _h = fulcrum_testlab::process::Child::haproxy_listening(&hcfg, dir.0.join("h.log"), hport);
    let fport = free_port();
    let _f = Fulcrum::start(&dir.write("f.cfg", &cfg(fport)));
    let want = body();
    let cap = ca.ca_pem();
    // Full speed, then a reader slower than the proxy (its writes to the client stall).
    let readers: [(&str, &[&str]); 2] = [("fast", &[]), ("slow", &["--limit-rate", "4M"])];
    for (who, port) in [("haproxy", hport), ("fulcrum", fport)] {
        for (speed, extra) in readers {
            let tag = format!("{who}-{speed}");
            assert_eq!(
                fetch(&dir.0, &cap, port, &tag, extra),
                0,
                "{tag}: curl failed"
            );
            for i in 0..3 {
                let got = std::fs::read(dir.0.join(format!("{tag}-{i}"))).expect("read a body");
                assert_eq!(got.len(), want.len(), "{tag}: answer {i}'s length");
                assert!(
                    got == want,
                    "{tag}: answer {i} differs from what the server sent"
                );
            }
        }
    }
}
