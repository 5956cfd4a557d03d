//! UDP listeners' limits across namespaces, run by fulcrum's LVS data plane.
//! `connection_limit`: rendered as keepalived's `uthreshold` on each real server (Octavia's
//! keepalivedlvs template) and run as IPVS runs it: a member with that many connections
//! (conntrack flows) is flagged overloaded and takes no new flow; with every member overloaded
//! a new flow gets no answer; a member whose flows end (deleted here with `conntrack -D`) takes
//! new flows again while the other stays overloaded. `allowed_cidrs`: the client's network
//! admits it, another network drops it. Client (node 0), director (node 1: fulcrum with only
//! an `api` section), UDP echo members (nodes 2-3).
#![allow(clippy::unwrap_used)]

mod api_udp_support;
mod lvs_support;
mod vrrp_support;

use api_udp_support::*;
use lvs_support::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use vrrp_support::Topo;

const LIMIT: usize = 3;

/// New flows (a new client socket each) until one gets no answer, at most `max`: the
/// answers by member, and whether the last flow was refused.
fn flows_until_refused(
    client: &fulcrum_testlab::netns::Node,
    max: usize,
) -> (BTreeMap<String, usize>, bool) {
    let mut by = BTreeMap::new();
    for _ in 0..max {
        match udp_ask(client, "q") {
            Some(a) => *by.entry(a.trim_end_matches(" q").to_string()).or_insert(0) += 1,
            None => return (by, true),
        }
    }
    (by, false)
}

#[test]
fn udp_connection_limit_is_uthreshold() {
    let Some(topo) = Topo::new("api_udp_limit", 4) else {
        return;
    };
    if !nft_available("api_udp_limit") {
        return;
    }
    let (c, d) = (topo.node(0).clone(), topo.node(1).clone());
    let rss: Vec<_> = (2..4).map(|i| topo.node(i).clone()).collect();
    setup_nat(&d, &rss.iter().collect::<Vec<_>>(), &c);
    let _servers: Vec<RealServer> = rss
        .iter()
        .enumerate()
        .map(|(i, n)| RealServer::start(n, &format!("rs{}", i + 1)))
        .collect();
    let fulcrum = Director::start(
        &topo.dir,
        &d,
        "fulcrum",
        "api\n    bind 127.0.0.1:9876\n    auth noauth\n",
    );
    wait_api(&d, || fulcrum.log());
    // The CLI sends the limit as a numeric string.
    let (lb, listener) = udp_listener(
        &d,
        VIP,
        json!({"connection_limit": LIMIT.to_string()}),
        || fulcrum.log(),
    );
    let (_, v) = call(&d, "GET", &format!("listeners/{listener}"), None);
    assert_eq!(v["listener"]["connection_limit"], LIMIT, "{v}");
    let pool = create(
        &d,
        "pools",
        "pool",
        json!({"listener_id": listener, "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    wait_active(&d, &lb, || fulcrum.log());
    for rs in &rss {
        create(
            &d,
            &format!("pools/{pool}/members"),
            "member",
            json!({"address": rs.addr.to_string(), "protocol_port": 53}),
        );
        wait_active(&d, &lb, || fulcrum.log());
    }

    // The rendering the LVS data plane runs.
    let out = d
        .run(
            env!("CARGO_BIN_EXE_fulcrum"),
            &[
                "lbaas-config",
                "--url",
                "http://127.0.0.1:9876",
                &lb,
                "--keepalived",
            ],
        )
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches(&format!("        uthreshold {LIMIT}\n"))
            .count(),
        2,
        "{text}"
    );

    // Phase 1: new flows, as fast as they are answered, until one is refused. Without the
    // limit every flow is answered (two members up); with it each member takes exactly
    // LIMIT flows (the cap in its chain holds between two reads of conntrack) and then both
    // are overloaded.
    let (by, refused) = flows_until_refused(&c, 60);
    assert!(
        refused,
        "60 new flows all answered ({by:?}): the limit is not applied\n{}",
        fulcrum.log()
    );
    for rs in ["rs1", "rs2"] {
        assert_eq!(
            by.get(rs).copied().unwrap_or(0),
            LIMIT,
            "{rs}: flows answered before the first refusal: {by:?}\n{}",
            fulcrum.log()
        );
    }
    eprintln!(
        "api_udp_limit: limit {LIMIT} per member, flows answered before the first refusal: {by:?}"
    );
    // Refusal is stable: the next flows get no answer either.
    for _ in 0..2 {
        assert_eq!(udp_ask(&c, "q"), None, "a flow answered past the limit");
    }

    // Phase 2: rs1's flows end (deleted from the director's conntrack table): it is below
    // 3/4 of its uthreshold, takes new flows again, and rs2 (still overloaded) takes none.
    let rs1 = rss[0].addr.to_string();
    let _ = d.run(
        "conntrack",
        &["-D", "-p", "udp", "--reply-src", rs1.as_str()],
    );
    let mut after = BTreeMap::new();
    let reopened = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        let (by, _) = flows_until_refused(&c, 1);
        for (k, n) in by {
            *after.entry(k).or_insert(0) += n;
        }
        !after.is_empty()
    });
    assert!(
        reopened.is_some(),
        "rs1 never took new flows after its flows ended\n{}",
        fulcrum.log()
    );
    let (more, refused) = flows_until_refused(&c, 30);
    for (k, n) in more {
        *after.entry(k).or_insert(0) += n;
    }
    assert!(refused, "rs1 was never overloaded again: {after:?}");
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        vec!["rs1"],
        "only rs1 (below its limit) may take new flows: {after:?}"
    );
    assert_eq!(after["rs1"], LIMIT, "{after:?}");
    eprintln!("api_udp_limit: after rs1's flows ended, new flows answered: {after:?}");
}

/// `allowed_cidrs` on a UDP listener: the client's own network admits it; a listener updated
/// to another network drops its datagrams (and admits it again when updated back).
#[test]
fn udp_allowed_cidrs() {
    let Some(topo) = Topo::new("api_udp_cidrs", 3) else {
        return;
    };
    if !nft_available("api_udp_cidrs") {
        return;
    }
    let (c, d) = (topo.node(0).clone(), topo.node(1).clone());
    let rs = topo.node(2).clone();
    setup_nat(&d, &[&rs], &c);
    let _server = RealServer::start(&rs, "rs1");
    let fulcrum = Director::start(
        &topo.dir,
        &d,
        "fulcrum",
        "api\n    bind 127.0.0.1:9876\n    auth noauth\n",
    );
    wait_api(&d, || fulcrum.log());
    let mine = format!("{}/32", c.addr);
    let (lb, listener) = udp_listener(
        &d,
        VIP,
        json!({"allowed_cidrs": [mine, "192.0.2.0/24"]}),
        || fulcrum.log(),
    );
    let pool = create(
        &d,
        "pools",
        "pool",
        json!({"listener_id": listener, "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    wait_active(&d, &lb, || fulcrum.log());
    create(
        &d,
        &format!("pools/{pool}/members"),
        "member",
        json!({"address": rs.addr.to_string(), "protocol_port": 53}),
    );
    wait_active(&d, &lb, || fulcrum.log());
    let answered = |want: bool| {
        fulcrum_testlab::wait::until(Duration::from_secs(10), || {
            udp_ask(&c, "q").is_some() == want
        })
        .is_some()
    };
    assert!(
        answered(true),
        "the allowed client got no answer\n{}",
        fulcrum.log()
    );
    let set = |cidrs: serde_json::Value| {
        let (code, v) = call(
            &d,
            "PUT",
            &format!("listeners/{listener}"),
            Some(json!({"listener": {"allowed_cidrs": cidrs}})),
        );
        assert_eq!(code, 200, "{v}");
        wait_active(&d, &lb, || fulcrum.log());
    };
    set(json!(["192.0.2.0/24"]));
    assert!(
        answered(false),
        "a client outside allowed_cidrs was answered"
    );
    for _ in 0..3 {
        assert_eq!(
            udp_ask(&c, "q"),
            None,
            "a client outside allowed_cidrs was answered"
        );
    }
    set(json!([mine]));
    assert!(
        answered(true),
        "the client allowed again got no answer\n{}",
        fulcrum.log()
    );
    eprintln!("api_udp_limit: allowed_cidrs admit {mine}, then drop it, then admit it again");
}
