//! The pure parts: Octavia's rules in `ops` (immutable while PENDING_*, cascade, quotas,
//! batch members) and the haproxy.cfg rendering, checked by fulcrum's own parser.

mod common;
use common::*;
use fulcrum_api::ops::{self, Caller};
use fulcrum_api::render;
use fulcrum_api::state::{s, State};
use serde_json::{json, Value};

fn sample() -> (State, String, String, String) {
    let mut st = State::default();
    let lb = create(
        &mut st,
        "loadbalancer",
        None,
        json!({"vip_address": "10.0.0.10", "vip_subnet_id": "s"}),
    );
    let l = create(
        &mut st,
        "listener",
        None,
        json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80, "allowed_cidrs": ["10.0.0.0/8"], "insert_headers": {"X-Forwarded-For": "true", "X-Forwarded-Proto": "True"}}),
    );
    let p = create(
        &mut st,
        "pool",
        None,
        json!({"listener_id": l, "protocol": "HTTP", "lb_algorithm": "SOURCE_IP", "session_persistence": {"type": "SOURCE_IP"}}),
    );
    create(
        &mut st,
        "member",
        Some(&p),
        json!({"address": "10.0.1.1", "protocol_port": 8080, "weight": 3, "backup": true, "monitor_port": 9000}),
    );
    create(
        &mut st,
        "member",
        Some(&p),
        json!({"address": "10.0.1.2", "protocol_port": 8080, "admin_state_up": false}),
    );
    create(
        &mut st,
        "healthmonitor",
        None,
        json!({"pool_id": p, "type": "HTTP", "delay": 5, "timeout": 2, "max_retries": 2, "expected_codes": "200-202", "http_method": "HEAD", "url_path": "/health"}),
    );
    (st, lb, l, p)
}

#[test]
fn renders_like_octavia_and_fulcrum_accepts_it() {
    let (mut st, lb, l, p) = sample();
    let p2 = create(
        &mut st,
        "pool",
        None,
        json!({"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    for (action, extra, rule) in [
        (
            "REJECT",
            json!({}),
            json!({"type": "PATH", "compare_type": "STARTS_WITH", "value": "/admin"}),
        ),
        (
            "REDIRECT_TO_URL",
            json!({"redirect_url": "https://example.com/", "redirect_http_code": 301}),
            json!({"type": "FILE_TYPE", "compare_type": "EQUAL_TO", "value": "jpg"}),
        ),
        (
            "REDIRECT_PREFIX",
            json!({"redirect_prefix": "https://example.com"}),
            json!({"type": "COOKIE", "key": "a", "compare_type": "CONTAINS", "value": "b", "invert": true}),
        ),
        (
            "REDIRECT_TO_POOL",
            json!({"redirect_pool_id": p2}),
            json!({"type": "HOST_NAME", "compare_type": "ENDS_WITH", "value": ".example.com"}),
        ),
    ] {
        let mut body = json!({"listener_id": l, "action": action});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        let pol = create(&mut st, "l7policy", None, body);
        create(&mut st, "l7rule", Some(&pol), rule);
    }
    let text = render::render_standalone(&st, &lb);
    for want in [
        "http-request deny if ".to_string(),
        "http-request redirect location https://example.com/ code 301 if ".into(),
        "http-request redirect prefix https://example.com code 302 if !".into(),
        format!("use_backend {p2}:{l} if "),
        format!("backend {p2}:{l}"),
        "http-request deny if !allowed-cidr".into(),
        "http-request set-header X-Forwarded-Proto http".into(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }
    for want in [
        format!("frontend {l}"),
        "bind 10.0.0.10:80".to_string(),
        format!("default_backend {p}:{l}"),
        "acl allowed-cidr src 10.0.0.0/8".into(),
        "option forwardfor".into(),
        "balance source".into(),
        "stick on src".into(),
        "option httpchk HEAD /health".into(),
        "http-check expect rstatus 200|201|202".into(),
        "timeout check 2s".into(),
        "check inter 5s fall 3 rise 2 port 9000 backup".into(),
        " disabled".into(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "r.cfg",
        text: &text,
    }]);
    // No error, and no warning either: a warning would mean a keyword fulcrum does not run.
    let problems: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(problems.is_empty(), "{problems:?}\n{text}");
    // And the real haproxy accepts it (fails, never skips, under FULCRUM_REQUIRE_NETNS=1).
    haproxy_accepts(&text, "render");
}

#[test]
fn https_passthrough_is_tcp_mode() {
    let mut st = State::default();
    let lb = create(
        &mut st,
        "loadbalancer",
        None,
        json!({"vip_address": "10.0.0.10", "vip_subnet_id": "s"}),
    );
    let l = create(
        &mut st,
        "listener",
        None,
        json!({"loadbalancer_id": lb, "protocol": "HTTPS", "protocol_port": 443}),
    );
    let p = create(
        &mut st,
        "pool",
        None,
        json!({"listener_id": l, "protocol": "HTTPS", "lb_algorithm": "LEAST_CONNECTIONS"}),
    );
    create(
        &mut st,
        "member",
        Some(&p),
        json!({"address": "10.0.1.1", "protocol_port": 443}),
    );
    let text = render::render_lb(&st, &lb);
    assert_eq!(text.matches("    mode tcp\n").count(), 2, "{text}");
    assert!(text.contains("balance leastconn"), "{text}");
    let bad =
        body(json!({"loadbalancer_id": lb, "protocol": "TCP", "lb_algorithm": "SOURCE_IP_PORT"}));
    assert_eq!(
        ops::create(&mut st, "pool", None, &bad, &admin())
            .expect_err("refused")
            .code,
        501,
        "Octavia's amphora driver: an unsupported option"
    );
}

#[test]
fn l7_policies_apply_by_position() {
    let (mut st, lb, l, _p) = sample();
    let late = create(
        &mut st,
        "l7policy",
        None,
        json!({"listener_id": l, "action": "REJECT", "position": 5}),
    );
    create(
        &mut st,
        "l7rule",
        Some(&late),
        json!({"type": "PATH", "compare_type": "EQUAL_TO", "value": "/late"}),
    );
    let first = create(
        &mut st,
        "l7policy",
        None,
        json!({"listener_id": l, "action": "REDIRECT_TO_URL", "redirect_url": "http://x/", "position": 1}),
    );
    create(
        &mut st,
        "l7rule",
        Some(&first),
        json!({"type": "PATH", "compare_type": "EQUAL_TO", "value": "/first"}),
    );
    let text = render::render_lb(&st, &lb);
    let (a, z) = (
        text.find("/first").expect("first"),
        text.find("/late").expect("late"),
    );
    assert!(a < z, "{text}");
}

#[test]
fn unsupported_insert_headers_refused() {
    let (mut st, lb, _l, _p) = sample();
    for (protocol, headers) in [
        ("HTTP", json!({"X-SSL-Client-Verify": "true"})),
        ("TCP", json!({"X-Forwarded-For": "true"})),
        ("HTTP", json!({"X-Forwarded-For": "yes"})),
    ] {
        let b = body(
            json!({"loadbalancer_id": lb, "protocol": protocol, "protocol_port": 81, "insert_headers": headers}),
        );
        assert_eq!(
            ops::create(&mut st, "listener", None, &b, &admin())
                .expect_err("refused")
                .code,
            400
        );
    }
}

#[test]
fn fields_not_run_are_refused() {
    let (mut st, lb, _l, _p) = sample();
    for (kind, b) in [
        // Octavia's rules for client-certificate refs.
        (
            "pool",
            json!({"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "tls_enabled": true, "crl_container_ref": "x"}),
        ),
        (
            "listener",
            json!({"loadbalancer_id": lb, "protocol": "TERMINATED_HTTPS", "protocol_port": 443, "default_tls_container_ref": "x", "client_authentication": "MANDATORY"}),
        ),
        (
            "listener",
            json!({"loadbalancer_id": lb, "protocol": "TERMINATED_HTTPS", "protocol_port": 443, "default_tls_container_ref": "x", "client_crl_container_ref": "y"}),
        ),
        (
            "listener",
            json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 8443, "client_ca_tls_container_ref": "y"}),
        ),
        (
            "pool",
            json!({"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "APP_COOKIE", "cookie_name": "JSESSION ID"}}),
        ),
        (
            "pool",
            json!({"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "APP_COOKIE", "cookie_name": "a)b"}}),
        ),
        (
            "pool",
            json!({"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "APP_COOKIE"}}),
        ),
    ] {
        let e = ops::create(&mut st, kind, None, &body(b.clone()), &admin()).expect_err("refused");
        assert_eq!(e.code, 400, "{b}: {}", e.msg);
    }
}

/// What landed this session: TLS pools, inspect delay, HTTP/1.1 checks with a Host, HTTPS,
/// TLS-HELLO and PING monitors, PROXY/PROXYV2 pools, rendered as Octavia renders them.
#[test]
fn tls_pools_inspect_delay_http11_checks_and_proxy_pools_render() {
    let (mut st, lb, l, p) = sample();
    let hm = st.children("healthmonitor", "pool_id", &p)[0].clone();
    st.remove("healthmonitor", &hm);
    let e = ops::create(&mut st, "healthmonitor", None, &body(json!({"pool_id": p, "type": "HTTP", "delay": 5, "timeout": 1, "max_retries": 2, "http_version": 1.0, "domain_name": "example.com"})), &admin()).expect_err("domain needs 1.1");
    assert_eq!(e.code, 400);
    let e = ops::create(&mut st, "healthmonitor", None, &body(json!({"pool_id": p, "type": "TCP", "delay": 5, "timeout": 1, "max_retries": 2, "http_version": 1.1})), &admin()).expect_err("not HTTP");
    assert_eq!(e.code, 400);
    ops::create(&mut st, "healthmonitor", None, &body(json!({"pool_id": p, "type": "HTTPS", "delay": 5, "timeout": 1, "max_retries": 2, "http_version": "1.1", "domain_name": "example.com"})), &admin()).expect("HTTPS monitor");
    st.settle(std::slice::from_ref(&lb), true, "");
    ops::update(
        &mut st,
        "pool",
        &p,
        &body(json!({"tls_enabled": true})),
        &admin(),
    )
    .expect("tls_enabled");
    st.settle(std::slice::from_ref(&lb), true, "");
    ops::update(
        &mut st,
        "listener",
        &l,
        &body(json!({"timeout_tcp_inspect": 250})),
        &admin(),
    )
    .expect("inspect");
    st.settle(std::slice::from_ref(&lb), true, "");
    let text = render::render_lb(&st, &lb);
    assert!(
        text.contains("    option httpchk GET / HTTP/1.1\\r\\nHost:\\ example.com\n"),
        "{text}"
    );
    assert!(
        text.contains(" check check-ssl verify none inter 5s fall 3 rise 2"),
        "{text}"
    );
    assert!(text.contains(" ssl verify none\n"), "{text}");
    assert!(!text.contains("ssl_fc_sni"), "{text}");
    assert!(
        text.contains("    tcp-request inspect-delay 250\n"),
        "{text}"
    );
    for (proto, opt) in [("PROXY", " send-proxy\n"), ("PROXYV2", " send-proxy-v2\n")] {
        let port = if proto == "PROXY" { 90 } else { 91 };
        let (nl, _) = ops::create(
            &mut st,
            "listener",
            None,
            &body(json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": port})),
            &admin(),
        )
        .expect("listener");
        st.settle(std::slice::from_ref(&lb), true, "");
        let nl = s(&nl, "id").to_string();
        let (np, _) = ops::create(
            &mut st,
            "pool",
            None,
            &body(json!({"listener_id": nl, "protocol": proto, "lb_algorithm": "ROUND_ROBIN"})),
            &admin(),
        )
        .expect("pool");
        st.settle(std::slice::from_ref(&lb), true, "");
        let np = s(&np, "id").to_string();
        ops::create(
            &mut st,
            "member",
            Some(&np),
            &body(json!({"address": "10.0.1.9", "protocol_port": 80})),
            &admin(),
        )
        .expect("member");
        st.settle(std::slice::from_ref(&lb), true, "");
        let text = render::render_lb(&st, &lb);
        let backend = &text[text.find(&format!("\nbackend {np}:{nl}")).expect("backend") + 1..];
        assert!(
            backend.starts_with(&format!("backend {np}:{nl}\n    mode http\n")),
            "{backend}"
        );
        assert!(
            backend
                .lines()
                .find(|l| l.contains("10.0.1.9"))
                .is_some_and(|l| format!("{l}\n").ends_with(opt)),
            "{backend}"
        );
    }
}

#[test]
fn expected_codes_forms() {
    assert_eq!(render::expected_codes("200"), "200");
    assert_eq!(render::expected_codes("200,202"), "(200|202)");
    assert_eq!(render::expected_codes("200-203"), "200|201|202|203");
}

#[test]
fn pending_load_balancer_is_immutable_and_settles() {
    let (mut st, lb, _l, p) = sample();
    ops::create(
        &mut st,
        "member",
        Some(&p),
        &body(json!({"address": "10.0.1.3", "protocol_port": 1})),
        &admin(),
    )
    .expect("create");
    assert_eq!(
        s(
            st.get("loadbalancer", &lb).expect("lb"),
            "provisioning_status"
        ),
        "PENDING_UPDATE"
    );
    let e = ops::create(
        &mut st,
        "member",
        Some(&p),
        &body(json!({"address": "10.0.1.4", "protocol_port": 1})),
        &admin(),
    )
    .expect_err("immutable");
    assert_eq!(e.code, 409);
    assert!(e.msg.contains("is immutable"), "{}", e.msg);
    let lbs = st.pending_lbs();
    st.settle(&lbs, false, "bind failed");
    let lbo = st.get("loadbalancer", &lb).expect("lb");
    assert_eq!(s(lbo, "provisioning_status"), "ERROR");
    assert_eq!(s(lbo, "provisioning_status_reason"), "bind failed");
    // An LB in ERROR is left out of what runs.
    assert!(!render::render_all(&st).contains(&lb));
}

#[test]
fn cascade_delete_and_quota_and_isolation() {
    let (mut st, lb, _l, _p) = sample();
    let e = ops::delete(&mut st, "loadbalancer", &lb, false, &admin()).expect_err("children");
    assert_eq!(e.code, 400);
    ops::delete(&mut st, "loadbalancer", &lb, true, &admin()).expect("cascade");
    assert!(render::render_all(&st).is_empty());
    st.settle(std::slice::from_ref(&lb), true, "");
    assert!(st.get("loadbalancer", &lb).is_none());
    assert_eq!(st.all("member").count(), 0);

    st.insert(
        "quota",
        "q",
        body(json!({"project_id": "q", "loadbalancer": 1})),
    );
    let who = Caller {
        project: "q".into(),
        admin: false,
    };
    let lbb = body(json!({"vip_address": "10.0.0.11", "vip_subnet_id": "s"}));
    let (o, _) = ops::create(&mut st, "loadbalancer", None, &lbb, &who).expect("first");
    assert_eq!(
        ops::create(&mut st, "loadbalancer", None, &lbb, &who)
            .expect_err("quota")
            .code,
        403
    );
    let other = Caller {
        project: "x".into(),
        admin: false,
    };
    assert_eq!(
        ops::visible(&st, "loadbalancer", s(&o, "id"), &other)
            .expect_err("isolated")
            .code,
        403
    );
}

#[test]
fn batch_members_replace_or_add() {
    let (mut st, lb, _l, p) = sample();
    let list = [
        json!({"address": "10.0.1.1", "protocol_port": 8080, "weight": 9}),
        json!({"address": "10.0.1.9", "protocol_port": 80}),
    ];
    fulcrum_api::batch::batch_members(&mut st, &p, &list, false, &admin()).expect("batch");
    st.settle(std::slice::from_ref(&lb), true, "");
    let mut members: Vec<(String, i64)> = st
        .all("member")
        .map(|m| {
            (
                s(m, "address").to_string(),
                m["weight"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    members.sort();
    assert_eq!(
        members,
        [("10.0.1.1".to_string(), 9), ("10.0.1.9".to_string(), 1)]
    );
    fulcrum_api::batch::batch_members(
        &mut st,
        &p,
        &[json!({"address": "10.0.1.5", "protocol_port": 80})],
        true,
        &admin(),
    )
    .expect("additive");
    st.settle(&[lb], true, "");
    assert_eq!(st.all("member").count(), 3);
}

/// allowed_cidrs on a TCP listener: rendered as `tcp-request connection reject if
/// !allowed-cidr` (checked by the real haproxy), and accepted by the API exactly when fulcrum's
/// parser takes that rule without a word (the proxy runs it); refused with 400 before.
#[test]
fn allowed_cidrs_on_tcp_listeners() {
    let mut st = State::default();
    let lb = create(
        &mut st,
        "loadbalancer",
        None,
        json!({"vip_address": "127.0.0.1", "vip_subnet_id": "s"}),
    );
    let body = json!({"loadbalancer_id": lb, "protocol": "TCP", "protocol_port": 18443,
                      "allowed_cidrs": ["10.0.0.0/8", "192.168.1.0/24"]});
    let accepted = ops::create(&mut st, "listener", None, &body_of(&body), &admin());
    let runs = fulcrum_api::checks::tcp_request_runs();
    // The probe agrees with `fulcrum check`'s parser on the rendered rules.
    let probe = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "p.cfg",
        text: fulcrum_api::checks::TCP_ALLOWED_CIDRS_RENDER,
    }]);
    assert_eq!(runs, probe.diagnostics.iter().next().is_none());
    match (runs, accepted) {
        (true, Ok(_)) => {}
        (false, Err(e)) => {
            assert_eq!(e.code, 400, "{}", e.msg);
            // Rendered from a state the API would refuse, to show (and haproxy-check) the
            // text it switches on.
            let mut l = body_of(&body);
            l.insert("id".into(), json!("l-tcp"));
            l.insert("provisioning_status".into(), json!("ACTIVE"));
            l.insert("admin_state_up".into(), json!(true));
            l.insert("connection_limit".into(), json!(-1));
            l.insert("timeout_client_data".into(), json!(50000));
            st.insert("listener", "l-tcp", l);
        }
        (runs, other) => panic!("tcp-request runs: {runs}, API answered {other:?}"),
    }
    let text = render::render_standalone(&st, &lb);
    assert!(
        text.contains(
            "    acl allowed-cidr src 10.0.0.0/8 192.168.1.0/24\n    tcp-request connection reject if !allowed-cidr\n"
        ),
        "{text}"
    );
    assert!(!text.contains("http-request deny"), "{text}");
    haproxy_accepts(&text, "cidr");
}

fn body_of(v: &Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// APP_COOKIE as Octavia's amphora driver renders it (a string stick table learning the
/// application's cookie from responses, matched on requests): accepted by fulcrum's parser and
/// proxy without a warning, and by the real haproxy (`haproxy -c`).
#[test]
fn app_cookie_renders_like_octavia_and_runs() {
    let (mut st, lb, _l, _p) = sample();
    let l = create(
        &mut st,
        "listener",
        None,
        json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 8080}),
    );
    let p = create(
        &mut st,
        "pool",
        None,
        json!({"listener_id": l, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "APP_COOKIE", "cookie_name": "JSESSIONID"}}),
    );
    create(
        &mut st,
        "member",
        Some(&p),
        json!({"address": "10.0.1.3", "protocol_port": 8080}),
    );
    let text = render::render_standalone(&st, &lb);
    let want = format!(
        "backend {p}:{l}\n    mode http\n    balance roundrobin\n    stick-table type string len 64 size 10k\n    stick store-response res.cook(JSESSIONID)\n    stick match req.cook(JSESSIONID)\n"
    );
    assert!(text.contains(&want), "missing {want:?} in\n{text}");
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "r.cfg",
        text: &text,
    }]);
    let problems: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(problems.is_empty(), "{problems:?}\n{text}");
    let be = loaded
        .config
        .backend(&format!("{p}:{l}"))
        .expect("the pool's backend");
    assert!(!be.stick_rules.is_empty(), "the stick rules are read");
    fulcrum_proxy::persist::stick_sample::check(be, |_| Ok(()))
        .expect("the proxy runs these rules");
    haproxy_accepts(&text, "appcookie");
}
