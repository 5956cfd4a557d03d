//! Operating status from live health: the running process's `show stat` CSV, mapped as
//! Octavia's amphora driver maps HAProxy's states (UP → ONLINE, DOWN → ERROR, DRAIN →
//! DRAINING, MAINT → OFFLINE, `no check` → NO_MONITOR; a pool with some members down is
//! DEGRADED, with all down ERROR; a listener or load balancer over a degraded pool DEGRADED).

use crate::state::{b, s, Obj, State};
use crate::{Handle, ToFulcrum};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// One `show stat` row's figures.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub status: String,
    pub scur: u64,
    pub stot: u64,
    pub bin: u64,
    pub bout: u64,
    pub ereq: u64,
}

/// `show stat` rows by (pxname, svname).
pub type Rows = std::sync::Arc<HashMap<(String, String), Row>>;

/// `show stat` by (pxname, svname), fetched at most every 200 ms.
#[derive(Default)]
pub struct StatCache {
    inner: std::sync::Mutex<Option<(Instant, Rows)>>,
}

impl StatCache {
    pub fn invalidate(&self) {
        if let Ok(mut g) = self.inner.lock() {
            *g = None;
        }
    }
}

pub fn parse_show_stat(csv: &str) -> HashMap<(String, String), Row> {
    let mut lines = csv.lines();
    let Some(header) = lines.next() else {
        return HashMap::new();
    };
    let cols: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
    let at = |name: &str| cols.iter().position(|c| *c == name);
    let (Some(px), Some(sv), Some(st)) = (at("pxname"), at("svname"), at("status")) else {
        return HashMap::new();
    };
    let num = |f: &[&str], c: Option<usize>| {
        c.and_then(|c| f.get(c))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let mut out = HashMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() <= st {
            continue;
        }
        out.insert(
            (f[px].to_string(), f[sv].to_string()),
            Row {
                status: f[st].to_string(),
                scur: num(&f, at("scur")),
                stot: num(&f, at("stot")),
                bin: num(&f, at("bin")),
                bout: num(&f, at("bout")),
                ereq: num(&f, at("ereq")),
            },
        );
    }
    out
}

pub async fn stats(shared: &Handle) -> std::sync::Arc<HashMap<(String, String), Row>> {
    if let Ok(g) = shared.stats.inner.lock() {
        if let Some((at, rows)) = g.as_ref() {
            if at.elapsed() < Duration::from_millis(200) {
                return rows.clone();
            }
        }
    }
    let (tx, rx) = oneshot::channel();
    let csv = if shared
        .to_fulcrum
        .send(ToFulcrum::ShowStat(tx))
        .await
        .is_ok()
    {
        rx.await.unwrap_or_default()
    } else {
        String::new()
    };
    let rows = std::sync::Arc::new(parse_show_stat(&csv));
    if let Ok(mut g) = shared.stats.inner.lock() {
        *g = Some((Instant::now(), rows.clone()));
    }
    rows
}

/// A member's operating status from its server row.
pub fn member_status(
    rows: &HashMap<(String, String), Row>,
    backend: &str,
    m: &Obj,
) -> &'static str {
    if !b(m, "admin_state_up") {
        return "OFFLINE";
    }
    let Some(r) = rows.get(&(backend.to_string(), s(m, "id").to_string())) else {
        return "OFFLINE";
    };
    let st = r.status.as_str();
    if st.starts_with("UP") {
        "ONLINE"
    } else if st.starts_with("DOWN") {
        "ERROR"
    } else if st.starts_with("DRAIN") || st.starts_with("NOLB") {
        "DRAINING"
    } else if st.starts_with("MAINT") {
        "OFFLINE"
    } else if st == "no check" {
        "NO_MONITOR"
    } else {
        "OFFLINE"
    }
}

/// Fills `operating_status` of every object under each load balancer from `rows`.
pub fn refresh(state: &mut State, rows: &HashMap<(String, String), Row>) {
    let lbs: Vec<String> = state
        .all("loadbalancer")
        .map(|o| s(o, "id").to_string())
        .collect();
    let mut updates: Vec<(&'static str, String, &'static str)> = Vec::new();
    for lb in &lbs {
        let mut lb_status = "ONLINE";
        let listeners = state.children("listener", "loadbalancer_id", lb);
        for lid in &listeners {
            let Some(l) = state.get("listener", lid) else {
                continue;
            };
            let mut l_status = if !b(l, "admin_state_up") {
                "OFFLINE"
            } else if rows.contains_key(&(lid.clone(), "FRONTEND".to_string())) {
                "ONLINE"
            } else {
                "OFFLINE"
            };
            if let Some(pid) = l.get("default_pool_id").and_then(|v| v.as_str()) {
                let backend = format!("{pid}:{lid}");
                let members = state.children("member", "pool_id", pid);
                let mut statuses = Vec::new();
                for mid in &members {
                    if let Some(m) = state.get("member", mid) {
                        let st = member_status(rows, &backend, m);
                        statuses.push(st);
                        updates.push(("member", mid.clone(), st));
                    }
                }
                let up = statuses
                    .iter()
                    .filter(|s| matches!(**s, "ONLINE" | "NO_MONITOR" | "DRAINING"))
                    .count();
                let pool_status = if !rows.contains_key(&(backend.clone(), "BACKEND".to_string())) {
                    "OFFLINE"
                } else if statuses.is_empty() || up == statuses.len() {
                    "ONLINE"
                } else if up == 0 {
                    "ERROR"
                } else {
                    "DEGRADED"
                };
                updates.push(("pool", pid.to_string(), pool_status));
                if l_status == "ONLINE" && matches!(pool_status, "DEGRADED" | "ERROR") {
                    l_status = "DEGRADED";
                }
            }
            if l_status == "DEGRADED" {
                lb_status = "DEGRADED";
            }
            updates.push(("listener", lid.clone(), l_status));
        }
        if let Some(o) = state.get("loadbalancer", lb) {
            if !b(o, "admin_state_up") || s(o, "provisioning_status") == "ERROR" {
                lb_status = "OFFLINE";
            } else if listeners.is_empty() {
                lb_status = "ONLINE";
            }
        }
        updates.push(("loadbalancer", lb.clone(), lb_status));
    }
    for kind in ["pool", "member", "healthmonitor", "l7policy", "l7rule"] {
        let ids: Vec<String> = state.all(kind).map(|o| s(o, "id").to_string()).collect();
        for id in ids {
            if let Some(o) = state.get_mut(kind, &id) {
                let default = if kind == "healthmonitor" || kind.starts_with("l7") {
                    "ONLINE"
                } else {
                    "OFFLINE"
                };
                o.insert("operating_status".into(), default.into());
            }
        }
    }
    for (kind, id, st) in updates {
        if let Some(o) = state.get_mut(kind, &id) {
            o.insert("operating_status".into(), st.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_stat_rows() {
        let csv = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status\n\
                   l1,FRONTEND,,,2,3,,10,100,200,0,0,1,,,,,OPEN\n\
                   p1:l1,m1,0,0,1,1,,5,50,60,,0,,0,0,0,0,UP 1/3\n\
                   p1:l1,m2,0,0,0,0,,5,50,60,,0,,0,0,0,0,DOWN\n";
        let rows = parse_show_stat(csv);
        assert_eq!(rows[&("l1".into(), "FRONTEND".into())].stot, 10);
        assert_eq!(rows[&("l1".into(), "FRONTEND".into())].ereq, 1);
        let m = |id: &str| {
            serde_json::json!({"id": id, "admin_state_up": true})
                .as_object()
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(member_status(&rows, "p1:l1", &m("m1")), "ONLINE");
        assert_eq!(member_status(&rows, "p1:l1", &m("m2")), "ERROR");
        assert_eq!(member_status(&rows, "p1:l1", &m("m3")), "OFFLINE");
    }
}
