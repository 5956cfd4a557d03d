//! LVS NAT through nftables, across namespaces: client (node 0), director (node 1) and three
//! real servers (nodes 2-4). fulcrum runs a keepalived.conf with `virtual_server` blocks.
#![allow(clippy::unwrap_used)]

mod lvs_support;
mod vrrp_support;

use lvs_support::*;
use std::time::Duration;
use vrrp_support::Topo;

fn real_servers(topo: &Topo, weights: &[u32], extra_rs: &str) -> String {
    let mut rs = String::new();
    for (i, w) in weights.iter().enumerate() {
        rs.push_str(&format!(
            "    real_server {} 80 {{\n        weight {w}\n{extra_rs}        TCP_CHECK {{\n            connect_timeout 1\n            retry 0\n        }}\n    }}\n",
            topo.node(2 + i).addr
        ));
    }
    rs
}

fn nat_conf(topo: &Topo, extra_vs: &str, weights: &[u32]) -> String {
    format!(
        "virtual_server {VIP} 80 {{\n    delay_loop 1\n    lvs_sched wrr\n    lvs_method NAT\n    protocol TCP\n{extra_vs}{}}}\n",
        real_servers(topo, weights, "")
    )
}

/// GET /metrics on the director's exporter, from the client.
fn scrape(client: &fulcrum_testlab::netns::Node, director: std::net::Ipv4Addr) -> String {
    use std::io::{Read, Write};
    client
        .in_thread(move || {
            let mut s = std::net::TcpStream::connect((director, 9101)).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        })
        .join()
        .unwrap()
}

fn start(test: &str) -> Option<(Topo, Vec<Option<RealServer>>)> {
    let topo = Topo::new(test, 5)?;
    if !nft_available(test) {
        return None;
    }
    let (c, d) = (topo.node(0).clone(), topo.node(1).clone());
    let rss: Vec<_> = (2..5).map(|i| topo.node(i).clone()).collect();
    setup_nat(&d, &rss.iter().collect::<Vec<_>>(), &c);
    let servers = rss
        .iter()
        .enumerate()
        .map(|(i, n)| Some(RealServer::start(n, &format!("rs{}", i + 1))))
        .collect();
    Some((topo, servers))
}

fn wait_answer(topo: &Topo, fulcrum: &Director, want: Option<&'static str>) {
    let c = topo.node(0).clone();
    let ok = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
        let c = c.clone();
        c.in_thread(move || match (ask(80), want) {
            (Ok(n), Some(w)) => n == w,
            (Ok(_), None) => true,
            _ => false,
        })
        .join()
        .unwrap()
    });
    assert!(
        ok.is_some(),
        "NAT never answered ({want:?})\n{}",
        fulcrum.log()
    );
}

#[test]
fn nat_spreads_by_weight_a_killed_server_leaves_and_stop_keeps_foreign_tables() {
    let Some((topo, mut servers)) = start("lvs_nat_weight") else {
        return;
    };
    let d = topo.node(1).clone();
    // A table of the host's own: fulcrum must never touch it.
    sh(&d, "nft add table ip host_filter; nft add chain ip host_filter input '{ type filter hook input priority 0; policy accept; }'; nft add rule ip host_filter input counter");
    let metrics_cfg = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
        frontend metrics\n    bind *:9101\n    http-request use-service prometheus-exporter if { path /metrics }\n";
    let mut fulcrum = Director::start_with(
        &topo.dir,
        &d,
        "fulcrum",
        &nat_conf(&topo, "", &[3, 2, 1]),
        Some(metrics_cfg),
    );
    wait_answer(&topo, &fulcrum, None);
    // wrr with numgen inc: exactly 3:2:1 over whole rounds.
    let (counts, errors) = spread(topo.node(0), 60);
    assert!(errors.is_empty(), "{errors:?}\n{}", fulcrum.log());
    assert_eq!(counts.get("rs1"), Some(&30), "{counts:?}");
    assert_eq!(counts.get("rs2"), Some(&20), "{counts:?}");
    assert_eq!(counts.get("rs3"), Some(&10), "{counts:?}");
    let tables = nft_tables(&d);
    assert!(tables.contains("table inet fulcrum_lvs"), "{tables}");

    // `fulcrum status` lists the virtual server, its real servers and their connections.
    let status = fulcrum.status(false);
    assert!(status.contains("TCP 10.99.0.100:80 NAT wrr"), "{status}");
    assert!(status.contains("10.99.0.3:80"), "{status}");
    let json: serde_json::Value = serde_json::from_str(&fulcrum.status(true)).unwrap();
    let rs1 = &json["virtual_servers"][0]["real_servers"][0];
    assert_eq!(rs1["weight"], 3, "{json}");
    assert!(rs1["connections"].as_u64().unwrap() >= 30, "{json}");
    // The 30 closed connections linger in conntrack (TIME_WAIT): inactive, as ipvsadm shows.
    assert!(rs1["inactive_connections"].as_u64().unwrap() >= 1, "{json}");
    assert_eq!(rs1["active_connections"], 0, "{json}");
    // Prometheus: the same through the exporter.
    let metrics = scrape(topo.node(0), d.addr);
    assert!(metrics.contains("fulcrum_lvs_real_server_weight{virtual_server=\"10.99.0.100:80\",real_server=\"10.99.0.3:80\"} 3"), "{metrics}");
    assert!(
        metrics
            .contains("fulcrum_lvs_virtual_server_quorum_up{virtual_server=\"10.99.0.100:80\"} 1"),
        "{metrics}"
    );
    let conns: f64 = metrics
        .lines()
        .find(|l| l.starts_with("fulcrum_lvs_real_server_connections_total{virtual_server=\"10.99.0.100:80\",real_server=\"10.99.0.4:80\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(conns >= 20.0, "{metrics}");

    // Kill rs2 under load: once its checker notices, no new connection goes to it.
    let load = Load::start(topo.node(0), 4000, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(300));
    servers[1] = None;
    let down = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        fulcrum
            .log()
            .contains("Removing service [10.99.0.4]:tcp:80")
    });
    assert!(
        down.is_some(),
        "checker never saw rs2 down\n{}",
        fulcrum.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    let answers = load.finish();
    let tail: Vec<_> = answers.iter().rev().take(40).collect();
    assert!(
        tail.iter().all(|a| a.as_ref().is_ok_and(|n| n != "rs2")),
        "after the checker's DOWN, connections still went to rs2: {tail:?}"
    );
    let (counts, errors) = spread(topo.node(0), 40);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(counts.get("rs2"), None, "{counts:?}");
    assert_eq!(counts.get("rs1"), Some(&30), "{counts:?}");
    assert_eq!(counts.get("rs3"), Some(&10), "{counts:?}");

    // Back up: it rejoins.
    servers[1] = Some(RealServer::start(topo.node(3), "rs2"));
    let up = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        fulcrum.log().contains("Adding service [10.99.0.4]:tcp:80")
    });
    assert!(up.is_some(), "rs2 never came back\n{}", fulcrum.log());
    let (counts, _) = spread(topo.node(0), 60);
    assert_eq!(counts.get("rs2"), Some(&20), "{counts:?}");

    // Stop: fulcrum's table goes, the host's stays.
    fulcrum.stop();
    let tables = nft_tables(&d);
    assert!(!tables.contains("fulcrum_lvs"), "left after stop: {tables}");
    assert!(
        tables.contains("table ip host_filter"),
        "host table removed: {tables}"
    );
}

#[test]
fn nat_inhibit_on_failure_sorry_server_and_quorum_scripts() {
    let Some((topo, mut servers)) = start("lvs_nat_quorum") else {
        return;
    };
    let d = topo.node(1).clone();
    let up_file = topo.dir.join("quorum_up");
    let down_file = topo.dir.join("quorum_down");
    // Two real servers (rs1, rs2) with quorum 2; rs3 is the sorry server.
    let extra = format!(
        "    quorum 2\n    hysteresis 0\n    sorry_server {} 80\n    quorum_up \"/bin/touch {}\"\n    quorum_down \"/bin/touch {}\"\n",
        topo.node(4).addr,
        up_file.display(),
        down_file.display()
    );
    let conf = format!(
        "virtual_server {VIP} 80 {{\n    delay_loop 1\n    lvs_sched rr\n    lvs_method NAT\n    protocol TCP\n{extra}{}}}\n",
        real_servers(&topo, &[1, 1], "        inhibit_on_failure\n")
    );
    let fulcrum = Director::start(&topo.dir, &d, "fulcrum", &conf);
    wait_answer(&topo, &fulcrum, None);
    let (counts, _) = spread(topo.node(0), 20);
    assert_eq!(counts.get("rs1"), Some(&10), "{counts:?}");
    assert_eq!(
        counts.get("rs3"),
        None,
        "sorry server used with quorum: {counts:?}"
    );
    // rs1 fails: inhibit_on_failure keeps it at weight 0; quorum (2) is lost → sorry server.
    servers[0] = None;
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || down_file.exists()).is_some(),
        "quorum_down never ran\n{}",
        fulcrum.log()
    );
    let json: serde_json::Value = serde_json::from_str(&fulcrum.status(true)).unwrap();
    let rs1 = &json["virtual_servers"][0]["real_servers"][0];
    assert_eq!(rs1["weight"], 0, "{json}");
    assert!(
        rs1["state"].as_str().unwrap().contains("inhibited"),
        "{json}"
    );
    let (counts, errors) = spread(topo.node(0), 20);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(counts.get("rs1"), None, "{counts:?}");
    assert_eq!(counts.get("rs2"), Some(&10), "{counts:?}");
    assert_eq!(counts.get("rs3"), Some(&10), "{counts:?}");
    // rs1 back: quorum regained, quorum_up runs, the sorry server leaves.
    servers[0] = Some(RealServer::start(topo.node(2), "rs1"));
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || up_file.exists()).is_some(),
        "quorum_up never ran\n{}",
        fulcrum.log()
    );
    let (counts, _) = spread(topo.node(0), 20);
    assert_eq!(counts.get("rs3"), None, "{counts:?}");
    assert_eq!(counts.get("rs1"), Some(&10), "{counts:?}");
}

#[test]
fn nat_persistence_holds_a_client_until_its_server_fails() {
    let Some((topo, mut servers)) = start("lvs_nat_persist") else {
        return;
    };
    let d = topo.node(1).clone();
    let conf = nat_conf(&topo, "    persistence_timeout 30\n", &[1, 1, 1]);
    let fulcrum = Director::start(&topo.dir, &d, "fulcrum", &conf);
    wait_answer(&topo, &fulcrum, None);
    let (counts, errors) = spread(topo.node(0), 30);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(counts.len(), 1, "persistence did not hold: {counts:?}");
    let held = counts.keys().next().unwrap().clone();
    // The entry is refreshed by every packet of the client's flows, not only by new ones:
    // after 2s of an open connection, a packet brings its expiry back to ~30s.
    let expires = |d: &fulcrum_testlab::netns::Node| -> u64 {
        let out = d
            .run(
                "nft",
                &[
                    "-j",
                    "list",
                    "map",
                    "inet",
                    "fulcrum_lvs",
                    "vs_tcp_10_99_0_100_80_persist",
                ],
            )
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["nftables"][1]["map"]["elem"][0][0]["elem"]["expires"]
            .as_u64()
            .unwrap_or_else(|| panic!("{v}"))
    };
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (tx2, rx2) = std::sync::mpsc::channel::<()>();
    let conn = topo.node(0).in_thread(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect((VIP, 80)).unwrap();
        tx2.send(()).unwrap();
        rx.recv().unwrap();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    });
    rx2.recv().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let before = expires(&d);
    tx.send(()).unwrap();
    assert!(conn.join().unwrap().contains(&held));
    let after = expires(&d);
    assert!(
        before <= 28 && after >= 29,
        "expiry {before}s before the packet, {after}s after"
    );
    // Its server fails: the persistence entry goes with it, the client moves and sticks.
    let idx: usize = held[2..].parse::<usize>().unwrap() - 1;
    servers[idx] = None;
    let addr = topo.node(2 + idx).addr;
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || fulcrum
            .log()
            .contains(&format!("Removing service [{addr}]:tcp:80")))
        .is_some(),
        "{}",
        fulcrum.log()
    );
    let (counts, errors) = spread(topo.node(0), 30);
    assert!(errors.is_empty(), "{errors:?}\n{}", fulcrum.log());
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert!(!counts.contains_key(&held), "{counts:?}");
}

#[test]
fn nat_reload_under_load_resets_nothing_and_touches_only_elements() {
    let Some((topo, _servers)) = start("lvs_nat_reload") else {
        return;
    };
    let d = topo.node(1).clone();
    let fulcrum = Director::start(&topo.dir, &d, "fulcrum", &nat_conf(&topo, "", &[1, 1, 1]));
    wait_answer(&topo, &fulcrum, None);
    let load = Load::start(topo.node(0), 5000, Duration::from_secs(30));
    // Reweight, remove rs3, add it back, each under load.
    for (i, weights) in [&[2u32, 1, 1][..], &[2, 1], &[1, 1, 1]].iter().enumerate() {
        std::thread::sleep(Duration::from_millis(400));
        fulcrum.reload(&nat_conf(&topo, "", weights));
        let n = i + 1;
        assert!(
            fulcrum_testlab::wait::until(Duration::from_secs(10), || fulcrum
                .log()
                .matches("configuration reloaded")
                .count()
                >= n)
            .is_some(),
            "{}",
            fulcrum.log()
        );
    }
    std::thread::sleep(Duration::from_millis(400));
    let answers = load.finish();
    let failed: Vec<_> = answers.iter().filter(|a| a.is_err()).collect();
    assert!(answers.len() > 50, "too little load: {}", answers.len());
    assert!(
        failed.is_empty(),
        "{} of {} failed: {failed:?}",
        failed.len(),
        answers.len()
    );
    // The reweight touched elements and the one-rule chain of the virtual server only.
    let log = fulcrum.log();
    assert!(!log.contains("rebuilding"), "{log}");
}

#[test]
fn nat_udp_echo() {
    let Some((topo, _servers)) = start("lvs_nat_udp") else {
        return;
    };
    let d = topo.node(1).clone();
    let mut rs = String::new();
    for i in 2..5 {
        rs.push_str(&format!(
            "    real_server {} 53 {{\n        weight 1\n    }}\n",
            topo.node(i).addr
        ));
    }
    let conf = format!("virtual_server {VIP} 53 {{\n    lvs_sched rr\n    lvs_method NAT\n    protocol UDP\n{rs}}}\n");
    let fulcrum = Director::start(&topo.dir, &d, "fulcrum", &conf);
    let c = topo.node(0).clone();
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || udp_ask(&c, "x").is_some())
            .is_some(),
        "{}",
        fulcrum.log()
    );
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..9 {
        let a = udp_ask(&c, "query").unwrap();
        assert!(a.ends_with(" query"), "{a}");
        seen.insert(a);
    }
    assert_eq!(seen.len(), 3, "UDP flows not spread: {seen:?}");
}

/// Issue 15 deliverable 6: a keepalived UDP_CHECK (with `require_reply`) runs for the real
/// servers of a UDP virtual server, and the LVS rules follow it: a stopped real server leaves
/// the rotation.
#[test]
fn nat_udp_check_takes_a_stopped_real_server_out() {
    let Some((topo, mut servers)) = start("lvs_nat_udpchk") else {
        return;
    };
    let d = topo.node(1).clone();
    let mut rs = String::new();
    for i in 2..5 {
        rs.push_str(&format!(
            "    real_server {} 53 {{\n        weight 1\n        UDP_CHECK {{\n            connect_timeout 1\n            retry 0\n            payload 70696e67\n            require_reply 7273\n        }}\n    }}\n",
            topo.node(i).addr
        ));
    }
    let conf = format!("virtual_server {VIP} 53 {{\n    delay_loop 1\n    lvs_sched rr\n    lvs_method NAT\n    protocol UDP\n{rs}}}\n");
    let fulcrum = Director::start(&topo.dir, &d, "fulcrum", &conf);
    let c = topo.node(0).clone();
    let all = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
        let seen: std::collections::BTreeSet<String> =
            (0..6).filter_map(|_| udp_ask(&c, "q")).collect();
        seen.len() == 3
    });
    assert!(
        all.is_some(),
        "three real servers never answered\n{}",
        fulcrum.log()
    );
    servers[0] = None; // rs1 stops: the checks to its port get ICMP port unreachable
    let gone = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
        (0..6).all(|_| udp_ask(&c, "q").is_some_and(|a| !a.starts_with("rs1")))
    });
    assert!(
        gone.is_some(),
        "the UDP_CHECK never took rs1 out of the rotation\n{}",
        fulcrum.log()
    );
}

#[test]
fn nat_fwmark_virtual_server() {
    let Some((topo, _servers)) = start("lvs_nat_fwmark") else {
        return;
    };
    let d = topo.node(1).clone();
    // The host marks the traffic (as iptables -t mangle ... -j MARK would); fulcrum serves the mark.
    sh(&d, &format!("nft add table ip host_mangle; nft add chain ip host_mangle pre '{{ type filter hook prerouting priority mangle; }}'; nft add rule ip host_mangle pre ip daddr {VIP} tcp dport 80 meta mark set 7"));
    let mut rs = String::new();
    for i in 2..5 {
        rs.push_str(&format!(
            "    real_server {} 80 {{\n        weight 1\n    }}\n",
            topo.node(i).addr
        ));
    }
    let conf =
        format!("virtual_server fwmark 7 {{\n    lvs_sched rr\n    lvs_method NAT\n{rs}}}\n");
    let fulcrum = Director::start(&topo.dir, &d, "fulcrum", &conf);
    wait_answer(&topo, &fulcrum, None);
    let (counts, errors) = spread(topo.node(0), 30);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(counts.values().all(|&n| n == 10), "{counts:?}");
}

#[test]
fn nat_alpha_waits_for_the_first_passing_check() {
    let Some((topo, _servers)) = start("lvs_nat_alpha") else {
        return;
    };
    let d = topo.node(1).clone();
    let conf = nat_conf(&topo, "    alpha\n", &[1, 1, 1]);
    let fulcrum = Director::start(&topo.dir, &d, "fulcrum", &conf);
    // Every real server comes in through its first passing check, none before.
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(15), || fulcrum
            .log()
            .matches("(alpha: first check passed)")
            .count()
            == 3)
        .is_some(),
        "{}",
        fulcrum.log()
    );
    let (counts, errors) = spread(topo.node(0), 30);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(counts.len(), 3, "{counts:?}");
}

#[test]
fn nat_wlc_sends_new_connections_to_the_least_loaded_server() {
    let Some((topo, _servers)) = start("lvs_nat_wlc") else {
        return;
    };
    let d = topo.node(1).clone();
    let conf = |n: usize| {
        let mut rs = String::new();
        for i in 0..n {
            rs.push_str(&format!(
                "    real_server {} 80 {{\n        weight 1\n    }}\n",
                topo.node(2 + i).addr
            ));
        }
        format!("virtual_server {VIP} 80 {{\n    lvs_sched wlc\n    lvs_method NAT\n    protocol TCP\n{rs}}}\n")
    };
    let fulcrum = Director::start(&topo.dir, &d, "fulcrum", &conf(2));
    wait_answer(&topo, &fulcrum, None);
    // 20 connections held open on rs1 and rs2 (the servers wait up to 30 s for the request).
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let holder = topo.node(0).in_thread(move || {
        let held: Vec<_> = (0..20)
            .map(|_| std::net::TcpStream::connect((VIP, 80)).unwrap())
            .collect();
        rx.recv().unwrap();
        drop(held);
    });
    // rs3 joins, idle: once conntrack's counts are sampled, nearly every new flow goes there.
    fulcrum.reload(&conf(3));
    let slots_to_rs3 = || {
        let out = d
            .run(
                "nft",
                &[
                    "-j",
                    "list",
                    "map",
                    "inet",
                    "fulcrum_lvs",
                    "vs_tcp_10_99_0_100_80_slots",
                ],
            )
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let rs3 = text.matches("rs_10_99_0_5_80").count();
        let all = text.matches("\"goto\"").count();
        (rs3, all)
    };
    let ok = fulcrum_testlab::wait::until(Duration::from_secs(4), || {
        let (rs3, all) = slots_to_rs3();
        all > 0 && rs3 * 10 >= all * 8
    });
    assert!(
        ok.is_some(),
        "slots {:?}\n{}",
        slots_to_rs3(),
        fulcrum.log()
    );
    let (counts, errors) = spread(topo.node(0), 18);
    tx.send(()).unwrap();
    holder.join().unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(counts.get("rs3").copied().unwrap_or(0) >= 14, "{counts:?}");
}

/// Conntrack entries on `node` whose replies come from `rs` (the NAT flows to that server).
fn flows_to(node: &fulcrum_testlab::netns::Node, rs: std::net::Ipv4Addr) -> usize {
    let out = node.run("cat", &["/proc/net/nf_conntrack"]).unwrap();
    let reply_src = format!("src={rs}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .filter(|w| w.starts_with("src="))
                .nth(1)
                .is_some_and(|w| w == reply_src)
        })
        .count()
}

#[test]
fn nat_expire_nodest_conn_deletes_a_dead_servers_flows_and_the_stats_page_shows_it() {
    let Some((topo, _servers)) = start("lvs_nat_expire") else {
        return;
    };
    let d = topo.node(1).clone();
    // MISC_CHECKs the test flips by a file: the real servers keep running, so only
    // expire_nodest_conn can remove their flows (TIME_WAIT entries last 120 s otherwise).
    let mut rs = String::new();
    for i in 0..2 {
        rs.push_str(&format!(
            "    real_server {} 80 {{\n        weight 1\n        MISC_CHECK {{\n            misc_path \"/usr/bin/test ! -e {}/rs{}.down\"\n        }}\n    }}\n",
            topo.node(2 + i).addr,
            topo.dir.display(),
            i + 1
        ));
    }
    let conf = format!(
        "virtual_server {VIP} 80 {{\n    delay_loop 1\n    lvs_sched rr\n    lvs_method NAT\n    protocol TCP\n    expire_nodest_conn\n{rs}}}\n"
    );
    // The stats page (HTTP GET on a `stats uri` listener) shows the LVS table.
    let stats_cfg = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
        listen stats\n    bind *:9102\n    stats uri /stats\n";
    let fulcrum = Director::start_with(&topo.dir, &d, "fulcrum", &conf, Some(stats_cfg));
    wait_answer(&topo, &fulcrum, None);
    let (counts, errors) = spread(topo.node(0), 20);
    assert!(errors.is_empty(), "{errors:?}\n{}", fulcrum.log());
    assert_eq!(counts.len(), 2, "{counts:?}");
    let (rs1, rs2) = (topo.node(2).addr, topo.node(3).addr);
    assert!(flows_to(&d, rs1) >= 10, "{}", flows_to(&d, rs1));
    let rs2_before = flows_to(&d, rs2);
    assert!(rs2_before >= 10, "{rs2_before}");
    // One connection held open (ESTABLISHED: active) while the page is read.
    let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
    let (open_tx, open_rx) = std::sync::mpsc::channel::<()>();
    let held = topo.node(0).in_thread(move || {
        let s = std::net::TcpStream::connect((VIP, 80)).unwrap();
        open_tx.send(()).unwrap();
        let _ = hold_rx.recv_timeout(Duration::from_secs(4));
        drop(s);
    });
    open_rx.recv().unwrap();
    let page = get(topo.node(0), d.addr, 9102, "/stats");
    hold_tx.send(()).unwrap();
    held.join().unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<table class=\"tbl\" id=\"lvs\">"), "{page}");
    assert!(
        page.contains("TCP 10.99.0.100:80</td><td class=\"st\" data-col=\"method\">NAT rr</td>"),
        "{page}"
    );
    let cell = |page: &str, rs: std::net::Ipv4Addr, col: &str| -> String {
        let line = page
            .lines()
            .find(|l| l.contains(&format!("data-rs=\"{rs}:80\"")))
            .unwrap_or_else(|| panic!("no line for {rs}\n{page}"));
        let at = line.find(&format!("data-col=\"{col}\">")).unwrap() + col.len() + 12;
        line[at..].split('<').next().unwrap().to_string()
    };
    for rs in [rs1, rs2] {
        assert_eq!(cell(&page, rs, "state"), "UP", "{page}");
        assert_eq!(cell(&page, rs, "weight"), "1", "{page}");
        let inactive: u64 = cell(&page, rs, "inactconn").parse().unwrap();
        assert!(inactive >= 10, "{rs}: {inactive} inactive\n{page}");
        let scheduled: u64 = cell(&page, rs, "scheduled").parse().unwrap();
        assert!(scheduled >= 10, "{rs}: {scheduled} scheduled\n{page}");
    }
    let active: u64 = [rs1, rs2]
        .iter()
        .map(|rs| cell(&page, *rs, "activeconn").parse::<u64>().unwrap())
        .sum();
    assert_eq!(active, 1, "the held connection\n{page}");
    // rs1's checker fails: its flows go at once, rs2's stay.
    std::fs::write(topo.dir.join("rs1.down"), "").unwrap();
    let gone = fulcrum_testlab::wait::until(Duration::from_secs(10), || flows_to(&d, rs1) == 0);
    assert!(
        gone.is_some(),
        "{} flows to rs1 left\n{}",
        flows_to(&d, rs1),
        fulcrum.log()
    );
    assert!(
        flows_to(&d, rs2) >= rs2_before,
        "rs2's flows were deleted too"
    );
    assert!(
        fulcrum.log().contains("expire_nodest_conn: "),
        "{}",
        fulcrum.log()
    );
    let (counts, errors) = spread(topo.node(0), 10);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(counts.get("rs2"), Some(&10), "{counts:?}");
    // The page follows: rs1 DOWN at weight 0 with no flow left.
    let page = get(topo.node(0), d.addr, 9102, "/stats");
    assert_eq!(cell(&page, rs1, "state"), "DOWN (removed)", "{page}");
    assert_eq!(cell(&page, rs1, "weight"), "0", "{page}");
    assert_eq!(cell(&page, rs1, "inactconn"), "0", "{page}");
    assert_eq!(cell(&page, rs1, "activeconn"), "0", "{page}");
}

/// GET `path` on the director's `port`, from the client: the whole answer.
fn get(
    client: &fulcrum_testlab::netns::Node,
    director: std::net::Ipv4Addr,
    port: u16,
    path: &'static str,
) -> String {
    use std::io::{Read, Write};
    client
        .in_thread(move || {
            let mut s = std::net::TcpStream::connect((director, port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        })
        .join()
        .unwrap()
}
