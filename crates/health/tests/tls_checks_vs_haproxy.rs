//! TLS health checks against a real TLS server (`openssl s_server -WWW` with a certificate made
//! by `openssl req`), run by the real haproxy 2.6 and then by fulcrum on the same config: server
//! `check-ssl` (`verify none`, or `ca-file` with the server's certificate), with `check-sni` and
//! `option httpchk`, `tcp-check connect ssl sni alpn`, and a plain HTTP server where TLS is
//! expected. Both must log the same `option log-health-checks` lines (durations aside) and take
//! the same servers down. Without haproxy or openssl: a loud skip (a failure in CI).

mod common;

use common::config;
use fulcrum_health::HealthMonitor;
use std::collections::BTreeMap;
use std::net::UdpSocket;
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

fn first_lines(lines: &[String]) -> BTreeMap<String, String> {
    let dur = regex::Regex::new(r"check duration: [0-9]+ms").expect("re");
    let mut out = BTreeMap::new();
    for l in lines {
        let Some(rest) = l.strip_prefix("Health check for server ") else {
            continue;
        };
        let server = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        out.entry(server)
            .or_insert_with(|| dur.replace(l, "check duration: Nms").into_owned());
    }
    out
}

const SERVERS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_checks_log_like_haproxy() {
    let test = "tls_checks_log_like_haproxy";
    if !fulcrum_testlab::require::tool(test, "haproxy", "haproxy")
        || !fulcrum_testlab::require::tool(test, "openssl", "openssl")
    {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fulcrum-tls-checks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (_tls, tls) = tls_server(&dir);
    let plain = plain_http().await;
    let ca = dir.join("ca.pem");
    let syslog = UdpSocket::bind("127.0.0.1:0").expect("udp");
    syslog
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let srv = |name: &str, port: u16, extra: &str| {
        format!("    server {name} 127.0.0.1:{port} check inter 300 fall 2 rise 1{extra}\n")
    };
    let mut cfg = format!(
        "global\n    log 127.0.0.1:{} local0\n    spread-checks 0\n\
         defaults\n    mode tcp\n    log global\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 800ms\n    option log-health-checks\n\
         frontend fe\n    bind 127.0.0.1:{}\n    default_backend l6\n",
        syslog.local_addr().expect("addr").port(),
        free_port()
    );
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
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, &cfg).expect("cfg");
    eprintln!("{cfg}");

    let mut cmd = Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(&path);
    let haproxy = fulcrum_testlab::process::Child::spawn("haproxy", cmd, dir.join("haproxy.log"))
        .expect("haproxy runs");
    let mut theirs_raw = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut buf = [0u8; 4096];
    while first_lines(&theirs_raw).len() < SERVERS && Instant::now() < deadline {
        if let Ok(n) = syslog.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            if let Some((_, text)) = msg.split_once("]: ") {
                theirs_raw.push(text.trim_end().to_string());
            }
        }
    }
    let out = haproxy.output();
    drop(haproxy);
    let theirs = first_lines(&theirs_raw);
    assert_eq!(
        theirs.len(),
        SERVERS,
        "haproxy logged every server: {theirs_raw:#?}\n{out}"
    );

    let config = config("haproxy.cfg", &cfg);
    let (handle, _events) = HealthMonitor::start(&config);
    let mut results = handle.check_results();
    let mut ours_raw = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while first_lines(&ours_raw).len() < SERVERS {
        match tokio::time::timeout_at(deadline, results.recv()).await {
            Ok(Some(r)) => ours_raw.extend(r.log_line),
            _ => break,
        }
    }
    handle.shutdown().await;
    let ours = first_lines(&ours_raw);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(ours, theirs, "the same log-health-checks lines");
}
