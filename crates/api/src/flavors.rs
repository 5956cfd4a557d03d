//! Flavors, flavor profiles, availability zones and availability zone profiles, as Octavia's
//! admin endpoints (`/flavors`, `/flavorprofiles`, `/availabilityzones`,
//! `/availabilityzoneprofiles`) and the providers' capability lists.
//!
//! Only an admin creates, changes or deletes them; every caller lists flavors and availability
//! zones; the profiles are admin-only. A profile's data is checked against what fulcrum can
//! apply (the provider's capabilities): `loadbalancer_topology` SINGLE is what fulcrum runs (one
//! process serves the load balancer; VIP placement across nodes is VRRP's or the cluster
//! section's job, not a flavor's), so a flavor with it is applied by being true; any other key
//! or value — ACTIVE_STANDBY, compute_flavor, amp_image_tag, an availability zone's
//! compute_zone — is refused with Octavia's 501 (the provider does not support the option),
//! never stored and silently not applied. A load balancer created with a flavor or
//! availability zone needs it to exist and be enabled (400 otherwise).

use crate::http::{unwrap_body, Answer};
use crate::ops::{err, ApiError, Caller};
use crate::schema::{self, Field, Kind};
use crate::state::{b, s, Obj, State};
use crate::Handle;
use axum::http::Method;
use serde_json::{json, Map, Value};

fn null() -> Value {
    Value::Null
}
fn yes() -> Value {
    Value::Bool(true)
}
fn empty() -> Value {
    Value::from("")
}

const fn field(name: &'static str, kind: Kind, required: bool, mutable: bool) -> Field {
    Field {
        name,
        kind,
        required,
        mutable,
        default: null,
    }
}

const fn with_default(name: &'static str, kind: Kind, default: fn() -> Value) -> Field {
    Field {
        name,
        kind,
        required: false,
        mutable: true,
        default,
    }
}

/// One of the four resources.
struct Resource {
    /// The URL's collection (`flavors`).
    path: &'static str,
    /// The state's kind and the JSON key of one (`flavor`).
    key: &'static str,
    /// The JSON key of a list (`flavors`).
    plural: &'static str,
    title: &'static str,
    fields: &'static [Field],
    /// The profile a flavor / availability zone names: (field, profile kind).
    profile: Option<(&'static str, &'static str)>,
    /// The profile's data field (`flavor_data`).
    data: Option<&'static str>,
    /// Availability zones are named, not numbered: the name is the id.
    by_name: bool,
    /// Whether a non-admin may read them.
    public: bool,
}

const PROFILE_FIELDS: &[Field] = &[
    field("name", Kind::Str, true, true),
    field("provider_name", Kind::Str, true, true),
    field("flavor_data", Kind::Str, true, true),
];
const AZ_PROFILE_FIELDS: &[Field] = &[
    field("name", Kind::Str, true, true),
    field("provider_name", Kind::Str, true, true),
    field("availability_zone_data", Kind::Str, true, true),
];
const FLAVOR_FIELDS: &[Field] = &[
    field("name", Kind::Str, true, true),
    with_default("description", Kind::OptStr, empty),
    field("flavor_profile_id", Kind::Str, true, false),
    with_default("enabled", Kind::Bool, yes),
];
const AZ_FIELDS: &[Field] = &[
    field("name", Kind::Str, true, false),
    with_default("description", Kind::OptStr, empty),
    field("availability_zone_profile_id", Kind::Str, true, false),
    with_default("enabled", Kind::Bool, yes),
];

const RESOURCES: &[Resource] = &[
    Resource {
        path: "flavorprofiles",
        key: "flavorprofile",
        plural: "flavorprofiles",
        title: "Flavor profile",
        fields: PROFILE_FIELDS,
        profile: None,
        data: Some("flavor_data"),
        by_name: false,
        public: false,
    },
    Resource {
        path: "flavors",
        key: "flavor",
        plural: "flavors",
        title: "Flavor",
        fields: FLAVOR_FIELDS,
        profile: Some(("flavor_profile_id", "flavorprofile")),
        data: None,
        by_name: false,
        public: true,
    },
    Resource {
        path: "availabilityzoneprofiles",
        key: "availability_zone_profile",
        plural: "availability_zone_profiles",
        title: "Availability zone profile",
        fields: AZ_PROFILE_FIELDS,
        profile: None,
        data: Some("availability_zone_data"),
        by_name: false,
        public: false,
    },
    Resource {
        path: "availabilityzones",
        key: "availability_zone",
        plural: "availability_zones",
        title: "Availability zone",
        fields: AZ_FIELDS,
        profile: Some(("availability_zone_profile_id", "availability_zone_profile")),
        data: None,
        by_name: true,
        public: true,
    },
];

/// The state kinds these resources are kept under.
pub const KINDS: &[&str] = &[
    "flavorprofile",
    "flavor",
    "availability_zone_profile",
    "availability_zone",
];

/// `GET /providers/{name}/flavor_capabilities`: what a flavor profile may say.
pub fn flavor_capabilities() -> Value {
    json!({"flavor_capabilities": [
        {"name": "loadbalancer_topology",
         "description": "The load balancer topology. One of: SINGLE - the running fulcrum serves it (VIP placement across nodes is configured with VRRP or the cluster section, not by a flavor)."}
    ]})
}

/// `GET /providers/{name}/availability_zone_capabilities`: none (fulcrum has no compute zones).
pub fn availability_zone_capabilities() -> Value {
    json!({"availability_zone_capabilities": []})
}

/// A profile's data: a JSON object whose keys and values fulcrum can apply.
fn check_data(provider: &str, key: &str, text: &str) -> Result<(), ApiError> {
    let data: Map<String, Value> = match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(err(
                400,
                format!("Invalid input for field/attribute {key}. Value: '{text}'. Value should be a JSON object"),
            ))
        }
    };
    for (k, v) in &data {
        let ok = key == "flavor_data" && k == "loadbalancer_topology" && v == "SINGLE";
        if !ok {
            return Err(err(
                501,
                format!("Provider '{provider}' does not support a requested option: {k} {v} (fulcrum applies loadbalancer_topology SINGLE only)"),
            ));
        }
    }
    Ok(())
}

fn view(o: &Obj, fields: &[&str]) -> Map<String, Value> {
    let mut v = o.clone();
    v.retain(|k, _| !k.starts_with('_'));
    crate::listing::select(v, fields)
}

fn in_use(st: &State, r: &Resource, id: &str) -> bool {
    match r.key {
        "flavorprofile" => st.all("flavor").any(|f| s(f, "flavor_profile_id") == id),
        "availability_zone_profile" => st
            .all("availability_zone")
            .any(|a| s(a, "availability_zone_profile_id") == id),
        "flavor" => st.all("loadbalancer").any(|l| s(l, "flavor_id") == id),
        _ => st
            .all("loadbalancer")
            .any(|l| s(l, "availability_zone") == id),
    }
}

/// Whether `rest` is one of these resources (handled by `handle`).
pub fn owns(rest: &[&str]) -> bool {
    rest.first()
        .is_some_and(|c| RESOURCES.iter().any(|r| r.path == *c))
}

pub async fn handle(
    shared: &Handle,
    method: &Method,
    rest: &[&str],
    query: &[(String, String)],
    body: Option<Map<String, Value>>,
    who: &Caller,
    base: &str,
) -> Answer {
    let Some(r) = RESOURCES.iter().find(|r| rest.first() == Some(&r.path)) else {
        return Err(err(404, "The resource could not be found."));
    };
    let forbidden = || err(403, "Policy does not allow this request to be performed.");
    if !who.admin && (*method != Method::GET || !r.public) {
        return Err(forbidden());
    }
    let fields: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "fields")
        .flat_map(|(_, v)| v.split(','))
        .collect();
    let mut st = shared.state.lock().await;
    let not_found = |id: &str| err(404, format!("{} {id} not found.", r.title));
    let (code, answer, id) = match (method.as_str(), &rest[1..]) {
        ("GET", []) => {
            let mut items: Vec<&Obj> = st.all(r.key).collect();
            items.sort_by_key(|o| crate::state::i(o, "_seq"));
            let items = items.into_iter().map(|o| view(o, &[])).collect();
            let mut v =
                crate::listing::list(r.plural, base, items, query).map_err(|e| err(400, e))?;
            if !fields.is_empty() {
                if let Some(list) = v.get_mut(r.plural).and_then(Value::as_array_mut) {
                    for o in list.iter_mut() {
                        if let Value::Object(m) = o {
                            *m = crate::listing::select(std::mem::take(m), &fields);
                        }
                    }
                }
            }
            return Ok((200, v));
        }
        ("GET", [id]) => {
            let o = st.get(r.key, id).ok_or_else(|| not_found(id))?;
            return Ok((200, json!({ r.key: view(o, &fields) })));
        }
        ("POST", []) => {
            let b = unwrap_body(r.key, body)?;
            let mut o = schema::create(r.title, r.fields, &b).map_err(|m| err(400, m))?;
            check(&st, r, &o)?;
            let id = if r.by_name {
                s(&o, "name").to_string()
            } else {
                crate::ops::new_id()
            };
            // Flavor names are unique, as zone names (their ids) are.
            if st.get(r.key, &id).is_some()
                || (r.key == "flavor" && st.all(r.key).any(|x| s(x, "name") == s(&o, "name")))
            {
                return Err(err(
                    409,
                    format!("A {} of {} already exists.", r.key, s(&o, "name")),
                ));
            }
            if !r.by_name {
                o.insert("id".into(), Value::from(id.clone()));
            }
            st.insert(r.key, &id, o);
            let o = st.get(r.key, &id).cloned().unwrap_or_default();
            (201, json!({ r.key: view(&o, &[]) }), id)
        }
        ("PUT", [id]) => {
            let b = unwrap_body(r.key, body)?;
            let mut o = st.get(r.key, id).cloned().ok_or_else(|| not_found(id))?;
            if r.data.is_some() && in_use(&st, r, id) {
                return Err(err(
                    409,
                    format!("{} {id} is in use and cannot be modified.", r.title),
                ));
            }
            schema::update(r.title, r.fields, &mut o, &b).map_err(|m| err(400, m))?;
            check(&st, r, &o)?;
            st.insert(r.key, id, o);
            let o = st.get(r.key, id).cloned().unwrap_or_default();
            (200, json!({ r.key: view(&o, &[]) }), id.to_string())
        }
        ("DELETE", [id]) => {
            st.get(r.key, id).ok_or_else(|| not_found(id))?;
            if in_use(&st, r, id) {
                return Err(err(
                    409,
                    format!("{} {id} is in use and cannot be modified.", r.title),
                ));
            }
            st.remove(r.key, id);
            (204, Value::Null, id.to_string())
        }
        _ => return Err(err(405, "The method is not allowed for the requested URL.")),
    };
    let key = [(r.key.to_string(), id)];
    if let Err(e) = shared.store.save(&st, &key).await {
        return Err(crate::conflict::store_failed(shared, &mut st, e).await);
    }
    Ok((code, answer))
}

/// A profile's provider and data; a flavor's or zone's profile must exist.
fn check(st: &State, r: &Resource, o: &Obj) -> Result<(), ApiError> {
    if let Some(data) = r.data {
        let provider = s(o, "provider_name");
        if provider != "amphora" && provider != "fulcrum" {
            return Err(err(400, format!("Provider '{provider}' is not enabled.")));
        }
        check_data(provider, data, s(o, data))?;
    }
    if let Some((f, kind)) = r.profile {
        let pid = s(o, f);
        if st.get(kind, pid).is_none() {
            return Err(err(400, format!("{pid} is not a valid option for {f}")));
        }
    }
    Ok(())
}

/// A load balancer's `flavor_id` and `availability_zone`: existing and enabled.
pub fn check_loadbalancer(st: &State, lb: &Obj) -> Result<(), ApiError> {
    if let Some(f) = lb.get("flavor_id").and_then(Value::as_str) {
        match st.get("flavor", f) {
            None => return Err(err(400, "Validation failure: Invalid flavor_id.")),
            Some(o) if !b(o, "enabled") => {
                return Err(err(
                    400,
                    format!("The selected flavor is not allowed in this deployment: {f}"),
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(a) = lb.get("availability_zone").and_then(Value::as_str) {
        match st.get("availability_zone", a) {
            None => {
                return Err(err(
                    400,
                    format!("Validation failure: Invalid availability zone {a}."),
                ))
            }
            Some(o) if !b(o, "enabled") => {
                return Err(err(
                    400,
                    format!(
                        "The selected availability_zone is not allowed in this deployment: {a}"
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}
