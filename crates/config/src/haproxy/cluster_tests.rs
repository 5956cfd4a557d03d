//! Unit tests of the `cluster` section: every keyword, defaults, and FILE:LINE errors.

use crate::model::*;
use crate::{load_sources, Loaded, Source};
use std::time::Duration;

fn load(text: &str) -> Loaded {
    load_sources(&[Source {
        name: "c.cfg",
        text,
    }])
}

fn errors(text: &str) -> Vec<String> {
    load(text)
        .diagnostics
        .errors()
        .map(|d| d.to_string())
        .collect()
}

/// Every message of `want` starts one of `e`, and there are no others.
fn exactly(e: &[String], want: &[&str]) {
    for w in want {
        assert!(
            e.iter().any(|x| x.starts_with(w)),
            "missing {w:?} in {e:#?}"
        );
    }
    assert_eq!(e.len(), want.len(), "{e:#?}");
}

const ISSUE: &str = "cluster\n    node controller1                  # this node\n    etcd http://10.0.0.1:2379,http://10.0.0.2:2379,http://10.0.0.3:2379\n    lease-ttl 2s\n    no-quorum-policy stop\n    vip vip-db       192.168.142.100/24 dev eth0\n    vip vip-keystone 192.168.142.102/24 dev eth0 prefer controller2\n";

#[test]
fn the_issue_example_parses() {
    let l = load(ISSUE);
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    let c = l.config.cluster.expect("cluster section");
    assert_eq!(c.name, "fulcrum");
    assert_eq!(c.node, "controller1");
    assert_eq!(c.etcd.len(), 3);
    assert_eq!(c.etcd[2], "http://10.0.0.3:2379");
    assert_eq!(c.lease_ttl, Duration::from_secs(2));
    assert_eq!(c.no_quorum_policy, NoQuorumPolicy::Stop);
    assert_eq!(c.vips.len(), 2);
    assert_eq!(c.vips[0].name, "vip-db");
    assert_eq!(c.vips[0].address.to_string(), "192.168.142.100");
    assert_eq!(c.vips[0].prefix, 24);
    assert_eq!(c.vips[0].dev, "eth0");
    assert_eq!(c.vips[0].prefer, None);
    assert_eq!(c.vips[1].prefer.as_deref(), Some("controller2"));
    assert_eq!(c.vips[1].span.line, 7);
    assert!(c.colocation_frontends);
    assert_eq!(c.rebalance_after, Duration::from_secs(30));
    // The VIPs are bound by no frontend: colocation cannot apply, said as a warning.
    let w: Vec<String> = l.diagnostics.warnings().map(|d| d.to_string()).collect();
    assert!(
        w.iter()
            .any(|w| w.starts_with("c.cfg:6: warning: vip 'vip-db'")),
        "{w:?}"
    );
}

#[test]
fn every_option() {
    let l = load("cluster prod\n node n1\n etcd https://e1:2379\n etcd-ca-file /etc/ca.pem\n etcd-cert /etc/c.pem\n etcd-key /etc/c.key\n etcd-user fulcrum\n etcd-password s3cret\n lease-ttl 3s\n etcd-keepalive 10s\n no-quorum-policy freeze\n rebalance-after 0\n colocation none\n garp-repeat 3\n vip a 10.1.0.1/24 dev eth0\n vip b 10.1.0.2 dev eth1\n vip c fd00::1/64 dev eth0 prefer n2\n anti-affinity spread a b c\n config-from-etcd\n peers-bind 10.1.0.11:10000\n");
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    let c = l.config.cluster.unwrap();
    assert_eq!(c.name, "prod");
    assert_eq!(c.etcd_auth.ca_file.as_deref(), Some("/etc/ca.pem"));
    assert_eq!(c.etcd_auth.user.as_deref(), Some("fulcrum"));
    assert_eq!(c.etcd_auth.password.as_deref(), Some("s3cret"));
    assert_eq!(c.lease_ttl, Duration::from_secs(3));
    assert_eq!(c.etcd_keepalive, Duration::from_secs(10));
    assert_eq!(c.no_quorum_policy, NoQuorumPolicy::Freeze);
    assert_eq!(c.rebalance_after, Duration::ZERO);
    assert!(!c.colocation_frontends);
    assert_eq!(c.garp_repeat, 3);
    assert_eq!(c.vips[1].prefix, 32);
    assert_eq!(c.vips[2].prefix, 64);
    assert_eq!(c.anti_affinity[0].vips, ["a", "b", "c"]);
    assert!(c.config_from_etcd);
    assert_eq!(c.peers_bind, Some("10.1.0.11:10000".parse().unwrap()));
    // The password never appears in `fulcrum check --dump`.
    let dump = serde_json::to_string(&c).unwrap();
    assert!(!dump.contains("s3cret"), "{dump}");
}

#[test]
fn node_comes_from_the_environment_or_the_host_name() {
    let mut p =
        crate::haproxy::Parser::with_env(Box::new(|n| (n == "NODE").then(|| "ctl3".to_string())));
    let mut d = crate::Diagnostics::new();
    p.parse_file(
        "e.cfg",
        "cluster\n node ${NODE}\n etcd http://127.0.0.1:2379\n",
        &mut d,
    );
    assert_eq!(p.take_cluster().unwrap().node, "ctl3");
    let c = load("cluster\n etcd http://127.0.0.1:2379\n")
        .config
        .cluster
        .unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(c.node, host.trim());
}

#[test]
fn errors_name_file_and_line() {
    let e = errors("cluster\n node n1\n etcd 10.0.0.1:2379\n lease-ttl 500ms\n no-quorum-policy ignore\n vip x 10.0.0.300/24 dev eth0\n vip y 10.0.0.1/40 dev eth0\n vip z 10.0.0.2/24\n vip w 10.0.0.3/24 dev eth0 weight 3\n bogus 1\n anti-affinity g a\n");
    let want = [
        "c.cfg:3: error: etcd endpoint '10.0.0.1:2379' must start with http:// or https://",
        "c.cfg:4: error: lease-ttl must be a whole number of seconds",
        "c.cfg:5: error: no-quorum-policy 'ignore' is not supported (expected stop or freeze)",
        "c.cfg:6: error: vip 'x': '10.0.0.300/24' is not an IP address",
        "c.cfg:7: error: vip 'y': prefix length '40' must be between 0 and 32",
        "c.cfg:8: error: vip 'z' needs 'dev IF'",
        "c.cfg:9: error: vip 'w': unknown option 'weight'",
        "c.cfg:10: error: unknown keyword 'bogus' in 'cluster' section",
        "c.cfg:11: error: anti-affinity 'g' needs at least two VIP names",
        "c.cfg:1: error: cluster needs 'etcd URL[,URL...]'",
    ];
    exactly(&e, &want);
}

#[test]
fn cross_checks() {
    let e = errors("cluster\n node n1\n etcd http://127.0.0.1:2379\n etcd-cert /c.pem\n vip a 10.1.0.1/24 dev eth0\n vip a 10.1.0.2/24 dev eth0\n vip b 10.1.0.1/24 dev eth0\n anti-affinity g a nope\ncluster\n");
    let want = [
        "c.cfg:9: error: only one 'cluster' section is allowed (the first is at c.cfg:1)",
        "c.cfg:1: error: cluster: 'etcd-cert' and 'etcd-key' go together",
        "c.cfg:1: error: cluster: etcd TLS options are set but an endpoint is http://",
        "c.cfg:6: error: vip 'a' is declared twice (first at c.cfg:5)",
        "c.cfg:7: error: vip 'b' has the address 10.1.0.1 of vip 'a' (at c.cfg:5)",
        "c.cfg:8: error: anti-affinity 'g' names vip 'nope'",
    ];
    exactly(&e, &want);
}

#[test]
fn a_vip_bound_by_a_frontend_has_no_warning_and_vrrp_cannot_share_it() {
    let h = "defaults\n mode tcp\n timeout connect 1s\n timeout client 1s\n timeout server 1s\nfrontend db\n bind 10.1.0.1:3306\n default_backend b\nbackend b\n server s 10.0.0.9:3306 check\ncluster\n node n1\n etcd http://127.0.0.1:2379\n vip db 10.1.0.1/24 dev eth0\n";
    let k = "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.1.0.1/24\n }\n}\n";
    let l = load_sources(&[Source {
        name: "h.cfg",
        text: h,
    }]);
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    assert_eq!(l.diagnostics.warnings().count(), 0, "{:?}", l.diagnostics);
    let l = load_sources(&[
        Source {
            name: "h.cfg",
            text: h,
        },
        Source {
            name: "k.conf",
            text: k,
        },
    ]);
    let e: Vec<String> = l.diagnostics.errors().map(|d| d.to_string()).collect();
    assert_eq!(e, ["h.cfg:14: error: vip 'db' address 10.1.0.1 is also a virtual_ipaddress of vrrp_instance V (one manager per address)"]);
}

#[test]
fn a_file_that_starts_with_cluster_is_haproxy_syntax() {
    assert_eq!(
        crate::detect::detect("cluster\n node a\n"),
        Dialect::Haproxy
    );
}

#[test]
fn api_store_is_etcd_with_a_cluster_section() {
    let text = "cluster lab\n    node n1\n    etcd http://127.0.0.1:2379\n    colocation none\n\napi\n    bind 127.0.0.1:9876\n    store /tmp/lbaas.db\n";
    let l = load(text);
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    let w: Vec<String> = l.diagnostics.warnings().map(|d| d.to_string()).collect();
    assert!(
        w.iter().any(
            |w| w.starts_with("c.cfg:6: warning: api: 'store' is not used")
                && w.contains("/fulcrum/lab/lbaas/")
        ),
        "{w:#?}"
    );
    // Neither vip_interface nor a cluster vip: the load balancers' VIPs cannot be placed.
    assert!(
        w.iter()
            .any(|w| w.starts_with("c.cfg:6: warning: api: with a 'cluster' section the load balancers' VIPs are placed by the cluster")),
        "{w:#?}"
    );
    let l = load(&text.replace("    store /tmp/lbaas.db\n", "    vip_interface eth0\n"));
    assert!(!l
        .diagnostics
        .warnings()
        .any(|d| d.to_string().contains("placed by the cluster")));
    // Without `store`, nothing to say about it.
    let l = load(&text.replace("    store /tmp/lbaas.db\n", ""));
    assert!(!l
        .diagnostics
        .warnings()
        .any(|d| d.to_string().contains("'store'")));
}

#[test]
fn peers_bind_needs_this_nodes_own_address() {
    for (arg, msg) in [
        ("0.0.0.0:10000", "c.cfg:3: error: peers-bind '0.0.0.0:10000': the other nodes connect to this address: write this node's own IP and a port"),
        ("host:10000", "c.cfg:3: error: peers-bind 'host:10000': expected IP:PORT such as 10.0.0.1:10000 (the other nodes connect to it)"),
    ] {
        let l = load(&format!("cluster\n etcd http://127.0.0.1:2379\n peers-bind {arg}\n"));
        let e: Vec<String> = l.diagnostics.errors().map(|d| d.to_string()).collect();
        assert_eq!(e, [msg]);
    }
}
