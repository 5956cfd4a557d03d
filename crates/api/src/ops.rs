//! Create, update and delete with Octavia's rules: references must exist and belong to the same
//! load balancer, duplicates are 409, a load balancer that is applying a change (PENDING_*) is
//! immutable (409), quotas are enforced per project. Pure functions of the state.

use crate::schema::{self, Field};
use crate::state::{b, g, s, Obj, State};
use crate::{checks, checks_l4};
use serde_json::{Map, Value};

/// An error answered as `{"faultcode", "faultstring", "debuginfo"}` with its status code.
#[derive(Debug)]
pub struct ApiError {
    pub code: u16,
    pub msg: String,
}

pub fn err(code: u16, msg: impl Into<String>) -> ApiError {
    ApiError {
        code,
        msg: msg.into(),
    }
}

/// Who is asking.
#[derive(Debug, Clone)]
pub struct Caller {
    pub project: String,
    pub admin: bool,
}

pub type Changed = Vec<(String, String)>;

pub fn fields(kind: &str) -> &'static [Field] {
    match kind {
        "loadbalancer" => schema::LOADBALANCER,
        "listener" => schema::LISTENER,
        "pool" => schema::POOL,
        "member" => schema::MEMBER,
        "healthmonitor" => schema::HEALTHMONITOR,
        "l7policy" => schema::L7POLICY,
        _ => schema::L7RULE,
    }
}

/// Octavia's display name of a kind, as in "Load Balancer X not found.".
pub fn title(kind: &str) -> &'static str {
    match kind {
        "loadbalancer" => "Load Balancer",
        "listener" => "Listener",
        "pool" => "Pool",
        "member" => "Member",
        "healthmonitor" => "Health Monitor",
        "l7policy" => "L7 Policy",
        "l7rule" => "L7 Rule",
        _ => "Quota",
    }
}

/// An object the caller may see, or 404.
pub fn visible<'a>(st: &'a State, kind: &str, id: &str, who: &Caller) -> Result<&'a Obj, ApiError> {
    match st.get(kind, id) {
        Some(o) if who.admin || s(o, "project_id") == who.project => Ok(o),
        Some(_) => Err(err(
            403,
            "Policy does not allow this request to be performed.",
        )),
        None => Err(err(404, format!("{} {id} not found.", title(kind)))),
    }
}

pub(crate) fn lb_mutable(st: &State, lb: &str) -> Result<(), ApiError> {
    match st.get("loadbalancer", lb) {
        Some(o) if s(o, "provisioning_status").starts_with("PENDING_") => Err(err(
            409,
            format!("Load Balancer {lb} is immutable and cannot be updated."),
        )),
        Some(_) => Ok(()),
        None => Err(err(404, format!("Load Balancer {lb} not found."))),
    }
}

pub fn quota_limit(st: &State, project: &str, kind: &str) -> i64 {
    st.get("quota", project)
        .and_then(|q| q.get(kind))
        .and_then(Value::as_i64)
        .unwrap_or(-1)
}

fn check_quota(st: &State, kind: &str, project: &str) -> Result<(), ApiError> {
    let limit = quota_limit(st, project, kind);
    if limit >= 0 && st.count(kind, project) >= limit {
        return Err(err(
            403,
            format!("Quota has been met for resources: {}", title(kind)),
        ));
    }
    Ok(())
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Creates a `kind` (with `parent` the pool of a member or the policy of a rule).
pub fn create(
    st: &mut State,
    kind: &str,
    parent: Option<&str>,
    body: &Map<String, Value>,
    who: &Caller,
) -> Result<(Obj, Changed), ApiError> {
    create_with_id(st, kind, parent, body, who, None)
}

/// `create` with the id chosen by the caller (LBaaS v1 objects keep their v1 ids).
pub fn create_with_id(
    st: &mut State,
    kind: &str,
    parent: Option<&str>,
    body: &Map<String, Value>,
    who: &Caller,
    id: Option<String>,
) -> Result<(Obj, Changed), ApiError> {
    let mut o = schema::create(title(kind), fields(kind), body).map_err(|m| err(400, m))?;
    let project = match o.get("project_id").and_then(Value::as_str) {
        Some(p) if who.admin => p.to_string(),
        Some(p) if p != who.project => {
            return Err(err(
                403,
                "Policy does not allow this request to be performed.",
            ))
        }
        _ => who.project.clone(),
    };
    o.insert("project_id".into(), Value::from(project.clone()));
    let id = id.unwrap_or_else(new_id);
    o.insert("id".into(), Value::from(id.clone()));
    let lb = match kind {
        "loadbalancer" => {
            if o.get("vip_address").is_none_or(Value::is_null) {
                return Err(err(400, "Validation failure: fulcrum needs a vip_address (it has no Neutron to allocate one from)."));
            }
            if o.get("vip_subnet_id").is_none_or(Value::is_null)
                && o.get("vip_network_id").is_none_or(Value::is_null)
                && o.get("vip_port_id").is_none_or(Value::is_null)
            {
                return Err(err(400, "Validation failure: VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id."));
            }
            let provider = o
                .get("provider")
                .and_then(Value::as_str)
                .unwrap_or("amphora")
                .to_string();
            if provider != "amphora" && provider != "fulcrum" {
                return Err(err(400, format!("Provider '{provider}' is not enabled.")));
            }
            crate::flavors::check_loadbalancer(st, &o)?;
            o.insert("provider".into(), Value::from(provider));
            if o.get("vip_port_id").is_none_or(Value::is_null) {
                o.insert("vip_port_id".into(), Value::from(new_id()));
            }
            o.insert("vip_vnic_type".into(), Value::from("normal"));
            o.insert("additional_vips".into(), Value::Array(Vec::new()));
            id.clone()
        }
        "listener" => {
            let lb = s(&o, "loadbalancer_id").to_string();
            visible(st, "loadbalancer", &lb, who)?;
            let port = g(&o, "protocol_port");
            if st.all("listener").any(|l| {
                s(l, "loadbalancer_id") == lb
                    && g(l, "protocol_port") == port
                    && s(l, "provisioning_status") != "PENDING_DELETE"
            }) {
                return Err(err(409, format!("Another Listener on this Load Balancer is already using protocol_port {port}")));
            }
            checks::check_cidrs(&o)?;
            checks::check_insert_headers(&o)?;
            crate::tls_refs::check_listener(&o)?;
            crate::certs::check_listener(&o)?;
            if s(&o, "protocol") == "PROMETHEUS" {
                return Err(err(
                    400,
                    format!(
                        "Validation failure: protocol {} is not supported by fulcrum yet.",
                        s(&o, "protocol")
                    ),
                ));
            }
            if let Some(pid) = o.get("default_pool_id").and_then(Value::as_str) {
                let p = visible(st, "pool", pid, who)?;
                if s(p, "loadbalancer_id") != lb {
                    return Err(err(
                        400,
                        format!("Pool {pid} is not on Load Balancer {lb}."),
                    ));
                }
                checks_l4::check_pairing(s(&o, "protocol"), s(p, "protocol"))?;
            }
            lb
        }
        "pool" => {
            let lb = match (o.get("listener_id").and_then(Value::as_str), o.get("loadbalancer_id").and_then(Value::as_str)) {
                (None, None) => return Err(err(400, "Validation failure: Either a listener_id or loadbalancer_id must be specified.")),
                (Some(lid), _) => {
                    let l = visible(st, "listener", lid, who)?;
                    if l.get("default_pool_id").is_some_and(|v| !v.is_null()) {
                        return Err(err(409, format!("Listener {lid} is already using default pool {}.", s(l, "default_pool_id"))));
                    }
                    checks_l4::check_pairing(s(l, "protocol"), s(&o, "protocol"))?;
                    s(l, "loadbalancer_id").to_string()
                }
                (None, Some(lb)) => {
                    visible(st, "loadbalancer", lb, who)?;
                    lb.to_string()
                }
            };
            o.insert("loadbalancer_id".into(), Value::from(lb.clone()));
            checks::check_persistence(&o)?;
            checks_l4::check_pool(&mut o)?;
            crate::tls_refs::check_pool(&o)?;
            checks::check_algorithm(&o)?;
            lb
        }
        "member" => {
            let pid = parent.unwrap_or_default();
            let p = visible(st, "pool", pid, who)?;
            let lb = s(p, "loadbalancer_id").to_string();
            checks_l4::check_member(st, p, &o)?;
            if st.all("member").any(|m| {
                s(m, "pool_id") == pid
                    && g(m, "address") == g(&o, "address")
                    && g(m, "protocol_port") == g(&o, "protocol_port")
                    && s(m, "provisioning_status") != "PENDING_DELETE"
            }) {
                return Err(err(
                    409,
                    format!(
                        "Another member on this pool is already using ip {} on protocol_port {}",
                        s(&o, "address"),
                        g(&o, "protocol_port")
                    ),
                ));
            }
            o.insert("pool_id".into(), Value::from(pid));
            lb
        }
        "healthmonitor" => {
            let pid = s(&o, "pool_id").to_string();
            let p = visible(st, "pool", &pid, who)?;
            let lb = s(p, "loadbalancer_id").to_string();
            if !st.children("healthmonitor", "pool_id", &pid).is_empty() {
                return Err(err(409, "This Pool already has a Health Monitor"));
            }
            checks_l4::check_monitor(p, &o)?;
            checks::check_monitor(&mut o)?;
            lb
        }
        "l7policy" => {
            let lid = s(&o, "listener_id").to_string();
            let l = visible(st, "listener", &lid, who)?;
            let lb = s(l, "loadbalancer_id").to_string();
            checks::check_policy(st, &o, &lb, who)?;
            if o.get("position").is_none_or(Value::is_null) {
                let n = st.children("l7policy", "listener_id", &lid).len() + 1;
                o.insert("position".into(), Value::from(n));
            }
            lb
        }
        _ => {
            let pid = parent.unwrap_or_default();
            let p = visible(st, "l7policy", pid, who)?;
            let l = st
                .get("listener", s(p, "listener_id"))
                .cloned()
                .unwrap_or_default();
            o.insert("l7policy_id".into(), Value::from(pid));
            if matches!(s(&o, "type"), "HEADER" | "COOKIE") && s(&o, "key").is_empty() {
                return Err(err(
                    400,
                    "Validation failure: key is required for HEADER and COOKIE rules.",
                ));
            }
            s(&l, "loadbalancer_id").to_string()
        }
    };
    check_quota(st, kind, &project)?;
    if kind != "loadbalancer" {
        lb_mutable(st, &lb)?;
    }
    let stamp = crate::state::now();
    o.insert("created_at".into(), Value::from(stamp));
    o.insert("updated_at".into(), Value::Null);
    o.insert("provisioning_status".into(), Value::from("PENDING_CREATE"));
    o.insert("operating_status".into(), Value::from("OFFLINE"));
    st.insert(kind, &id, o);
    st.mark_pending(kind, &id, "PENDING_CREATE");
    let mut changed = vec![(kind.to_string(), id.clone())];
    if kind == "pool" {
        if let Some(lid) = st
            .get("pool", &id)
            .and_then(|p| p.get("listener_id"))
            .and_then(Value::as_str)
            .map(str::to_string)
        {
            if let Some(l) = st.get_mut("listener", &lid) {
                l.insert("default_pool_id".into(), Value::from(id.clone()));
            }
            changed.push(("listener".into(), lid));
        }
    }
    changed.push(("loadbalancer".into(), lb));
    let o = st.get(kind, &id).cloned().unwrap_or_default();
    Ok((o, changed))
}

pub fn update(
    st: &mut State,
    kind: &str,
    id: &str,
    body: &Map<String, Value>,
    who: &Caller,
) -> Result<(Obj, Changed), ApiError> {
    let mut o = visible(st, kind, id, who)?.clone();
    let lb = st.lb_of(kind, &o).unwrap_or_default();
    lb_mutable(st, &lb)?;
    schema::update(title(kind), fields(kind), &mut o, body).map_err(|m| err(400, m))?;
    match kind {
        "healthmonitor" => {
            checks::check_monitor(&mut o)?;
        }
        "member" => {
            if let Some(p) = st.get("pool", s(&o, "pool_id")) {
                checks_l4::check_member(st, p, &o)?;
            }
        }
        "pool" => {
            checks::check_persistence(&o)?;
            checks_l4::check_pool(&mut o)?;
            crate::tls_refs::check_pool(&o)?;
            checks::check_algorithm(&o)?;
        }
        "l7policy" => checks::check_policy(st, &o, &lb, who)?,
        "listener" => {
            checks::check_cidrs(&o)?;
            checks::check_insert_headers(&o)?;
            crate::tls_refs::check_listener(&o)?;
            crate::certs::check_listener(&o)?;
            if let Some(pid) = o.get("default_pool_id").and_then(Value::as_str) {
                let p = visible(st, "pool", pid, who)?;
                if s(p, "loadbalancer_id") != lb {
                    return Err(err(
                        400,
                        format!("Pool {pid} is not on Load Balancer {lb}."),
                    ));
                }
                checks_l4::check_pairing(s(&o, "protocol"), s(p, "protocol"))?;
            }
        }
        _ => {}
    }
    st.insert(kind, id, o);
    st.mark_pending(kind, id, "PENDING_UPDATE");
    let o = st.get(kind, id).cloned().unwrap_or_default();
    Ok((
        o,
        vec![
            (kind.to_string(), id.to_string()),
            ("loadbalancer".into(), lb),
        ],
    ))
}

/// Marks an object (and with `cascade`, a load balancer's whole tree) PENDING_DELETE.
pub fn delete(
    st: &mut State,
    kind: &str,
    id: &str,
    cascade: bool,
    who: &Caller,
) -> Result<Changed, ApiError> {
    let o = visible(st, kind, id, who)?.clone();
    let lb = st.lb_of(kind, &o).unwrap_or_default();
    lb_mutable(st, &lb)?;
    let mut doomed = vec![(kind.to_string(), id.to_string())];
    match kind {
        "loadbalancer" => {
            let tree = st.tree(id);
            if tree.len() > 1 && !cascade {
                return Err(err(
                    400,
                    format!("Cannot delete Load Balancer {id} - it has children"),
                ));
            }
            doomed = tree;
        }
        "pool" => {
            for m in st.children("member", "pool_id", id) {
                doomed.push(("member".into(), m));
            }
            for h in st.children("healthmonitor", "pool_id", id) {
                doomed.push(("healthmonitor".into(), h));
            }
            if st.all("l7policy").any(|p| {
                s(p, "redirect_pool_id") == id && s(p, "provisioning_status") != "PENDING_DELETE"
            }) {
                return Err(err(409, format!("Pool {id} is in use by an L7 policy.")));
            }
        }
        "listener" => {
            for p in st.children("l7policy", "listener_id", id) {
                for r in st.children("l7rule", "l7policy_id", &p) {
                    doomed.push(("l7rule".into(), r));
                }
                doomed.push(("l7policy".into(), p));
            }
        }
        "l7policy" => {
            for r in st.children("l7rule", "l7policy_id", id) {
                doomed.push(("l7rule".into(), r));
            }
        }
        _ => {}
    }
    // A pool deleted stops being its listener's default; a listener deleted frees its pool.
    let mut changed = Vec::new();
    if kind == "pool" {
        for lid in st.children("listener", "default_pool_id", id) {
            if let Some(l) = st.get_mut("listener", &lid) {
                l.insert("default_pool_id".into(), Value::Null);
            }
            changed.push(("listener".into(), lid));
        }
    }
    for (k, i) in &doomed {
        if let Some(o) = st.get_mut(k, i) {
            o.insert("provisioning_status".into(), Value::from("PENDING_DELETE"));
        }
        changed.push((k.clone(), i.clone()));
    }
    if kind != "loadbalancer" {
        st.mark_pending("loadbalancer", &lb, "PENDING_UPDATE");
        changed.push(("loadbalancer".into(), lb));
    }
    Ok(changed)
}

/// Whether an object is up as far as configuration goes.
pub fn admin_up(o: &Obj) -> bool {
    b(o, "admin_state_up")
}
