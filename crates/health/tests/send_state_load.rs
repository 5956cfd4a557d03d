//! `http-check send-state`: `scur=S/B; qcur=Q` come from the data plane's counts, handed to
//! the monitor as a `ServerLoad` (the binary reads the generation being served). A real HTTP
//! server records the header each check sends.

mod common;

use common::config;
use fulcrum_health::send_state::ServerLoad;
use fulcrum_health::HealthMonitor;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Fixed;

impl ServerLoad for Fixed {
    fn load(&self, backend: &str, server: &str) -> Option<(u32, u32, u32)> {
        (backend == "b" && server == "s1").then_some((2, 5, 1))
    }
}

#[tokio::test]
async fn scur_and_qcur_come_from_the_data_plane() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&got).to_string();
                if let Some(h) = text.lines().find(|l| {
                    l.to_ascii_lowercase()
                        .starts_with("x-haproxy-server-state:")
                }) {
                    if let Ok(mut v) = record.lock() {
                        v.push(h.to_string());
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
                    .await;
            });
        }
    });
    let c = config(
        "state.cfg",
        &format!(
            "global\n node lb1\ndefaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             backend b\n option httpchk GET /\n http-check send-state\n\
             server s1 127.0.0.1:{port} check inter 100ms\n"
        ),
    );
    let (health, _events) = HealthMonitor::start(&c);
    health.set_load_source(Some(Arc::new(Fixed)));
    let mut header = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        header = seen
            .lock()
            .ok()
            .and_then(|v| v.iter().find(|h| h.contains("scur=2/")).cloned());
        if header.is_some() {
            break;
        }
    }
    let header = header.expect("a check with the data plane's counts");
    assert!(
        header.ends_with(&format!(
            "address=127.0.0.1; port={port}; name=b/s1; node=lb1; weight=1/1; scur=2/5; qcur=1"
        )),
        "{header}"
    );
    health.shutdown().await;
}

/// `option external-check`: `HAPROXY_SERVER_CURCONN` is the server's current sessions, read
/// from the same source (a real child process writes what it was given).
#[tokio::test]
async fn external_checks_get_the_servers_current_sessions() {
    let dir = std::env::temp_dir().join(format!("fulcrum-curconn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let out = dir.join("curconn");
    let script = dir.join("check.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$HAPROXY_SERVER_CURCONN\" > {}.tmp && mv {}.tmp {}\n",
            out.display(),
            out.display(),
            out.display()
        ),
    )
    .expect("script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let c = config(
        "ext.cfg",
        &format!(
            "defaults\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             backend b\n option external-check\n external-check path /usr/bin:/bin\n external-check command {}\n\
             server s1 127.0.0.1:9 check inter 100ms\n",
            script.display()
        ),
    );
    let (health, _events) = HealthMonitor::start(&c);
    health.set_load_source(Some(Arc::new(Fixed)));
    let mut seen = String::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = std::fs::read_to_string(&out).unwrap_or_default();
        if seen.trim() == "2" {
            break;
        }
    }
    health.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        seen.trim(),
        "2",
        "HAPROXY_SERVER_CURCONN from the data plane"
    );
}
