//! The HTTP surface (axum): `GET /` (versions), `/v2.0/lbaas/...` and `/v2/lbaas/...`, and the
//! Neutron look-ups (`/v2.0/subnets`, `networks`, `ports`) clients make before a create.
//! Paths are matched by segments in one handler so both prefixes and the nested collections
//! (`pools/{id}/members`, `l7policies/{id}/rules`) share one table. Who calls is `auth.rs`'s.

use crate::health;
use crate::listing;
use crate::ops::{self, err, ApiError, Caller};
use crate::state::{s, State};
use crate::Handle;
use axum::body::Bytes;
use axum::extract::State as Ax;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::time::Duration;

pub fn router(shared: Handle) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(shared)
}

fn reply(code: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

fn fault(e: ApiError) -> Response {
    let faultcode = if e.code >= 500 { "Server" } else { "Client" };
    reply(
        e.code,
        json!({"faultcode": faultcode, "faultstring": e.msg, "debuginfo": null}),
    )
}

const COLLECTIONS: &[(&str, &str)] = &[
    ("loadbalancers", "loadbalancer"),
    ("listeners", "listener"),
    ("pools", "pool"),
    ("healthmonitors", "healthmonitor"),
    ("l7policies", "l7policy"),
];

/// The versions document: one `v2.0`, CURRENT (Octavia's v2 API, and Neutron's v2.0 for the
/// look-ups answered on the same endpoint), reachable under `/v2.0` and `/v2`.
fn versions(host: &str) -> Value {
    json!({"versions": [
        {"id": "v2.0", "status": "CURRENT", "updated": "2016-12-11T00:00:00Z",
         "links": [{"href": format!("http://{host}/v2.0"), "rel": "self"}]}
    ]})
}

async fn dispatch(
    Ax(shared): Ax<Handle>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    let path = uri.path().trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if segs.is_empty() && method == Method::GET {
        return reply(200, versions(&host));
    }
    let who = match crate::auth::caller(&shared, &headers).await {
        Ok(c) => c,
        Err(e) => return fault(e),
    };
    let query = listing::parse_query(uri.query());
    let body: Option<Map<String, Value>> = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(m)) => Some(m),
            _ => {
                return fault(err(
                    400,
                    "Invalid input: the request body is not a JSON object.",
                ))
            }
        }
    };
    let base = format!("http://{host}{path}");
    let result = match segs.as_slice() {
        ["v2.0" | "v2", "lbaas", rest @ ..] => {
            // Another node won a compare-and-swap on the same keys: the state is read again
            // and the request re-run on it, where it gets Octavia's answer (409 while that
            // node's change is PENDING_*, or success once it settled). Bounded.
            let mut attempt = 0;
            loop {
                attempt += 1;
                let r = lbaas(&shared, &method, rest, &query, body.clone(), &who, &base).await;
                match r {
                    Err(e)
                        if e.msg == crate::store::CONFLICT
                            && attempt < crate::conflict::RETRIES => {}
                    r => break r,
                }
            }
        }
        ["v2.0", "lb", rest @ ..] => {
            return lbaas_v1(&shared, &method, rest, &query, body, &who).await
        }
        ["v2.0" | "v2"] => Ok((200, json!({"version": versions(&host)["versions"][0]}))),
        ["v2.0", "subnets" | "networks" | "ports", rest @ ..] => {
            Ok(crate::neutron::answer(&shared, segs[1], rest, &query))
        }
        _ => Err(err(404, "The resource could not be found.")),
    };
    match result {
        Ok((204, _)) => StatusCode::NO_CONTENT.into_response(),
        Ok((200, Value::String(text))) => ([("content-type", "text/plain")], text).into_response(),
        Ok((code, v)) => reply(code, v),
        Err(e) => fault(e),
    }
}

pub(crate) type Answer = Result<(u16, Value), ApiError>;

async fn lbaas_v1(
    shared: &Handle,
    method: &Method,
    rest: &[&str],
    query: &[(String, String)],
    body: Option<Map<String, Value>>,
    who: &Caller,
) -> Response {
    // LBaaS v1 had no PENDING_* immutability: a change waits (bounded) for the previous
    // one to be applied instead of answering 409.
    let mut st = shared.state.lock().await;
    if *method != Method::GET {
        for _ in 0..500 {
            if st.pending_lbs().is_empty() {
                break;
            }
            drop(st);
            tokio::time::sleep(Duration::from_millis(10)).await;
            st = shared.state.lock().await;
        }
    }
    fresh(shared, &mut st).await;
    let before = st.clone();
    match crate::v1::handle(&mut st, method, rest, query, body, who) {
        Ok((code, v, changed)) => {
            if !changed.is_empty() {
                if let Err(e) = shared.store.save(&st, &changed).await {
                    *st = before;
                    return fault(crate::conflict::store_failed(shared, &mut st, e).await);
                }
                drop(st);
                shared.dirty.notify_one();
            }
            if code == 204 {
                StatusCode::NO_CONTENT.into_response()
            } else {
                reply(code, v)
            }
        }
        Err(e) => reply(e.code, crate::v1::neutron_error(&e)),
    }
}

/// (plural, kind, parent (field, id), object id, what follows the id).
type Route<'a> = (
    &'a str,
    &'a str,
    Option<(&'a str, String)>,
    Option<&'a str>,
    &'a [&'a str],
);

fn envelope(kind: &str, o: Value) -> Value {
    let mut m = Map::new();
    m.insert(kind.to_string(), o);
    Value::Object(m)
}

pub(crate) fn unwrap_body(
    kind: &str,
    body: Option<Map<String, Value>>,
) -> Result<Map<String, Value>, ApiError> {
    match body.as_ref().and_then(|b| b.get(kind)) {
        Some(Value::Object(m)) => Ok(m.clone()),
        _ => Err(err(
            400,
            format!("Invalid input: the request body must be {{\"{kind}\": {{...}}}}."),
        )),
    }
}

/// Fills live operating status, then the view of one object.
async fn fresh(shared: &Handle, st: &mut State) {
    let rows = health::stats(shared).await;
    if crate::health_lvs::any(st) {
        // UDP/SCTP listeners: the LVS data plane's states, as rows of the same shape.
        let lvs = crate::health_lvs::fetch(shared).await;
        let mut all = (*rows).clone();
        all.extend(crate::health_lvs::rows(st, &lvs));
        health::refresh(st, &all);
    } else {
        health::refresh(st, &rows);
    }
}

fn list_kind(
    st: &State,
    kind: &str,
    who: &Caller,
    extra: Option<(&str, &str)>,
) -> Vec<Map<String, Value>> {
    let mut v: Vec<&crate::state::Obj> = st
        .all(kind)
        .filter(|o| who.admin || s(o, "project_id") == who.project)
        .filter(|o| extra.is_none_or(|(k, val)| s(o, k) == val))
        .collect();
    v.sort_by_key(|o| crate::state::i(o, "_seq"));
    v.into_iter().map(|o| st.view(kind, o)).collect()
}

fn fields_of(query: &[(String, String)]) -> Vec<&str> {
    query
        .iter()
        .filter(|(k, _)| k == "fields")
        .flat_map(|(_, v)| v.split(','))
        .collect()
}

async fn lbaas(
    shared: &Handle,
    method: &Method,
    rest: &[&str],
    query: &[(String, String)],
    body: Option<Map<String, Value>>,
    who: &Caller,
    base: &str,
) -> Answer {
    match rest {
        ["providers"] => {
            return Ok((
                200,
                json!({"providers": [
                {"name": "amphora", "description": "fulcrum: applied in-process to the running load balancer"},
                {"name": "fulcrum", "description": "fulcrum: applied in-process to the running load balancer"}]}),
            ))
        }
        ["providers", name, "flavor_capabilities"] if *name == "amphora" || *name == "fulcrum" => {
            return Ok((200, crate::flavors::flavor_capabilities()))
        }
        ["providers", name, "availability_zone_capabilities"]
            if *name == "amphora" || *name == "fulcrum" =>
        {
            return Ok((200, crate::flavors::availability_zone_capabilities()))
        }
        r if crate::flavors::owns(r) => {
            return crate::flavors::handle(shared, method, rest, query, body, who, base).await
        }
        ["quotas", ..] => {
            return crate::quotas::quotas(shared, method, &rest[1..], body, who).await
        }
        _ => {}
    }
    // Collections: (kind, parent filter, id)
    let (plural, kind, parent, id, tail): Route<'_> = match rest {
        ["pools", pid, "members", more @ ..] => (
            "members",
            "member",
            Some(("pool_id", pid.to_string())),
            more.first().copied(),
            more.get(1..).unwrap_or(&[]),
        ),
        ["l7policies", pid, "rules", more @ ..] => (
            "rules",
            "l7rule",
            Some(("l7policy_id", pid.to_string())),
            more.first().copied(),
            more.get(1..).unwrap_or(&[]),
        ),
        [c, more @ ..] => match COLLECTIONS.iter().find(|(p, _)| p == c) {
            Some((p, k)) => (
                *p,
                *k,
                None,
                more.first().copied(),
                more.get(1..).unwrap_or(&[]),
            ),
            None => return Err(err(404, "The resource could not be found.")),
        },
        [] => return Err(err(404, "The resource could not be found.")),
    };
    let singular = match kind {
        "l7rule" => "rule",
        k => k,
    };
    // A listener's TLS container refs are read before the state is locked (Barbican may be
    // slow), and kept with the listener once the change is accepted.
    let tls = match (kind, method.as_str(), &body) {
        ("listener" | "pool", "POST" | "PUT", Some(b)) => match b.get(kind) {
            Some(Value::Object(inner)) => {
                let mut pems = if kind == "listener" {
                    crate::certs::fetch_refs(&shared.certs, inner).await?
                } else {
                    serde_json::Map::new()
                };
                pems.extend(crate::tls_refs::fetch_refs(&shared.certs, kind, inner).await?);
                Some(pems)
            }
            _ => None,
        },
        _ => None,
    };
    let mut st = shared.state.lock().await;
    if let Some((pk, pid)) = &parent {
        let pkind = if *pk == "pool_id" { "pool" } else { "l7policy" };
        ops::visible(&st, pkind, pid, who)?;
    }
    let parent_id = parent.as_ref().map(|(_, p)| p.as_str());
    // What memory goes back to when the change cannot be stored (etcd unreachable).
    let before = (*method != Method::GET).then(|| st.clone());
    let answer = match (method.as_str(), id, tail) {
        ("GET", None, _) => {
            fresh(shared, &mut st).await;
            let items = list_kind(
                &st,
                kind,
                who,
                parent.as_ref().map(|(k, v)| (*k, v.as_str())),
            );
            let v = listing::list(plural, base, items, query).map_err(|m| err(400, m))?;
            return Ok((200, v));
        }
        ("POST", None, _) => {
            let b = unwrap_body(singular, body)?;
            let (o, changed) = ops::create(&mut st, kind, parent_id, &b, who)?;
            (
                201,
                envelope(singular, Value::Object(st.view(kind, &o))),
                changed,
            )
        }
        ("PUT", None, _) if kind == "member" => {
            let b = body.unwrap_or_default();
            let Some(Value::Array(members)) = b.get("members") else {
                return Err(err(
                    400,
                    "Invalid input: the request body must be {\"members\": [...]}.",
                ));
            };
            let additive = query
                .iter()
                .any(|(k, v)| k == "additive_only" && v.eq_ignore_ascii_case("true"));
            let changed = crate::batch::batch_members(
                &mut st,
                parent_id.unwrap_or_default(),
                members,
                additive,
                who,
            )?;
            (202, Value::Null, changed)
        }
        ("GET", Some(id), []) => {
            fresh(shared, &mut st).await;
            let o = ops::visible(&st, kind, id, who)?;
            check_parent(o, &parent, kind, id)?;
            let v = listing::select(st.view(kind, o), &fields_of(query));
            return Ok((200, envelope(singular, Value::Object(v))));
        }
        ("PUT", Some(id), []) => {
            check_parent(ops::visible(&st, kind, id, who)?, &parent, kind, id)?;
            let b = unwrap_body(singular, body)?;
            let (o, changed) = ops::update(&mut st, kind, id, &b, who)?;
            (
                200,
                envelope(singular, Value::Object(st.view(kind, &o))),
                changed,
            )
        }
        ("DELETE", Some(id), []) => {
            check_parent(ops::visible(&st, kind, id, who)?, &parent, kind, id)?;
            let cascade = query
                .iter()
                .any(|(k, v)| k == "cascade" && v.eq_ignore_ascii_case("true"));
            let changed = ops::delete(&mut st, kind, id, cascade, who)?;
            (204, Value::Null, changed)
        }
        ("GET", Some(id), ["haproxy.cfg"]) if kind == "loadbalancer" => {
            ops::visible(&st, kind, id, who)?;
            return Ok((
                200,
                Value::String(crate::render::render_standalone(&st, id)),
            ));
        }
        ("GET", Some(id), ["keepalived.conf"]) if kind == "loadbalancer" => {
            ops::visible(&st, kind, id, who)?;
            return Ok((
                200,
                Value::String(crate::render_lvs::render_lb(&st, id, &shared.udp_check)),
            ));
        }
        ("GET", Some(id), ["status"]) if kind == "loadbalancer" => {
            fresh(shared, &mut st).await;
            ops::visible(&st, kind, id, who)?;
            return Ok((200, crate::status::status_tree(&st, id)));
        }
        ("GET", Some(id), ["stats"]) if kind == "loadbalancer" || kind == "listener" => {
            ops::visible(&st, kind, id, who)?;
            let rows = health::stats(shared).await;
            let listeners = if kind == "listener" {
                vec![id.to_string()]
            } else {
                st.children("listener", "loadbalancer_id", id)
            };
            let mut t = health::Row::default();
            for l in listeners {
                if let Some(r) = rows.get(&(l, "FRONTEND".to_string())) {
                    t.bin += r.bin;
                    t.bout += r.bout;
                    t.scur += r.scur;
                    t.stot += r.stot;
                    t.ereq += r.ereq;
                }
            }
            return Ok((
                200,
                json!({"stats": {"bytes_in": t.bin, "bytes_out": t.bout, "active_connections": t.scur, "total_connections": t.stot, "request_errors": t.ereq}}),
            ));
        }
        ("PUT", Some(id), ["failover"]) if kind == "loadbalancer" => {
            ops::visible(&st, kind, id, who)?;
            if s(
                st.get(kind, id).unwrap_or(&Map::new()),
                "provisioning_status",
            )
            .starts_with("PENDING_")
            {
                return Err(err(
                    409,
                    format!("Load Balancer {id} is immutable and cannot be updated."),
                ));
            }
            st.mark_pending("loadbalancer", id, "PENDING_UPDATE");
            (
                202,
                Value::Null,
                vec![("loadbalancer".to_string(), id.to_string())],
            )
        }
        _ => return Err(err(405, "The method is not allowed for the requested URL.")),
    };
    let (code, v, changed) = answer;
    if let (Some(pems), Some(Value::Object(o))) = (tls, v.get(kind)) {
        if let Some(l) = st.get_mut(kind, s(o, "id")) {
            crate::certs::keep(l, pems);
        }
    }
    if let Err(e) = shared.store.save(&st, &changed).await {
        if let Some(before) = before {
            *st = before;
        }
        return Err(crate::conflict::store_failed(shared, &mut st, e).await);
    }
    drop(st);
    shared.dirty.notify_one();
    Ok((code, v))
}

fn check_parent(
    o: &crate::state::Obj,
    parent: &Option<(&str, String)>,
    kind: &str,
    id: &str,
) -> Result<(), ApiError> {
    match parent {
        Some((k, v)) if s(o, k) != v => {
            Err(err(404, format!("{} {id} not found.", ops::title(kind))))
        }
        _ => Ok(()),
    }
}
