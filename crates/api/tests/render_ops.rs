//! The pure parts: Octavia's rules in `ops` (immutable while PENDING_*, cascade, quotas,
//! batch members) and the haproxy.cfg rendering, checked by fulcrum's own parser.

use fulcrum_api::ops::{self, Caller};
use fulcrum_api::render;
use fulcrum_api::state::{s, State};
use serde_json::{json, Value};

fn admin() -> Caller {
    Caller {
        project: "p".into(),
        admin: true,
    }
}

fn body(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn create(st: &mut State, kind: &str, parent: Option<&str>, v: Value) -> String {
    let (o, _) = ops::create(st, kind, parent, &body(v), &admin()).expect("create");
    let id = s(&o, "id").to_string();
    let lbs = st.pending_lbs();
    st.settle(&lbs, true, "");
    id
}

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
        json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80, "allowed_cidrs": ["10.0.0.0/8"], "insert_headers": {"X-Forwarded-For": "true"}}),
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
    let (st, lb, l, p) = sample();
    let text = render::render_standalone(&st, &lb);
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
    let errors: Vec<String> = loaded.diagnostics.errors().map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
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
    ops::batch_members(&mut st, &p, &list, false, &admin()).expect("batch");
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
    ops::batch_members(
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
