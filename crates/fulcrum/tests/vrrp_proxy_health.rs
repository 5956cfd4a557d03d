//! VRRP tracks the proxy it carries, with no script: two nodes each run `fulcrum run -f
//! haproxy.cfg -f keepalived.conf`; when every server behind the frontend bound to the VIP is
//! DOWN on the master, it gives the VIP away (FAULT), the other node serves the clients, and
//! when the server comes back UP the higher-priority node preempts and takes the VIP back.
//!
//! ```text
//!   node 0 "A" (priority 150) ── check ──> SA 10.99.0.3:8001  ("from SA")
//!   node 1 "B" (priority 100) ── check ──> SB 10.99.0.3:8002  ("from SB")
//!   node 2: SA and SB (fulcrum answering by itself), node 3: the client of the VIP
//! ```
#![allow(clippy::unwrap_used)]

mod vrrp_support;

use fulcrum_testlab::{http, wait};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use vrrp_support::*;

/// The node's haproxy.cfg: port 8080 on every address (so on the VIP), one checked server.
fn lb_cfg(server: SocketAddr) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend www\n    bind *:8080\n    default_backend app\n\n\
         backend app\n    server srv {server} check inter 100ms fall 2 rise 2\n"
    )
}

/// A server: fulcrum answering 200 with `body` on `port` by itself.
fn server_cfg(port: u16, body: &str) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend app\n    bind *:{port}\n    http-request return status 200 content-type text/plain string \"{body}\\n\"\n"
    )
}

/// One GET with short timeouts; the whole answer when it is a 200, else `None`.
fn get_body(addr: SocketAddr) -> Option<String> {
    let timeout = Duration::from_millis(500);
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut buf = Vec::new();
    let _ = s.take(64 * 1024).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.starts_with("HTTP/1.1 200").then_some(text)
}

/// From the client node: waits until `addr` answers 200 with `body` in it.
fn wait_answer(t: &Topo, client: usize, addr: SocketAddr, body: &'static str) -> Option<Duration> {
    let c = t.node(client).clone();
    c.in_thread(move || wait::until(SETTLE, || get_body(addr).is_some_and(|b| b.contains(body))))
        .join()
        .unwrap()
}

/// From the client node: sends `n` requests to `addr`; the answers (`None` = failed).
fn answers(t: &Topo, client: usize, addr: SocketAddr, n: usize) -> Vec<Option<String>> {
    let c = t.node(client).clone();
    c.in_thread(move || (0..n).map(|_| get_body(addr)).collect())
        .join()
        .unwrap()
}

#[test]
fn master_gives_the_vip_away_when_its_proxy_has_no_server_and_takes_it_back() {
    let Some(t) = Topo::new("proxyhealth", 4) else {
        return;
    };
    let (a, b, servers, client) = (0, 1, 2, 3);
    let srv = t.node(servers).addr;
    let (sa, sb): (SocketAddr, SocketAddr) = ((srv, 8001).into(), (srv, 8002).into());
    let sa_cfg = server_cfg(8001, "from SA");
    let mut sa_d = Daemon::fulcrum_files(&t, servers, &[("sa.cfg", &sa_cfg)]);
    let sb_d = Daemon::fulcrum_files(&t, servers, &[("sb.cfg", &server_cfg(8002, "from SB"))]);
    assert!(
        wait_answer(&t, client, sa, "from SA").is_some(),
        "SA not serving{}",
        logs(&[&sa_d])
    );
    assert!(
        wait_answer(&t, client, sb, "from SB").is_some(),
        "SB not serving{}",
        logs(&[&sb_d])
    );

    let inst = |priority| Inst {
        priority,
        ..Inst::default()
    };
    let node_b = Daemon::fulcrum_files(
        &t,
        b,
        &[
            ("haproxy.cfg", &lb_cfg(sb)),
            ("keepalived.conf", &inst(100).render(&t, b)),
        ],
    );
    let node_a = Daemon::fulcrum_files(
        &t,
        a,
        &[
            ("haproxy.cfg", &lb_cfg(sa)),
            ("keepalived.conf", &inst(150).render(&t, a)),
        ],
    );
    let all = |extra: &[&Daemon]| {
        let mut d = vec![&node_a, &node_b];
        d.extend_from_slice(extra);
        logs(&d)
    };
    assert!(
        wait_vip(&t, a, true, SETTLE).is_some(),
        "A (150) should be master{}",
        all(&[])
    );
    assert!(
        wait_vip(&t, b, false, SETTLE).is_some(),
        "B (100) must not hold the VIP{}",
        all(&[])
    );
    assert!(
        wait_answer(&t, client, vip_http(), "from SA").is_some(),
        "the VIP is served by A via SA{}",
        all(&[])
    );
    assert!(
        !node_a.log().contains("is DOWN"),
        "SA was never down{}",
        all(&[])
    );

    // Kill SA while a client keeps asking the VIP; the loop reports the outage (not asserted:
    // timings belong to benchmarks).
    let (kill_tx, kill_rx) = std::sync::mpsc::channel::<()>();
    let looped = t.node(client).in_thread(move || {
        http::request_loop(
            vip_http(),
            Duration::from_millis(20),
            Duration::from_secs(6),
            400,
            move || {
                let _ = kill_tx.send(());
            },
        )
    });
    assert!(
        kill_rx.recv_timeout(SETTLE).is_ok(),
        "the client loop never succeeded{}",
        all(&[])
    );
    let t0 = Instant::now();
    sa_d.kill();
    let down = wait::until(SETTLE, || node_a.log().contains("Server app/srv is DOWN"));
    assert!(down.is_some(), "A logs its server DOWN{}", all(&[&sa_d]));
    let away = wait_vip(&t, a, false, SETTLE).map(|_| t0.elapsed());
    assert!(
        away.is_some(),
        "A gives the VIP away when its proxy has no server{}",
        all(&[])
    );
    let taken = wait_vip(&t, b, true, SETTLE).map(|_| t0.elapsed());
    assert!(taken.is_some(), "B takes the VIP{}", all(&[]));
    // Given away because the proxy published the VIP as failing (no script involved).
    let published = wait::until(SETTLE, || {
        node_a
            .log()
            .contains(&format!("the proxy cannot serve: {{{VIP}}}"))
    });
    assert!(
        published.is_some(),
        "A's proxy publishes the VIP as failing{}",
        all(&[])
    );
    let fault = wait::until(SETTLE, || node_a.log().contains("Entering FAULT"));
    assert!(fault.is_some(), "A is in FAULT{}", all(&[]));
    let report = looped.join().unwrap();
    eprintln!(
        "SA killed: A logged DOWN after {down:?}, gave the VIP away after {away:?}, B holds it after {taken:?}; \
         client: {} requests, {} failed, outage {:?}",
        report.sent, report.failed, report.outage
    );
    // Clients keep being answered, by B via SB.
    assert!(
        wait_answer(&t, client, vip_http(), "from SB").is_some(),
        "B serves the VIP via SB{}",
        all(&[])
    );
    let got = answers(&t, client, vip_http(), 20);
    assert!(
        got.iter()
            .all(|r| r.as_ref().is_some_and(|body| body.contains("from SB"))),
        "every request answered by SB after the switch: {got:?}{}",
        all(&[])
    );
    // A stays out while its server is down (longer than B's Master_Down_Interval of 3 s + skew).
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        vip_only_on(&t, b, 2),
        "A must not take the VIP back while SA is down{}",
        all(&[])
    );

    // SA comes back: A's server goes UP, A leaves FAULT and, with priority 150, preempts.
    let t1 = Instant::now();
    let sa_d2 = Daemon::fulcrum_files(&t, servers, &[("sa.cfg", &sa_cfg)]);
    assert!(
        wait_answer(&t, client, sa, "from SA").is_some(),
        "SA serving again{}",
        logs(&[&sa_d2])
    );
    let up = wait::until(SETTLE, || node_a.log().contains("Server app/srv is UP"));
    assert!(up.is_some(), "A logs its server UP{}", all(&[&sa_d2]));
    let back = wait_vip(&t, a, true, SETTLE).map(|_| t1.elapsed());
    assert!(
        back.is_some(),
        "A takes the VIP back by preemption{}",
        all(&[&sa_d2])
    );
    assert!(
        wait_vip(&t, b, false, SETTLE).is_some(),
        "B gives the VIP back{}",
        all(&[])
    );
    assert!(
        wait_answer(&t, client, vip_http(), "from SA").is_some(),
        "the VIP is served by A via SA again{}",
        all(&[])
    );
    eprintln!(
        "SA restarted: A logged UP after {up:?} (from SA's answer), holds the VIP after {back:?}"
    );
}
