//! VIP hand-off to VRRP (issue 18): two fulcrums, each with a `vrrp_instance` holding VIP and
//! an `api` section with `vip_interface eth0`; the same load balancer (VIP = the VRRP address)
//! is created through each node's API. The API adds the VIP on neither node (VRRP's): only the
//! MASTER holds it and serves it; when the MASTER stops, the BACKUP takes the VIP by VRRP and
//! serves the load balancer its API built. Client (node 0), nodes 1 (priority 150) and 2 (100).
#![allow(clippy::unwrap_used)]

mod api_udp_support;
mod vrrp_support;

use api_udp_support::{call, create, wait_active};
use serde_json::json;
use std::time::Duration;
use vrrp_support::*;

fn files(name: &str) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend app\n    bind 127.0.0.1:8000\n    http-request return status 200 content-type text/plain string \"{name}\"\n\n\
         api\n    bind 127.0.0.1:9876\n    auth noauth\n    vip_interface eth0\n"
    )
}

/// The load balancer of the walk-through through one node's API: VIP:8080 → 127.0.0.1:8000.
fn build(topo: &Topo, node: usize, log: impl Fn() -> String + Copy) {
    let n = topo.node(node).clone();
    let up = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
        call(&n, "GET", "loadbalancers", None).0 == 200
    });
    assert!(up.is_some(), "API of node {node} never answered{}", log());
    let lb = create(
        &n,
        "loadbalancers",
        "loadbalancer",
        json!({"vip_address": VIP, "vip_subnet_id": "lab"}),
    );
    wait_active(&n, &lb, log);
    let l = create(
        &n,
        "listeners",
        "listener",
        json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 8080}),
    );
    wait_active(&n, &lb, log);
    let pool = create(
        &n,
        "pools",
        "pool",
        json!({"listener_id": l, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    wait_active(&n, &lb, log);
    create(
        &n,
        &format!("pools/{pool}/members"),
        "member",
        json!({"address": "127.0.0.1", "protocol_port": 8000}),
    );
    wait_active(&n, &lb, log);
}

fn ask(topo: &Topo) -> Option<String> {
    let out = topo
        .node(0)
        .run("curl", &["-s", "-m", "2", &format!("http://{VIP}:8080/")])?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn lbaas_vip_left_to_vrrp() {
    let Some(topo) = Topo::new("api_vrrp_vip", 3) else {
        return;
    };
    let inst = |priority| Inst {
        priority,
        ..Inst::default()
    };
    let a = Daemon::fulcrum_files(
        &topo,
        1,
        &[
            ("lb.cfg", &files("node1")),
            ("keepalived.conf", &inst(150).render(&topo, 1)),
        ],
    );
    let b = Daemon::fulcrum_files(
        &topo,
        2,
        &[
            ("lb.cfg", &files("node2")),
            ("keepalived.conf", &inst(100).render(&topo, 2)),
        ],
    );
    let log = || logs(&[&a, &b]);
    assert!(
        wait_vip(&topo, 1, true, Duration::from_secs(15)).is_some(),
        "node 1 never MASTER{}",
        log()
    );
    // The same load balancer through both APIs. Applied (ACTIVE) means its VIPs were handled:
    // the BACKUP's API must not have added the VRRP address.
    build(&topo, 1, log);
    build(&topo, 2, log);
    assert!(
        vip_only_on(&topo, 1, 3),
        "the VIP must be on the MASTER only (VRRP's, not the API's){}",
        log()
    );
    let mut got = None;
    let served = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        got = ask(&topo);
        got.as_deref() == Some("node1")
    });
    assert!(
        served.is_some(),
        "the MASTER did not serve (got {got:?}){}",
        log()
    );

    // The MASTER stops (priority 0 sent): the BACKUP takes the VIP and serves.
    a.term();
    assert!(
        wait_vip(&topo, 2, true, Duration::from_secs(10)).is_some(),
        "the BACKUP never took the VIP{}",
        log()
    );
    let served = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        got = ask(&topo);
        got.as_deref() == Some("node2")
    });
    assert!(
        served.is_some(),
        "the new MASTER did not serve (got {got:?}){}",
        log()
    );
    eprintln!("api_vrrp_vip: the load balancer's VIP followed VRRP from node1 to node2");
}
