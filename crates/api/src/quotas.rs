//! `/quotas` (list, `defaults`, per project GET/PUT/DELETE): limits per project, -1 for
//! unlimited, shown also under the older names python-octaviaclient reads (`load_balancer`,
//! `health_monitor`). Only an admin changes them; they are enforced in `ops::create`.

use crate::http::{unwrap_body, Answer};
use crate::ops::{err, ApiError, Caller};
use crate::state::{g, s, State};
use crate::Handle;
use axum::http::Method;
use serde_json::{json, Map, Value};

pub async fn quotas(
    shared: &Handle,
    method: &Method,
    rest: &[&str],
    body: Option<Map<String, Value>>,
    who: &Caller,
) -> Answer {
    let defaults = || {
        let mut m = Map::new();
        for k in crate::schema::QUOTA_FIELDS {
            m.insert(k.to_string(), Value::from(-1));
        }
        m
    };
    let mut st = shared.state.lock().await;
    let show = |st: &State, project: &str| {
        let mut m = defaults();
        if let Some(q) = st.get("quota", project) {
            for k in crate::schema::QUOTA_FIELDS {
                if let Some(v) = q.get(*k) {
                    m.insert(k.to_string(), v.clone());
                }
            }
        }
        // The older spellings python-octaviaclient shows.
        let (lb, hm) = (g(&m, "loadbalancer"), g(&m, "healthmonitor"));
        m.insert("load_balancer".into(), lb);
        m.insert("health_monitor".into(), hm);
        m
    };
    match (method.as_str(), rest) {
        ("GET", []) => {
            let list: Vec<Value> = st
                .all("quota")
                .filter(|q| who.admin || s(q, "project_id") == who.project)
                .map(|q| {
                    let mut m = show(&st, s(q, "project_id"));
                    m.insert("project_id".into(), g(q, "project_id"));
                    Value::Object(m)
                })
                .collect();
            Ok((200, json!({"quotas": list, "quotas_links": []})))
        }
        ("GET", ["defaults"]) => Ok((200, json!({"quota": show(&State::default(), "")}))),
        ("GET", [project]) => {
            if !who.admin && *project != who.project {
                return Err(err(
                    403,
                    "Policy does not allow this request to be performed.",
                ));
            }
            Ok((200, json!({"quota": show(&st, project)})))
        }
        ("PUT", [project]) => {
            if !who.admin {
                return Err(err(
                    403,
                    "Policy does not allow this request to be performed.",
                ));
            }
            let b = unwrap_body("quota", body)?;
            let mut q = st.get("quota", project).cloned().unwrap_or_default();
            for (k, v) in &b {
                let kk = k
                    .strip_suffix("s")
                    .filter(|k| crate::schema::QUOTA_FIELDS.contains(k))
                    .unwrap_or(k);
                let kk = match k.as_str() {
                    "l7policies" => "l7policy",
                    "load_balancer" => "loadbalancer",
                    "health_monitor" => "healthmonitor",
                    _ => kk,
                };
                if !crate::schema::QUOTA_FIELDS.contains(&kk) {
                    return Err(err(
                        400,
                        format!("Invalid input for field/attribute {k}. unknown attribute"),
                    ));
                }
                let f = crate::schema::Field {
                    name: "quota",
                    kind: crate::schema::Kind::OptInt(-1, i32::MAX as i64),
                    required: false,
                    mutable: true,
                    default: || Value::Null,
                };
                let v = crate::schema::check_value("Quota", &f, v)
                    .map_err(|m| err(400, m.replace("quota", kk)))?;
                q.insert(kk.to_string(), v);
            }
            q.insert("project_id".into(), Value::from(*project));
            let old = st.get("quota", project).cloned();
            st.insert("quota", project, q);
            store(shared, &mut st, project, old).await?;
            Ok((202, json!({"quota": show(&st, project)})))
        }
        ("DELETE", [project]) => {
            if !who.admin {
                return Err(err(
                    403,
                    "Policy does not allow this request to be performed.",
                ));
            }
            let old = st.remove("quota", project);
            store(shared, &mut st, project, old).await?;
            Ok((204, Value::Null))
        }
        _ => Err(err(405, "The method is not allowed for the requested URL.")),
    }
}

/// Persists `project`'s quota; when the store fails, memory goes back to `old`.
async fn store(
    shared: &Handle,
    st: &mut State,
    project: &str,
    old: Option<crate::state::Obj>,
) -> Result<(), ApiError> {
    let key = [("quota".to_string(), project.to_string())];
    if let Err(e) = shared.store.save(st, &key).await {
        match old {
            Some(o) => st.insert("quota", project, o),
            None => {
                st.remove("quota", project);
            }
        }
        return Err(crate::conflict::store_failed(shared, st, e).await);
    }
    Ok(())
}
