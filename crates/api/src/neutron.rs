//! Neutron look-ups on the same endpoint: `openstack loadbalancer create --vip-subnet-id ID`
//! asks `GET /v2.0/subnets?id=ID` (also `networks`, `ports`) before it posts. Under `noauth`
//! any id is answered as an existing subnet (a lab has no Neutron); otherwise the subnets the
//! `api` section lists (`subnet ID CIDR`) are answered.

use crate::Handle;
use fulcrum_config::model::ApiAuth;
use serde_json::{json, Value};

pub fn answer(
    shared: &Handle,
    what: &str,
    rest: &[&str],
    query: &[(String, String)],
) -> (u16, Value) {
    let wanted: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.clone())
        .chain(rest.first().map(|s| s.to_string()))
        .collect();
    let listed = |id: &str| {
        shared
            .subnets
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.cidr.clone())
    };
    let any = shared.auth == ApiAuth::NoAuth;
    let mut items = Vec::new();
    for id in &wanted {
        let cidr = match (listed(id), any) {
            (Some(c), _) => c,
            (None, true) => "0.0.0.0/0".to_string(),
            (None, false) => continue,
        };
        items.push(match what {
            "subnets" => json!({"id": id, "name": id, "network_id": id, "cidr": cidr, "ip_version": if cidr.contains(':') {6} else {4}, "tenant_id": "", "project_id": ""}),
            "networks" => json!({"id": id, "name": id, "subnets": [id], "tenant_id": "", "project_id": "", "status": "ACTIVE", "admin_state_up": true}),
            _ => json!({"id": id, "name": id, "network_id": id, "fixed_ips": [], "tenant_id": "", "project_id": "", "status": "ACTIVE"}),
        });
    }
    if wanted.is_empty() && !any {
        for s in &shared.subnets {
            items.push(json!({"id": s.id, "name": s.id, "network_id": s.id, "cidr": s.cidr}));
        }
    }
    if let Some(id) = rest.first() {
        let singular = what.trim_end_matches('s');
        return match items.into_iter().next() {
            Some(v) => (200, json!({ singular: v })),
            None => (
                404,
                json!({"NeutronError": {"type": "NotFound", "message": format!("{singular} {id} could not be found."), "detail": ""}}),
            ),
        };
    }
    (200, json!({ what: items }))
}
