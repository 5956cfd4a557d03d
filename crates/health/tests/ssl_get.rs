//! keepalived's SSL_GET against a real TLS server: `openssl s_server -WWW` serving a file with
//! a self-signed certificate made by `openssl req`. The expected digest is computed by
//! keepalived's own `genhash --use-ssl` (or, without genhash, md5 of the file). The checker
//! keeps the real server up with the right digest, fails it when the file changes, and fails
//! with a Layer6 status against a port that speaks plain HTTP. Without the `openssl` tool the
//! test skips loudly, unless FULCRUM_REQUIRE_NETNS=1 (CI), where it must run.

mod common;

use common::{closed_port, config, genhash_digest, md5sum, next_event};
use fulcrum_health::{CheckStatus, HealthMonitor};
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

use fulcrum_testlab::require::have;

/// `openssl s_server -WWW` on a free port, serving `dir`; waits (bounded) until it accepts.
fn tls_server(dir: &Path) -> (Server, u16) {
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=fulcrum-test",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl req runs");
    assert!(made.success(), "self-signed certificate made");
    let port = closed_port();
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-WWW",
            "-accept",
            &format!("127.0.0.1:{port}"),
        ])
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

/// keepalived's digest of https://127.0.0.1:port/path, from genhash when installed.
fn expected_digest(port: u16, path: &str, file: &Path) -> String {
    if have("genhash") {
        let out = Command::new("timeout")
            .args([
                "10",
                "genhash",
                "-S",
                "-s",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-u",
                path,
            ])
            .output()
            .expect("genhash runs");
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(hex) = genhash_digest(&text) {
            eprintln!("digest from genhash --use-ssl: {hex}");
            return hex;
        }
        panic!(
            "genhash gave no digest: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("genhash not installed: md5 of the served file");
    md5sum(file)
}

const WAIT: Duration = Duration::from_secs(6);

fn ssl_get(port: u16, digest: &str) -> String {
    format!(
        "virtual_server 127.0.0.1 {vport} {{\n  delay_loop 0.2\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
         real_server 127.0.0.1 {port} {{\n    weight 1\n    SSL_GET {{\n      url {{\n        path /page.html\n        \
         digest {digest}\n      }}\n      connect_timeout 2\n      retry 1\n      delay_before_retry 0.1\n    }}\n  }}\n}}\n",
        vport = closed_port()
    )
}

#[tokio::test]
async fn ssl_get_checks_a_real_tls_server_with_genhash_digest() {
    if !fulcrum_testlab::require::tool("ssl_get", "openssl", "openssl") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fulcrum-ssl-get-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let page = dir.join("page.html");
    std::fs::write(&page, "<html>served over TLS</html>\n").expect("page");
    let (server, port) = tls_server(&dir);
    let digest = expected_digest(port, "/page.html", &page);
    assert_eq!(digest.len(), 32, "{digest}");

    let cfg = config("k.conf", &ssl_get(port, &digest));
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    // Healthy: no event for several delay_loops.
    if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(1200), rx.recv()).await {
        panic!(
            "the TLS real server with the right digest must stay up: {}",
            e.log_line
        );
    }
    // The page changes: MD5 mismatch, the real server is removed.
    std::fs::write(&page, "<html>defaced</html>\n").expect("page");
    let down = next_event(&mut rx, WAIT).await;
    assert!(!down.up);
    assert_eq!(
        down.reason.status,
        CheckStatus::L7Response,
        "{}",
        down.log_line
    );
    assert!(
        down.reason
            .info
            .as_deref()
            .unwrap_or_default()
            .contains("MD5 digest error"),
        "{:?}",
        down.reason
    );
    // And back.
    std::fs::write(&page, "<html>served over TLS</html>\n").expect("page");
    assert!(next_event(&mut rx, WAIT).await.up);
    handle.shutdown().await;
    drop(server);
}

#[tokio::test]
async fn ssl_get_against_plain_http_is_a_layer6_failure() {
    // A plain HTTP server: the TLS handshake cannot succeed.
    let plain = common::Backend::start(b"plain\n").await;
    let cfg = config(
        "k.conf",
        &ssl_get(plain.addr.port(), "0123456789abcdef0123456789abcdef"),
    );
    let (handle, mut rx) = HealthMonitor::start(&cfg);
    let down = next_event(&mut rx, WAIT).await;
    assert!(!down.up);
    assert!(
        matches!(
            down.reason.status,
            CheckStatus::L6Response | CheckStatus::L6Timeout
        ),
        "a failed handshake is a Layer6 status: {:?}",
        down.reason
    );
    handle.shutdown().await;
}
