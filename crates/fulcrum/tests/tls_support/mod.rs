//! Shared by the TLS tests: a private CA made by the test with the `openssl` command (server
//! and client certificates, ECDSA P-256 or RSA 2048, OCSP responses, CRLs), and `curl` /
//! `openssl s_client` runs against a port, bounded in time.
#![allow(dead_code)]

use rustls::pki_types::ServerName;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy)]
pub enum Key {
    Ec,
    Rsa,
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn keyopts(k: Key) -> Vec<&'static str> {
    match k {
        Key::Ec => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        Key::Rsa => vec!["-newkey", "rsa:2048"],
    }
}

/// A CA in `dir` (ca.pem, ca.key) that signs certificates.
pub struct Ca {
    pub dir: PathBuf,
    serial: std::cell::Cell<u32>,
}

impl Ca {
    pub fn new(dir: &Path, name: &str) -> Ca {
        std::fs::create_dir_all(dir).expect("ca dir");
        let mut a = vec!["req", "-x509", "-nodes", "-days", "2", "-subj"];
        let subj = format!("/O=Fulcrum Test/CN={name}");
        a.push(&subj);
        a.extend(keyopts(Key::Ec));
        a.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
        a.extend([
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run(dir, &a);
        std::fs::write(dir.join("index.txt"), "").expect("index");
        Ca {
            dir: dir.to_path_buf(),
            serial: std::cell::Cell::new(0x1000),
        }
    }

    pub fn ca_pem(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Signs a certificate for `cn` with DNS `sans`; writes `out` (certificate, then key) and
    /// returns its path. `client`: a client certificate (extendedKeyUsage clientAuth).
    pub fn issue(&self, out: &str, cn: &str, sans: &[&str], key: Key, client: bool) -> PathBuf {
        let serial = self.serial.get() + 1;
        self.serial.set(serial);
        let d = &self.dir;
        let mut a = vec!["req", "-new", "-nodes", "-subj"];
        let subj = format!("/C=FR/O=Fulcrum Test/CN={cn}");
        a.push(&subj);
        a.extend(keyopts(key));
        let keyf = format!("{out}.tmpkey");
        let csr = format!("{out}.csr");
        a.extend(["-keyout", &keyf, "-out", &csr]);
        run(d, &a);
        let mut ext = String::new();
        if !sans.is_empty() {
            let list: Vec<String> = sans.iter().map(|s| format!("DNS:{s}")).collect();
            ext.push_str(&format!("subjectAltName={}\n", list.join(",")));
        }
        ext.push_str(if client {
            "extendedKeyUsage=clientAuth\n"
        } else {
            "extendedKeyUsage=serverAuth\n"
        });
        ext.push_str("basicConstraints=CA:FALSE\n");
        let extf = format!("{out}.ext");
        std::fs::write(d.join(&extf), ext).expect("ext");
        let crt = format!("{out}.crt");
        let ser = format!("{serial:X}");
        run(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                &format!("0x{ser}"),
                "-days",
                "2",
                "-extfile",
                &extf,
                "-out",
                &crt,
            ],
        );
        let cert = std::fs::read_to_string(d.join(&crt)).expect("crt");
        let k = std::fs::read_to_string(d.join(&keyf)).expect("key");
        std::fs::write(d.join(out), format!("{cert}{k}")).expect("pem");
        // The CA's index, for OCSP responses and CRLs.
        let enddate = run(d, &["x509", "-in", &crt, "-noout", "-enddate"]);
        let end = String::from_utf8_lossy(&enddate.stdout);
        let end = end.trim().trim_start_matches("notAfter=");
        let t = Command::new("date")
            .args(["-u", "-d", end, "+%y%m%d%H%M%SZ"])
            .output()
            .expect("date");
        let mut idx = std::fs::read_to_string(d.join("index.txt")).unwrap_or_default();
        let ser_even = if ser.len() % 2 == 1 {
            format!("0{ser}")
        } else {
            ser
        };
        idx.push_str(&format!(
            "V\t{}\t\t{ser_even}\tunknown\t{subj}\n",
            String::from_utf8_lossy(&t.stdout).trim()
        ));
        std::fs::write(d.join("index.txt"), idx).expect("index");
        d.join(out)
    }

    /// Writes a signed OCSP response ("good") for certificate file `pem` beside it
    /// (`PEM.ocsp`), as HAProxy expects it.
    pub fn ocsp_response(&self, pem: &Path) {
        let d = &self.dir;
        let p = pem.to_str().expect("utf-8");
        let req = "ocsp.req".to_string();
        run(
            d,
            &[
                "ocsp",
                "-issuer",
                "ca.pem",
                "-cert",
                p,
                "-no_nonce",
                "-reqout",
                &req,
            ],
        );
        let resp = format!("{p}.ocsp");
        run(
            d,
            &[
                "ocsp",
                "-index",
                "index.txt",
                "-rsigner",
                "ca.pem",
                "-rkey",
                "ca.key",
                "-CA",
                "ca.pem",
                "-reqin",
                &req,
                "-respout",
                &resp,
                "-ndays",
                "1",
            ],
        );
    }

    /// A CRL revoking certificate file `pem` (crl.pem in the CA directory).
    pub fn revoke(&self, pem: &Path) -> PathBuf {
        let d = &self.dir;
        let conf = "[ca]\ndefault_ca=c\n[c]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=1\n";
        std::fs::write(d.join("ca.cnf"), conf).expect("cnf");
        if !d.join("crlnumber").exists() {
            std::fs::write(d.join("crlnumber"), "01\n").expect("crlnumber");
        }
        let p = pem.to_str().expect("utf-8");
        run(
            d,
            &[
                "ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem", "-revoke", p,
            ],
        );
        run(
            d,
            &[
                "ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem", "-gencrl",
                "-out", "crl.pem",
            ],
        );
        d.join("crl.pem")
    }
}

/// `curl` over HTTPS to 127.0.0.1:`port` as host `name`; (exit code, body).
pub fn curl(ca: &Path, name: &str, port: u16, extra: &[&str]) -> (i32, String) {
    let url = format!("https://{name}:{port}/");
    let resolve = format!("{name}:{port}:127.0.0.1");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert"])
        .arg(ca)
        .args(["--resolve", &resolve])
        .args(extra)
        .arg(&url)
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `openssl s_client` to 127.0.0.1:`port` with `args`; everything it printed. Its stdin is
/// empty so it closes after the handshake (and the session tickets it waits for).
pub fn s_client(port: u16, args: &[&str]) -> String {
    let connect = format!("127.0.0.1:{port}");
    let out = Command::new("timeout")
        .args(["10", "openssl", "s_client", "-connect", &connect])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl s_client");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `s_client` that sends one HTTP request (`Connection: close`) and reads until the server
/// closes: whatever the server sends after the handshake (TLS 1.3 session tickets) is read
/// before it leaves.
pub fn s_client_request(port: u16, args: &[&str]) -> String {
    use std::io::Write;
    let connect = format!("127.0.0.1:{port}");
    let mut child = Command::new("timeout")
        .args([
            "10", "openssl", "s_client", "-connect", &connect, "-ign_eof",
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl s_client");
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
    }
    let out = child.wait_with_output().expect("s_client output");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The session tickets an `s_client -msg` output shows received that hold a ticket: a
/// NewSessionTicket message of 10 bytes (`-msg` counts the 4-byte header: lifetime and an
/// empty ticket) is TLS 1.2's "keep the ticket you have" (RFC 5077 3.3); a TLS 1.3 ticket is
/// never that short.
pub fn tickets_received(out: &str) -> usize {
    out.lines()
        .filter(|l| l.starts_with("<<< ") && l.ends_with("NewSessionTicket"))
        .filter(|l| !l.contains("[length 000a]"))
        .count()
}

/// The subject CN of the certificate `s_client` output shows.
pub fn served_cn(out: &str) -> Option<String> {
    out.lines()
        .find(|l| l.starts_with("subject="))
        .and_then(|l| l.split("CN = ").nth(1).or_else(|| l.split("CN=").nth(1)))
        .map(|s| s.trim().to_string())
}

/// A blocking rustls client connection.
pub type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A rustls client trusting the CA file `ca`.
pub fn client_config(ca: &std::path::Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(c.expect("ca cert")).expect("add");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A TLS connection to 127.0.0.1:`port` for `site.test`.
pub fn connect(cfg: &Arc<rustls::ClientConfig>, port: u16) -> std::io::Result<BufReader<Tls>> {
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let name = ServerName::try_from("site.test").map_err(std::io::Error::other)?;
    let conn = rustls::ClientConnection::new(cfg.clone(), name).map_err(std::io::Error::other)?;
    Ok(BufReader::new(rustls::StreamOwned::new(conn, tcp)))
}

/// One request; (status, server closes after it).
pub fn request(c: &mut BufReader<Tls>, close: bool) -> std::io::Result<(u16, bool)> {
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

/// HTTPS load on 127.0.0.1:`port`: `threads` clients (even ones keep their connection alive,
/// odd ones make a new one per request), counting answered and failed requests.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    pub fn start(client: &Arc<rustls::ClientConfig>, port: u16, threads: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        for i in 0..threads {
            let (stop, ok, failed, client) =
                (stop.clone(), ok.clone(), failed.clone(), client.clone());
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
        Load {
            stop,
            ok,
            failed,
            workers,
        }
    }

    /// Waits (bounded) for `n` more answered requests.
    pub fn advance(&self, n: u64) {
        let target = self.ok.load(Ordering::Relaxed) + n;
        assert!(
            fulcrum_testlab::wait::until(Duration::from_secs(10), || self
                .ok
                .load(Ordering::Relaxed)
                >= target)
            .is_some(),
            "the load stalled"
        );
    }

    /// Stops the clients; (answered, failed).
    pub fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            let _ = w.join();
        }
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}
