//! HAProxy's plain connect check at scale allocates nothing per check: 20 servers checked every
//! 100 ms (all due in the same driver tick), the heap allocations of the whole process counted
//! over 200 results in steady state. What is allocated is per tick or per batch of results
//! (the batch's poll list, the batch sent to the listener), so the average stays well under one
//! per check; a String or a boxed future per check would put it at one or more.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The system allocator, counting allocations (reallocations count too: a growing buffer is
/// a cost per check as well).
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// The one unsafe of this test: forwarding to the system allocator is what a global allocator
// is; nothing else changes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

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
    let before = ALLOCS.load(Ordering::Relaxed);
    let (seen, passed) = count(&mut results, 10 * SERVERS).await;
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
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
