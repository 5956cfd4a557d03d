//! Octavia's rules for UDP and SCTP listeners, pools, members and monitors (served by the LVS
//! data plane, `render_lvs.rs`), and the refusals where fulcrum's LVS cannot do what the field
//! asks (400 rather than stored and silently not applied).

use crate::ops::{err, ApiError};
use crate::render_lvs::is_l4;
use crate::state::{b, s, Obj, State};
use serde_json::Value;

/// Octavia's VALID_LISTENER_POOL_PROTOCOL_MAP where UDP or SCTP is involved: a UDP listener
/// takes UDP pools only, an SCTP listener SCTP pools only, and neither pool goes elsewhere.
pub fn check_pairing(listener_protocol: &str, pool_protocol: &str) -> Result<(), ApiError> {
    // Octavia's map for the other protocols.
    let allowed: &[&str] = match listener_protocol {
        "HTTP" | "TERMINATED_HTTPS" => &["HTTP", "PROXY", "PROXYV2"],
        "HTTPS" => &["HTTPS", "PROXY", "PROXYV2", "TCP"],
        "TCP" => &["HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP"],
        _ => &[],
    };
    let mismatch = if is_l4(listener_protocol) || is_l4(pool_protocol) {
        listener_protocol != pool_protocol
    } else {
        !allowed.contains(&pool_protocol)
    };
    if mismatch {
        return Err(err(400, format!("Validation failure: The pool protocol '{pool_protocol}' is invalid while the listener protocol is '{listener_protocol}'.")));
    }
    Ok(())
}

/// A pool's session persistence by protocol: UDP/SCTP pools take SOURCE_IP only (with
/// persistence_timeout / persistence_granularity); other pools do not take those two.
/// persistence_timeout is read as a number also from a numeric string (the CLI sends
/// `"120"`), and stored as a number.
pub fn check_pool(o: &mut Obj) -> Result<(), ApiError> {
    if let Some(sp) = o
        .get_mut("session_persistence")
        .and_then(Value::as_object_mut)
    {
        if let Some(n) = sp
            .get("persistence_timeout")
            .and_then(Value::as_str)
            .and_then(|t| t.trim().parse::<i64>().ok())
        {
            sp.insert("persistence_timeout".into(), Value::from(n));
        }
    }
    let p = s(o, "protocol");
    if is_l4(p) && b(o, "tls_enabled") {
        return Err(err(
            400,
            format!("Validation failure: tls_enabled is not valid for {p} pools."),
        ));
    }
    let Some(sp) = o.get("session_persistence").and_then(Value::as_object) else {
        return Ok(());
    };
    let t = s(sp, "type");
    if is_l4(p) && t != "SOURCE_IP" {
        return Err(err(400, format!("Validation failure: Session persistence of type {t} is not supported for {p} protocol pools.")));
    }
    let set = |k: &str| sp.get(k).is_some_and(|v| !v.is_null());
    if !is_l4(p) && (set("persistence_timeout") || set("persistence_granularity")) {
        return Err(err(400, format!("Validation failure: persistence_timeout and persistence_granularity are only for UDP and SCTP pools, not {p}.")));
    }
    if let Some(v) = sp.get("persistence_timeout").filter(|v| !v.is_null()) {
        if v.as_i64().is_none_or(|t| t < 0) {
            return Err(err(400, format!("Invalid input for field/attribute persistence_timeout. Value: '{v}'. Value should be a non-negative integer")));
        }
    }
    if let Some(v) = sp.get("persistence_granularity").filter(|v| !v.is_null()) {
        if v.as_str()
            .is_none_or(|g| g.parse::<std::net::Ipv4Addr>().is_err())
        {
            return Err(err(400, format!("Invalid input for field/attribute persistence_granularity. Value: '{v}'. Value should be a netmask")));
        }
    }
    Ok(())
}

/// A member of a UDP/SCTP pool: LVS has no backup server (keepalived's sorry_server is one per
/// virtual server, not a flag per real server), so `backup` is refused.
/// And as Octavia's amphora driver, a UDP pool's members are of the VIP's address family
/// (501 otherwise: LVS NAT does not translate between IPv4 and IPv6).
pub fn check_member(st: &State, pool: &Obj, m: &Obj) -> Result<(), ApiError> {
    let p = s(pool, "protocol");
    if is_l4(p) && b(m, "backup") {
        return Err(err(400, format!("Validation failure: backup members of a {p} pool are not supported by fulcrum yet.")));
    }
    let vip = st
        .get("loadbalancer", s(pool, "loadbalancer_id"))
        .map(|lb| s(lb, "vip_address"))
        .unwrap_or("");
    if is_l4(p) && !vip.is_empty() && vip.contains(':') != s(m, "address").contains(':') {
        return Err(err(501, "Provider 'amphora' does not support a requested option: This provider doesn't support mixing IPv4 and IPv6 addresses for its VIP and members in UDP load balancers."));
    }
    Ok(())
}

/// A monitor by its pool's protocol: UDP-CONNECT for UDP pools only (Octavia's rule), and the
/// only monitor fulcrum runs for them (a MISC_CHECK); SCTP monitors are not run yet.
pub fn check_monitor(pool: &Obj, h: &Obj) -> Result<(), ApiError> {
    let (p, t) = (s(pool, "protocol"), s(h, "type"));
    match (p, t) {
        ("UDP", "UDP-CONNECT") => Ok(()),
        (_, "UDP-CONNECT") => Err(err(400, format!("Validation failure: The UDP-CONNECT type is only supported for pools of type UDP (not {p})."))),
        (_, "SCTP") if p != "SCTP" => Err(err(400, format!("Validation failure: The SCTP type is only supported for pools of type SCTP (not {p})."))),
        ("UDP" | "SCTP", _) => Err(err(400, format!("Validation failure: health monitor type {t} on a {p} pool is not supported by fulcrum yet (UDP pools: UDP-CONNECT)."))),
        _ => Ok(()),
    }
}
