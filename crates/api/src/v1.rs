//! Neutron LBaaS v1 (`/v2.0/lb/pools`, `vips`, `members`, `health_monitors`, and associating
//! a monitor with a pool), as seed 003's walk-through and old tooling speak it, mapped onto the
//! v2 model so both APIs see the same load balancers:
//!
//! - a v1 pool is a v2 pool (same id) on a v2 load balancer of its own (`v1-pool-NAME`);
//! - a v1 VIP is that load balancer's VIP plus a listener (same id) whose default pool is the
//!   pool; the VIP's `session_persistence` is the pool's;
//! - a v1 member is a v2 member (same id);
//! - a v1 health monitor is kept as written (`v1monitor`) and becomes a v2 health monitor
//!   (same id) on the pool it is associated with.
//!
//! Errors use Neutron's `{"NeutronError": {"type", "message", "detail"}}` body.

use crate::ops::{self, err, ApiError, Caller};
use crate::state::{s, Obj, State};
use axum::http::Method;
use serde_json::{json, Map, Value};

pub type Answer = Result<(u16, Value), ApiError>;

pub use crate::v1_views::neutron_error;
use crate::v1_views::*;

/// Handles `/v2.0/lb/...`; returns the answer and what changed (to persist and apply).
pub fn handle(
    st: &mut State,
    method: &Method,
    rest: &[&str],
    query: &[(String, String)],
    body: Option<Map<String, Value>>,
    who: &Caller,
) -> Result<(u16, Value, ops::Changed), ApiError> {
    let filter = |items: Vec<Value>| -> Vec<Value> {
        items
            .into_iter()
            .filter(|o| {
                query
                    .iter()
                    .filter(|(k, _)| k != "fields")
                    .all(|(k, v)| crate::schema::plain(&o[k.as_str()]) == *v)
            })
            .collect()
    };
    let none = Vec::new();
    match (method.as_str(), rest) {
        ("GET", ["pools"]) => Ok((
            200,
            json!({"pools": filter(visible_list(st, "pool", who, true).into_iter().map(|p| pool_view(st, p)).collect())}),
            none,
        )),
        ("GET", ["vips"]) => Ok((
            200,
            json!({"vips": filter(visible_list(st, "listener", who, true).into_iter().map(|l| vip_view(st, l)).collect())}),
            none,
        )),
        ("GET", ["members"]) => {
            let v1 = |m: &&Obj| {
                st.get("pool", s(m, "pool_id"))
                    .is_some_and(|p| p.contains_key("v1"))
            };
            Ok((
                200,
                json!({"members": filter(visible_list(st, "member", who, false).into_iter().filter(v1).map(member_view).collect())}),
                none,
            ))
        }
        ("GET", ["health_monitors"]) => Ok((
            200,
            json!({"health_monitors": filter(visible_list(st, "v1monitor", who, false).into_iter().map(|m| monitor_view(st, m)).collect())}),
            none,
        )),
        ("GET", ["pools", id]) => Ok((
            200,
            json!({"pool": pool_view(st, v1_obj(st, "pool", id, who)?)}),
            none,
        )),
        ("GET", ["vips", id]) => Ok((
            200,
            json!({"vip": vip_view(st, v1_obj(st, "listener", id, who)?)}),
            none,
        )),
        ("GET", ["members", id]) => Ok((
            200,
            json!({"member": member_view(v1_obj(st, "member", id, who)?)}),
            none,
        )),
        ("GET", ["health_monitors", id]) => Ok((
            200,
            json!({"health_monitor": monitor_view(st, v1_obj(st, "v1monitor", id, who)?)}),
            none,
        )),
        ("POST", ["pools"]) => create_pool(st, &body_of("pool", &body)?, who),
        ("POST", ["vips"]) => create_vip(st, &body_of("vip", &body)?, who),
        ("POST", ["members"]) => {
            let b = body_of("member", &body)?;
            let pool = s(&b, "pool_id").to_string();
            v1_obj(st, "pool", &pool, who)?;
            let (o, changed) = ops::create(
                st,
                "member",
                Some(&pool),
                &take(
                    &b,
                    &["address", "protocol_port", "weight", "admin_state_up"],
                ),
                who,
            )?;
            Ok((201, json!({"member": member_view(&o)}), changed))
        }
        ("POST", ["health_monitors"]) => {
            let b = body_of("health_monitor", &body)?;
            let mut probe = take(
                &b,
                &[
                    "type",
                    "delay",
                    "timeout",
                    "max_retries",
                    "http_method",
                    "url_path",
                    "expected_codes",
                    "admin_state_up",
                ],
            );
            probe.insert("pool_id".into(), Value::from("-"));
            let mut m =
                crate::schema::create("Health Monitor", crate::schema::HEALTHMONITOR, &probe)
                    .map_err(|e| err(400, e))?;
            m.remove("pool_id");
            let id = ops::new_id();
            m.insert("id".into(), Value::from(id.clone()));
            m.insert("project_id".into(), Value::from(who.project.clone()));
            st.insert("v1monitor", &id, m);
            let o = st.get("v1monitor", &id).cloned().unwrap_or_default();
            Ok((
                201,
                json!({"health_monitor": monitor_view(st, &o)}),
                vec![("v1monitor".into(), id)],
            ))
        }
        ("POST", ["pools", pool, "health_monitors"]) => {
            let b = body_of("health_monitor", &body)?;
            let mid = s(&b, "id").to_string();
            let m = v1_obj(st, "v1monitor", &mid, who)?.clone();
            v1_obj(st, "pool", pool, who)?;
            let mut hm = take(
                &m,
                &[
                    "type",
                    "delay",
                    "timeout",
                    "max_retries",
                    "http_method",
                    "url_path",
                    "expected_codes",
                    "admin_state_up",
                ],
            );
            hm.insert("pool_id".into(), Value::from(*pool));
            // Neutron's haproxy driver wrote `fall max_retries` (no separate rise/fall).
            if let Some(r) = m.get("max_retries") {
                hm.insert("max_retries_down".into(), r.clone());
            }
            let id = if st.get("healthmonitor", &mid).is_some() {
                None
            } else {
                Some(mid.clone())
            };
            let (_, changed) = ops::create_with_id(st, "healthmonitor", None, &hm, who, id)?;
            Ok((201, json!({"health_monitor": {"id": mid}}), changed))
        }
        ("DELETE", ["pools", pool, "health_monitors", mid]) => {
            v1_obj(st, "pool", pool, who)?;
            let hm = st
                .children("healthmonitor", "pool_id", pool)
                .into_iter()
                .find(|h| h == mid)
                .ok_or_else(|| {
                    err(
                        404,
                        format!("Monitor {mid} is not associated with Pool {pool}"),
                    )
                })?;
            Ok((
                204,
                Value::Null,
                ops::delete(st, "healthmonitor", &hm, false, who)?,
            ))
        }
        ("PUT", [coll, id]) => {
            let (kind, key, allowed): (&str, &str, &[&str]) = match *coll {
                "pools" => (
                    "pool",
                    "pool",
                    &["name", "description", "lb_method", "admin_state_up"],
                ),
                "vips" => (
                    "listener",
                    "vip",
                    &["name", "description", "connection_limit", "admin_state_up"],
                ),
                "members" => ("member", "member", &["weight", "admin_state_up"]),
                _ => return Err(err(404, "The resource could not be found.")),
            };
            v1_obj(st, kind, id, who)?;
            let mut b = body_of(key, &body)?;
            if let Some(m) = b.remove("lb_method") {
                b.insert(
                    "lb_algorithm".into(),
                    Value::from(lb_method_to_v2(&crate::schema::plain(&m))?),
                );
            }
            if let Some(k) = b
                .keys()
                .find(|k| !allowed.contains(&k.as_str()) && k.as_str() != "lb_algorithm")
            {
                return Err(err(400, format!("Cannot update read-only attribute {k}")));
            }
            let (o, changed) = ops::update(st, kind, id, &b, who)?;
            let v = match kind {
                "pool" => pool_view(st, &o),
                "listener" => vip_view(st, &o),
                _ => member_view(&o),
            };
            Ok((200, json!({ key: v }), changed))
        }
        ("DELETE", ["pools", id]) => {
            let p = v1_obj(st, "pool", id, who)?;
            let lb = s(p, "loadbalancer_id").to_string();
            if !st.children("listener", "default_pool_id", id).is_empty() {
                return Err(err(409, format!("Pool {id} is still in use by a VIP")));
            }
            Ok((
                204,
                Value::Null,
                ops::delete(st, "loadbalancer", &lb, true, who)?,
            ))
        }
        ("DELETE", ["vips", id]) => {
            v1_obj(st, "listener", id, who)?;
            Ok((
                204,
                Value::Null,
                ops::delete(st, "listener", id, false, who)?,
            ))
        }
        ("DELETE", ["members", id]) => {
            v1_obj(st, "member", id, who)?;
            Ok((204, Value::Null, ops::delete(st, "member", id, false, who)?))
        }
        ("DELETE", ["health_monitors", id]) => {
            v1_obj(st, "v1monitor", id, who)?;
            if st.get("healthmonitor", id).is_some() {
                return Err(err(
                    409,
                    format!("Health monitor {id} is still associated with a pool"),
                ));
            }
            st.remove("v1monitor", id);
            Ok((204, Value::Null, vec![("v1monitor".into(), id.to_string())]))
        }
        _ => Err(err(404, "The resource could not be found.")),
    }
}

fn v1_obj<'a>(st: &'a State, kind: &str, id: &str, who: &Caller) -> Result<&'a Obj, ApiError> {
    let what = match kind {
        "pool" => "Pool",
        "listener" => "Vip",
        "member" => "Member",
        _ => "Health_monitor",
    };
    match st.get(kind, id) {
        Some(o) if who.admin || s(o, "project_id") == who.project => Ok(o),
        _ => Err(err(404, format!("{what} {id} could not be found"))),
    }
}

fn create_pool(
    st: &mut State,
    b: &Map<String, Value>,
    who: &Caller,
) -> Result<(u16, Value, ops::Changed), ApiError> {
    let name = s(b, "name").to_string();
    let protocol = s(b, "protocol").to_string();
    if !matches!(protocol.as_str(), "HTTP" | "HTTPS" | "TCP") {
        return Err(err(400, format!("Invalid input for protocol. Reason: '{protocol}' is not in ['TCP', 'HTTP', 'HTTPS'].")));
    }
    let method = lb_method_to_v2(s(b, "lb_method"))?;
    // The pool's own load balancer; its VIP is set when the v1 VIP is created.
    let lb_id = ops::new_id();
    let lb = json!({"id": lb_id, "name": format!("v1-pool-{name}"), "description": "LBaaS v1 pool", "admin_state_up": true,
        "tags": [], "vip_address": null, "vip_subnet_id": b.get("subnet_id").cloned().unwrap_or(Value::Null), "vip_network_id": null,
        "vip_port_id": null, "vip_qos_policy_id": null, "provider": "amphora", "flavor_id": null, "availability_zone": null,
        "project_id": who.project, "created_at": crate::state::now(), "updated_at": null,
        "provisioning_status": "ACTIVE", "operating_status": "ONLINE", "v1": true});
    st.insert(
        "loadbalancer",
        &lb_id,
        lb.as_object().cloned().unwrap_or_default(),
    );
    let body = json!({"name": name, "description": b.get("description").cloned().unwrap_or(json!("")), "protocol": protocol,
        "lb_algorithm": method, "loadbalancer_id": lb_id, "admin_state_up": b.get("admin_state_up").cloned().unwrap_or(json!(true))});
    let (o, mut changed) = match ops::create(
        st,
        "pool",
        None,
        body.as_object().unwrap_or(&Map::new()),
        who,
    ) {
        Ok(r) => r,
        Err(e) => {
            st.remove("loadbalancer", &lb_id);
            return Err(e);
        }
    };
    let id = s(&o, "id").to_string();
    if let Some(p) = st.get_mut("pool", &id) {
        p.insert("v1".into(), Value::Bool(true));
        p.insert(
            "v1_subnet_id".into(),
            b.get("subnet_id").cloned().unwrap_or(Value::Null),
        );
    }
    changed.push(("loadbalancer".into(), lb_id));
    let p = st.get("pool", &id).cloned().unwrap_or_default();
    Ok((201, json!({"pool": pool_view(st, &p)}), changed))
}

fn create_vip(
    st: &mut State,
    b: &Map<String, Value>,
    who: &Caller,
) -> Result<(u16, Value, ops::Changed), ApiError> {
    let pool = s(b, "pool_id").to_string();
    let p = v1_obj(st, "pool", &pool, who)?.clone();
    let lb = s(&p, "loadbalancer_id").to_string();
    if !st.children("listener", "default_pool_id", &pool).is_empty() {
        return Err(err(
            409,
            format!("Another Vip already exists for pool {pool}"),
        ));
    }
    let address = match b.get("address").and_then(Value::as_str) {
        Some(a) if a.parse::<std::net::IpAddr>().is_ok() => a.to_string(),
        _ => return Err(err(400, "Invalid input for address: fulcrum needs the VIP address (it has no Neutron to allocate one from).")),
    };
    let protocol = b
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or(s(&p, "protocol"))
        .to_string();
    let mut persistence = b.get("session_persistence").cloned().unwrap_or(Value::Null);
    if persistence.get("cookie_name").is_some_and(Value::is_null) {
        if let Some(m) = persistence.as_object_mut() {
            m.remove("cookie_name");
        }
    }
    if let Some(lbo) = st.get_mut("loadbalancer", &lb) {
        lbo.insert("vip_address".into(), Value::from(address));
        lbo.insert(
            "vip_subnet_id".into(),
            b.get("subnet_id").cloned().unwrap_or(Value::Null),
        );
        lbo.insert("vip_port_id".into(), Value::from(ops::new_id()));
    }
    let mut changed = Vec::new();
    if !persistence.is_null() {
        let (_, c) = ops::update(
            st,
            "pool",
            &pool,
            json!({"session_persistence": persistence})
                .as_object()
                .unwrap_or(&Map::new()),
            who,
        )?;
        changed.extend(c);
        // Same change set: the listener below is applied together with it.
        if let Some(lbo) = st.get_mut("loadbalancer", &lb) {
            lbo.insert("provisioning_status".into(), Value::from("ACTIVE"));
        }
    }
    let mut lb_body = take(
        b,
        &[
            "name",
            "description",
            "connection_limit",
            "admin_state_up",
            "protocol_port",
        ],
    );
    if protocol == "HTTP" {
        // Neutron's haproxy driver always added X-Forwarded-For to HTTP VIPs.
        lb_body.insert("insert_headers".into(), json!({"X-Forwarded-For": "true"}));
    }
    lb_body.insert("protocol".into(), Value::from(protocol));
    lb_body.insert("loadbalancer_id".into(), Value::from(lb.clone()));
    lb_body.insert("default_pool_id".into(), Value::from(pool.clone()));
    let (o, c) = ops::create(st, "listener", None, &lb_body, who)?;
    changed.extend(c);
    if let Some(l) = st.get_mut("listener", s(&o, "id")) {
        l.insert("v1".into(), Value::Bool(true));
    }
    if let Some(pl) = st.get_mut("pool", &pool) {
        pl.insert("provisioning_status".into(), Value::from("PENDING_UPDATE"));
    }
    let l = st.get("listener", s(&o, "id")).cloned().unwrap_or_default();
    Ok((201, json!({"vip": vip_view(st, &l)}), changed))
}
