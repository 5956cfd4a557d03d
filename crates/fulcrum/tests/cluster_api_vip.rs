//! VIP hand-off (issue 18): with a `cluster` section, a load balancer's VIP created through
//! the LBaaS API is placed by the cluster (one node holds it, through etcd), not added on the
//! node whose API was called; traffic to it reaches the holder's listener; when the holder
//! dies the VIP moves to a survivor; deleting the load balancer releases it everywhere.
//! Three nodes with etcd members and fulcrum (cluster + api, the API's store in etcd), a
//! client namespace.
#![allow(clippy::unwrap_used)]

mod api_udp_support;
mod cluster_support;

use api_udp_support::{call, create, wait_active};
use cluster_support::*;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

const LB_VIP: &str = "10.99.2.1";

/// The live nodes whose eth0 has `addr`/32.
fn lb_holders(rig: &Rig) -> Vec<usize> {
    (0..NODES)
        .filter(|i| !rig.dead[*i].load(std::sync::atomic::Ordering::SeqCst))
        .filter(|i| {
            Command::new("ip")
                .args([
                    "-n",
                    &rig.node(*i).netns,
                    "-o",
                    "-4",
                    "addr",
                    "show",
                    "dev",
                    "eth0",
                ])
                .output()
                .is_ok_and(|o| {
                    String::from_utf8_lossy(&o.stdout).contains(&format!(" {LB_VIP}/32 "))
                })
        })
        .collect()
}

/// Waits until exactly one live node holds the VIP; never two at once meanwhile.
fn wait_one_holder(rig: &Rig, not: Option<usize>) -> usize {
    let mut last = Vec::new();
    let ok = fulcrum_testlab::wait::until(Duration::from_secs(20), || {
        last = lb_holders(rig);
        assert!(last.len() <= 1, "{LB_VIP} on two nodes: {last:?}");
        last.len() == 1 && Some(last[0]) != not
    });
    assert!(
        ok.is_some(),
        "{LB_VIP} never held by one node (last {last:?}){}",
        rig.logs()
    );
    last[0]
}

/// GET http://LB_VIP/ from the client: the answering node's name.
fn ask(rig: &Rig) -> Option<String> {
    let out = rig.client().run(
        "curl",
        &["-s", "-m", "2", &format!("http://{LB_VIP}:8080/")],
    )?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn lbaas_vip_placed_by_the_cluster() {
    let Some(mut rig) = Rig::with_proxy(
        "cluster_api_vip",
        "",
        "api\n    bind 127.0.0.1:9876\n    auth noauth\n\n",
    ) else {
        return;
    };
    rig.wait_spread_any(Duration::from_secs(30));
    let api = rig.node(0).clone();
    let up = fulcrum_testlab::wait::until(Duration::from_secs(20), || {
        call(&api, "GET", "loadbalancers", None).0 == 200
    });
    assert!(up.is_some(), "API never answered{}", rig.logs());
    let lb = create(
        &api,
        "loadbalancers",
        "loadbalancer",
        json!({"vip_address": LB_VIP, "vip_subnet_id": "lab"}),
    );
    let logs = || rig.logs();
    wait_active(&api, &lb, logs);
    let l = create(
        &api,
        "listeners",
        "listener",
        json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 8080}),
    );
    wait_active(&api, &lb, logs);
    let pool = create(
        &api,
        "pools",
        "pool",
        json!({"listener_id": l, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    wait_active(&api, &lb, logs);
    // Each node's member is its own app (127.0.0.1:8000 answers the node's name).
    create(
        &api,
        &format!("pools/{pool}/members"),
        "member",
        json!({"address": "127.0.0.1", "protocol_port": 8000}),
    );
    wait_active(&api, &lb, logs);

    // Placed by the cluster: one holder, and it serves the VIP.
    let holder = wait_one_holder(&rig, None);
    let want = node_name(holder);
    let mut got = None;
    let served = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        got = ask(&rig);
        got.as_deref() == Some(want.as_str())
    });
    assert!(
        served.is_some(),
        "the VIP's holder {want} did not answer (got {got:?}){}",
        rig.logs()
    );
    let status = rig.status_text(holder);
    assert!(status.contains(&format!("lbaas-{LB_VIP}")), "{status}");
    eprintln!("cluster_api_vip: {LB_VIP} placed on {want}");

    // The holder dies: a survivor takes the VIP and serves it.
    rig.kill_node(holder);
    let next = wait_one_holder(&rig, Some(holder));
    let want = node_name(next);
    let served = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        got = ask(&rig);
        got.as_deref() == Some(want.as_str())
    });
    assert!(
        served.is_some(),
        "the new holder {want} did not answer (got {got:?}){}",
        rig.logs()
    );
    eprintln!(
        "cluster_api_vip: after {} died, {LB_VIP} moved to {want}",
        node_name(holder)
    );

    // Deleting the load balancer (through a survivor's API) releases the VIP everywhere.
    // Bounded retry: right after a node's death the store's write may time out while etcd
    // settles (a 500 naming the etcd error); an operator's client retries the same way.
    let api = rig.node(next).clone();
    let mut last = (0, serde_json::Value::Null);
    let deleted = fulcrum_testlab::wait::until(Duration::from_secs(20), || {
        last = call(
            &api,
            "DELETE",
            &format!("loadbalancers/{lb}?cascade=true"),
            None,
        );
        last.0 == 204 || !last.1.to_string().contains("etcd")
    });
    assert!(deleted.is_some(), "delete never settled: {:?}", last);
    assert_eq!(last.0, 204, "{}", last.1);
    let gone =
        fulcrum_testlab::wait::until(Duration::from_secs(15), || lb_holders(&rig).is_empty());
    assert!(gone.is_some(), "{LB_VIP} still held{}", rig.logs());
    // The section's own VIPs are untouched: each still has exactly one holder.
    rig.wait_spread_any(Duration::from_secs(10));
}
