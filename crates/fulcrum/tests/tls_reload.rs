//! Certificates are reloaded by the in-process reload (SIGHUP) without failing a request:
//! under a load of keep-alive and one-shot HTTPS clients, the certificate file is swapped
//! five times; new handshakes get the new certificate, and no request fails.

mod common;
mod tls_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require;
use rustls::pki_types::ServerName;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tls_support::{s_client, served_cn, Ca, Key};

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn client_config(ca: &std::path::Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(c.expect("ca cert")).expect("add");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn connect(cfg: &Arc<rustls::ClientConfig>, port: u16) -> std::io::Result<BufReader<Tls>> {
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let name = ServerName::try_from("site.test").map_err(std::io::Error::other)?;
    let conn = rustls::ClientConnection::new(cfg.clone(), name).map_err(std::io::Error::other)?;
    Ok(BufReader::new(rustls::StreamOwned::new(conn, tcp)))
}

/// One request; (status, server closes after it).
fn request(c: &mut BufReader<Tls>, close: bool) -> std::io::Result<(u16, bool)> {
    let head = if close { "Connection: close\r\n" } else { "" };
    write!(
        c.get_mut(),
        "GET / HTTP/1.1\r\nHost: site.test\r\n{head}\r\n"
    )?;
    c.get_mut().flush()?;
    let mut line = String::new();
    c.read_line(&mut line)?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (mut len, mut closes) = (0usize, false);
    loop {
        let mut h = String::new();
        c.read_line(&mut h)?;
        let l = h.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if l == "connection: close" {
            closes = true;
        }
    }
    let mut body = vec![0u8; len];
    c.read_exact(&mut body)?;
    Ok((status, closes))
}

#[test]
fn certificate_swap_on_reload_fails_no_request() {
    if !require::tool("tls_reload", "openssl", "openssl") {
        return;
    }
    let dir = Scratch::new("tls-reload");
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let one = ca.issue("one.pem", "one.test", &["site.test"], Key::Ec, false);
    let two = ca.issue("two.pem", "two.test", &["site.test"], Key::Rsa, false);
    let live = dir.0.join("site.pem");
    std::fs::copy(&one, &live).expect("copy");
    let port = free_port();
    let cfg = dir.write(
        "r.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend f\n bind 127.0.0.1:{port} ssl crt {}\n\
             http-request return status 200 content-type text/plain string ok\n",
            live.display()
        ),
    );
    let f = Fulcrum::start(&cfg);
    let client = client_config(&ca.ca_pem());
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for i in 0..4 {
        let (stop, ok, failed, client) = (stop.clone(), ok.clone(), failed.clone(), client.clone());
        workers.push(std::thread::spawn(move || {
            let keep_alive = i % 2 == 0;
            let mut conn: Option<BufReader<Tls>> = None;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 20_000 {
                n += 1;
                if conn.is_none() {
                    conn = connect(&client, port).ok();
                }
                let Some(c) = conn.as_mut() else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                match request(c, !keep_alive) {
                    Ok((200, closes)) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        if closes || !keep_alive {
                            conn = None;
                        }
                    }
                    other => {
                        eprintln!("failed request: {other:?}");
                        failed.fetch_add(1, Ordering::Relaxed);
                        conn = None;
                    }
                }
            }
        }));
    }
    let advance = |n: u64| {
        let target = ok.load(Ordering::Relaxed) + n;
        assert!(
            fulcrum_testlab::wait::until(Duration::from_secs(10), || ok.load(Ordering::Relaxed)
                >= target)
            .is_some(),
            "the load stalled"
        );
    };
    let pid = f.child.pid().to_string();
    for round in 0..5 {
        advance(20);
        let (src, cn) = if round % 2 == 0 {
            (&two, "two.test")
        } else {
            (&one, "one.test")
        };
        std::fs::copy(src, &live).expect("swap");
        let st = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill");
        assert!(st.success());
        let seen = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
            served_cn(&s_client(port, &["-servername", "site.test"])).as_deref() == Some(cn)
        });
        assert!(
            seen.is_some(),
            "round {round}: {cn} never served\n{}",
            f.log_text()
        );
    }
    advance(20);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("{ok} HTTPS requests succeeded, {failed} failed across 5 certificate swaps");
    assert_eq!(
        failed, 0,
        "no request may fail while certificates are reloaded"
    );
    assert!(ok > 120, "the load ran ({ok} requests)");
}
