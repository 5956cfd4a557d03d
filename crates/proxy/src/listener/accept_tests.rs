//! The accept loop takes the clients waiting in its backlog in one turn of the worker
//! (`ACCEPT_BATCH`), not the ~40 to 128 tokio's cooperative budget lets a task do per poll.

use super::*;
use std::sync::atomic::AtomicU32;

/// Clients connected before the loop runs: more than one budget's worth of accepts (600
/// descriptors with their accepted ends: under the usual soft limit of 1,024).
const WAITING: u64 = 300;

#[test]
fn clients_waiting_in_the_backlog_are_accepted_in_one_turn() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let sock = Socket::new(Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        sock.bind(&any.into()).expect("bind");
        sock.listen(1024).expect("listen");
        sock.set_nonblocking(true).expect("nonblocking");
        let addr = sock
            .local_addr()
            .expect("addr")
            .as_socket()
            .expect("inet");
        // Connected by the kernel (the handshake needs no accept), none accepted yet.
        let clients: Vec<std::net::TcpStream> = (0..WAITING)
            .map(|_| std::net::TcpStream::connect(addr).expect("connect"))
            .collect();
        let cfg = fulcrum_config::load_sources(&[fulcrum_config::Source {
            name: "t",
            text: "defaults\n  mode http\n  timeout client 30s\nfrontend f\n  bind 127.0.0.1:1\n  default_backend b\nbackend b\n  server s 127.0.0.1:1\n",
        }])
        .config;
        let g = crate::state::build(&cfg, None).expect("build");
        let slot = Arc::new(Slot::new(g.frontends["f"].clone()));
        let tracker = Arc::new(AtomicU64::new(0));
        let (_close, close_rx) = watch::channel(false);
        let (_stop, stop_rx) = watch::channel(false);
        let limits = limits::AcceptLimits::new(
            &cfg.frontends().next().expect("frontend").binds[0],
            &limits::Rates::new(&cfg.global.limits),
        );
        let accepting = tokio::spawn(accept_loop(
            Incoming::listener(sock),
            1,
            slot,
            None,
            tracker.clone(),
            close_rx,
            stop_rx,
            (crate::accept_proxy::Expect::default(), limits),
        ));
        // Another task of the worker: each of its turns notes whether it saw the loop with
        // some of the clients accepted and others still waiting.
        let between = Arc::new(AtomicU32::new(0));
        let seen = (tracker.clone(), between.clone());
        let other = tokio::spawn(async move {
            loop {
                let n = seen.0.load(Ordering::Acquire);
                if n > 0 && n < WAITING {
                    seen.1.fetch_add(1, Ordering::Relaxed);
                }
                tokio::task::yield_now().await;
            }
        });
        let mut turns = 0u32;
        while tracker.load(Ordering::Acquire) < WAITING {
            turns += 1;
            assert!(turns < 100_000, "accepted {tracker:?} of {WAITING}");
            tokio::task::yield_now().await;
        }
        let between = between.load(Ordering::Relaxed);
        assert_eq!(
            between, 0,
            "the worker's other tasks ran {between} times while clients waited to be accepted"
        );
        other.abort();
        accepting.abort();
        drop(clients);
    });
}
