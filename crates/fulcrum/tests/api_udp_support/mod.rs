//! The LBaaS API called with curl inside a director's namespace (the UDP tests' helpers).
#![allow(dead_code, clippy::unwrap_used)]

use fulcrum_testlab::netns::Node;
use serde_json::{json, Value};
use std::time::Duration;

pub const API: &str = "http://127.0.0.1:9876/v2/lbaas";

/// One API call with curl inside the director's namespace: (status, JSON body).
pub fn call(node: &Node, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{API}/{path}");
    let data = body.map(|b| b.to_string());
    let mut args = vec![
        "-s",
        "-m",
        "10",
        "-X",
        method,
        "-w",
        "\n%{http_code}",
        "-H",
        "Content-Type: application/json",
    ];
    if let Some(d) = &data {
        args.extend(["-d", d.as_str()]);
    }
    args.push(&url);
    let out = node.run("curl", &args).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

pub fn create(node: &Node, path: &str, key: &str, body: Value) -> String {
    let (code, v) = call(node, "POST", path, Some(json!({ key: body })));
    assert_eq!(code, 201, "POST {path}: {v}");
    assert!(
        v[key]["provisioning_status"]
            .as_str()
            .unwrap()
            .starts_with("PENDING_"),
        "{v}"
    );
    v[key]["id"].as_str().unwrap().to_string()
}

pub fn wait_active(node: &Node, lb: &str, log: impl Fn() -> String) {
    let ok = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
        let (_, v) = call(node, "GET", &format!("loadbalancers/{lb}"), None);
        match v["loadbalancer"]["provisioning_status"].as_str() {
            Some("ACTIVE") => true,
            Some("ERROR") => panic!("load balancer in ERROR: {v}\n{}", log()),
            _ => false,
        }
    });
    assert!(ok.is_some(), "never ACTIVE\n{}", log());
}

/// Waits (bounded: 15 s, else the test fails) until the API on `node` answers.
pub fn wait_api(node: &Node, log: impl Fn() -> String) {
    let up = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
        call(node, "GET", "loadbalancers", None).0 == 200
    });
    assert!(up.is_some(), "API never answered\n{}", log());
}

/// A load balancer on `vip` and a UDP listener on its port 53 (`extra` fields added to the
/// listener), each waited ACTIVE: (load balancer id, listener id).
pub fn udp_listener(
    node: &Node,
    vip: &str,
    extra: Value,
    log: impl Fn() -> String,
) -> (String, String) {
    let lb = create(
        node,
        "loadbalancers",
        "loadbalancer",
        json!({"vip_address": vip, "vip_subnet_id": "lab"}),
    );
    wait_active(node, &lb, &log);
    let mut body = json!({"loadbalancer_id": lb, "protocol": "UDP", "protocol_port": 53});
    if let (Some(b), Value::Object(more)) = (body.as_object_mut(), extra) {
        b.extend(more);
    }
    let listener = create(node, "listeners", "listener", body);
    wait_active(node, &lb, &log);
    (lb, listener)
}
