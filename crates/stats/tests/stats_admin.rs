//! The admin API's effect on traffic, over real sockets (the API the stats page and the
//! runtime socket call): a server in MAINT receives no request at all, not even from its
//! cookie clients; a server in DRAIN keeps its cookie and stick-table clients but gets no new
//! ones; READY brings it back; a runtime weight change changes the distribution; a disabled
//! server starts in MAINT and READY brings it in.

#[path = "../../proxy/tests/common/mod.rs"]
mod common;
use common::*;

/// The proxy with the stats crate's applets (the shared helper starts it without any).
async fn start(text: &str) -> fulcrum_proxy::ProxyHandle {
    let stats = fulcrum_stats::Stats::new(std::time::Instant::now());
    fulcrum_proxy::start_with(&load(text), std::sync::Arc::new(stats))
        .await
        .expect("proxy start")
}
use fulcrum_proxy::server::AdminState;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One GET on a fresh connection; returns (server name, Set-Cookie).
async fn hit(to: SocketAddr, cookie: Option<&str>) -> (String, Option<String>) {
    let mut c = tokio::time::timeout(Duration::from_secs(3), Client::connect(to))
        .await
        .expect("connect in time")
        .expect("connect");
    let mut req = "GET / HTTP/1.1\r\nHost: t\r\n".to_string();
    if let Some(v) = cookie {
        req.push_str(&format!("Cookie: {v}\r\n"));
    }
    req.push_str("\r\n");
    c.send_raw(req.as_bytes()).await.expect("send");
    let r = tokio::time::timeout(Duration::from_secs(5), c.read_response(false))
        .await
        .expect("in time")
        .expect("response");
    assert_eq!(r.status, 200, "{}", r.head);
    (r.text(), r.header("set-cookie").map(str::to_string))
}

async fn tally(to: SocketAddr, n: usize, cookie: Option<&str>) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for _ in 0..n {
        *m.entry(hit(to, cookie).await.0).or_insert(0) += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maint_gets_nothing_drain_keeps_its_cookie_clients_ready_returns() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let port = free_port();
    let cfg = format!(
        "global\n nbthread 1\ndefaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n default_backend be\n\
         backend be\n balance roundrobin\n cookie SRV insert indirect nocache\n\
         \x20server a {} cookie A\n server b {} cookie B\n",
        a.addr, b.addr
    );
    let proxy = start(&cfg).await;
    assert!(wait_listening(addr(port)).await);
    let gen = proxy.generation().expect("generation");
    let be = gen.backends["be"].clone();
    let ia = be.server_index("a").expect("a");
    // Both servers take new clients.
    let t = tally(addr(port), 10, None).await;
    assert_eq!((t.get("a"), t.get("b")), (Some(&5), Some(&5)), "{t:?}");

    // DRAIN a: new clients all go to b, a's cookie client still reaches a.
    assert!(be.set_server_admin(ia, AdminState::Drain));
    let t = tally(addr(port), 10, None).await;
    assert_eq!(t.get("b"), Some(&10), "DRAIN took new clients: {t:?}");
    let t = tally(addr(port), 5, Some("SRV=A")).await;
    assert_eq!(t.get("a"), Some(&5), "DRAIN lost its cookie clients: {t:?}");

    // MAINT a: nothing reaches a, its cookie clients are moved to b with a new cookie.
    assert!(be.set_server_admin(ia, AdminState::Maint));
    let before = a.heads().len();
    for _ in 0..5 {
        let (srv, set) = hit(addr(port), Some("SRV=A")).await;
        assert_eq!(srv, "b");
        assert_eq!(
            set.as_deref().map(|s| s.starts_with("SRV=B")),
            Some(true),
            "{set:?}"
        );
    }
    assert_eq!(tally(addr(port), 6, None).await.get("b"), Some(&6));
    assert_eq!(
        a.heads().len(),
        before,
        "a server in MAINT received a request"
    );

    // READY: a is balanced again.
    assert!(be.set_server_admin(ia, AdminState::Ready));
    let t = tally(addr(port), 10, None).await;
    assert_eq!((t.get("a"), t.get("b")), (Some(&5), Some(&5)), "{t:?}");
    proxy.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_keeps_stick_table_clients() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let port = free_port();
    let cfg = format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n default_backend be\n\
         backend be\n balance roundrobin\n stick-table type ip size 1k expire 1m\n stick on src\n\
         \x20server a {}\n server b {}\n",
        a.addr, b.addr
    );
    let proxy = start(&cfg).await;
    assert!(wait_listening(addr(port)).await);
    let be = proxy.generation().expect("gen").backends["be"].clone();
    let first = hit(addr(port), None).await.0;
    let i = be.server_index(&first).expect("server");
    be.set_server_admin(i, AdminState::Drain);
    // 127.0.0.1 is stuck to `first`: DRAIN keeps it there.
    assert_eq!(tally(addr(port), 5, None).await.get(&first), Some(&5));
    // MAINT: moved.
    be.set_server_admin(i, AdminState::Maint);
    let t = tally(addr(port), 5, None).await;
    assert_eq!(t.get(&first), None, "{t:?}");
    drop((a, b));
    proxy.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_weight_changes_the_distribution_and_disabled_starts_in_maint() {
    let (a, b, c) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    );
    let port = free_port();
    let cfg = format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n default_backend be\n\
         backend be\n balance roundrobin\n server a {} weight 1\n server b {} weight 1\n server c {} disabled\n",
        a.addr, b.addr, c.addr
    );
    let proxy = start(&cfg).await;
    assert!(wait_listening(addr(port)).await);
    let be = proxy.generation().expect("gen").backends["be"].clone();
    let t = tally(addr(port), 8, None).await;
    assert_eq!(
        (t.get("a"), t.get("b"), t.get("c")),
        (Some(&4), Some(&4), None),
        "{t:?}"
    );
    assert_eq!(be.servers[2].admin(), AdminState::Maint);
    // Through the ServerRt directly (no backend call): the next pick sees it.
    assert_eq!(be.servers[0].set_weight(3), Ok(true));
    let t = tally(addr(port), 8, None).await;
    assert_eq!((t.get("a"), t.get("b")), (Some(&6), Some(&2)), "{t:?}");
    assert_eq!(be.set_server_weight(0, 0), Ok(true));
    assert_eq!(tally(addr(port), 4, None).await.get("b"), Some(&4));
    assert!(be.set_server_weight(0, 300).is_err());
    // The disabled server, made READY, is balanced (no check: it comes UP).
    be.set_server_weight(0, 1).expect("weight");
    assert!(be.set_server_admin(2, AdminState::Ready));
    let t = tally(addr(port), 9, None).await;
    assert_eq!(
        (t.get("a"), t.get("b"), t.get("c")),
        (Some(&3), Some(&3), Some(&3)),
        "{t:?}"
    );
    proxy.shutdown(Duration::from_secs(1)).await;
}
