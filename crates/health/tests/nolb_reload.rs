//! `http-check disable-on-404`: a server in NOLB stays there across a reload (HAProxy keeps a
//! server's state on reload): the reload replays it as UP + stopping for the new data plane,
//! without a second "is stopping" line.

mod common;

use common::{config, next_event};
use fulcrum_health::{HealthEvent, HealthMonitor};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;

/// A real HTTP server that answers every request with a 404.
async fn not_found_server() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    .await;
            });
        }
    });
    port
}

fn cfg(port: u16) -> String {
    format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         backend b\n option httpchk GET /health\n http-check disable-on-404\n\
         server s1 127.0.0.1:{port} check inter 100ms rise 1 fall 1\n"
    )
}

async fn stopping_then_replayed_after_reload(
    start: fn(
        &fulcrum_config::Config,
    ) -> (fulcrum_health::HealthHandle, UnboundedReceiver<HealthEvent>),
) {
    let port = not_found_server().await;
    let c = config("nolb.cfg", &cfg(port));
    let (mut health, mut events) = start(&c);
    let ev = next_event(&mut events, Duration::from_secs(5)).await;
    assert!(ev.up && ev.stopping && !ev.replay, "{ev:?}");
    assert!(
        ev.log_line.starts_with("Server b/s1 is stopping"),
        "{}",
        ev.log_line
    );
    health.reload(&c);
    let ev = next_event(&mut events, Duration::from_secs(5)).await;
    assert!(
        ev.up && ev.stopping && ev.replay,
        "replayed as NOLB: {ev:?}"
    );
    assert!(ev.log_line.is_empty(), "a replay is not logged again");
    // and no second "is stopping" (nor "is UP") line while the server answers 404
    if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(500), events.recv()).await {
        panic!("unexpected event after the reload: {e:?}");
    }
    health.shutdown().await;
}

#[tokio::test]
async fn nolb_survives_a_reload_as_a_task() {
    stopping_then_replayed_after_reload(HealthMonitor::start).await;
}
