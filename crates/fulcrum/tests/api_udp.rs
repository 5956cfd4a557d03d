//! LBaaS UDP listeners through the LVS data plane, across namespaces: client (node 0),
//! director (node 1: fulcrum with only an `api` section) and three UDP echo members (nodes
//! 2-4). The load balancer, UDP listener, pool, members and UDP-CONNECT monitor are created
//! through the API (curl in the director's namespace); datagrams sent to the VIP from the
//! client are answered by the members; a weight change, a member removal and a stopped
//! member are applied (PENDING_* → ACTIVE, operating_status from the LVS states).
#![allow(clippy::unwrap_used)]

mod api_udp_support;
mod lvs_support;
mod vrrp_support;

use api_udp_support::*;
use fulcrum_testlab::netns::Node;
use lvs_support::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;
use vrrp_support::Topo;

/// `n` datagrams from the client (each from a new socket, so a new flow): who answered.
fn answers(client: &Node, n: usize) -> (BTreeSet<String>, usize) {
    let mut seen = BTreeSet::new();
    let mut lost = 0;
    for _ in 0..n {
        match udp_ask(client, "q") {
            Some(a) => {
                assert!(a.ends_with(" q"), "not an echo: {a}");
                seen.insert(a.trim_end_matches(" q").to_string());
            }
            None => lost += 1,
        }
    }
    (seen, lost)
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Waits until `n` datagrams are all answered by exactly `want`.
fn wait_served_by(client: &Node, want: &[&str], fulcrum: &Director) {
    let want = set(want);
    let mut last = (BTreeSet::new(), 0);
    let ok = fulcrum_testlab::wait::until(Duration::from_secs(20), || {
        last = answers(client, 12);
        last.0 == want && last.1 == 0
    });
    assert!(
        ok.is_some(),
        "wanted answers from {want:?}, last round {last:?}\n{}",
        fulcrum.log()
    );
}

fn member_status(node: &Node, pool: &str, member: &str) -> String {
    let (_, v) = call(node, "GET", &format!("pools/{pool}/members/{member}"), None);
    v["member"]["operating_status"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// One client socket sending a datagram every 20 ms until stopped (bounded: 2,000 datagrams,
/// 60 s): who answered each, and how many got no answer within a second.
struct Flow {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Datagrams sent so far.
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    handle: Option<std::thread::JoinHandle<(Vec<String>, usize)>>,
}

impl Flow {
    fn start(client: &Node) -> Flow {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sent2 = sent.clone();
        let handle = client.in_thread(move || {
            let u = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
            u.set_read_timeout(Some(Duration::from_millis(1000)))
                .unwrap();
            u.connect(format!("{VIP}:53")).unwrap();
            let (mut answers, mut lost) = (Vec::new(), 0);
            let start = std::time::Instant::now();
            let mut buf = [0u8; 512];
            while !s2.load(Ordering::Relaxed)
                && answers.len() + lost < 2000
                && start.elapsed() < Duration::from_secs(60)
            {
                let _ = u.send(b"f");
                sent2.fetch_add(1, Ordering::Relaxed);
                match u.recv(&mut buf) {
                    Ok(n) => answers.push(
                        String::from_utf8_lossy(&buf[..n])
                            .trim_end_matches(" f")
                            .to_string(),
                    ),
                    Err(_) => lost += 1,
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (answers, lost)
        });
        Flow {
            stop,
            sent,
            handle: Some(handle),
        }
    }

    /// Waits (bounded) until `n` more datagrams are sent.
    fn more(&self, n: usize) {
        let at = self.sent.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            fulcrum_testlab::wait::until(Duration::from_secs(10), || {
                self.sent.load(std::sync::atomic::Ordering::Relaxed) >= at + n
            })
            .is_some(),
            "the flow stalled"
        );
    }

    fn finish(mut self) -> (Vec<String>, usize) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

#[test]
fn udp_listener_served_by_lvs() {
    let Some(topo) = Topo::new("api_udp", 5) else {
        return;
    };
    if !nft_available("api_udp") {
        return;
    }
    let (c, d) = (topo.node(0).clone(), topo.node(1).clone());
    let rss: Vec<Node> = (2..5).map(|i| topo.node(i).clone()).collect();
    setup_nat(&d, &rss.iter().collect::<Vec<_>>(), &c);
    let mut servers: Vec<Option<RealServer>> = rss
        .iter()
        .enumerate()
        .map(|(i, n)| Some(RealServer::start(n, &format!("rs{}", i + 1))))
        .collect();
    let fulcrum = Director::start(
        &topo.dir,
        &d,
        "fulcrum",
        "api\n    bind 127.0.0.1:9876\n    auth noauth\n",
    );
    wait_api(&d, || fulcrum.log());

    // The load balancer, a UDP listener and pool, two members.
    let (lb, listener) = udp_listener(&d, VIP, json!({}), || fulcrum.log());
    // A TCP pool cannot serve a UDP listener (Octavia's rule).
    let (code, v) = call(
        &d,
        "POST",
        "pools",
        Some(
            json!({"pool": {"listener_id": listener, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}}),
        ),
    );
    assert_eq!(code, 400, "{v}");
    let pool = create(
        &d,
        "pools",
        "pool",
        json!({"listener_id": listener, "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    wait_active(&d, &lb, || fulcrum.log());
    let member = |i: usize| -> String {
        let m = create(
            &d,
            &format!("pools/{pool}/members"),
            "member",
            json!({"address": rss[i].addr.to_string(), "protocol_port": 53}),
        );
        wait_active(&d, &lb, || fulcrum.log());
        m
    };
    let m1 = member(0);
    let m2 = member(1);
    wait_served_by(&c, &["rs1", "rs2"], &fulcrum);
    let (_, v) = call(&d, "GET", &format!("listeners/{listener}"), None);
    assert_eq!(v["listener"]["provisioning_status"], "ACTIVE", "{v}");
    assert_eq!(v["listener"]["operating_status"], "ONLINE", "{v}");
    assert_eq!(member_status(&d, &pool, &m1), "NO_MONITOR");

    // One UDP flow (one client socket) runs through the next two changes: it stays with its
    // member — also when that member is reweighted to 0, which takes new flows only, as LVS's
    // quiescent server — and loses nothing (the flow's conntrack entry survives the reloads).
    let flow = Flow::start(&c);
    flow.more(10);

    // A third member joins.
    let m3 = member(2);
    wait_served_by(&c, &["rs1", "rs2", "rs3"], &fulcrum);

    // Weight 0: no new flow to rs1 (LVS's quiescent server).
    let (code, v) = call(
        &d,
        "PUT",
        &format!("pools/{pool}/members/{m1}"),
        Some(json!({"member": {"weight": 0}})),
    );
    assert_eq!(code, 200, "{v}");
    wait_active(&d, &lb, || fulcrum.log());
    wait_served_by(&c, &["rs2", "rs3"], &fulcrum);

    flow.more(20);
    let (got, lost) = flow.finish();
    assert!(got.len() >= 30, "too few datagrams: {got:?}");
    assert_eq!(lost, 0, "datagrams of an established flow lost: {got:?}");
    assert!(
        got.iter().all(|a| *a == got[0]),
        "the flow changed member: {got:?}"
    );
    eprintln!(
        "api_udp: one flow, {} datagrams through a member added and a reweight, all to {}",
        got.len(),
        got[0]
    );

    // rs2 removed.
    let (code, v) = call(&d, "DELETE", &format!("pools/{pool}/members/{m2}"), None);
    assert_eq!(code, 204, "{v}");
    wait_active(&d, &lb, || fulcrum.log());
    wait_served_by(&c, &["rs3"], &fulcrum);

    // rs1 back at weight 1, and a UDP-CONNECT monitor: both members ONLINE.
    let (code, v) = call(
        &d,
        "PUT",
        &format!("pools/{pool}/members/{m1}"),
        Some(json!({"member": {"weight": 1}})),
    );
    assert_eq!(code, 200, "{v}");
    wait_active(&d, &lb, || fulcrum.log());
    create(
        &d,
        "healthmonitors",
        "healthmonitor",
        json!({"pool_id": pool, "type": "UDP-CONNECT", "delay": 1, "timeout": 1,
               "max_retries": 1, "max_retries_down": 1}),
    );
    wait_active(&d, &lb, || fulcrum.log());
    wait_served_by(&c, &["rs1", "rs3"], &fulcrum);
    let online = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
        member_status(&d, &pool, &m1) == "ONLINE" && member_status(&d, &pool, &m3) == "ONLINE"
    });
    assert!(online.is_some(), "members never ONLINE\n{}", fulcrum.log());

    // The rendering, as `fulcrum lbaas-config --keepalived` prints it from the running API.
    let out = d
        .command(env!("CARGO_BIN_EXE_fulcrum"))
        .args([
            "lbaas-config",
            "--url",
            "http://127.0.0.1:9876",
            &lb,
            "--keepalived",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        format!("virtual_server {VIP} 53 {{"),
        "    protocol UDP\n".to_string(),
        format!("udp-check {} 53\"", rss[0].addr),
        "    delay_loop 1\n".into(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }

    // rs3's service stops: its host answers ICMP port unreachable, the UDP check fails, the
    // member goes ERROR and leaves the rotation.
    servers[2].take();
    let down = fulcrum_testlab::wait::until(Duration::from_secs(20), || {
        member_status(&d, &pool, &m3) == "ERROR"
    });
    assert!(down.is_some(), "rs3 never ERROR\n{}", fulcrum.log());
    wait_served_by(&c, &["rs1"], &fulcrum);
    let (_, v) = call(&d, "GET", &format!("loadbalancers/{lb}/status"), None);
    let l = &v["statuses"]["loadbalancer"]["listeners"][0];
    assert_eq!(l["operating_status"], "DEGRADED", "{v}");
    assert_eq!(l["pools"][0]["operating_status"], "DEGRADED", "{v}");

    // Deleting the load balancer removes the virtual server.
    let (code, v) = call(
        &d,
        "DELETE",
        &format!("loadbalancers/{lb}?cascade=true"),
        None,
    );
    assert_eq!(code, 204, "{v}");
    let gone = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
        let (code, _) = call(&d, "GET", &format!("loadbalancers/{lb}"), None);
        code == 404
    });
    assert!(gone.is_some(), "{}", fulcrum.log());
    assert_eq!(answers(&c, 3), (BTreeSet::new(), 3));
    drop(servers);
}

/// The UDP figure of bench/api (ignored in normal runs: `cargo test -p fulcrum --test api_udp
/// -- --ignored --nocapture`; ROUNDS=30 by default): a UDP listener whose pool is empty, then
/// ROUNDS times a member created (`POST`) and the time until a datagram sent to the VIP is
/// answered by it (polled every millisecond with a new socket, so a new flow), then deleted
/// again (its virtual server goes: the pool is empty). Reports median, p90, p99, max.
#[test]
#[ignore]
fn udp_member_create_to_served_bench() {
    let Some(topo) = Topo::new("api_udp_bench", 3) else {
        return;
    };
    assert!(nft_available("api_udp_bench"));
    let (c, d, rs) = (
        topo.node(0).clone(),
        topo.node(1).clone(),
        topo.node(2).clone(),
    );
    setup_nat(&d, &[&rs], &c);
    let _server = RealServer::start(&rs, "rs1");
    let fulcrum = Director::start(
        &topo.dir,
        &d,
        "fulcrum",
        "api\n    bind 127.0.0.1:9876\n    auth noauth\n",
    );
    wait_api(&d, || fulcrum.log());
    let (lb, l) = udp_listener(&d, VIP, json!({}), || fulcrum.log());
    let pool = create(
        &d,
        "pools",
        "pool",
        json!({"listener_id": l, "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    wait_active(&d, &lb, || fulcrum.log());
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let mut times = Vec::new();
    for _ in 0..rounds {
        let body =
            json!({"member": {"address": rs.addr.to_string(), "protocol_port": 53}}).to_string();
        // The POST from a thread in the director's namespace (no process start in the
        // measurement); the client polls from its own.
        let path = format!("/v2/lbaas/pools/{pool}/members");
        let (started, answer) = d
            .in_thread(move || {
                use std::io::{Read, Write};
                let mut s = std::net::TcpStream::connect("127.0.0.1:9876").unwrap();
                let req = format!(
                    "POST {path} HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let started = std::time::Instant::now();
                s.write_all(req.as_bytes()).unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                (started, out)
            })
            .join()
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
        let v: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap();
        let m = v["member"]["id"].as_str().unwrap().to_string();
        let served = c
            .in_thread(move || {
                while started.elapsed() < Duration::from_secs(10) {
                    let u = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
                    u.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
                    let _ = u.send_to(b"b", format!("{VIP}:53"));
                    let mut buf = [0u8; 64];
                    if u.recv_from(&mut buf).is_ok() {
                        return Some(started.elapsed());
                    }
                }
                None
            })
            .join()
            .unwrap();
        times.push(served.expect("the new member never answered"));
        wait_active(&d, &lb, || fulcrum.log());
        let (code, v) = call(&d, "DELETE", &format!("pools/{pool}/members/{m}"), None);
        assert_eq!(code, 204, "{v}");
        wait_active(&d, &lb, || fulcrum.log());
        // Gone: no answer any more (bounded).
        assert!(
            fulcrum_testlab::wait::until(Duration::from_secs(10), || udp_ask(&c, "x").is_none())
                .is_some()
        );
    }
    times.sort();
    let q = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    eprintln!(
        "api_udp_bench: {rounds} member creates, POST sent -> first UDP answer through the VIP: median {:?}, p90 {:?}, p99 {:?}, max {:?}",
        q(0.5),
        q(0.9),
        q(0.99),
        times[times.len() - 1]
    );
}
