//! The LBaaS API's store in etcd (an `api` section plus a `cluster` section), against a real
//! etcd on loopback: load balancer, listener, pool and member created through one node's API
//! are listed with the same ids by a second fulcrum on the same etcd, which applies them live
//! (it serves the member's traffic once the first is gone); the first, restarted, reads them
//! back and serves them too. The keys are in etcd under the cluster's prefix; with etcd gone, a
//! change is refused (500) and not kept.

mod api_support;
mod common;

use api_support::{fetch, vip, Api};
use common::{app_server, free_port, Fulcrum, Scratch};
use fulcrum_testlab::etcd;
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

fn node(scratch: &Scratch, name: &str, endpoint: &str) -> Api {
    let port = api_support::port();
    let cfg = scratch.write(
        &format!("{name}.cfg"),
        &format!(
            "cluster lbaas-{pid}\n    node {name}\n    etcd {endpoint}\n    colocation none\n\n\
             api\n    bind 127.0.0.1:{port}\n    auth noauth\n",
            pid = std::process::id()
        ),
    );
    Api {
        base: format!("http://127.0.0.1:{port}"),
        fulcrum: Fulcrum::start(&cfg),
    }
}

/// The ids of a list (`GET path` answering `{key: [...]}`), sorted; another status shows as
/// `<CODE>` (a pool a node does not know yet is a 404).
fn ids(api: &Api, path: &str, key: &str) -> Vec<String> {
    let (code, v) = api.get(path);
    if code != 200 {
        return vec![format!("<{code}>")];
    }
    let mut ids: Vec<String> = v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["id"].as_str())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn everything(api: &Api, pool: &str) -> Vec<Vec<String>> {
    vec![
        ids(api, "loadbalancers", "loadbalancers"),
        ids(api, "listeners", "listeners"),
        ids(api, "pools", "pools"),
        ids(api, &format!("pools/{pool}/members"), "members"),
    ]
}

fn wait_for(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn serves(url: &str, body: &str) -> bool {
    let (code, text, _) = fetch(url, None);
    code == 200 && text == body
}

#[test]
fn lbaas_objects_shared_through_etcd_and_read_back_after_restart() {
    if !etcd::available("api-etcd") {
        return;
    }
    let scratch = Scratch::new("api-etcd");
    let local = etcd::start_local(&scratch.0);
    let member_port = free_port();
    let _member = app_server(&scratch, "member0", member_port, 200);

    let a = node(&scratch, "n1", &local.endpoint);
    let b = node(&scratch, "n2", &local.endpoint);
    let (vip, port) = (vip(11), free_port());
    let lb = a.create(
        "loadbalancers",
        "loadbalancer",
        json!({"name": "web", "vip_address": vip, "vip_subnet_id": "lab"}),
    );
    a.wait_active(&lb);
    let l = a.create(
        "listeners",
        "listener",
        json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": port}),
    );
    a.wait_active(&lb);
    let p = a.create(
        "pools",
        "pool",
        json!({"listener_id": l, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    a.wait_active(&lb);
    let m = a.create(
        &format!("pools/{p}/members"),
        "member",
        json!({"address": "127.0.0.1", "protocol_port": member_port}),
    );
    // Reported, not asserted (timings belong to benchmarks): from node 1's 201 to node 2
    // showing the member (each poll is a curl process, so this is an upper bound).
    let created = Instant::now();
    wait_for("node 2 to show the member", Duration::from_secs(10), || {
        b.get(&format!("pools/{p}/members/{m}")).0 == 200
    });
    eprintln!(
        "api-etcd: member visible on node 2 {:?} after node 1 answered 201",
        created.elapsed()
    );
    a.wait_active(&lb);
    let url = format!("http://{vip}:{port}/");
    wait_for(
        "node 1 to serve the member",
        Duration::from_secs(10),
        || serves(&url, "member0"),
    );
    let want = vec![
        vec![lb.clone()],
        vec![l.clone()],
        vec![p.clone()],
        vec![m.clone()],
    ];
    assert_eq!(everything(&a, &p), want);

    // The keys are in etcd, under the cluster's prefix, one per object.
    let prefix = format!("/fulcrum/lbaas-{}/lbaas/", std::process::id());
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            &local.endpoint,
            "get",
            "--prefix",
            "--keys-only",
            &prefix,
        ])
        .output()
        .expect("etcdctl");
    let keys = String::from_utf8_lossy(&out.stdout).into_owned();
    for k in [format!("loadbalancer/{lb}"), format!("member/{m}")] {
        assert!(
            keys.contains(&format!("{prefix}{k}")),
            "no {k} in etcd:\n{keys}"
        );
    }

    // Node 2 sees the same objects (same ids) without a restart, ACTIVE, and applied them.
    wait_for("node 2 to list the member", Duration::from_secs(10), || {
        everything(&b, &p) == want
    });
    let (_, v) = b.get(&format!("loadbalancers/{lb}"));
    assert_eq!(v["loadbalancer"]["name"], Value::from("web"), "{v}");
    drop(a);
    wait_for(
        "node 2 alone to serve the member",
        Duration::from_secs(10),
        || serves(&url, "member0"),
    );

    // Node 1 restarted reads everything back from etcd and serves it with node 2 gone.
    let a = node(&scratch, "n1", &local.endpoint);
    assert_eq!(everything(&a, &p), want, "{}", a.fulcrum.log_text());
    a.wait_active(&lb);
    drop(b);
    wait_for(
        "restarted node 1 to serve the member",
        Duration::from_secs(10),
        || serves(&url, "member0"),
    );

    // A change on the restarted node reaches etcd: the member removed is gone there too.
    let (code, v) = a.delete(&format!("pools/{p}/members/{m}"));
    assert_eq!(code, 204, "{v}");
    a.wait_active(&lb);
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            &local.endpoint,
            "get",
            "--prefix",
            "--keys-only",
            &prefix,
        ])
        .output()
        .expect("etcdctl");
    let keys = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !keys.contains(&format!("member/{m}")),
        "member still in etcd:\n{keys}"
    );
    assert!(keys.contains(&format!("loadbalancer/{lb}")), "{keys}");

    // etcd gone: a change cannot be stored, is answered 500 and is not kept in memory.
    drop(local);
    let (code, v) = a.post(
        "loadbalancers",
        json!({"loadbalancer": {"name": "lost", "vip_address": vip, "vip_subnet_id": "lab"}}),
    );
    assert_eq!(code, 500, "{v}");
    assert_eq!(ids(&a, "loadbalancers", "loadbalancers"), vec![lb.clone()]);
}

/// Two API nodes on one etcd changing the same pool at the same moment, 12 rounds: every
/// answer is Octavia's (200, or 409 with a fault body while the other node's change is
/// PENDING_UPDATE); a node whose write lost the compare-and-swap reads the store again and
/// re-runs the request (409 if the winner's change is still pending, 200 once it settled, as
/// Octavia would answer it then); some change must have lost (a 409 or a lost
/// compare-and-swap in the logs: without compare-and-swap both would write, the last silently
/// winning); after each round both nodes show the same pool, ACTIVE, named by a winner.
#[test]
fn two_nodes_changing_one_pool_at_once() {
    if !etcd::available("api-etcd-cas") {
        return;
    }
    let scratch = Scratch::new("api-etcd-cas");
    let local = etcd::start_local(&scratch.0);
    let a = node(&scratch, "n1", &local.endpoint);
    let b = node(&scratch, "n2", &local.endpoint);
    let lb = a.create(
        "loadbalancers",
        "loadbalancer",
        json!({"name": "web", "vip_address": vip(12), "vip_subnet_id": "lab"}),
    );
    a.wait_active(&lb);
    let p = a.create(
        "pools",
        "pool",
        json!({"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    a.wait_active(&lb);
    wait_for("node 2 to show the pool", Duration::from_secs(10), || {
        b.get(&format!("pools/{p}")).0 == 200
    });
    b.wait_active(&lb);
    let mut losers = 0;
    for round in 0..12 {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let put = |api: &Api, name: String| {
            let barrier = barrier.clone();
            let url = api.url(&format!("pools/{p}"));
            std::thread::spawn(move || {
                barrier.wait();
                let r = api_support::call(
                    "PUT",
                    &url,
                    Some(&json!({"pool": {"name": name.clone()}})),
                    &[],
                );
                (name, r)
            })
        };
        let ta = put(&a, format!("a{round}"));
        let tb = put(&b, format!("b{round}"));
        let results = [ta.join().expect("thread"), tb.join().expect("thread")];
        let mut winners = Vec::new();
        for (name, (code, v)) in &results {
            match code {
                200 => winners.push(name.clone()),
                409 => {
                    losers += 1;
                    assert_eq!(v["faultcode"], "Client", "{v}");
                    assert!(v["faultstring"].is_string(), "{v}");
                }
                _ => panic!("round {round}: {name}: {code} {v}"),
            }
        }
        assert!(
            !winners.is_empty(),
            "round {round}: nobody won: {results:?}"
        );
        a.wait_active(&lb);
        b.wait_active(&lb);
        let mut names = Vec::new();
        wait_for("both nodes to agree", Duration::from_secs(10), || {
            names = [&a, &b]
                .iter()
                .map(|n| n.get(&format!("pools/{p}")).1["pool"]["name"].clone())
                .collect::<Vec<Value>>();
            names[0] == names[1]
                && [&a, &b].iter().all(|n| {
                    n.get(&format!("pools/{p}")).1["pool"]["provisioning_status"] == "ACTIVE"
                })
        });
        let name = names[0].as_str().unwrap_or("").to_string();
        assert!(
            winners.contains(&name),
            "round {round}: the pool is named {name:?}, not by a winner {winners:?}"
        );
    }
    let cas = [&a, &b]
        .iter()
        .map(|n| {
            n.fulcrum
                .log_text()
                .matches("lost a compare-and-swap")
                .count()
        })
        .sum::<usize>();
    eprintln!(
        "api-etcd-cas: {losers} of 24 concurrent changes answered 409; {cas} lost a compare-and-swap"
    );
    assert!(
        losers + cas > 0,
        "no change lost a compare-and-swap or got 409: the changes were never concurrent"
    );
}
