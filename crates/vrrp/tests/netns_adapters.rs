//! The VRRP library driven directly in network namespaces (no binary): hostile or broken
//! adverts on the wire are dropped and counted, and the proxy-health hook gives the VIP away.
#![allow(clippy::unwrap_used)]

use fulcrum_config::model::{Keepalived, VirtualIp, VrrpInstance};
use fulcrum_testlab::netns::{self, Lab};
use fulcrum_testlab::wait;
use fulcrum_vrrp::machine::{DropCause, State};
use fulcrum_vrrp::packet::{self, Advert, Auth, MULTICAST_V4};
use fulcrum_vrrp::ProxyHealth;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::watch;

const VIP: &str = "10.99.0.100";

fn instance(priority: u8) -> VrrpInstance {
    VrrpInstance {
        name: "VI_1".into(),
        span: Default::default(),
        state: None,
        interface: Some("eth0".into()),
        virtual_router_id: 51,
        priority,
        advert_int: Duration::from_secs(1),
        version: 2,
        authentication: None,
        virtual_ipaddress: vec![VirtualIp {
            span: Default::default(),
            address: VIP.parse().unwrap(),
            prefix: 32,
            dev: None,
            label: None,
            brd: None,
            scope: None,
        }],
        virtual_ipaddress_excluded: vec![],
        nopreempt: false,
        preempt_delay: None,
        unicast_src_ip: None,
        unicast_peer: vec![],
        track_script: vec![],
        track_interface: vec![],
        notify: None,
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        notify_stop: None,
        garp_master_delay: Duration::from_secs(5),
        garp_master_repeat: 1,
        garp_master_refresh: None,
        smtp_alert: None,
    }
}

enum Ask {
    Status(mpsc::Sender<Vec<(String, fulcrum_vrrp::Status)>>),
    Stop,
}

/// Runs fulcrum-vrrp for `keepalived` on a thread inside `node`; talk to it through `Ask`.
fn run_in(
    node: &netns::Node,
    keepalived: Keepalived,
    proxy: Option<watch::Receiver<ProxyHealth>>,
) -> (mpsc::Sender<Ask>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<Ask>();
    let handle = node.in_thread(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let vrrp = fulcrum_vrrp::start_with_proxy(&keepalived, proxy)
                .await
                .unwrap();
            loop {
                match rx.try_recv() {
                    Ok(Ask::Status(reply)) => {
                        let _ = reply.send(vrrp.status().await);
                    }
                    Ok(Ask::Stop) | Err(mpsc::TryRecvError::Disconnected) => break,
                    Err(mpsc::TryRecvError::Empty) => {
                        tokio::time::sleep(Duration::from_millis(10)).await
                    }
                }
            }
            vrrp.shutdown().await;
        });
    });
    (tx, handle)
}

fn status(ask: &mpsc::Sender<Ask>) -> fulcrum_vrrp::Status {
    let (tx, rx) = mpsc::channel();
    ask.send(Ask::Status(tx)).unwrap();
    rx.recv_timeout(Duration::from_secs(5)).unwrap().remove(0).1
}

fn keepalived(inst: VrrpInstance) -> Keepalived {
    Keepalived {
        vrrp_instances: vec![inst],
        ..Keepalived::default()
    }
}

/// Sends `advert` from node 1 to the VRRP group with the given TTL, optionally corrupted.
fn inject(sock: &Socket, advert: &Advert, src: IpAddr, ttl: u32, corrupt: bool) {
    sock.set_multicast_ttl_v4(ttl).unwrap();
    let mut bytes = packet::encode(advert, src, IpAddr::V4(MULTICAST_V4));
    if corrupt {
        bytes[7] ^= 0x5a;
    }
    sock.send_to(
        &bytes,
        &SockAddr::from(SocketAddr::new(IpAddr::V4(MULTICAST_V4), 0)),
    )
    .unwrap();
}

#[test]
fn broken_adverts_are_dropped_and_counted_valid_ones_obeyed() {
    if !netns::available("broken_adverts_are_dropped_and_counted_valid_ones_obeyed") {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (ask, handle) = run_in(lab.node(0), keepalived(instance(100)), None);
    let n0 = lab.node(0).clone();
    assert!(
        wait::until(Duration::from_secs(10), || n0.has_address(VIP)).is_some(),
        "alone, it becomes MASTER"
    );

    let src = IpAddr::V4(lab.node(1).addr);
    let good = Advert {
        version: 2,
        vrid: 51,
        priority: 254,
        interval_cs: 100,
        auth: Auth::None,
        addresses: vec![VIP.parse().unwrap()],
    };
    let good2 = good.clone();
    let injector = lab.node(1).in_thread(move || {
        let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        sock.set_multicast_if_v4(&"10.99.0.2".parse().unwrap())
            .unwrap();
        let mut other_vrid = good.clone();
        other_vrid.vrid = 52;
        let mut other_int = good.clone();
        other_int.interval_cs = 300;
        let mut with_pass = good.clone();
        with_pass.auth = Auth::pass("nope");
        // 3 s of higher-priority adverts that must all be dropped.
        for _ in 0..30 {
            inject(&sock, &good, src, 64, false);
            inject(&sock, &good, src, 255, true);
            inject(&sock, &other_vrid, src, 255, false);
            inject(&sock, &other_int, src, 255, false);
            inject(&sock, &with_pass, src, 255, false);
            std::thread::sleep(Duration::from_millis(100));
        }
        sock
    });
    let sock = injector.join().unwrap();
    let st = status(&ask);
    assert_eq!(
        st.state,
        State::Master,
        "none of them may dethrone the master: {st:?}"
    );
    for cause in [
        DropCause::Ttl,
        DropCause::Checksum,
        DropCause::Vrid,
        DropCause::Interval,
        DropCause::Authentication,
    ] {
        assert!(
            st.counters.dropped(cause) >= 25,
            "{cause:?} counted: {:?}",
            st.counters
        );
    }
    assert!(n0.has_address(VIP));

    // The same advert, well-formed: the master steps down and removes the VIP.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let sender = lab.node(1).in_thread(move || {
        for _ in 0..100 {
            if stop2.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            inject(&sock, &good2, src, 255, false);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let gone = wait::until(Duration::from_secs(5), || !n0.has_address(VIP));
    // The address goes before the published state changes: wait for the state too.
    let _ = wait::until(Duration::from_secs(2), || {
        status(&ask).state == State::Backup
    });
    let st = status(&ask);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    sender.join().unwrap();
    assert!(
        gone.is_some(),
        "a valid higher advert makes it BACKUP: {st:?}"
    );
    assert_eq!(st.state, State::Backup);
    ask.send(Ask::Stop).unwrap();
    handle.join().unwrap();
}

#[test]
fn proxy_health_failure_gives_the_vip_away_and_back() {
    if !netns::available("proxy_health_failure_gives_the_vip_away_and_back") {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let (health_tx, health_rx) = watch::channel(ProxyHealth::default());
    let (ask, handle) = run_in(lab.node(0), keepalived(instance(100)), Some(health_rx));
    let n0 = lab.node(0).clone();
    assert!(wait::until(Duration::from_secs(10), || n0.has_address(VIP)).is_some());
    // Every server behind the frontend on the VIP is DOWN.
    health_tx.send_replace(ProxyHealth {
        failing: [VIP.parse().unwrap()].into_iter().collect(),
    });
    assert!(
        wait::until(Duration::from_secs(5), || !n0.has_address(VIP)).is_some(),
        "{:?}",
        status(&ask)
    );
    // The address changes before the published state does: wait for the state too.
    assert!(
        wait::until(Duration::from_secs(2), || status(&ask).state
            == State::Fault)
        .is_some(),
        "{:?}",
        status(&ask)
    );
    // A failure on some other address does not concern this instance.
    health_tx.send_replace(ProxyHealth {
        failing: ["10.99.9.9".parse().unwrap()].into_iter().collect(),
    });
    assert!(
        wait::until(Duration::from_secs(10), || n0.has_address(VIP)).is_some(),
        "{:?}",
        status(&ask)
    );
    assert!(
        wait::until(Duration::from_secs(2), || status(&ask).state
            == State::Master)
        .is_some(),
        "{:?}",
        status(&ask)
    );
    // Shutdown removes the VIP.
    ask.send(Ask::Stop).unwrap();
    handle.join().unwrap();
    assert!(!n0.has_address(VIP), "shutdown removes the VIP");
}
