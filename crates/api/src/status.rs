//! `GET /loadbalancers/{id}/status`: the status tree Octavia returns (load balancer →
//! listeners → default pool → members and health monitor), from the state's live statuses.

use crate::state::State;
use serde_json::{json, Map, Value};

pub fn status_tree(st: &State, lb: &str) -> Value {
    let o = st.get("loadbalancer", lb).cloned().unwrap_or_default();
    let pick = |o: &crate::state::Obj, extra: &[&str]| {
        let mut m = Map::new();
        for k in ["id", "name", "operating_status", "provisioning_status"]
            .iter()
            .chain(extra)
        {
            m.insert(k.to_string(), o.get(*k).cloned().unwrap_or(Value::Null));
        }
        m
    };
    let mut listeners = Vec::new();
    for lid in st.children("listener", "loadbalancer_id", lb) {
        let Some(l) = st.get("listener", &lid) else {
            continue;
        };
        let mut lv = pick(l, &[]);
        let mut pools = Vec::new();
        if let Some(pid) = l.get("default_pool_id").and_then(Value::as_str) {
            if let Some(p) = st.get("pool", pid) {
                let mut pv = pick(p, &[]);
                let members: Vec<Value> = st
                    .children("member", "pool_id", pid)
                    .iter()
                    .filter_map(|m| st.get("member", m))
                    .map(|m| Value::Object(pick(m, &["address", "protocol_port"])))
                    .collect();
                pv.insert("members".into(), Value::Array(members));
                if let Some(h) = st
                    .children("healthmonitor", "pool_id", pid)
                    .first()
                    .and_then(|h| st.get("healthmonitor", h))
                {
                    pv.insert("health_monitor".into(), Value::Object(pick(h, &["type"])));
                }
                pools.push(Value::Object(pv));
            }
        }
        lv.insert("pools".into(), Value::Array(pools));
        listeners.push(Value::Object(lv));
    }
    let mut lbv = pick(&o, &[]);
    lbv.insert("listeners".into(), Value::Array(listeners));
    json!({"statuses": {"loadbalancer": lbv}})
}
