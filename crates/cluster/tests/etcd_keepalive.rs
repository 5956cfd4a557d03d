//! The cluster's etcd client against an etcd with its default settings
//! (`--grpc-keepalive-min-time 5s`): over 12 s, neither the lease keep-alive stream nor an
//! idle watch opened with the cluster's settings is cut (no acknowledgement gap, no stream
//! error). The control is the client fulcrum used before (pings every second, also on idle
//! connections): its lease keep-alive stream is not cut either (etcd answers every keepalive,
//! which resets its ping count), but etcd answers its pings on an idle watch's connection with
//! a GOAWAY that cuts the watch within seconds.
#![allow(clippy::unwrap_used)]

use etcd_client::{Client, ConnectOptions};
use fulcrum_cluster::clock::boottime;
use fulcrum_cluster::runner::connect_with;
use fulcrum_cluster::session::Session;
use std::time::Duration;
use tokio::time::{timeout, Instant};

const OBSERVE: Duration = Duration::from_secs(12);

/// Reads `key`'s watch until `OBSERVE` passes; `Err` with when and why it was cut.
async fn watch_survives(client: &Client, key: &str) -> Result<(), String> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_are_not_cut_by_etcds_ping_policy() {
    if !fulcrum_testlab::etcd::available("keepalives_are_not_cut_by_etcds_ping_policy") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fulcrum-etcd-ka-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let etcd = fulcrum_testlab::etcd::start_local(&dir);
    let text = format!("cluster t\n    etcd {}\n", etcd.endpoint);
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "t.cfg",
        text: &text,
    }]);
    let cfg = loaded.config.cluster.expect("cluster section");
    assert_eq!(cfg.etcd_keepalive, Duration::from_secs(5), "the default");

    // Each stream on a connection of its own (a client each): traffic on one stream would
    // reset etcd's ping count for the others on the same connection and hide the problem.
    let ours = || connect_with(&cfg, cfg.lease_ttl, (cfg.etcd_keepalive, Duration::from_secs(1)));
    let old = || {
        Client::connect(
            [etcd.endpoint.as_str()],
            Some(ConnectOptions::new().with_keep_alive(Duration::from_secs(1), Duration::from_secs(1))),
        )
    };
    let session = Session::open(&ours().await.unwrap(), Duration::from_secs(2))
        .await
        .unwrap();
    let watched = tokio::spawn({
        let client = ours().await.unwrap();
        async move { watch_survives(&client, "/t/idle").await }
    });
    // The control: the old settings.
    let old_session = Session::open(&old().await.unwrap(), Duration::from_secs(2))
        .await
        .unwrap();
    let control = tokio::spawn({
        let client = old().await.unwrap();
        async move { watch_survives(&client, "/t/idle").await }
    });

    // The lease: the deadline (last acknowledgement + TTL - margin) never falls behind.
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    let mut worst_old = Duration::ZERO;
    // 2 s TTL - 300 ms margin: how much of it the last acknowledgement left.
    let gap = |s: &Session| {
        let ahead = s.deadline().expect("lease lost").saturating_sub(boottime());
        assert!(ahead > Duration::ZERO, "the deadline lapsed: keepalives stopped");
        Duration::from_millis(1700).saturating_sub(ahead)
    };
    while start.elapsed() < OBSERVE {
        worst = worst.max(gap(&session));
        worst_old = worst_old.max(gap(&old_session));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "longest time since an acknowledged keepalive: {worst:?} (old settings: {worst_old:?})"
    );
    // With the old settings too: etcd answers every keepalive, which resets its ping count.
    assert!(worst_old < Duration::from_secs(1), "old keepalives stalled for {worst_old:?}");
    assert!(worst < Duration::from_secs(1), "keepalives stalled for {worst:?}");
    watched.await.unwrap().expect("the cluster client's idle watch");
    let cut = control.await.unwrap();
    eprintln!("control (pings every 1 s, also when idle): {cut:?}");
    assert!(
        cut.is_err(),
        "etcd did not cut the control's watch: the test no longer tells the settings apart"
    );
    drop(etcd);
    let _ = std::fs::remove_dir_all(&dir);
}
