//! The descriptor budget against HAProxy 2.6.12's own figures (`show info`'s `Maxconn`,
//! `Maxpipes`, `Maxsock`), read from the real haproxy started under `prlimit` on each of
//! these configurations.
use super::{budget, BootLimit, FdBudget};
use crate::{load_sources, Source};

fn config(global: &str, defaults: &str, bind: &str, server: &str) -> crate::model::Config {
    let text = format!(
        "global\n    stats socket /tmp/h1.sock level admin\n{global}\
         defaults\n    mode http\n    timeout client 30s\n    timeout server 30s\n    timeout connect 5s\n{defaults}\
         frontend fe\n    bind {bind}\n    default_backend be\n\
         backend be\n    {server}\n"
    );
    let l = load_sources(&[Source {
        name: "t.cfg",
        text: &text,
    }]);
    let errors: Vec<String> = l.diagnostics.errors().map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    l.config
}

const BOOT: BootLimit = BootLimit {
    soft: 1024,
    hard: 20000,
};
const SERVER: &str = "server s1 127.0.0.1:26002";
const BIND: &str = "127.0.0.1:26001";

/// (maxconn, maxpipes, maxsock) as haproxy printed them.
fn figures(b: FdBudget) -> (u32, u32, u64) {
    (b.maxconn, b.maxpipes, b.maxsock)
}

#[test]
fn maxconn_as_written_two_descriptors_each() {
    let c = config("    maxconn 5000\n", "", BIND, SERVER);
    // 10 reserved, 1 listener, 1 stats socket + its 10 connections, 3 per thread.
    assert_eq!(figures(budget(&c, 1, BOOT)), (5000, 0, 10025));
    assert_eq!(figures(budget(&c, 2, BOOT)), (5000, 0, 10028));
    let b = budget(&c, 2, BOOT);
    assert!(!b.maxconn_derived);
    assert_eq!(b.ulimit_n, 10028);
}

#[test]
fn listeners_checks_and_stats_connections_count() {
    let g = "    maxconn 5000\n";
    let two = config(g, "", "127.0.0.1:26001,127.0.0.1:26008", SERVER);
    assert_eq!(figures(budget(&two, 1, BOOT)), (5000, 0, 10026));
    let range = config(g, "", "127.0.0.1:26001-26004", SERVER);
    assert_eq!(figures(budget(&range, 1, BOOT)), (5000, 0, 10028));
    let checks = config(
        g,
        "",
        BIND,
        "server s1 127.0.0.1:26002 check\n    server s2 127.0.0.1:26003 check",
    );
    assert_eq!(figures(budget(&checks, 1, BOOT)), (5000, 0, 10027));
    let agent = config(
        g,
        "",
        BIND,
        "server s1 127.0.0.1:26002 agent-check agent-port 26003",
    );
    assert_eq!(figures(budget(&agent, 1, BOOT)), (5000, 0, 10027));
    let both = config(
        g,
        "",
        BIND,
        "server s1 127.0.0.1:26002 check agent-check agent-port 26003",
    );
    assert_eq!(figures(budget(&both, 1, BOOT)), (5000, 0, 10028));
    let stats = config("    maxconn 5000\n    stats maxconn 20\n", "", BIND, SERVER);
    assert_eq!(figures(budget(&stats, 1, BOOT)), (5000, 0, 10035));
    let sockets = config(
        "    maxconn 5000\n    stats socket 127.0.0.1:26006\n",
        "",
        BIND,
        SERVER,
    );
    assert_eq!(figures(budget(&sockets, 1, BOOT)), (5000, 0, 10026));
}

/// A `peers` section this node is in: its listener and 3 per peer, this node included
/// (haproxy 2.6.12 under `-L me`: +4 with the local peer alone, +3 per other peer); a
/// section without this node is removed at start and counts nothing.
#[test]
fn peers_sections_count_a_listener_and_three_per_peer() {
    let peers = |lines: &str| {
        config(
            &format!("    maxconn 5000\n    localpeer me\npeers p\n{lines}"),
            "",
            BIND,
            SERVER,
        )
    };
    let alone = peers("    peer me 127.0.0.1:26010\n");
    assert_eq!(figures(budget(&alone, 1, BOOT)), (5000, 0, 10029));
    let three = peers(
        "    peer me 127.0.0.1:26010\n    peer o1 127.0.0.1:26011\n    peer o2 127.0.0.1:26012\n",
    );
    assert_eq!(figures(budget(&three, 1, BOOT)), (5000, 0, 10035));
    let elsewhere = peers("    peer o1 127.0.0.1:26011\n    peer o2 127.0.0.1:26012\n");
    assert_eq!(figures(budget(&elsewhere, 1, BOOT)), (5000, 0, 10025));
}

#[test]
fn splicing_adds_a_pipe_per_four_connections() {
    let g = "    maxconn 5000\n";
    let auto = config(g, "    option splice-auto\n", BIND, SERVER);
    assert_eq!(figures(budget(&auto, 1, BOOT)), (5000, 1250, 12525));
    // `nosplice` does not change HAProxy's count.
    let off = config(
        "    maxconn 5000\n    nosplice\n",
        "    option splice-auto\n",
        BIND,
        SERVER,
    );
    assert_eq!(figures(budget(&off, 1, BOOT)), (5000, 1250, 12525));
    let fixed = config(
        "    maxconn 5000\n    maxpipes 77\n",
        "    option splice-auto\n",
        BIND,
        SERVER,
    );
    assert_eq!(figures(budget(&fixed, 1, BOOT)), (5000, 77, 10179));
    // A frontend's maxconn 400, the backend counts the global 5000: the larger wins.
    let response = config(
        g,
        "    option splice-response\n    maxconn 400\n",
        BIND,
        SERVER,
    );
    assert_eq!(figures(budget(&response, 1, BOOT)), (5000, 1250, 12525));
}

#[test]
fn maxconn_derived_from_the_larger_boot_limit() {
    let c = config("", "", BIND, SERVER);
    let b = budget(&c, 2, BOOT);
    assert!(b.maxconn_derived);
    assert_eq!(figures(b), (9986, 0, 20000));
    let four_k = BootLimit {
        soft: 1024,
        hard: 4096,
    };
    assert_eq!(figures(budget(&c, 2, four_k)), (2034, 0, 4096));
    assert_eq!(figures(budget(&c, 1, four_k)), (2035, 0, 4095));
    let tight = BootLimit {
        soft: 1024,
        hard: 1024,
    };
    assert_eq!(figures(budget(&c, 2, tight)), (498, 0, 1024));
    // Below HAProxy's DEFAULT_MAXCONN: 100 all the same.
    let tiny = BootLimit { soft: 64, hard: 64 };
    assert_eq!(budget(&c, 2, tiny).maxconn, 100);
    // Unlimited splicing: 2.5 descriptors per connection.
    let splice = config("", "    option splice-auto\n", BIND, SERVER);
    assert_eq!(figures(budget(&splice, 1, BOOT)), (7990, 1997, 19999));
    // An unlimited limit reads as HAProxy's int.
    let inf = BootLimit {
        soft: u64::MAX,
        hard: u64::MAX,
    };
    assert!(budget(&c, 1, inf).maxconn > 1 << 29);
}

#[test]
fn ulimit_n_as_written_and_strict_limits() {
    let c = config("    maxconn 3000\n    ulimit-n 2500\n", "", BIND, SERVER);
    let b = budget(&c, 2, BOOT);
    assert_eq!((b.ulimit_n, b.maxsock), (2500, 6028));
    // Unwritten: fulcrum warns and starts (haproxy 2.6 refuses by default: README).
    assert!(!c.global.limits.strict());
    let off = config("    no strict-limits\n", "", BIND, SERVER);
    assert!(!off.global.limits.strict());
    let on = config("    strict-limits\n", "", BIND, SERVER);
    assert!(on.global.limits.strict());
}
