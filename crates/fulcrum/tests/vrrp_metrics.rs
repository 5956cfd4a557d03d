//! fulcrum's own Prometheus families for VRRP, scraped from two real nodes in network
//! namespaces, each running `fulcrum run -f haproxy.cfg -f keepalived.conf` with
//! `use-service prometheus-exporter`: the master reports MASTER and adverts sent, the backup
//! BACKUP and adverts received; a third node speaking with the wrong password has its adverts
//! counted as dropped for authentication by both. Skips loudly without root, unless
//! FULCRUM_REQUIRE_NETNS=1.
#![allow(clippy::unwrap_used)]

mod vrrp_support;

use fulcrum_testlab::wait;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use vrrp_support::*;

const METRICS_CFG: &str = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
     frontend metrics\n    bind *:9101\n    http-request use-service prometheus-exporter if { path /metrics }\n";

fn scrape(addr: SocketAddr) -> Option<String> {
    let t = Duration::from_millis(800);
    let mut s = TcpStream::connect_timeout(&addr, t).ok()?;
    s.set_read_timeout(Some(t)).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut buf = Vec::new();
    let _ = s.take(4 << 20).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.starts_with("HTTP/1.1 200").then_some(text)
}

fn value(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(sample).and_then(|v| v.trim().parse().ok()))
}

/// From `client`: waits until the scrape of `addr` satisfies `ok`; the last scrape.
fn wait_scrape(t: &Topo, client: usize, addr: SocketAddr, ok: fn(&str) -> bool) -> (bool, String) {
    let c = t.node(client).clone();
    c.in_thread(move || {
        let mut last = String::new();
        let done = wait::until(SETTLE, || {
            last = scrape(addr).unwrap_or_default();
            ok(&last)
        });
        (done.is_some(), last)
    })
    .join()
    .unwrap()
}

#[test]
fn vrrp_state_and_advert_counters_are_exported() {
    let Some(t) = Topo::new("vrrpmetrics", 4) else {
        return;
    };
    let (a, b, intruder, client) = (0, 1, 2, 3);
    let da = Daemon::fulcrum_files(
        &t,
        a,
        &[
            ("lb.cfg", METRICS_CFG),
            (
                "k.conf",
                &Inst {
                    priority: 150,
                    ..Inst::default()
                }
                .render(&t, a),
            ),
        ],
    );
    let db = Daemon::fulcrum_files(
        &t,
        b,
        &[
            ("lb.cfg", METRICS_CFG),
            (
                "k.conf",
                &Inst {
                    priority: 100,
                    ..Inst::default()
                }
                .render(&t, b),
            ),
        ],
    );
    // Same VRID, wrong password, lower priority: its adverts must be dropped, not obeyed.
    let di = Daemon::fulcrum(
        &t,
        intruder,
        &Inst {
            priority: 50,
            auth: Some("wrong"),
            vip: "10.99.0.201/32",
            ..Inst::default()
        }
        .render(&t, intruder),
    );
    let (ma, mb): (SocketAddr, SocketAddr) =
        ((t.node(a).addr, 9101).into(), (t.node(b).addr, 9101).into());

    let (ok, text_a) = wait_scrape(&t, client, ma, |s| {
        value(s, "fulcrum_vrrp_state{instance=\"VI_1\",state=\"MASTER\"}") == Some(1.0)
            && value(s, "fulcrum_vrrp_adverts_sent_total{instance=\"VI_1\"}")
                .is_some_and(|v| v >= 2.0)
            && value(
                s,
                "fulcrum_vrrp_adverts_dropped_total{instance=\"VI_1\",cause=\"authentication\"}",
            )
            .is_some_and(|v| v >= 1.0)
    });
    assert!(
        ok,
        "node A: MASTER, adverts sent, intruder's dropped:\n{text_a}{}",
        logs(&[&da, &db, &di])
    );
    assert_eq!(
        value(
            &text_a,
            "fulcrum_vrrp_state{instance=\"VI_1\",state=\"BACKUP\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        value(&text_a, "fulcrum_vrrp_priority{instance=\"VI_1\"}"),
        Some(150.0)
    );
    assert!(
        value(
            &text_a,
            "fulcrum_vrrp_became_master_total{instance=\"VI_1\"}"
        )
        .is_some_and(|v| v >= 1.0),
        "{text_a}"
    );

    let (ok, text_b) = wait_scrape(&t, client, mb, |s| {
        value(s, "fulcrum_vrrp_state{instance=\"VI_1\",state=\"BACKUP\"}") == Some(1.0)
            && value(s, "fulcrum_vrrp_adverts_accepted_total{instance=\"VI_1\"}")
                .is_some_and(|v| v >= 2.0)
            && value(
                s,
                "fulcrum_vrrp_adverts_dropped_total{instance=\"VI_1\",cause=\"authentication\"}",
            )
            .is_some_and(|v| v >= 1.0)
    });
    assert!(
        ok,
        "node B: BACKUP, A's adverts accepted, intruder's dropped:\n{text_b}{}",
        logs(&[&da, &db, &di])
    );
    assert!(vip_only_on(&t, a, 3), "the VIP is on A only");
}
