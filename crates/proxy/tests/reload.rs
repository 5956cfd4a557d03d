//! Reload without dropping anything: listeners that stay remain open while new configs are
//! applied under load; new binds open, removed ones close; a bad config changes nothing.

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn cfg(port: u16, extra_port: Option<u16>, a: &Backend, b: &Backend, tag: &str) -> String {
    let extra = extra_port
        .map(|p| format!("  bind 127.0.0.1:{p}\n"))
        .unwrap_or_default();
    format!(
        "global\n  nbthread 2\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:{port}\n{extra}  http-response set-header X-Gen {tag}\n  default_backend be\n\
         backend be\n  server a {}\n  server b {}\n",
        a.addr, b.addr
    )
}

/// Keeps sending requests (keep-alive, reconnecting when told to close) until `stop`.
async fn load(
    port: u16,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    keep_alive: bool,
) {
    let mut client: Option<Client> = None;
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) && n < 20_000 {
        n += 1;
        if client.is_none() {
            match Client::connect(addr(port)).await {
                Ok(c) => client = Some(c),
                Err(e) => {
                    eprintln!("connect failed: {e}");
                    failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
        }
        let Some(c) = client.as_mut() else { continue };
        let req = if keep_alive {
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        } else {
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        };
        let res = match c.send_raw(req.as_bytes()).await {
            Ok(()) => c.read_response(false).await,
            Err(e) => Err(e),
        };
        match res {
            Ok(r) if r.status == 200 => {
                ok.fetch_add(1, Ordering::Relaxed);
                if !keep_alive
                    || r.header("connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                {
                    client = None;
                }
            }
            Ok(r) => {
                eprintln!("bad status {}", r.status);
                failed.fetch_add(1, Ordering::Relaxed);
                client = None;
            }
            Err(e) => {
                eprintln!("request failed: {e}");
                failed.fetch_add(1, Ordering::Relaxed);
                client = None;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_reloads_under_load_fail_nothing() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let h = start(&cfg(port, None, &a, &b, "0")).await;
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..4 {
        tasks.push(tokio::spawn(load(
            port,
            stop.clone(),
            ok.clone(),
            failed.clone(),
            i % 2 == 0,
        )));
    }
    // Each reload happens under load that has observably completed requests since the last.
    let advance = |n: u64| {
        let ok = ok.clone();
        let target = ok.load(Ordering::Relaxed) + n;
        async move {
            assert!(
                wait_for(|| {
                    let now = ok.load(Ordering::Relaxed);
                    async move { now >= target }
                })
                .await,
                "the load stalled"
            );
        }
    };
    for i in 1..=20 {
        advance(10).await;
        h.reload(&load_cfg(&cfg(port, None, &a, &b, &i.to_string())))
            .await
            .expect("reload");
    }
    advance(20).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("{ok} requests succeeded, {failed} failed across 20 reloads");
    assert_eq!(failed, 0);
    assert!(ok > 100, "the load generator ran ({ok} requests)");
    // The last config is the one serving.
    assert_eq!(
        get(addr(port), "/").await.expect("after").header("x-gen"),
        Some("20")
    );
    h.shutdown(Duration::from_secs(2)).await;
}

fn load_cfg(text: &str) -> fulcrum_config::Config {
    common::load(text)
}

#[tokio::test]
async fn reload_opens_new_binds_and_closes_removed_ones() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let extra = free_port();
    let h = start(&cfg(port, None, &a, &b, "1")).await;
    assert!(
        get(addr(extra), "/").await.is_err(),
        "extra port not open yet"
    );
    h.reload(&load_cfg(&cfg(port, Some(extra), &a, &b, "2")))
        .await
        .expect("reload");
    assert_eq!(get(addr(extra), "/").await.expect("new bind").status, 200);
    h.reload(&load_cfg(&cfg(port, None, &a, &b, "3")))
        .await
        .expect("reload");
    assert!(
        wait_for(|| async { get(addr(extra), "/").await.is_err() }).await,
        "removed bind is closed"
    );
    assert_eq!(
        get(addr(port), "/").await.expect("kept").header("x-gen"),
        Some("3")
    );
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn failed_reload_keeps_the_running_config() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let h = start(&cfg(port, None, &a, &b, "1")).await;
    // A bind that cannot be opened (port taken by a plain listener without SO_REUSEPORT).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port();
    let r = h
        .reload(&load_cfg(&cfg(port, Some(taken_port), &a, &b, "2")))
        .await;
    assert!(r.is_err(), "reload must fail");
    assert_eq!(
        get(addr(port), "/")
            .await
            .expect("still serving")
            .header("x-gen"),
        Some("1")
    );
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn keep_alive_connection_finishes_on_its_config_then_closes() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let port = free_port();
    let h = start(&cfg(port, None, &a, &b, "1")).await;
    let mut c = Client::connect(addr(port)).await.expect("connect");
    assert_eq!(c.get("/").await.expect("first").header("x-gen"), Some("1"));
    h.reload(&load_cfg(&cfg(port, None, &a, &b, "2")))
        .await
        .expect("reload");
    // The idle keep-alive connection is served once more on its config, told to close.
    let r = c.get("/").await.expect("second");
    assert_eq!(r.header("x-gen"), Some("1"));
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(
        get(addr(port), "/").await.expect("new").header("x-gen"),
        Some("2")
    );
    h.shutdown(Duration::from_secs(1)).await;
}
