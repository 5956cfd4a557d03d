//! LVS DR through nftables (netdev ingress `fwd`), across namespaces: client (node 0), two
//! directors in VRRP (nodes 1, 2) and real servers (nodes 3-5) holding the VIP on lo with
//! arp_ignore=1 / arp_announce=2. Seed 001's keepalived.conf runs unchanged but for its
//! addresses, rewritten into the lab's 10.99.0.0/16.
#![allow(clippy::unwrap_used)]

mod lvs_support;
mod vrrp_support;

use lvs_support::*;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;
use vrrp_support::Topo;

const SEED001: &str = include_str!("../../../tests/fixtures/seed001-lvs-dr.keepalived.conf");

fn seed_conf(master: bool) -> String {
    let c = SEED001
        .replace("172.16.31.188", VIP)
        .replace("172.16.31.50", "10.99.0.4")
        .replace("172.16.31.51", "10.99.0.5");
    if master {
        c
    } else {
        c.replace("state MASTER", "state BACKUP")
            .replace("priority 100", "priority 99")
    }
}

fn start(test: &str) -> Option<(Topo, Vec<RealServer>)> {
    let topo = Topo::new(test, 6)?;
    if !nft_available(test) {
        return None;
    }
    let rss: Vec<_> = (3..6).map(|i| topo.node(i).clone()).collect();
    setup_dr_real_servers(&rss.iter().collect::<Vec<_>>());
    let servers = rss
        .iter()
        .enumerate()
        .map(|(i, n)| RealServer::start(n, &format!("rs{}", i + 1)))
        .collect();
    // Extra client addresses, so persistence (per client address) can show a spread.
    let c = topo.node(0);
    for i in 0..20 {
        sh(c, &format!("ip addr add 10.99.0.{}/16 dev eth0", 200 + i));
    }
    Some((topo, servers))
}

fn clients() -> Vec<IpAddr> {
    (0..20)
        .map(|i| format!("10.99.0.{}", 200 + i).parse().unwrap())
        .collect()
}

/// For each client address, the servers that answered its `n` requests.
fn per_client(topo: &Topo, n: usize) -> (HashMap<IpAddr, Vec<String>>, Vec<String>) {
    topo.node(0)
        .in_thread(move || {
            let mut out: HashMap<IpAddr, Vec<String>> = HashMap::new();
            let mut errors = Vec::new();
            for _ in 0..n {
                for c in clients() {
                    match ask_from(c, 80) {
                        Ok(s) => out.entry(c).or_default().push(s),
                        Err(e) => errors.push(format!("{c}: {e}")),
                    }
                }
            }
            (out, errors)
        })
        .join()
        .unwrap()
}

fn wait_answer(topo: &Topo, d: &Director) {
    let c = topo.node(0).clone();
    let ok = fulcrum_testlab::wait::until(Duration::from_secs(20), || {
        let c = c.clone();
        c.in_thread(|| ask(80).is_ok()).join().unwrap()
    });
    assert!(ok.is_some(), "DR never answered\n{}", d.log());
}

#[test]
fn seed001_dr_with_two_directors_persistence_and_failover() {
    let Some((topo, _servers)) = start("lvs_dr_seed001") else {
        return;
    };
    let mut a = Director::start(&topo.dir, topo.node(1), "director-a", &seed_conf(true));
    let b = Director::start(&topo.dir, topo.node(2), "director-b", &seed_conf(false));
    wait_answer(&topo, &a);
    // Both directors start at once: B may answer first, until A (higher priority) preempts.
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(15), || topo.node(1).has_address(VIP))
            .is_some(),
        "{}",
        a.log()
    );
    // As keepalived: both directors hold the rules (the BACKUP receives no VIP traffic).
    for n in [1, 2] {
        let t = nft_tables(topo.node(n));
        assert!(t.contains("table netdev fulcrum_lvs"), "node {n}: {t}");
    }
    // Persistence (50s): each client address sticks to one real server; the seed's two real
    // servers (rs1, rs2) share the clients; rs3 is not in the seed's config.
    let (seen, errors) = per_client(&topo, 3);
    assert!(errors.is_empty(), "{errors:?}\n{}", a.log());
    let mut by_server: HashMap<String, usize> = HashMap::new();
    for (c, answers) in &seen {
        assert!(
            answers.iter().all(|s| s == &answers[0]),
            "{c} moved: {answers:?}"
        );
        *by_server.entry(answers[0].clone()).or_default() += 1;
    }
    assert!(!by_server.contains_key("rs3"), "{by_server:?}");
    assert!(
        by_server.get("rs1").copied().unwrap_or(0) >= 3
            && by_server.get("rs2").copied().unwrap_or(0) >= 3,
        "20 clients not shared by rs1 and rs2: {by_server:?}"
    );
    // The packet kept the VIP: the real server answered from it (the client connected to the
    // VIP and got the answer), and the director's netdev counters saw the flows.
    let status = a.status(false);
    assert!(status.contains("TCP 10.99.0.100:80 DR rr"), "{status}");

    // Director failover: A dies (no goodbye). B takes the VIP; a bounded client loop counts
    // failed connections; the same client lands on the same real server (same hash).
    let before: HashMap<IpAddr, String> = seen.iter().map(|(c, v)| (*c, v[0].clone())).collect();
    let load = topo.node(0).in_thread(move || {
        let start = std::time::Instant::now();
        let (mut ok, mut failed) = (0, 0);
        let mut moved = Vec::new();
        let mut last_ok = std::time::Instant::now();
        let mut longest_gap = Duration::ZERO;
        let c0: IpAddr = "10.99.0.200".parse().unwrap();
        while start.elapsed() < Duration::from_secs(8) && ok + failed < 2000 {
            match ask_from(c0, 80) {
                Ok(s) => {
                    ok += 1;
                    longest_gap = longest_gap.max(last_ok.elapsed());
                    last_ok = std::time::Instant::now();
                    if s != before[&c0] {
                        moved.push(s);
                    }
                }
                Err(_) => failed += 1,
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        (ok, failed, moved, longest_gap)
    });
    std::thread::sleep(Duration::from_millis(500));
    // The director dies as a machine does: its link goes and its process with it (a killed
    // process alone leaves the kernel forwarding: the VIP and nftables rules stay).
    assert!(topo.node(1).set_link(false));
    a.child.signal(fulcrum_testlab::process::Sig::SIGKILL);
    let _ = a.child.wait_timeout(Duration::from_secs(5));
    let (ok, failed, moved, gap) = load.join().unwrap();
    eprintln!(
        "DR director failover: {ok} connections ok, {failed} failed during the 8s loop; longest time without an answer {gap:?}"
    );
    assert!(topo.node(2).has_address(VIP), "{}", b.log());
    assert!(ok > 50, "{ok} ok / {failed} failed\n{}", b.log());
    assert!(
        moved.is_empty(),
        "client moved to another server on failover: {moved:?}"
    );
    let (after, errors) = per_client(&topo, 1);
    assert!(errors.is_empty(), "{errors:?}\n{}", b.log());
    for (c, s) in &after {
        assert_eq!(
            &seen[c][0], &s[0],
            "{c} moved to another real server after failover"
        );
    }
}

#[test]
fn dr_wrr_spreads_flows_and_udp_and_a_killed_server_leaves() {
    let Some((topo, mut servers)) = start("lvs_dr_wrr") else {
        return;
    };
    let mut rs = String::new();
    let mut udp = String::new();
    for (i, w) in [2, 1, 1].iter().enumerate() {
        rs.push_str(&format!(
            "    real_server {} 80 {{\n        weight {w}\n        TCP_CHECK {{\n            connect_timeout 1\n            retry 0\n        }}\n    }}\n",
            topo.node(3 + i).addr
        ));
        udp.push_str(&format!(
            "    real_server {} 53 {{\n    }}\n",
            topo.node(3 + i).addr
        ));
    }
    let conf = format!(
        "vrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 52\n    priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n\
         virtual_server {VIP} 80 {{\n    delay_loop 1\n    lvs_sched wrr\n    lvs_method DR\n    protocol TCP\n{rs}}}\n\
         virtual_server {VIP} 53 {{\n    lvs_sched rr\n    lvs_method DR\n    protocol UDP\n{udp}}}\n"
    );
    let d = Director::start(&topo.dir, topo.node(1), "director", &conf);
    wait_answer(&topo, &d);
    // Flows hash over (client address, port): 400 connections roughly 2:1:1.
    let (counts, errors) = spread(topo.node(0), 400);
    assert!(errors.is_empty(), "{errors:?}\n{}", d.log());
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    assert!(
        n("rs1") > 140 && n("rs2") > 60 && n("rs3") > 60,
        "{counts:?}"
    );
    assert!(n("rs1") > n("rs2") && n("rs1") > n("rs3"), "{counts:?}");
    // UDP (a DNS-like echo) over DR.
    let a = udp_ask(topo.node(0), "query").unwrap_or_default();
    assert!(a.ends_with(" query"), "{a:?}\n{}", d.log());
    // rs2 dies: after its checker's DOWN, no new flow goes to it.
    drop(servers.remove(1));
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || d
            .log()
            .contains("real server 10.99.0.5:80 out of rotation"))
        .is_some(),
        "{}",
        d.log()
    );
    let (counts, errors) = spread(topo.node(0), 100);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!counts.contains_key("rs2"), "{counts:?}");
}

#[test]
fn dr_reload_keeps_established_flows_on_their_real_server() {
    let Some((topo, _servers)) = start("lvs_dr_reload") else {
        return;
    };
    let conf = |weights: &[u32]| {
        let mut rs = String::new();
        for (i, w) in weights.iter().enumerate() {
            rs.push_str(&format!(
                "    real_server {} 80 {{\n        weight {w}\n    }}\n",
                topo.node(3 + i).addr
            ));
        }
        format!(
            "vrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 53\n    priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n\
             virtual_server {VIP} 80 {{\n    lvs_sched wrr\n    lvs_method DR\n    protocol TCP\n{rs}}}\n"
        )
    };
    let d = Director::start(&topo.dir, topo.node(1), "director", &conf(&[1, 1, 1]));
    wait_answer(&topo, &d);
    // 60 connections established (no request sent yet), spread over the three servers.
    let (tx_go, rx_go) = std::sync::mpsc::channel::<()>();
    let (tx_ready, rx_ready) = std::sync::mpsc::channel::<()>();
    let held = topo.node(0).in_thread(move || {
        use std::io::{Read, Write};
        let addr: std::net::SocketAddr = format!("{VIP}:80").parse().unwrap();
        let mut conns: Vec<_> = (0..60)
            .map(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap())
            .collect();
        tx_ready.send(()).unwrap();
        rx_go.recv().unwrap();
        let mut answers = Vec::new();
        for c in &mut conns {
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let r = c.write_all(b"GET / HTTP/1.0\r\n\r\n").and_then(|_| {
                let mut out = String::new();
                c.read_to_string(&mut out).map(|_| out)
            });
            answers.push(r.map_err(|e| e.to_string()));
        }
        answers
    });
    rx_ready.recv().unwrap();
    // Reweight (1,1,1 → 3,1) and remove rs3: every slot assignment changes.
    d.reload(&conf(&[3, 1]));
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || d
            .log()
            .contains("configuration reloaded"))
        .is_some(),
        "{}",
        d.log()
    );
    // The kernel's ruleset, not only the log, no longer names rs3 (observable state).
    let rs3 = topo.node(5).addr.to_string();
    let ruleset = |n: &fulcrum_testlab::netns::Node| {
        n.run("nft", &["list", "table", "netdev", "fulcrum_lvs"])
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default()
    };
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || !ruleset(topo.node(1))
            .contains(&format!("fwd ip to {rs3} "))
            && !ruleset(topo.node(1)).contains(&format!("to {rs3} device")))
        .is_some(),
        "rs3 still in the director's rules after the reload:\n{}\n{}",
        ruleset(topo.node(1)),
        d.log()
    );
    tx_go.send(()).unwrap();
    let answers = held.join().unwrap();
    let failed: Vec<_> = answers
        .iter()
        .filter(|a| !a.as_ref().is_ok_and(|t| t.contains("200 OK")))
        .collect();
    assert!(
        failed.is_empty(),
        "flows reset by the reload: {failed:?}\n{}",
        d.log()
    );
    // Some of them were on rs3 (removed): they finished there, as LVS lets them.
    assert!(
        answers
            .iter()
            .any(|a| a.as_ref().is_ok_and(|t| t.contains("rs3"))),
        "no held flow was on rs3: {answers:?}"
    );
    // New flows never go to rs3. (From client addresses not used before: DR keeps no TCP
    // state, so a new connection reusing the address and port of a remembered flow would
    // follow that flow to its server — see the README.)
    let (seen, errors) = per_client(&topo, 3);
    assert!(errors.is_empty(), "{errors:?}");
    let all: Vec<&String> = seen.values().flatten().collect();
    assert_eq!(all.len(), 60);
    assert!(
        all.iter().all(|s| *s != "rs3"),
        "{seen:?}\n{}\n{}",
        ruleset(topo.node(1)),
        d.log()
    );
}

#[test]
fn dr_persistence_holds_a_client_for_its_timeout_then_lets_it_go() {
    let Some((topo, _servers)) = start("lvs_dr_persist") else {
        return;
    };
    let conf = |weights: &[u32]| {
        let mut rs = String::new();
        for (i, w) in weights.iter().enumerate() {
            rs.push_str(&format!(
                "    real_server {} 80 {{\n        weight {w}\n    }}\n",
                topo.node(3 + i).addr
            ));
        }
        format!(
            "vrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 54\n    priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n\
             virtual_server {VIP} 80 {{\n    lvs_sched rr\n    lvs_method DR\n    protocol TCP\n    persistence_timeout 3\n{rs}}}\n"
        )
    };
    let d = Director::start(&topo.dir, topo.node(1), "director", &conf(&[1, 1, 1]));
    wait_answer(&topo, &d);
    let (seen, errors) = per_client(&topo, 2);
    assert!(errors.is_empty(), "{errors:?}\n{}", d.log());
    for (c, answers) in &seen {
        assert!(
            answers.iter().all(|s| s == &answers[0]),
            "{c} moved: {answers:?}"
        );
    }
    let c0: IpAddr = "10.99.0.200".parse().unwrap();
    let held = seen[&c0][0].clone();
    let idx: usize = held[2..].parse::<usize>().unwrap() - 1;
    // Its server is set to weight 0 (quiesced): new clients never go there, but the client
    // keeps it as long as it keeps sending (each packet refreshes its entry, as LVS's
    // templates), here for 5 s, longer than the 3 s timeout.
    let mut weights = [1, 1, 1];
    weights[idx] = 0;
    d.reload(&conf(&weights));
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || d
            .log()
            .contains("configuration reloaded"))
        .is_some(),
        "{}",
        d.log()
    );
    let answers = topo
        .node(0)
        .in_thread(move || {
            let mut out = Vec::new();
            for _ in 0..10 {
                out.push(ask_from(c0, 80));
                std::thread::sleep(Duration::from_millis(500));
            }
            out
        })
        .join()
        .unwrap();
    assert!(
        answers.iter().all(|a| a.as_deref() == Ok(held.as_str())),
        "{c0} left {held} while persistent: {answers:?}\n{}",
        d.log()
    );
    // Silent, the client's entry expires after the timeout; it then goes elsewhere.
    let set = format!(
        "vs_tcp_10_99_0_100_80_rs_{}_80_persist",
        topo.node(3 + idx).addr.to_string().replace('.', "_")
    );
    let listed = |d: &fulcrum_testlab::netns::Node| {
        let out = d
            .run("nft", &["list", "set", "netdev", "fulcrum_lvs", &set])
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let dnode = topo.node(1).clone();
    assert!(listed(&dnode).contains("10.99.0.200"), "{}", listed(&dnode));
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || !listed(&dnode)
            .contains("10.99.0.200"))
        .is_some(),
        "the entry never expired: {}",
        listed(&dnode)
    );
    let after = topo
        .node(0)
        .in_thread(move || ask_from(c0, 80))
        .join()
        .unwrap();
    assert!(
        after.as_ref().is_ok_and(|s| *s != held),
        "{c0} still on {held} after its timeout: {after:?}"
    );
}

#[test]
fn dr_expire_nodest_conn_releases_the_persistent_clients_of_an_inhibited_server() {
    let Some((topo, _servers)) = start("lvs_dr_expire") else {
        return;
    };
    // MISC_CHECKs flipped by a file (the real servers keep answering): with
    // inhibit_on_failure a failed server stays at weight 0 and, as in LVS, would keep its
    // persistent clients for the 60 s; expire_nodest_conn lets them go at once.
    let mut rs = String::new();
    for i in 0..2 {
        rs.push_str(&format!(
            "    real_server {} 80 {{\n        weight 1\n        inhibit_on_failure\n        MISC_CHECK {{\n            misc_path \"/usr/bin/test ! -e {}/rs{}.down\"\n        }}\n    }}\n",
            topo.node(3 + i).addr,
            topo.dir.display(),
            i + 1
        ));
    }
    let conf = format!(
        "vrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 55\n    priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n\
         virtual_server {VIP} 80 {{\n    delay_loop 1\n    lvs_sched rr\n    lvs_method DR\n    protocol TCP\n    persistence_timeout 60\n    expire_nodest_conn\n{rs}}}\n"
    );
    let d = Director::start(&topo.dir, topo.node(1), "director", &conf);
    wait_answer(&topo, &d);
    let (seen, errors) = per_client(&topo, 2);
    assert!(errors.is_empty(), "{errors:?}\n{}", d.log());
    let c0: IpAddr = "10.99.0.200".parse().unwrap();
    let held = seen[&c0][0].clone();
    assert!(seen[&c0].iter().all(|s| *s == held), "{seen:?}");
    std::fs::write(topo.dir.join(format!("{held}.down")), "").unwrap();
    let inhibited = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        let json: serde_json::Value =
            serde_json::from_str(&d.status(true)).unwrap_or(serde_json::Value::Null);
        json["virtual_servers"][0]["real_servers"]
            .as_array()
            .is_some_and(|a| {
                a.iter()
                    .any(|r| r["state"].as_str().is_some_and(|s| s.contains("inhibited")))
            })
    });
    assert!(inhibited.is_some(), "{}", d.log());
    let after = topo
        .node(0)
        .in_thread(move || ask_from(c0, 80))
        .join()
        .unwrap();
    assert!(
        after.as_ref().is_ok_and(|s| *s != held),
        "{c0} still sent to the failed {held}: {after:?}\n{}",
        d.log()
    );
}
