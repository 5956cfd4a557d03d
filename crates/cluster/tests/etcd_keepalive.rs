//! The cluster's etcd client against an etcd with its default settings
//! (`--grpc-keepalive-min-time 5s`), each stream on a connection of its own, over 12 s:
//! - with the cluster's settings (pings every `etcd-keepalive` = 1 s while a stream is open,
//!   none on idle connections) the lease keep-alive stream is never cut or stalled: etcd
//!   answers every keepalive, which resets its count of too-early pings;
//! - an idle watch (a stream etcd sends nothing on) pinged every second is cut by etcd's GOAWAY
//!   within seconds (the control: why the node keeps no watch open), and is not cut with
//!   `etcd-keepalive 5s`.
#![allow(clippy::unwrap_used)]

use fulcrum_cluster::clock::boottime;
use fulcrum_cluster::runner::connect_with;
use fulcrum_cluster::session::Session;
use fulcrum_config::model::Cluster;
use std::time::Duration;
use tokio::time::{timeout, Instant};

const OBSERVE: Duration = Duration::from_secs(12);

/// Reads `key`'s watch until `OBSERVE` passes; `Err` with when and why it was cut.
async fn watch_survives(client: etcd_client::Client, key: &str) -> Result<(), String> {
    let mut c = client.clone();
    let (_watcher, mut stream) = c.watch(key, None).await.map_err(|e| e.to_string())?;
    let start = Instant::now();
    loop {
        let left = OBSERVE.saturating_sub(start.elapsed());
        match timeout(left, stream.message()).await {
            Err(_) => return Ok(()),
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) => return Err(format!("ended after {:?}", start.elapsed())),
            Ok(Err(e)) => return Err(format!("cut after {:?}: {e}", start.elapsed())),
        }
    }
}

fn cluster(endpoint: &str, extra: &str) -> Cluster {
    let text = format!("cluster t\n    etcd {endpoint}\n{extra}");
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "t.cfg",
        text: &text,
    }]);
    assert!(loaded.is_ok(), "{:?}", loaded.diagnostics);
    loaded.config.cluster.expect("cluster section")
}

async fn client(cfg: &Cluster) -> etcd_client::Client {
    connect_with(
        cfg,
        cfg.lease_ttl,
        (cfg.etcd_keepalive, Duration::from_secs(1)),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_are_not_cut_by_etcds_ping_policy() {
    if !fulcrum_testlab::etcd::available("keepalives_are_not_cut_by_etcds_ping_policy") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fulcrum-etcd-ka-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let etcd = fulcrum_testlab::etcd::start_local(&dir);
    let ours = cluster(&etcd.endpoint, "");
    assert_eq!(ours.etcd_keepalive, Duration::from_secs(1), "the default");
    let slow = cluster(&etcd.endpoint, "    etcd-keepalive 5s\n");

    let session = Session::open(&client(&ours).await, ours.lease_ttl)
        .await
        .unwrap();
    let fast_watch = tokio::spawn(watch_survives(client(&ours).await, "/t/idle"));
    let slow_watch = tokio::spawn(watch_survives(client(&slow).await, "/t/idle"));

    // The lease: the deadline (last acknowledgement + TTL - margin) never falls behind.
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    while start.elapsed() < OBSERVE {
        let ahead = session
            .deadline()
            .expect("lease lost")
            .saturating_sub(boottime());
        assert!(
            ahead > Duration::ZERO,
            "the deadline lapsed: keepalives stopped"
        );
        // 2 s TTL - 300 ms margin: how much of it the last acknowledgement left.
        worst = worst.max(Duration::from_millis(1700).saturating_sub(ahead));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("longest time since an acknowledged keepalive: {worst:?}");
    assert!(
        worst < Duration::from_secs(1),
        "keepalives stalled for {worst:?}"
    );
    slow_watch
        .await
        .unwrap()
        .expect("an idle watch with etcd-keepalive 5s");
    let cut = fast_watch.await.unwrap();
    eprintln!("control (idle watch, pings every 1 s): {cut:?}");
    assert!(
        cut.is_err(),
        "etcd did not cut an idle watch pinged every second: the test no longer shows the policy"
    );
    drop(etcd);
    let _ = std::fs::remove_dir_all(&dir);
}
