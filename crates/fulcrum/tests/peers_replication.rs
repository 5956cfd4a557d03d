//! Stick-table replication between two real `fulcrum run` processes on loopback, configured as
//! HAProxy users write it (`peers` section, `localpeer`, `stick-table ... peers NAME`): a
//! client stuck to a server through node a is sent to the same server through node b, and
//! again after b restarts empty (resync from a). A backend without `peers` on the same nodes
//! is the control: there the two nodes disagree, so the test can fail.

mod common;

use common::{app_server, free_port, Fulcrum, Scratch};
use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One GET from source address `src` to 127.0.0.1:`port`; the answering server's name.
fn get_from(src: IpAddr, port: u16) -> String {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    s.bind(&SocketAddr::new(src, 0).into())
        .expect("bind source");
    s.connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .expect("connect");
    let mut s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out.rsplit("\r\n\r\n")
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Node a writes the `peer` form, node b HAProxy 2.x's `bind` + `server` form.
fn config(me: &str, pa: u16, pb: u16, front: u16, control: u16, s1: u16, s2: u16) -> String {
    let peers = if me == "a" {
        format!(" peer a 127.0.0.1:{pa}\n peer b 127.0.0.1:{pb}\n")
    } else {
        format!(" bind 127.0.0.1:{pb}\n server a 127.0.0.1:{pa}\n server b\n")
    };
    format!(
        "global\n localpeer {me}\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         peers mesh\n{peers}\
         frontend f\n bind 127.0.0.1:{front}\n default_backend db\n\
         frontend c\n bind 127.0.0.1:{control}\n default_backend control\n\
         backend db\n balance roundrobin\n stick-table type ip size 1k expire 5m peers mesh\n stick on src\n\
          server s1 127.0.0.1:{s1}\n server s2 127.0.0.1:{s2}\n\
         backend control\n balance roundrobin\n stick-table type ip size 1k expire 5m\n stick on src\n\
          server s1 127.0.0.1:{s1}\n server s2 127.0.0.1:{s2}\n"
    )
}

/// Waits (bounded) until `node` logged that it took at least `n` entries from a peer.
fn wait_taken(node: &Fulcrum, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut taken = 0;
    while taken < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some((_, line)) = node.wait_line("entries taken from a peer", left) else {
            panic!("{taken} of {n} entries taken; log:\n{}", node.log_text());
        };
        taken += line
            .split("table db: ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
    }
}

fn clients() -> Vec<IpAddr> {
    (10..16).map(|i| IpAddr::from([127, 0, 0, i])).collect()
}

#[test]
fn stuck_clients_keep_their_server_on_the_other_node_and_after_its_restart() {
    let scratch = Scratch::new("peers-repl");
    let (s1, s2) = (free_port(), free_port());
    let _a1 = app_server(&scratch, "s1", s1, 200);
    let _a2 = app_server(&scratch, "s2", s2, 200);
    let (pa, pb) = (free_port(), free_port());
    let (fa, fb, ca, cb) = (free_port(), free_port(), free_port(), free_port());
    let cfg_a = scratch.write("a.cfg", &config("a", pa, pb, fa, ca, s1, s2));
    let cfg_b = scratch.write("b.cfg", &config("b", pa, pb, fb, cb, s1, s2));
    let log = "info,fulcrum_peers=debug";
    let a_sock = scratch.0.join("a.sock");
    let a = Fulcrum::start_full(&cfg_a, log, Some(&a_sock));
    let mut b = Fulcrum::start_logging(&cfg_b, log);
    for n in [&a, &b] {
        assert!(
            n.wait_line("connected to [", Duration::from_secs(10))
                .is_some(),
            "{}",
            n.log_text()
        );
    }
    // `fulcrum status` shows the peer set.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["status", "--control"])
        .arg(&a_sock)
        .output()
        .expect("fulcrum status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "Peers mesh: a on 127.0.0.1:{pa}, tables db; connected to [ b ]; refused 0 malformed, 0 messages"
        )),
        "{text}"
    );
    // Node a balances one extra client first: its round robin is one step ahead of b's, so
    // without replication every client below lands elsewhere on b.
    get_from(IpAddr::from([127, 0, 0, 200]), fa);
    get_from(IpAddr::from([127, 0, 0, 200]), ca);
    let on_a: Vec<String> = clients().iter().map(|c| get_from(*c, fa)).collect();
    let control_a: Vec<String> = clients().iter().map(|c| get_from(*c, ca)).collect();
    assert!(on_a.iter().any(|s| s == "s1") && on_a.iter().any(|s| s == "s2"));
    // The extra client's entry was replicated too (7 in all).
    wait_taken(&b, 7);
    let on_b: Vec<String> = clients().iter().map(|c| get_from(*c, fb)).collect();
    assert_eq!(on_b, on_a, "replicated: same server through either node");
    let control_b: Vec<String> = clients().iter().map(|c| get_from(*c, cb)).collect();
    assert_ne!(
        control_b, control_a,
        "control (no peers): the nodes disagree, so the check above can fail"
    );

    // b restarts empty: a (which dials b: "a" < "b") reconnects and sends its whole table.
    drop(b);
    b = Fulcrum::start_logging(&cfg_b, log);
    wait_taken(&b, 7);
    let again: Vec<String> = clients().iter().map(|c| get_from(*c, fb)).collect();
    assert_eq!(
        again, on_a,
        "resync on connect: a restarted node has the entries back"
    );

    // A reload of a keeps its table and its replication: a new client stuck through a is
    // sent to the same server through b.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(a.child.pid()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).expect("SIGHUP");
    assert!(
        a.wait_line("configuration reloaded", Duration::from_secs(10))
            .is_some(),
        "{}",
        a.log_text()
    );
    let again_a: Vec<String> = clients().iter().map(|c| get_from(*c, fa)).collect();
    assert_eq!(again_a, on_a, "the reload kept a's table");
    let late = IpAddr::from([127, 0, 0, 50]);
    let on_a_late = get_from(late, fa);
    // The six refreshed entries (used later on a: they win on b) and the new one.
    wait_taken(&b, 7);
    assert_eq!(
        get_from(late, fb),
        on_a_late,
        "replication runs on after a reload"
    );
}
