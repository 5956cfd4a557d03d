//! TLS health checks against a real TLS server (`openssl s_server -WWW` with a certificate made
//! by `openssl req`), run by the real haproxy 2.6 and then by fulcrum on the same config: server
//! `check-ssl` (`verify none`, or `ca-file` with the server's certificate), with `check-sni` and
//! `option httpchk`, `tcp-check connect ssl sni alpn`, and a plain HTTP server where TLS is
//! expected. Both must log the same `option log-health-checks` lines (durations aside) and take
//! the same servers down. Without haproxy or openssl: a loud skip (a failure in CI).

mod common;

use common::versus::{self, first_lines};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child, PathBuf);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// `openssl s_server -WWW` serving `dir` (index.html) with a self-signed certificate for
/// www.example.test.
fn tls_server(dir: &Path) -> (Server, u16) {
    // a CA and a leaf certificate it signs (rustls, unlike OpenSSL, refuses a self-signed
    // CA certificate used as the server's own)
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:www.example.test\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext");
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(ok.success(), "openssl {args:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=fulcrum test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=www.example.test",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    std::fs::write(dir.join("index.html"), "tls ok\n").expect("index");
    let port = free_port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-WWW", "-alpn", "http/1.1", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(dir.join("cert.pem"))
        .arg("-key")
        .arg(dir.join("key.pem"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server starts");
    let server = Server(child, dir.to_path_buf());
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port)
}

/// A plain HTTP server that answers anything with 400 and closes.
async fn plain_http() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n").await;
            });
        }
    });
    port
}

const SERVERS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_checks_log_like_haproxy() {
    let test = "tls_checks_log_like_haproxy";
    if !versus::available(test, &[("openssl", "openssl")]) {
        return;
    }
    let tmp = versus::TempDir::new("tls-checks");
    let dir = &tmp.0;
    let (_tls, tls) = tls_server(dir);
    let plain = plain_http().await;
    let ca = dir.join("ca.pem");
    let syslog = versus::Syslog::bind();
    let srv = |name: &str, port: u16, extra: &str| {
        format!("    server {name} 127.0.0.1:{port} check inter 300 fall 2 rise 1{extra}\n")
    };
    let mut cfg = versus::head(syslog.port(), "tcp", "800ms", "l6");
    cfg += "backend l6\n";
    cfg += &srv("tls", tls, " check-ssl verify none");
    cfg += &srv("plain", plain, " check-ssl verify none");
    cfg += &srv(
        "ca",
        tls,
        &format!(
            " check-ssl check-sni www.example.test ca-file {}",
            ca.display()
        ),
    );
    cfg += "backend https\n    option httpchk GET /index.html\n    http-check expect string \"tls ok\"\n";
    cfg += &srv(
        "tls",
        tls,
        " check-ssl verify none check-sni www.example.test",
    );
    cfg += "backend seq\n    option tcp-check\n    tcp-check connect ssl sni www.example.test alpn http/1.1\n    tcp-check send \"GET /index.html HTTP/1.0\\r\\n\\r\\n\"\n    tcp-check expect rstring ^HTTP/1.0\\ 200\n";
    cfg += &srv("tls", tls, " verify none");
    cfg += &srv("plain", plain, " verify none");
    eprintln!("{cfg}");
    let done = |l: &[String]| first_lines(l).len() == SERVERS;
    let quick = versus::Window {
        settle: Duration::ZERO,
        ..Default::default()
    };
    let (theirs_raw, out) = versus::haproxy(dir, &cfg, &syslog, done, quick).await;
    let theirs = first_lines(&theirs_raw);
    assert_eq!(
        theirs.len(),
        SERVERS,
        "haproxy logged every server: {theirs_raw:#?}\n{out}"
    );

    let ours = versus::fulcrum("haproxy.cfg", &cfg, done, quick).await;
    assert_eq!(
        first_lines(&ours.lines),
        theirs,
        "the same log-health-checks lines"
    );
}
