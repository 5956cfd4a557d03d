//! Neutron LBaaS v1 objects as views of the v2 model (pools, VIPs, members, health monitors),
//! v1's status and `lb_method` words, its error body, and the small helpers of `v1.rs`.

use crate::ops::{err, ApiError, Caller};
use crate::state::{g, i, s, Obj, State};
use serde_json::{json, Map, Value};

/// A v1 error body as neutronclient reads it.
pub fn neutron_error(e: &ApiError) -> Value {
    let kind = match e.code {
        404 => "NotFound",
        409 => "Conflict",
        401 => "NotAuthorized",
        403 => "PolicyNotAuthorized",
        _ => "BadRequest",
    };
    json!({"NeutronError": {"type": kind, "message": e.msg, "detail": ""}})
}

pub(crate) fn v1_status(o: &Obj) -> String {
    match s(o, "provisioning_status") {
        "ACTIVE" if !crate::state::b(o, "admin_state_up") => "INACTIVE".into(),
        "ACTIVE" if matches!(s(o, "operating_status"), "ERROR" | "OFFLINE") => "INACTIVE".into(),
        other => other.to_string(),
    }
}

pub(crate) fn lb_method_to_v2(m: &str) -> Result<&'static str, ApiError> {
    match m {
        "ROUND_ROBIN" => Ok("ROUND_ROBIN"),
        "LEAST_CONNECTIONS" => Ok("LEAST_CONNECTIONS"),
        "SOURCE_IP" => Ok("SOURCE_IP"),
        other => Err(err(400, format!("Invalid input for lb_method. Reason: '{other}' is not in ['ROUND_ROBIN', 'LEAST_CONNECTIONS', 'SOURCE_IP']."))),
    }
}

pub(crate) fn pool_view(st: &State, p: &Obj) -> Value {
    let id = s(p, "id");
    let vip = st
        .children("listener", "default_pool_id", id)
        .into_iter()
        .next();
    let monitors: Vec<String> = st.children("healthmonitor", "pool_id", id);
    json!({
        "id": id, "name": g(p, "name"), "description": g(p, "description"), "tenant_id": g(p, "project_id"),
        "subnet_id": p.get("v1_subnet_id").cloned().unwrap_or(Value::Null),
        "protocol": g(p, "protocol"), "lb_method": g(p, "lb_algorithm"), "admin_state_up": g(p, "admin_state_up"),
        "status": v1_status(p), "status_description": p.get("provisioning_status_reason").cloned().unwrap_or(Value::Null),
        "vip_id": vip, "members": st.children("member", "pool_id", id), "health_monitors": monitors.clone(),
        "health_monitors_status": monitors.iter().map(|m| json!({"monitor_id": m, "status": "ACTIVE", "status_description": null})).collect::<Vec<_>>(),
        "provider": "haproxy",
    })
}

pub(crate) fn vip_view(st: &State, l: &Obj) -> Value {
    let lb = st
        .get("loadbalancer", s(l, "loadbalancer_id"))
        .cloned()
        .unwrap_or_default();
    let pool = st
        .get("pool", s(l, "default_pool_id"))
        .cloned()
        .unwrap_or_default();
    json!({
        "id": g(l, "id"), "name": g(l, "name"), "description": g(l, "description"), "tenant_id": g(l, "project_id"),
        "address": g(&lb, "vip_address"), "subnet_id": g(&lb, "vip_subnet_id"), "port_id": g(&lb, "vip_port_id"),
        "protocol": g(l, "protocol"), "protocol_port": g(l, "protocol_port"), "pool_id": g(l, "default_pool_id"),
        "session_persistence": pool.get("session_persistence").cloned().unwrap_or(Value::Null),
        "connection_limit": g(l, "connection_limit"), "admin_state_up": g(l, "admin_state_up"), "status": v1_status(l),
        "status_description": null,
    })
}

pub(crate) fn member_view(m: &Obj) -> Value {
    json!({
        "id": g(m, "id"), "tenant_id": g(m, "project_id"), "pool_id": g(m, "pool_id"), "address": g(m, "address"),
        "protocol_port": g(m, "protocol_port"), "weight": g(m, "weight"), "admin_state_up": g(m, "admin_state_up"),
        "status": v1_status(m), "status_description": null,
    })
}

pub(crate) fn monitor_view(st: &State, m: &Obj) -> Value {
    let id = s(m, "id");
    let pools: Vec<Value> = st
        .all("healthmonitor")
        .filter(|h| s(h, "id") == id)
        .map(|h| json!({"pool_id": g(h, "pool_id"), "status": s(h, "provisioning_status"), "status_description": null}))
        .collect();
    let mut v = m.clone();
    v.remove("_seq");
    v.insert("tenant_id".into(), g(m, "project_id"));
    v.insert("pools".into(), Value::Array(pools));
    Value::Object(v)
}

pub(crate) fn body_of(
    kind: &str,
    body: &Option<Map<String, Value>>,
) -> Result<Map<String, Value>, ApiError> {
    match body.as_ref().and_then(|b| b.get(kind)) {
        Some(Value::Object(m)) => Ok(m.clone()),
        _ => Err(err(
            400,
            format!("Resource body required: {{\"{kind}\": {{...}}}}"),
        )),
    }
}

pub(crate) fn take(m: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| m.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

pub(crate) fn visible_list<'a>(
    st: &'a State,
    kind: &str,
    who: &Caller,
    v1_only: bool,
) -> Vec<&'a Obj> {
    let mut v: Vec<&Obj> = st
        .all(kind)
        .filter(|o| who.admin || s(o, "project_id") == who.project)
        .filter(|o| !v1_only || o.contains_key("v1"))
        .collect();
    v.sort_by_key(|o| i(o, "_seq"));
    v
}
