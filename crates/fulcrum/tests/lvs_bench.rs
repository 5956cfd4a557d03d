//! The LVS benchmark of bench/lvs (ignored in normal test runs; see bench/lvs/README.md):
//! client (node 0), director (node 1), three real servers (nodes 2-4). One fulcrum on the
//! director serves three paths to the same real servers: LVS NAT (VIP 10.99.0.100:80), LVS DR
//! (10.99.0.101:80, the real servers hold it on lo) and its own TCP proxy (`mode tcp`,
//! 10.99.0.100:8080). Four client threads open a new connection per request; rounds
//! alternate between the paths. Then the cost of a 1,000-real-server update: the time the
//! kernel takes each transaction, with a client loop on another virtual server counting
//! failures meanwhile.
#![allow(clippy::unwrap_used)]

mod lvs_support;
mod vrrp_support;

use lvs_support::*;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use vrrp_support::Topo;

const VIP2: &str = "10.99.0.101";

/// Connections per second: `threads` client threads each opening a connection per request
/// (connect, GET, read to close) for `secs` seconds; failures are counted.
fn load(topo: &Topo, port: u16, vip: &'static str, src: Option<IpAddr>, secs: u64) -> (f64, usize) {
    let threads = 4;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            topo.node(0).in_thread(move || {
                let start = Instant::now();
                let (mut ok, mut failed) = (0usize, 0usize);
                while start.elapsed() < Duration::from_secs(secs) {
                    let r = match src {
                        Some(s) => ask_from_to(s, vip, port),
                        None => ask_to(vip, port),
                    };
                    match r {
                        Ok(_) => ok += 1,
                        Err(_) => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for h in handles {
        let (o, f) = h.join().unwrap();
        ok += o;
        failed += f;
    }
    (ok as f64 / secs as f64, failed)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn many_real_servers(n: usize, weight_of_first: u32) -> String {
    let mut s = String::from(
        "virtual_server 10.99.0.102 80 {\n    lvs_sched wrr\n    lvs_method NAT\n    protocol TCP\n",
    );
    for i in 0..n {
        let w = if i == 0 { weight_of_first } else { 1 };
        s.push_str(&format!(
            "    real_server 10.99.{}.{} 80 {{\n        weight {w}\n    }}\n",
            10 + i / 250,
            1 + i % 250
        ));
    }
    s.push_str("}\n");
    s
}

#[test]
#[ignore]
fn lvs_bench() {
    let Some(topo) = Topo::new("lvs_bench", 5) else {
        return;
    };
    assert!(nft_available("lvs_bench"));
    let (c, d) = (topo.node(0).clone(), topo.node(1).clone());
    let rss: Vec<_> = (2..5).map(|i| topo.node(i).clone()).collect();
    let rs_refs: Vec<_> = rss.iter().collect();
    setup_nat(&d, &rs_refs, &c);
    for rs in &rss {
        sh(rs, "echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/all/arp_announce; echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/eth0/arp_announce");
        sh(rs, &format!("ip addr add {VIP2}/32 dev lo"));
    }
    sh(&d, &format!("ip addr add {VIP2}/32 dev eth0"));
    let _servers: Vec<_> = rss
        .iter()
        .enumerate()
        .map(|(i, n)| RealServer::start(n, &format!("rs{}", i + 1)))
        .collect();
    let mut rs = String::new();
    for n in &rss {
        rs.push_str(&format!("    real_server {} 80 {{\n    }}\n", n.addr));
    }
    let ka = |extra: &str| {
        format!(
            "virtual_server {VIP} 80 {{\n    lvs_sched rr\n    lvs_method NAT\n    protocol TCP\n{rs}}}\n\
             virtual_server {VIP2} 80 {{\n    lvs_sched rr\n    lvs_method DR\n    protocol TCP\n{rs}}}\n{extra}"
        )
    };
    let mut servers = String::new();
    for (i, n) in rss.iter().enumerate() {
        servers.push_str(&format!("    server s{i} {}:80\n", n.addr));
    }
    let hap = format!(
        "global\n    nbthread 2\ndefaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         listen tcp_proxy\n    bind {VIP}:8080\n    balance roundrobin\n{servers}"
    );
    let director = Director::start_with(&topo.dir, &d, "director", &ka(""), Some(&hap));
    let ok = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
        let c = c.clone();
        c.in_thread(|| ask(80).is_ok() && ask(8080).is_ok())
            .join()
            .unwrap()
    });
    assert!(ok.is_some(), "{}", director.log());

    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let secs = 2u64;
    // DR answers go straight from the real servers to the client: the client talks to the
    // DR VIP from an address the real servers do not route back through the director.
    sh(&c, "ip addr add 10.99.0.250/16 dev eth0");
    let dr_src: IpAddr = "10.99.0.250".parse().unwrap();
    let paths = [
        ("LVS NAT", VIP, 80, None),
        ("LVS DR", VIP2, 80, Some(dr_src)),
        ("fulcrum mode tcp", VIP, 8080, None),
    ];
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    let mut failures = vec![0usize; paths.len()];
    for _ in 0..runs {
        for (i, (_, vip, port, src)) in paths.iter().enumerate() {
            let (cps, failed) = load(&topo, *port, vip, *src, secs);
            results[i].push(cps);
            failures[i] += failed;
        }
    }
    let proxy = median(&mut results[2].clone());
    println!("\nconnections/s (4 client threads, a connection per request, {secs}s rounds, {runs} alternating runs, median):");
    println!("| path | conn/s | ratio to fulcrum mode tcp | failed |");
    println!("|---|---|---|---|");
    for (i, (name, _, _, _)) in paths.iter().enumerate() {
        let m = median(&mut results[i].clone());
        println!("| {name} | {m:.0} | {:.2} | {} |", m / proxy, failures[i]);
    }

    // 1,000 real servers: the full build, then one reweight, then one removal, each timed by
    // the bridge ("ruleset updated in ..."), with a client loop on the NAT VIP meanwhile.
    let load = Load::start(&c, 100_000, Duration::from_secs(60));
    let mut timings = Vec::new();
    for (step, conf) in [
        ("build 1,000 real servers", ka(&many_real_servers(1000, 1))),
        ("reweight one of 1,000", ka(&many_real_servers(1000, 3))),
        ("remove one of 1,000", ka(&many_real_servers(999, 3))),
    ] {
        let before = director.log().matches("ruleset updated in").count();
        let t = Instant::now();
        director.reload(&conf);
        let done = fulcrum_testlab::wait::until(Duration::from_secs(30), || {
            director.log().matches("ruleset updated in").count() > before
        });
        assert!(done.is_some(), "{}", director.log());
        let log = director.log();
        let line = log
            .lines()
            .filter(|l| l.contains("ruleset updated in"))
            .nth(before)
            .unwrap()
            .to_string();
        timings.push((step, line, t.elapsed()));
        std::thread::sleep(Duration::from_millis(300));
    }
    let answers = load.finish();
    let failed = answers.iter().filter(|a| a.is_err()).count();
    println!("\n1,000-real-server updates (reload → nft transaction; client loop on another VS):");
    println!("| step | nft transaction | reload to applied |");
    println!("|---|---|---|");
    for (step, line, total) in &timings {
        let t = line
            .split("ruleset updated in ")
            .nth(1)
            .unwrap_or("?")
            .to_string();
        println!("| {step} | {t} | {total:?} |");
    }
    println!(
        "client loop during the updates: {} connections, {failed} failed",
        answers.len()
    );
    assert_eq!(failed, 0);
}
