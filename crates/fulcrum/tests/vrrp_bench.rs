//! The failover benchmark of bench/vrrp (ignored in normal test runs; see bench/vrrp/README.md):
//! two load-balancer nodes, an app node and a client node on one bridged segment. The master LB
//! is stopped while the client sends one request every 10 ms through the VIP; we measure the
//! takeover time (stop → VIP on the backup) and the client's failed requests and outage window.
//! Stacks: fulcrum (proxy + VRRP in one process) against keepalived + HAProxy.
#![allow(clippy::unwrap_used)]

mod vrrp_support;

use fulcrum_testlab::{http, wait};
use std::time::{Duration, Instant};
use vrrp_support::*;

#[derive(Clone, Copy, PartialEq)]
enum Stack {
    Fulcrum,
    KeepalivedHaproxy,
}

#[derive(Clone, Copy, PartialEq)]
enum Stop {
    Kill,
    Term,
    /// The master's tracked script starts failing (weight -100): its priority drops below the
    /// backup's, which takes over; a planned failover without stopping anything.
    PriorityDrop,
}

struct Row {
    label: String,
    takeover: Vec<Duration>,
    failed: Vec<u32>,
    sent: Vec<u32>,
    outage: Vec<Duration>,
}

fn start_lb(t: &Topo, node: usize, stack: Stack, ka: &str) -> Vec<Daemon> {
    let lb = lb_haproxy_cfg(t.node(2).addr);
    match stack {
        Stack::Fulcrum => vec![Daemon::fulcrum_files(
            t,
            node,
            &[("lb.cfg", &lb), ("ka.conf", ka)],
        )],
        Stack::KeepalivedHaproxy => vec![
            Daemon::haproxy(t, node, &lb),
            Daemon::keepalived(t, node, ka),
        ],
    }
}

/// One run; `None` when the topology could not be brought up (printed).
fn run_once(
    stack: Stack,
    stop: Stop,
    version: u8,
    advert_int: &'static str,
) -> Option<(Duration, http::LoopReport)> {
    let t = Topo::new("bench", 4)?;
    let _app = Daemon::fulcrum_files(&t, 2, &[("app.cfg", APP_CFG)]);
    let flag = |node: usize| t.dir.join(format!("drop{node}"));
    let inst = |priority, node: usize| {
        let mut i = Inst {
            priority,
            version,
            advert_int,
            ..Inst::default()
        };
        if stop == Stop::PriorityDrop {
            i.top = format!(
                "vrrp_script chk {{\n  script \"/bin/sh -c 'test ! -e {}'\"\n  interval 1\n  fall 1\n  rise 1\n  weight -100\n}}\n",
                flag(node).display()
            );
            i.extra = "  track_script {\n    chk\n  }\n".into();
        }
        i
    };
    let _backup = start_lb(&t, 0, stack, &inst(100, 0).render(&t, 0));
    let mut master = start_lb(&t, 1, stack, &inst(150, 1).render(&t, 1));
    wait_vip(&t, 1, true, Duration::from_secs(20))?;
    let c = t.node(3).clone();
    let ready = c.in_thread(|| {
        wait::until(Duration::from_secs(20), || {
            http::get_ok(vip_http(), Duration::from_millis(500))
        })
    });
    ready.join().ok()??;
    // Let the backup settle into BACKUP with the master's adverts flowing.
    std::thread::sleep(Duration::from_secs(2));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let looped = c.in_thread(move || {
        http::request_loop(
            vip_http(),
            Duration::from_millis(10),
            Duration::from_secs(10),
            2000,
            move || {
                let _ = tx.send(());
            },
        )
    });
    rx.recv_timeout(Duration::from_secs(10)).ok()?;
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    if stop == Stop::PriorityDrop {
        std::fs::write(flag(1), "").unwrap();
    }
    for d in master.iter_mut() {
        match stop {
            Stop::Kill => d.kill(),
            Stop::Term => d.term(),
            Stop::PriorityDrop => {}
        }
    }
    let takeover = wait_vip(&t, 0, true, Duration::from_secs(15)).map(|_| t0.elapsed());
    let report = looped.join().ok()?;
    Some((takeover?, report))
}

fn median<T: Copy + Ord>(v: &[T]) -> Option<T> {
    let mut s = v.to_vec();
    s.sort();
    s.get(s.len() / 2).copied()
}

#[test]
#[ignore = "benchmark: run bench/vrrp/run.sh"]
fn failover_benchmark() {
    if !fulcrum_testlab::netns::available("failover_benchmark") {
        return;
    }
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .clamp(1, 20);
    let cases = [
        (
            "fulcrum+fulcrum       v2 advert_int 1   SIGKILL",
            Stack::Fulcrum,
            Stop::Kill,
            2,
            "1",
        ),
        (
            "keepalived+HAProxy    v2 advert_int 1   SIGKILL",
            Stack::KeepalivedHaproxy,
            Stop::Kill,
            2,
            "1",
        ),
        (
            "fulcrum+fulcrum       v2 advert_int 1   SIGTERM",
            Stack::Fulcrum,
            Stop::Term,
            2,
            "1",
        ),
        (
            "keepalived+HAProxy    v2 advert_int 1   SIGTERM",
            Stack::KeepalivedHaproxy,
            Stop::Term,
            2,
            "1",
        ),
        (
            "fulcrum+fulcrum       v2 advert_int 1   priority drop",
            Stack::Fulcrum,
            Stop::PriorityDrop,
            2,
            "1",
        ),
        (
            "keepalived+HAProxy    v2 advert_int 1   priority drop",
            Stack::KeepalivedHaproxy,
            Stop::PriorityDrop,
            2,
            "1",
        ),
        (
            "fulcrum+fulcrum       v3 advert_int 0.1 SIGKILL",
            Stack::Fulcrum,
            Stop::Kill,
            3,
            "0.1",
        ),
        (
            "keepalived+HAProxy    v3 advert_int 0.1 SIGKILL",
            Stack::KeepalivedHaproxy,
            Stop::Kill,
            3,
            "0.1",
        ),
    ];
    // BENCH_FILTER=SIGTERM runs only the cases whose label contains it.
    let filter = std::env::var("BENCH_FILTER").unwrap_or_default();
    let mut rows = Vec::new();
    for (label, stack, stop, version, adv) in cases {
        if !label.contains(filter.as_str()) {
            continue;
        }
        let mut row = Row {
            label: label.into(),
            takeover: vec![],
            failed: vec![],
            sent: vec![],
            outage: vec![],
        };
        for _ in 0..runs {
            match run_once(stack, stop, version, adv) {
                Some((takeover, rep)) => {
                    row.takeover.push(takeover);
                    row.failed.push(rep.failed);
                    row.sent.push(rep.sent);
                    row.outage.push(rep.outage);
                }
                None => eprintln!("{label}: a run did not complete"),
            }
        }
        rows.push(row);
    }
    println!("\nVRRP failover: client sends 1 request / 10 ms through the VIP; master LB stopped ({runs} runs, median [max])");
    println!("| case | takeover (stop -> VIP on backup) | failed requests | outage (first failure -> next success) |");
    println!("|---|---|---|---|");
    for r in &rows {
        let ms = |d: Option<Duration>| {
            d.map(|d| format!("{} ms", d.as_millis()))
                .unwrap_or("-".into())
        };
        println!(
            "| {} | {} [{}] | {} [{}] of ~{} | {} [{}] |",
            r.label.trim(),
            ms(median(&r.takeover)),
            ms(r.takeover.iter().max().copied()),
            median(&r.failed)
                .map(|v| v.to_string())
                .unwrap_or("-".into()),
            r.failed
                .iter()
                .max()
                .map(|v| v.to_string())
                .unwrap_or("-".into()),
            median(&r.sent).unwrap_or(0),
            ms(median(&r.outage)),
            ms(r.outage.iter().max().copied()),
        );
    }
}
