//! The batch member update (`PUT /pools/{id}/members`), applied to a copy of the state so a
//! refused item leaves nothing half-done.

use crate::ops::{create, err, lb_mutable, visible, ApiError, Caller, Changed};
use crate::schema;
use crate::state::{g, s, State};
use serde_json::Value;

/// The batch member update (`PUT /pools/{id}/members`): the list becomes the pool's members
/// (matched by address and port); with `additive_only`, members not listed stay.
pub fn batch_members(
    st: &mut State,
    pool: &str,
    members: &[Value],
    additive_only: bool,
    who: &Caller,
) -> Result<Changed, ApiError> {
    let p = visible(st, "pool", pool, who)?;
    let lb = s(p, "loadbalancer_id").to_string();
    lb_mutable(st, &lb)?;
    let mut scratch = st.clone();
    let mut changed = Vec::new();
    let mut keep = Vec::new();
    for m in members {
        let Some(body) = m.as_object() else {
            return Err(err(
                400,
                "Invalid input for field/attribute members. Value should be a list of objects",
            ));
        };
        let addr = body.get("address").cloned().unwrap_or(Value::Null);
        let port = body
            .get("protocol_port")
            .and_then(|v| schema::check_value("Member", &schema::MEMBER[4], v).ok())
            .unwrap_or(Value::Null);
        let existing = scratch
            .children("member", "pool_id", pool)
            .into_iter()
            .find(|mid| {
                scratch
                    .get("member", mid)
                    .is_some_and(|o| g(o, "address") == addr && g(o, "protocol_port") == port)
            });
        match existing {
            Some(mid) => {
                let mut upd = body.clone();
                upd.remove("address");
                upd.remove("protocol_port");
                upd.remove("subnet_id");
                let mut o = scratch.get("member", &mid).cloned().unwrap_or_default();
                schema::update("Member", schema::MEMBER, &mut o, &upd).map_err(|m| err(400, m))?;
                if let Some(p) = scratch.get("pool", pool) {
                    crate::checks_l4::check_member(&scratch, p, &o)?;
                }
                o.insert("provisioning_status".into(), Value::from("PENDING_UPDATE"));
                scratch.insert("member", &mid, o);
                changed.push(("member".to_string(), mid.clone()));
                keep.push(mid);
            }
            None => {
                if let Some(lbo) = scratch.get_mut("loadbalancer", &lb) {
                    lbo.insert("provisioning_status".into(), Value::from("ACTIVE"));
                }
                let (o, _) = create(&mut scratch, "member", Some(pool), body, who)?;
                let mid = s(&o, "id").to_string();
                changed.push(("member".to_string(), mid.clone()));
                keep.push(mid);
            }
        }
    }
    if !additive_only {
        for mid in scratch.children("member", "pool_id", pool) {
            if !keep.contains(&mid) {
                if let Some(o) = scratch.get_mut("member", &mid) {
                    o.insert("provisioning_status".into(), Value::from("PENDING_DELETE"));
                }
                changed.push(("member".into(), mid));
            }
        }
    }
    scratch.mark_pending("pool", pool, "PENDING_UPDATE");
    changed.push(("pool".into(), pool.to_string()));
    changed.push(("loadbalancer".into(), lb));
    *st = scratch;
    Ok(changed)
}
