//! Stick tables replicated over the cluster's nodes (`peers-bind`, no `peers` section): in
//! the cluster lab (three nodes, three etcd members, twelve VIPs, a client namespace with two
//! shared servers), clients stuck to a server through a VIP are sent to the same server after
//! the VIP's node dies and the VIP moves; the node comes back empty, gets the entries from
//! its peers (resync on connect) and, once the VIP is moved back to it, sends the clients to
//! the same servers. A backend replicated only within a one-node `peers` section is the
//! control: there the new holder balances afresh, so the checks can fail.
#![allow(clippy::unwrap_used)]

mod cluster_support;

use cluster_support::*;
use fulcrum_testlab::process::Child;
use fulcrum_testlab::wait;
use socket2::{Domain, Socket, Type};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

const SETTLE: Duration = Duration::from_secs(40);
const SERVERS: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 4);

fn proxy() -> String {
    let mut s = String::from("peers solo\n    peer {node} {ip}:10001\n\nfrontend sticky\n");
    for v in 0..VIPS {
        s.push_str(&format!("    bind {}:81\n", vip(v)));
    }
    s.push_str("    default_backend shared\n\nfrontend unshared\n");
    for v in 0..VIPS {
        s.push_str(&format!("    bind {}:82\n", vip(v)));
    }
    s.push_str("    default_backend control\n\n");
    for (name, peers) in [("shared", ""), ("control", " peers solo")] {
        s.push_str(&format!(
            "backend {name}\n    balance roundrobin\n    stick-table type ip size 10k expire 10m{peers}\n    stick on src\n    server s1 {SERVERS}:8101\n    server s2 {SERVERS}:8102\n\n"
        ));
    }
    s
}

/// One GET from `src` to `vip`:`port` (from the client namespace's thread): the body.
fn get_from(src: Ipv4Addr, vip: &str, port: u16) -> Option<String> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    s.bind(&SocketAddr::new(IpAddr::V4(src), 0).into()).ok()?;
    let to: SocketAddr = format!("{vip}:{port}").parse().ok()?;
    s.connect_timeout(&to.into(), Duration::from_secs(1)).ok()?;
    let mut s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.1 200").then(|| {
        out.rsplit("\r\n\r\n")
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    })
}

fn sources() -> Vec<Ipv4Addr> {
    (1..=6).map(|i| Ipv4Addr::new(10, 99, 2, i)).collect()
}

const WARM: Ipv4Addr = Ipv4Addr::new(10, 99, 2, 100);

/// From the client namespace: a warm-up request on each port (through `warm`), then each
/// source's server on port 81 and 82.
fn servers_seen(rig: &Rig, v: usize, warm: bool) -> (Vec<String>, Vec<String>) {
    let vip = vip(v);
    rig.client()
        .in_thread(move || {
            if warm {
                get_from(WARM, &vip, 81).unwrap();
                get_from(WARM, &vip, 82).unwrap();
            }
            let p81 = sources()
                .iter()
                .map(|s| get_from(*s, &vip, 81).unwrap_or_default())
                .collect();
            let p82 = sources()
                .iter()
                .map(|s| get_from(*s, &vip, 82).unwrap_or_default())
                .collect();
            (p81, p82)
        })
        .join()
        .unwrap()
}

/// Entries of table `shared` node `i` took from peers, from its log.
fn taken(rig: &Rig, i: usize) -> usize {
    let Some(c) = &rig.fulcrum[i] else { return 0 };
    c.output()
        .lines()
        .filter(|l| l.contains("entries taken from a peer"))
        .filter_map(|l| {
            l.split("table shared: ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum()
}

fn connected_to_both(rig: &Rig, i: usize) -> bool {
    let others: Vec<String> = (0..NODES).filter(|j| *j != i).map(node_name).collect();
    let line = format!(
        "{} connected to [\"{}\", \"{}\"]",
        node_name(i),
        others[0],
        others[1]
    );
    rig.fulcrum[i]
        .as_ref()
        .is_some_and(|c| c.output().contains(&line))
}

#[test]
fn a_moved_vip_keeps_its_clients_servers() {
    let Some(mut rig) = Rig::with_proxy("cluster-peers", "    peers-bind {ip}:10000\n", &proxy())
    else {
        return;
    };
    let client = rig.client().clone();
    let mut apps = Vec::new();
    for (name, port) in [("s1", 8101), ("s2", 8102)] {
        let cfg = rig.dir.join(format!("{name}.cfg"));
        std::fs::write(&cfg, format!("defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\nfrontend {name}\n    bind {SERVERS}:{port}\n    http-request return status 200 content-type text/plain string {name}\n")).unwrap();
        let mut cmd = client.command(env!("CARGO_BIN_EXE_fulcrum"));
        cmd.args(["run", "--control"])
            .arg(rig.dir.join(format!("{name}.sock")))
            .arg("-f")
            .arg(&cfg);
        apps.push(Child::spawn(name, cmd, rig.dir.join(format!("{name}.log"))).unwrap());
    }
    for a in sources().into_iter().chain([WARM]) {
        assert!(Command::new("ip")
            .args([
                "-n",
                &client.netns,
                "addr",
                "add",
                &format!("{a}/16"),
                "dev",
                "eth0"
            ])
            .status()
            .unwrap()
            .success());
    }
    let h = rig
        .wait_spread(&[4, 4, 4], SETTLE)
        .unwrap_or_else(|| panic!("no 4/4/4: {:?}{}", rig.holders(), rig.logs()));
    let ok = wait::until(Duration::from_secs(20), || {
        (0..NODES).all(|i| connected_to_both(&rig, i))
    });
    assert!(ok.is_some(), "peers never all connected{}", rig.logs());
    let v = 0;
    let n = h[v][0];
    let others: Vec<usize> = (0..NODES).filter(|j| *j != n).collect();
    let base: Vec<usize> = (0..NODES).map(|i| taken(&rig, i)).collect();
    // The holder balances one extra client first on each port: its round robin is one step
    // ahead of a fresh node's, so without replication every client lands elsewhere.
    let (p81, p82) = servers_seen(&rig, v, true);
    assert!(
        p81.iter().any(|s| s == "s1") && p81.iter().any(|s| s == "s2"),
        "{p81:?}"
    );
    assert!(p82.iter().all(|s| !s.is_empty()), "{p82:?}");
    // Both other nodes have the 7 entries of table shared.
    let ok = wait::until(Duration::from_secs(10), || {
        others.iter().all(|i| taken(&rig, *i) >= base[*i] + 7)
    });
    assert!(ok.is_some(), "entries not replicated{}", rig.logs());

    rig.kill_node(n);
    let dead = node_name(n);
    let vip0 = vip(v);
    let moved = client
        .in_thread(move || {
            for _ in 0..200 {
                match probe(&vip0, Duration::from_millis(200)) {
                    Some(who) if who != dead => return Some(who),
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
            None
        })
        .join()
        .unwrap();
    let new_holder = moved.unwrap_or_else(|| panic!("{} never moved{}", vip(v), rig.logs()));
    let (after81, after82) = servers_seen(&rig, v, false);
    eprintln!(
        "vip-01 on {} then {new_holder}: replicated {p81:?} -> {after81:?}; control {p82:?} -> {after82:?}",
        node_name(n)
    );
    assert_eq!(
        after81, p81,
        "the moved VIP sends each client to its server (now on {new_holder})"
    );
    assert!(
        after82.iter().zip(&p82).all(|(a, b)| a != b),
        "control: without replication the new holder balances afresh ({after82:?} vs {p82:?})"
    );

    // The node comes back empty: its peers send it the table.
    rig.revive_node(n);
    let ok = wait::until(SETTLE, || connected_to_both(&rig, n) && taken(&rig, n) >= 7);
    assert!(
        ok.is_some(),
        "{} got no entries back{}",
        node_name(n),
        rig.logs()
    );
    let (ok, out) = rig.cluster_cmd(others[0], &["move", "vip-01", &node_name(n)]);
    assert!(ok, "{out}");
    let back = wait::until(SETTLE, || rig.holders()[v] == [n]);
    assert!(back.is_some(), "vip-01 not moved back: {:?}", rig.holders());
    let mut again = Vec::new();
    let ok = wait::until(Duration::from_secs(10), || {
        again = servers_seen(&rig, v, false).0;
        again.iter().all(|s| !s.is_empty())
    });
    assert!(ok.is_some(), "{again:?}");
    assert_eq!(
        again, p81,
        "the restarted node sends each client to its server"
    );
    drop(apps);
}
