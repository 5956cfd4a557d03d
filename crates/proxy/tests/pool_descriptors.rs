//! Idle server connections give their descriptors to new ones: with the process out of
//! descriptors, opening a server connection closes idle ones of the thread's pool (oldest
//! first) and succeeds, where it failed with `EMFILE` (each such request then waited a
//! connection retry's 1 s turn-around: `bench/proxy/run.sh`'s 9,800-connection rows). With
//! no idle connection left to close, the error is the system's, as before.
//!
//! The test lowers its own soft descriptor limit (`prlimit --pid`): it is this file's only
//! test, so its process is its own.

use fulcrum_proxy::connect::{self, ServerConn};
use fulcrum_proxy::pool;
use fulcrum_proxy::server::{ServerRt, Target};
use std::sync::Arc;

/// Descriptors this process has open.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// Opens descriptors until the process has none left (bounded by `max`); they stay open while
/// the returned files live.
fn exhaust(max: usize) -> Vec<std::fs::File> {
    let mut held = Vec::new();
    for _ in 0..max {
        match std::fs::File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(e) => {
                assert!(pool::out_of_descriptors(&e), "unexpected: {e}");
                return held;
            }
        }
    }
    panic!("the descriptor limit was not reached in {max} files");
}

// Current-thread: the pool is the thread's, as on a worker.
#[tokio::test]
async fn idle_server_connections_give_way_when_descriptors_run_out() {
    assert!(
        fulcrum_testlab::require::have("prlimit"),
        "prlimit (util-linux) is needed"
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let srv = Arc::new(ServerRt::new(
        "s".into(),
        Target::Fixed(addr),
        1,
        None,
        false,
        true,
    ));
    // The default `pool-max-conn` (unlimited), as a configured server has it.
    srv.set_pool_limits(None, 0);
    // Eight idle connections, offered back one by one after eight were in use: all kept.
    let mut conns = Vec::new();
    let mut peers = Vec::new();
    for _ in 0..8 {
        conns.push(connect::tcp(addr, None).await.expect("connect"));
        peers.push(l.accept().await.expect("accept").0);
    }
    for (c, in_use) in conns.into_iter().zip((1..=8).rev()) {
        assert!(pool::offer(&srv, ServerConn::Tcp(c), 1, in_use), "kept");
    }
    assert_eq!(pool::idle_count(), 8);

    // A soft limit a little above what is open now, then every descriptor taken.
    let soft = open_fds() + 32;
    let set = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(std::process::id().to_string())
        .arg(format!("--nofile={soft}:"))
        .status()
        .expect("run prlimit");
    assert!(set.success(), "prlimit failed");
    let mut held = exhaust(soft);

    // A new server connection: the idle ones give way (it failed with EMFILE before).
    let fresh = connect::tcp(addr, None).await;
    assert!(
        fresh.is_ok(),
        "opening a connection with idle ones in the pool: {:?}",
        fresh.err()
    );
    let left = pool::idle_count();
    assert!(left < 8, "no idle connection was closed ({left} left)");

    // Out again, with the pool emptied: the system's error, not a loop.
    held.extend(exhaust(soft));
    while pool::shed(1) > 0 {}
    held.extend(exhaust(soft));
    let e = connect::tcp(addr, None)
        .await
        .expect_err("no descriptor left");
    assert!(pool::out_of_descriptors(&e), "{e}");
    drop(held);
}
