//! examples/openstack-cluster.cfg (seed 000: twelve OpenStack service VIPs over three
//! controllers, Pacemaker's job) runs as written on three namespaces with a three-member etcd:
//! only the seed's addresses are moved into the lab's range (192.168.142.x → 10.99.142.x,
//! eth1 → eth0) and the etcd line points at the lab's members. Every VIP is started on one
//! controller, four each, the anti-affinity group on three different ones, and each service
//! answers through its VIP.
#![allow(clippy::unwrap_used)]

mod cluster_support;

use fulcrum_testlab::netns::{self, Lab};
use fulcrum_testlab::process::Child;
use fulcrum_testlab::{etcd, wait};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// (VIP last octet, a port its frontends bind).
const SERVICES: &[(&str, u8, u16)] = &[
    ("db", 201, 3306),
    ("rabbitmq", 202, 5672),
    ("keystone", 203, 5000),
    ("glance", 205, 9292),
    ("cinder", 206, 8776),
    ("swift", 208, 8080),
    ("neutron", 209, 9696),
    ("nova", 210, 8774),
    ("horizon", 211, 80),
    ("heat", 212, 8004),
    ("ceilometer", 214, 8777),
    ("qpid", 215, 5672),
];
const PORTS: &[u16] = &[
    3306, 5672, 35357, 5000, 9292, 9191, 8776, 8080, 9696, 8774, 6080, 80, 8004, 8777,
];

#[test]
fn openstack_cluster_example_places_twelve_vips_over_three_controllers() {
    let test = "example-openstack-cluster";
    if !netns::available(test) || !etcd::available(test) {
        return;
    }
    let lab = Lab::new(4).unwrap();
    let dir = std::env::temp_dir().join(format!("{}-{test}", lab.hub));
    std::fs::create_dir_all(&dir).unwrap();
    let members = &lab.nodes[..3];
    let mut children: Vec<Child> = Vec::new();
    for i in 0..3 {
        children.push(etcd::start_member(members, i, &dir, &lab.hub));
    }
    let client = lab.node(3);
    assert!(etcd::wait_healthy(
        client,
        &etcd::endpoints(members),
        Duration::from_secs(30)
    ));

    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/openstack-cluster.cfg"),
    )
    .unwrap();
    let etcd_line = example
        .lines()
        .find(|l| l.trim_start().starts_with("etcd "))
        .unwrap()
        .to_string();
    let cfg = example
        .replace(
            &etcd_line,
            &format!("    etcd {}", etcd::endpoints(members)),
        )
        .replace("192.168.142.", "10.99.142.")
        .replace("/24 dev eth1", "/16 dev eth0");
    let cfg_file = dir.join("openstack-cluster.cfg");
    std::fs::write(&cfg_file, cfg).unwrap();

    for (i, node) in members.iter().enumerate() {
        let own = format!("10.99.142.{}", 110 + i);
        assert!(Command::new("ip")
            .args([
                "-n",
                &node.netns,
                "addr",
                "add",
                &format!("{own}/16"),
                "dev",
                "eth0"
            ])
            .status()
            .unwrap()
            .success());
        let _ = node.run(
            "sh",
            &["-c", "echo 1 > /proc/sys/net/ipv4/ip_nonlocal_bind"],
        );
        // The controller's OpenStack services: one answer per port, naming the controller.
        let mut app = String::from("defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\nfrontend services\n");
        for p in PORTS {
            app.push_str(&format!("    bind {own}:{p}\n"));
        }
        app.push_str(&format!(
            "    http-request return status 200 content-type text/plain string \"controller{}-vm\"\n",
            i + 1
        ));
        let app_file = dir.join(format!("app{i}.cfg"));
        std::fs::write(&app_file, app).unwrap();
        let mut cmd = node.command(env!("CARGO_BIN_EXE_fulcrum"));
        cmd.args(["run", "--control"])
            .arg(dir.join(format!("app{i}.sock")))
            .arg("-f")
            .arg(&app_file);
        children
            .push(Child::spawn(&format!("app{i}"), cmd, dir.join(format!("app{i}.log"))).unwrap());
        let mut cmd = node.command(env!("CARGO_BIN_EXE_fulcrum"));
        cmd.args(["run", "--control"])
            .arg(dir.join(format!("c{i}.sock")))
            .arg("-f")
            .arg(&cfg_file)
            .env("NODE", format!("controller{}-vm", i + 1));
        children.push(
            Child::spawn(
                &format!("controller{}", i + 1),
                cmd,
                dir.join(format!("c{i}.log")),
            )
            .unwrap(),
        );
    }
    let logs = || {
        children
            .iter()
            .filter(|c| c.name.starts_with("controller"))
            .map(|c| format!("\n----- {} -----\n{}", c.name, c.output()))
            .collect::<String>()
    };

    // Who holds each VIP (by the addresses on the controllers).
    let holders = || -> Vec<Vec<usize>> {
        let texts: Vec<String> = members
            .iter()
            .map(|n| {
                let o = Command::new("ip")
                    .args(["-n", &n.netns, "-o", "-4", "addr", "show", "dev", "eth0"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&o.stdout).into_owned()
            })
            .collect();
        SERVICES
            .iter()
            .map(|(_, octet, _)| {
                let needle = format!(" 10.99.142.{octet}/16 ");
                (0..3).filter(|i| texts[*i].contains(&needle)).collect()
            })
            .collect()
    };
    let mut last = Vec::new();
    let spread = wait::until(Duration::from_secs(40), || {
        last = holders();
        let mut loads = [0; 3];
        for h in &last {
            for n in h {
                loads[*n] += 1;
            }
        }
        last.iter().all(|h| h.len() == 1) && loads == [4, 4, 4]
    });
    assert!(spread.is_some(), "not 4/4/4: {last:?}{}", logs());
    // anti-affinity data: vip-db, vip-rabbitmq, vip-qpid on three different controllers.
    let data: std::collections::BTreeSet<usize> = [0, 1, 11].iter().map(|i| last[*i][0]).collect();
    assert_eq!(data.len(), 3, "{last:?}");

    // Every service answers through its VIP, from the controller holding it.
    let expect: Vec<(SocketAddr, String)> = SERVICES
        .iter()
        .zip(&last)
        .map(|((_, octet, port), h)| {
            (
                format!("10.99.142.{octet}:{port}").parse().unwrap(),
                format!("controller{}-vm", h[0] + 1),
            )
        })
        .collect();
    let answered = client
        .in_thread(move || {
            expect
                .iter()
                .filter(|(addr, who)| {
                    wait::until(Duration::from_secs(10), || {
                        cluster_support::probe_addr(*addr, Duration::from_millis(500)).as_deref()
                            == Some(who.as_str())
                    })
                    .is_none()
                })
                .map(|(a, _)| *a)
                .collect::<Vec<_>>()
        })
        .join()
        .unwrap();
    assert!(
        answered.is_empty(),
        "no answer through {answered:?}{}",
        logs()
    );

    // `fulcrum status` as `pcs status`: every VIP started, the three controllers online.
    let status = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["status", "--control"])
        .arg(dir.join("c0.sock"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("Online: [ controller1-vm controller2-vm controller3-vm ]"),
        "{text}"
    );
    assert_eq!(text.matches("Started controller").count(), 12, "{text}");
    eprintln!("{text}");
    drop(children);
    let _ = std::fs::remove_dir_all(&dir);
}
