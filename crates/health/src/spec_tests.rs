//! Check specs built from real config text.

use super::*;
use std::time::Duration;

fn load(text: &str) -> Config {
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "t.cfg",
        text,
    }]);
    assert!(loaded.is_ok(), "{:?}", loaded.diagnostics);
    loaded.config
}

const DEFAULTS: &str = "defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n";

#[test]
fn servers_with_check_only_and_default_server_applies() {
    let cfg = load(&format!(
        "{DEFAULTS}    timeout connect 1s\nbackend be\n    default-server inter 3s fall 5 rise 4 fastinter 500ms\n\
         \x20   server a 127.0.0.1:81 check\n    server b 127.0.0.1:82\n    server c 127.0.0.1:83 check disabled\n\
         \x20   server d 127.0.0.1:84 check backup downinter 10s\n"
    ));
    let plan = plan(&cfg);
    let names: Vec<&str> = plan.checks.iter().map(|c| c.server.as_str()).collect();
    assert_eq!(names, ["a", "d"]);
    let CheckRules::Haproxy { timing, passive } = &plan.checks[0].rules else {
        panic!("haproxy rules")
    };
    assert_eq!(
        *timing,
        CheckTiming {
            inter: Duration::from_secs(3),
            fastinter: Some(Duration::from_millis(500)),
            downinter: None,
            rise: 4,
            fall: 5
        }
    );
    assert!(passive.is_none());
    assert!(plan.checks[1].backup);
    let members: Vec<(&str, bool)> = plan
        .members
        .iter()
        .map(|m| (m.server.as_str(), m.checked))
        .collect();
    assert_eq!(
        members,
        [("a", true), ("b", false), ("d", true)],
        "disabled servers are not members"
    );
    // without option httpchk: a TCP connect bounded by inter (no timeout check)
    match &plan.checks[0].probe {
        Probe::Tcp {
            addr,
            connect_timeout,
            ..
        } => {
            assert_eq!(addr.to_string(), "127.0.0.1:81");
            assert_eq!(*connect_timeout, Duration::from_secs(3));
        }
        other => panic!("expected a TCP check, got {other:?}"),
    }
}

#[test]
fn timeout_check_bounds_read_and_connect_is_min_of_connect_and_inter() {
    let cfg = load(&format!(
        "{DEFAULTS}    timeout connect 1s\n    timeout check 7s\nbackend be\n    option httpchk GET /health\n\
         \x20   http-check expect status 200\n    server a 127.0.0.1:81 check inter 500ms port 9000 addr 127.0.0.2\n\
         \x20   server b 127.0.0.1:82 check inter 4s\n"
    ));
    let plan = plan(&cfg);
    let Probe::Script(a) = &plan.checks[0].probe else {
        panic!("http check")
    };
    assert_eq!(a.addr.to_string(), "127.0.0.2:9000");
    assert_eq!(
        (a.connect_timeout, a.read_timeout),
        (Duration::from_millis(500), Duration::from_secs(7))
    );
    let crate::probe::script::Action::Send(request) = &a.script.steps[1].action else {
        panic!("connect then send: {:?}", a.script.steps)
    };
    assert!(String::from_utf8_lossy(request).starts_with("GET /health HTTP/1.0\r\n"));
    let Probe::Script(b) = &plan.checks[1].probe else {
        panic!("http check")
    };
    assert_eq!(
        (b.connect_timeout, b.read_timeout),
        (Duration::from_secs(1), Duration::from_secs(7))
    );
}

#[test]
fn observe_gives_passive_health() {
    let cfg = load(&format!(
        "{DEFAULTS}    timeout connect 1s\nbackend be\n    server a 127.0.0.1:81 check observe layer7 error-limit 5 on-error sudden-death\n"
    ));
    let CheckRules::Haproxy { passive, .. } = &plan(&cfg).checks[0].rules else {
        panic!("haproxy rules")
    };
    assert_eq!(
        *passive,
        Some(PassiveHealth {
            observe: fulcrum_config::model::Observe::Layer7,
            error_limit: 5,
            on_error: fulcrum_config::model::OnError::SuddenDeath
        })
    );
}

#[test]
fn keepalived_checkers_including_ssl_get() {
    let cfg = load(
        "virtual_server 10.99.0.10 80 {\n  delay_loop 6\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n\
         real_server 10.99.0.1 8080 {\n    weight 1\n    inhibit_on_failure\n\
         \x20   HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 3\n      nb_get_retry 3\n      delay_before_retry 2\n    }\n\
         \x20   TCP_CHECK {\n      connect_port 9000\n    }\n  }\n\
         real_server 10.99.0.2 8080 {\n    SSL_GET {\n      url {\n        path /\n      }\n    }\n    MISC_CHECK {\n      misc_path \"/bin/true\"\n    }\n  }\n}\n",
    );
    let plan = plan(&cfg);
    assert_eq!(plan.checks.len(), 4);
    let CheckRules::Keepalived { timing, .. } = &plan.checks[0].rules else {
        panic!("keepalived rules")
    };
    assert_eq!(
        *timing,
        KeepalivedTiming {
            delay_loop: Duration::from_secs(6),
            retry: 3,
            delay_before_retry: Duration::from_secs(2)
        }
    );
    assert!(plan.checks[0].inhibit_on_failure);
    assert_eq!(
        (
            plan.checks[0].backend.as_str(),
            plan.checks[0].server.as_str()
        ),
        ("10.99.0.10:80", "10.99.0.1:8080")
    );
    let Probe::Tcp { addr, .. } = &plan.checks[1].probe else {
        panic!("tcp check")
    };
    assert_eq!(addr.to_string(), "10.99.0.1:9000", "connect_port");
    let Probe::HttpGet(ssl_get) = &plan.checks[2].probe else {
        panic!("SSL_GET is an HTTP_GET over TLS")
    };
    assert!(ssl_get.ssl);
    let Probe::HttpGet(http_get) = &plan.checks[0].probe else {
        panic!("HTTP_GET")
    };
    assert!(!http_get.ssl);
    let Probe::Misc(m) = &plan.checks[3].probe else {
        panic!("misc check")
    };
    assert_eq!(
        m.timeout,
        Duration::from_secs(6),
        "misc_timeout defaults to delay_loop"
    );
    let CheckRules::Keepalived { timing, .. } = &plan.checks[3].rules else {
        panic!("keepalived rules")
    };
    assert_eq!(timing.retry, 0, "MISC_CHECK retry default is 0");
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn a_server_without_port_is_not_checked_and_said_so() {
    let cfg = load(&format!(
        "{DEFAULTS}    timeout connect 1s\nbackend be\n    server a 127.0.0.1 check\n"
    ));
    let plan = plan(&cfg);
    assert!(plan.checks.is_empty());
    assert!(
        plan.warnings[0].contains("needs a port"),
        "{}",
        plan.warnings[0]
    );
}
