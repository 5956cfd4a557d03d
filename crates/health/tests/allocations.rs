//! HAProxy's plain connect check at scale allocates nothing per check: 20 servers checked every
//! 100 ms (all due in the same driver tick), the heap allocations of the whole process counted
//! over 200 results in steady state. What is allocated is per tick or per batch of results
//! (the batch's poll list, the batch sent to the listener), so the average stays well under one
//! per check; a String or a boxed future per check would put it at one or more.

mod common;

use fulcrum_testlab::alloc_count::{allocations, Counting};
use std::time::Duration;

#[global_allocator]
static GLOBAL: Counting = Counting;

const SERVERS: usize = 20;

#[tokio::test]
async fn plain_connect_checks_allocate_nothing_per_check() {
    // Listeners that never accept: the half-open check never completes a handshake.
    let listeners: Vec<std::net::TcpListener> = (0..SERVERS)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let mut text = String::from(
        "defaults\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\nbackend b\n",
    );
    for (i, l) in listeners.iter().enumerate() {
        let addr = l.local_addr().expect("addr");
        text.push_str(&format!("    server s{i} {addr} check inter 100ms\n"));
    }
    let cfg = common::config("alloc.cfg", &text);
    let (handle, _events) = fulcrum_health::HealthMonitor::start(&cfg);
    let mut results = handle.check_results();
    // Steady state first: every server checked twice (the batch buffers have grown).
    let (warm, warm_passed) = count(&mut results, 2 * SERVERS).await;
    assert_eq!(warm_passed, warm, "the servers listen: every check passes");
    let before = allocations();
    let (seen, passed) = count(&mut results, 10 * SERVERS).await;
    let allocs = allocations() - before;
    assert_eq!(passed, seen, "the servers listen: every check passes");
    let per_check = allocs as f64 / seen as f64;
    eprintln!("{allocs} allocations for {seen} checks: {per_check:.2} per check");
    assert!(
        per_check < 1.0,
        "{allocs} allocations for {seen} checks ({per_check:.2} per check)"
    );
    handle.shutdown().await;
    drop(listeners);
}

/// Takes results until `n` came (bounded in time): (results, passed).
async fn count(results: &mut fulcrum_health::CheckResults, n: usize) -> (usize, usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (mut seen, mut passed) = (0, 0);
    while seen < n {
        let batch = tokio::time::timeout_at(deadline, results.recv_batch())
            .await
            .expect("results within 20 s")
            .expect("the monitor runs");
        seen += batch.len();
        passed += batch.iter().filter(|r| r.outcome.status.passed()).count();
    }
    (seen, passed)
}
