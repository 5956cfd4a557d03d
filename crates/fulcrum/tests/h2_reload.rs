//! Reloads during HTTP/2 traffic: connections of the old generation end with GOAWAY, their
//! streams in flight finish, clients reconnect, and no request fails.

mod common;
mod h2_support;

use common::{free_port, Fulcrum, Scratch};
use h2_support::{backend, config, curl_h2};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// An HTTP/2 client that does what browsers do with GOAWAY: requests the server did not take
/// (refused by GOAWAY, RFC 9113 8.1.4 and 6.8) are sent again on a new connection. Any other
/// failure is a failed request.
async fn h2_worker(
    port: u16,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    conns: Arc<AtomicU64>,
    retried: Arc<AtomicU64>,
) {
    let mut n = 0u32;
    'connect: while !stop.load(Ordering::Relaxed) && n < 100_000 {
        let Ok(tcp) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
            failed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let Ok((client, conn)) = h2::client::handshake(tcp).await else {
            failed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        conns.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let _ = conn.await;
        });
        while !stop.load(Ordering::Relaxed) && n < 100_000 {
            // Five streams at a time on this connection.
            let mut batch = Vec::new();
            for _ in 0..5 {
                n += 1;
                let mut c = client.clone();
                batch.push(tokio::spawn(async move {
                    // Not sent: the connection no longer takes streams.
                    let unsent = |e: h2::Error| (false, e);
                    let sent = |e: h2::Error| (true, e);
                    c = c.ready().await.map_err(unsent)?;
                    let req = http::Request::get(format!("http://127.0.0.1:{port}/r"))
                        .body(())
                        .expect("request");
                    let (resp, _) = c.send_request(req, true).map_err(unsent)?;
                    let resp = resp.await.map_err(sent)?;
                    let status = resp.status();
                    let mut body = resp.into_body();
                    while let Some(d) = body.data().await {
                        let d = d.map_err(sent)?;
                        let _ = body.flow_control().release_capacity(d.len());
                    }
                    Ok::<_, (bool, h2::Error)>(status)
                }));
            }
            let mut refused = false;
            for b in batch {
                match b.await {
                    Ok(Ok(s)) if s == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err((sent, e)))
                        if !sent
                            || e.is_go_away()
                            || e.reason() == Some(h2::Reason::REFUSED_STREAM) =>
                    {
                        retried.fetch_add(1, Ordering::Relaxed);
                        refused = true;
                    }
                    other => {
                        eprintln!("failed request: {other:?}");
                        failed.fetch_add(1, Ordering::Relaxed);
                        refused = true;
                    }
                }
            }
            if refused {
                continue 'connect;
            }
        }
    }
}

#[test]
fn reloads_during_h2_traffic_fail_no_request() {
    let scratch = Scratch::new("h2-reload");
    let (be, _seen) = backend();
    let port = free_port();
    let file = scratch.write("f.cfg", &config(port, be, 0));
    let f = Fulcrum::start(&file);
    let pid = f.child.pid().to_string();
    let (stop, ok, failed, conns, retried) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut workers = Vec::new();
    for _ in 0..4 {
        workers.push(rt.spawn(h2_worker(
            port,
            stop.clone(),
            ok.clone(),
            failed.clone(),
            conns.clone(),
            retried.clone(),
        )));
    }
    let advance = |n: u64| {
        let target = ok.load(Ordering::Relaxed) + n;
        assert!(
            fulcrum_testlab::wait::until(Duration::from_secs(20), || ok.load(Ordering::Relaxed)
                >= target)
            .is_some(),
            "the load stalled: {}",
            f.log_text()
        );
    };
    let reloads = 5;
    for gen in 1..=reloads {
        advance(50);
        std::fs::write(&file, config(port, be, gen)).expect("write config");
        let st = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill -HUP");
        assert!(st.success());
    }
    advance(100);
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for w in workers {
            let _ = tokio::time::timeout(Duration::from_secs(20), w).await;
        }
    });
    let (ok, failed, conns, retried) = (
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        conns.load(Ordering::Relaxed),
        retried.load(Ordering::Relaxed),
    );
    eprintln!("{ok} requests succeeded, {failed} failed, {retried} refused by GOAWAY and sent again, over {conns} connections, across {reloads} reloads");
    assert_eq!(failed, 0, "no request may fail during reloads");
    assert!(ok > 300, "the load ran ({ok} requests)");
    // Every reload ended the connections of the old generation with GOAWAY: the workers
    // had to connect again.
    assert!(
        conns >= 4 + reloads as u64,
        "connections were not renewed on reload: {conns}"
    );
    // New connections are served by the last generation.
    let (okc, out) = curl_h2(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("http://127.0.0.1:{port}/last"),
    ]);
    assert!(okc && out.contains(&format!("x-gen: {reloads}")), "{out}");
}

#[test]
fn a_stop_lets_streams_in_flight_finish_after_goaway() {
    let scratch = Scratch::new("h2-stop");
    let (be, _seen) = backend();
    let port = free_port();
    let mut f = Fulcrum::start(&scratch.write("f.cfg", &config(port, be, 1)));
    let pid = f.child.pid().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (status, goaway_seen) = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (client, conn) = h2::client::handshake(tcp).await.expect("handshake");
        let conn = tokio::spawn(conn);
        let mut c = client.ready().await.expect("ready");
        let get = |path: &str| {
            http::Request::get(format!("http://127.0.0.1:{port}{path}"))
                .body(())
                .expect("request")
        };
        // The backend answers /slow after 4 s: the stop comes while it is in flight.
        let (slow, _) = c.send_request(get("/slow"), true).expect("send");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let st = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        assert!(st.success());
        let resp = tokio::time::timeout(Duration::from_secs(10), slow)
            .await
            .expect("the stream in flight finished")
            .expect("the stream in flight was answered");
        // After GOAWAY the connection takes no new stream.
        let refused = match c.ready().await {
            Err(_) => true,
            Ok(mut c) => match c.send_request(get("/late"), true) {
                Err(_) => true,
                Ok((r, _)) => r.await.is_err(),
            },
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        (resp.status(), refused)
    });
    assert_eq!(status, 200);
    assert!(goaway_seen, "a stream opened after the stop was served");
    let exited = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        matches!(f.child.0.try_wait(), Ok(Some(_)))
    });
    assert!(exited.is_some(), "fulcrum exits after its streams");
}

#[test]
fn an_idle_connection_ends_with_goaway_after_timeout_client() {
    let scratch = Scratch::new("h2-idle");
    let (be, _seen) = backend();
    let port = free_port();
    let cfg = config(port, be, 1).replace("timeout client 10s", "timeout client 1s");
    let _f = Fulcrum::start(&scratch.write("f.cfg", &cfg));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ended = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (client, conn) = h2::client::handshake(tcp).await.expect("handshake");
        // One stream, then nothing: the connection is idle from its end.
        let mut c = client.ready().await.expect("ready");
        let req = http::Request::get(format!("http://127.0.0.1:{port}/one"))
            .body(())
            .expect("request");
        let (resp, _) = c.send_request(req, true).expect("send");
        let conn = tokio::spawn(conn);
        let resp = resp.await.expect("response");
        assert_eq!(resp.status(), 200);
        drop(resp);
        let started = std::time::Instant::now();
        // The connection future ends when the server closes after its GOAWAY.
        let r = tokio::time::timeout(Duration::from_secs(6), conn).await;
        (r.is_ok(), started.elapsed())
    });
    assert!(ended.0, "the idle connection was not closed within 6 s");
    assert!(
        ended.1 >= Duration::from_millis(800),
        "closed too early: {:?}",
        ended.1
    );
}
