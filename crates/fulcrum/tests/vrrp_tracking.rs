//! Tracking across namespaces: a failing `track_script` (FAULT or lowered priority),
//! `track_interface`, a `vrrp_sync_group` moving together, notify scripts with keepalived's
//! arguments, and gratuitous ARP re-pointing a client's neighbour entry after failover.
#![allow(clippy::unwrap_used)]

mod vrrp_support;

use fulcrum_testlab::wait;
use std::time::Duration;
use vrrp_support::*;

fn chk_script(t: &Topo, node: usize, weight: i32) -> (String, std::path::PathBuf) {
    let flag = t.dir.join(format!("healthy{node}"));
    std::fs::write(&flag, "").unwrap();
    let top = format!(
        "vrrp_script chk {{\n  script \"/usr/bin/test -f {}\"\n  interval 1\n  fall 1\n  rise 1\n  weight {weight}\n}}\n",
        flag.display()
    );
    (top, flag)
}

const BOTH: [Kind; 2] = [Kind::Fulcrum, Kind::Fulcrum];

fn inst(priority: u8) -> Inst {
    Inst {
        priority,
        ..Inst::default()
    }
}

/// Priority 150 with the `chk` script of `chk_script` tracked.
fn tracking(top: String) -> Inst {
    Inst {
        priority: 150,
        top,
        extra: "  track_script {\n    chk\n  }\n".into(),
        ..Inst::default()
    }
}

#[test]
fn failing_track_script_with_weight_0_forces_fault_and_hands_over() {
    let Some(t) = Topo::new("trackfault", 2) else {
        return;
    };
    let (top, flag) = chk_script(&t, 1, 0);
    let mut p = Pair::elect(&t, BOTH, [&inst(100), &tracking(top)]);
    std::fs::remove_file(&flag).unwrap();
    p.moves_to(0, "script failure hands the VIP over");
    assert!(
        wait::until(SETTLE, || p.daemons[1].log().contains("Entering FAULT")).is_some(),
        "{}",
        p.logs()
    );
    std::fs::write(&flag, "").unwrap();
    p.moves_to(1, "recovered, it preempts again");
}

#[test]
fn failing_track_script_with_negative_weight_lowers_priority() {
    let Some(t) = Topo::new("trackweight", 2) else {
        return;
    };
    let (top, flag) = chk_script(&t, 1, -60);
    let mut p = Pair::elect(&t, BOTH, [&inst(100), &tracking(top)]);
    std::fs::remove_file(&flag).unwrap();
    p.moves_to(0, "150 - 60 = 90 < 100: the other router preempts");
    assert!(
        !p.daemons[1].log().contains("Entering FAULT"),
        "a weighted script lowers priority, no FAULT{}",
        p.logs()
    );
}

#[test]
fn track_interface_down_means_fault() {
    let Some(t) = Topo::new("trackif", 2) else {
        return;
    };
    let n1 = t.node(1);
    let ip = |args: &[&str]| n1.run("ip", args).is_some_and(|o| o.status.success());
    // A veth pair inside the node stands for the tracked uplink (no dummy module needed).
    assert!(ip(&[
        "link", "add", "dummy0", "type", "veth", "peer", "name", "dummy1"
    ]));
    assert!(ip(&["link", "set", "dummy1", "up"]) && ip(&["link", "set", "dummy0", "up"]));
    let tracked = Inst {
        priority: 150,
        extra: "  track_interface {\n    dummy0\n  }\n".into(),
        ..Inst::default()
    };
    let mut p = Pair::elect(&t, BOTH, [&inst(100), &tracked]);
    assert!(ip(&["link", "set", "dummy0", "down"]));
    p.moves_to(0, "link down hands the VIP over");
    assert!(ip(&["link", "set", "dummy0", "up"]));
    p.moves_to(1, "link up: back to MASTER by preemption");
}

/// Two instances in one sync group; `fail_vi2` adds a failing-capable script to VI_2 only.
fn sync_group_conf(t: &Topo, node: usize, priority: u8, script: Option<&str>) -> String {
    let mut s = String::from("global_defs {\n  router_id n\n}\n");
    if let Some(top) = script {
        s.push_str(top);
    }
    s.push_str("vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n}\n");
    for (name, vrid, vip) in [("VI_1", 51, VIP), ("VI_2", 52, "10.99.0.101")] {
        s.push_str(&format!(
            "vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority {priority}\n  advert_int 1\n"
        ));
        if name == "VI_2" && script.is_some() {
            s.push_str("  track_script {\n    chk\n  }\n");
        }
        s.push_str(&format!(
            "  virtual_ipaddress {{\n    {vip}/32 dev eth0\n  }}\n}}\n"
        ));
    }
    let _ = (t, node);
    s
}

#[test]
fn sync_group_members_fail_over_together() {
    let Some(t) = Topo::new("syncgroup", 2) else {
        return;
    };
    let a = Daemon::fulcrum(&t, 0, &sync_group_conf(&t, 0, 100, None));
    let (top, flag) = chk_script(&t, 1, 0);
    let b = Daemon::fulcrum(&t, 1, &sync_group_conf(&t, 1, 150, Some(&top)));
    let both_on = |n: usize| t.node(n).has_address(VIP) && t.node(n).has_address("10.99.0.101");
    let none_on = |n: usize| !t.node(n).has_address(VIP) && !t.node(n).has_address("10.99.0.101");
    assert!(
        wait::until(SETTLE, || both_on(1) && none_on(0)).is_some(),
        "{}",
        logs(&[&a, &b])
    );
    // Only VI_2 tracks the script, but the whole group leaves.
    std::fs::remove_file(&flag).unwrap();
    assert!(
        wait::until(SETTLE, || both_on(0) && none_on(1)).is_some(),
        "the group moves together{}",
        logs(&[&a, &b])
    );
}

#[test]
fn notify_scripts_get_keepalived_arguments() {
    let Some(t) = Topo::new("notify", 1) else {
        return;
    };
    let out = t.dir.join("notify.out");
    let script = t.write(
        "notify.sh",
        &format!("#!/bin/sh\necho \"$@\" >> {}\n", out.display()),
    );
    let master_out = t.dir.join("master.out");
    let extra = format!(
        "  notify \"/bin/sh {}\"\n  notify_master \"/bin/sh -c 'echo master > {}'\"\n",
        script.display(),
        master_out.display()
    );
    let inst = Inst {
        priority: 150,
        extra,
        ..Inst::default()
    };
    let mut a = Daemon::fulcrum(&t, 0, &inst.render(&t, 0));
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    assert!(
        wait::until(SETTLE, || read(&out).contains("INSTANCE VI_1 MASTER 150")).is_some(),
        "{}{}",
        read(&out),
        logs(&[&a])
    );
    assert!(
        read(&out).starts_with("INSTANCE VI_1 BACKUP 150\n"),
        "BACKUP first, then MASTER: {}",
        read(&out)
    );
    assert!(
        wait::until(SETTLE, || read(&master_out) == "master\n").is_some(),
        "{}",
        logs(&[&a])
    );
    a.term();
    assert!(a.child.wait_timeout(Duration::from_secs(10)).is_some());
    assert!(
        read(&out).ends_with("INSTANCE VI_1 STOP 150\n"),
        "stopping runs notify with STOP: {}{}",
        read(&out),
        logs(&[&a])
    );
}

#[test]
fn gratuitous_arp_repoints_the_client_after_failover() {
    let Some(t) = Topo::new("garp", 3) else {
        return;
    };
    let client = t.node(2);
    let mut p = Pair::elect(&t, BOTH, [&inst(100), &inst(150)]);
    let mac_of = |n: usize| {
        let out = t
            .node(n)
            .run("cat", &["/sys/class/net/eth0/address"])
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        out.unwrap_or_default()
    };
    let (mac_a, mac_b) = (mac_of(0), mac_of(1));
    assert!(!mac_a.is_empty() && mac_a != mac_b);
    let neigh = || {
        client
            .run("ip", &["neigh", "show", VIP])
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default()
    };
    // The client learns the VIP at B (one UDP datagram makes it resolve the address).
    let poke = format!("echo x > /dev/udp/{VIP}/9");
    let _ = client.run("bash", &["-c", &poke]);
    assert!(
        wait::until(Duration::from_secs(5), || neigh().contains(&mac_b)).is_some(),
        "{}{}",
        neigh(),
        p.logs()
    );
    p.daemons[1].term();
    p.moves_to(0, "SIGTERM of the master");
    // Without sending anything itself, the client's entry now points at A.
    assert!(
        wait::until(Duration::from_secs(10), || neigh().contains(&mac_a)).is_some(),
        "neighbour entry: {}{}",
        neigh(),
        p.logs()
    );
}

#[test]
fn own_interface_down_means_fault_and_the_vip_is_removed() {
    let Some(t) = Topo::new("ownif", 2) else {
        return;
    };
    let mut p = Pair::elect(&t, BOTH, [&inst(100), &inst(150)]);
    assert!(t.node(1).set_link(false));
    assert!(
        wait::until(SETTLE, || p.daemons[1].log().contains("Entering FAULT")).is_some(),
        "{}",
        p.logs()
    );
    p.moves_to(
        0,
        "a FAULT instance removes its VIP, the other node takes over",
    );
    assert!(t.node(1).set_link(true));
    p.moves_to(1, "link back: it preempts again");
}
