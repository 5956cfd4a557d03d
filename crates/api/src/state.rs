//! The API's resources in memory: every object by kind and id, with the relationships kept as
//! id fields (`loadbalancer_id`, `pool_id`, ...) and the lists Octavia shows computed on view.
//!
//! Pure data and rules (no I/O): the HTTP layer calls these, then persists what changed.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub type Obj = Map<String, Value>;

pub const KINDS: &[&str] = &[
    "loadbalancer",
    "listener",
    "pool",
    "member",
    "healthmonitor",
    "l7policy",
    "l7rule",
    "quota",
    "v1monitor",
    "flavorprofile",
    "flavor",
    "availability_zone_profile",
    "availability_zone",
];

/// Fields kept internally but not shown (Octavia shows relationships as lists instead).
const HIDDEN: &[(&str, &str)] = &[
    ("member", "pool_id"),
    ("healthmonitor", "pool_id"),
    ("l7rule", "l7policy_id"),
    ("listener", "loadbalancer_id"),
    ("pool", "loadbalancer_id"),
    ("pool", "listener_id"),
];

#[derive(Default, Debug, Clone)]
pub struct State {
    pub objects: BTreeMap<String, BTreeMap<String, Obj>>,
    pub seq: u64,
}

pub fn s<'a>(o: &'a Obj, k: &str) -> &'a str {
    o.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Field `k` of an object, or null (a `Map` index would panic on a missing key).
pub fn g(o: &Obj, k: &str) -> Value {
    o.get(k).cloned().unwrap_or(Value::Null)
}

pub fn i(o: &Obj, k: &str) -> i64 {
    o.get(k).and_then(Value::as_i64).unwrap_or(0)
}

pub fn b(o: &Obj, k: &str) -> bool {
    o.get(k).and_then(Value::as_bool).unwrap_or(false)
}

pub fn now() -> String {
    // RFC 3339 without a time zone, as Octavia writes created_at.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = fulcrum_sample::time::civil(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

impl State {
    pub fn all(&self, kind: &str) -> impl Iterator<Item = &Obj> {
        self.objects.get(kind).into_iter().flat_map(|m| m.values())
    }

    pub fn get(&self, kind: &str, id: &str) -> Option<&Obj> {
        self.objects.get(kind).and_then(|m| m.get(id))
    }

    pub fn get_mut(&mut self, kind: &str, id: &str) -> Option<&mut Obj> {
        self.objects.get_mut(kind).and_then(|m| m.get_mut(id))
    }

    pub fn insert(&mut self, kind: &str, id: &str, mut obj: Obj) {
        if !obj.contains_key("_seq") {
            self.seq += 1;
            obj.insert("_seq".into(), Value::from(self.seq));
        } else {
            self.seq = self.seq.max(i(&obj, "_seq") as u64);
        }
        self.objects
            .entry(kind.to_string())
            .or_default()
            .insert(id.to_string(), obj);
    }

    pub fn remove(&mut self, kind: &str, id: &str) -> Option<Obj> {
        self.objects.get_mut(kind).and_then(|m| m.remove(id))
    }

    /// Ids of `kind` objects whose `field` is `value`, in creation order.
    pub fn children(&self, kind: &str, field: &str, value: &str) -> Vec<String> {
        let mut v: Vec<&Obj> = self.all(kind).filter(|o| s(o, field) == value).collect();
        v.sort_by_key(|o| i(o, "_seq"));
        v.iter().map(|o| s(o, "id").to_string()).collect()
    }

    /// The load balancer an object belongs to.
    pub fn lb_of(&self, kind: &str, obj: &Obj) -> Option<String> {
        let up = |k: &str, id: &str| self.get(k, id).and_then(|o| self.lb_of(k, o));
        match kind {
            "loadbalancer" => Some(s(obj, "id").to_string()),
            "listener" | "pool" => Some(s(obj, "loadbalancer_id").to_string()),
            "member" | "healthmonitor" => up("pool", s(obj, "pool_id")),
            "l7policy" => up("listener", s(obj, "listener_id")),
            "l7rule" => up("l7policy", s(obj, "l7policy_id")),
            _ => None,
        }
    }

    /// Every object under a load balancer (itself included), children first.
    pub fn tree(&self, lb: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for kind in [
            "l7rule",
            "l7policy",
            "member",
            "healthmonitor",
            "pool",
            "listener",
        ] {
            for o in self.all(kind) {
                if self.lb_of(kind, o).as_deref() == Some(lb) {
                    out.push((kind.to_string(), s(o, "id").to_string()));
                }
            }
        }
        out.push(("loadbalancer".into(), lb.to_string()));
        out
    }

    /// The object as Octavia shows it: relationship lists added, internal fields removed.
    pub fn view(&self, kind: &str, obj: &Obj) -> Obj {
        let mut v = obj.clone();
        for internal in ["_seq", "_tls", "v1", "v1_subnet_id"] {
            v.remove(internal);
        }
        let id = s(obj, "id").to_string();
        let ids = |list: Vec<String>| {
            Value::Array(
                list.into_iter()
                    .map(|i| serde_json::json!({ "id": i }))
                    .collect(),
            )
        };
        match kind {
            "loadbalancer" => {
                v.insert(
                    "listeners".into(),
                    ids(self.children("listener", "loadbalancer_id", &id)),
                );
                v.insert(
                    "pools".into(),
                    ids(self.children("pool", "loadbalancer_id", &id)),
                );
            }
            "listener" => {
                v.insert(
                    "loadbalancers".into(),
                    ids(vec![s(obj, "loadbalancer_id").into()]),
                );
                v.insert(
                    "l7policies".into(),
                    ids(self.children("l7policy", "listener_id", &id)),
                );
            }
            "pool" => {
                v.insert(
                    "loadbalancers".into(),
                    ids(vec![s(obj, "loadbalancer_id").into()]),
                );
                let mut listeners = self.children("listener", "default_pool_id", &id);
                for p in self
                    .all("l7policy")
                    .filter(|p| s(p, "redirect_pool_id") == id)
                {
                    let l = s(p, "listener_id").to_string();
                    if !listeners.contains(&l) {
                        listeners.push(l);
                    }
                }
                v.insert("listeners".into(), ids(listeners));
                v.insert(
                    "members".into(),
                    ids(self.children("member", "pool_id", &id)),
                );
                let hm = self.children("healthmonitor", "pool_id", &id);
                v.insert(
                    "healthmonitor_id".into(),
                    hm.first().map_or(Value::Null, |h| Value::String(h.clone())),
                );
            }
            "healthmonitor" => {
                v.insert("pools".into(), ids(vec![s(obj, "pool_id").into()]));
            }
            "l7policy" => {
                v.insert(
                    "rules".into(),
                    ids(self.children("l7rule", "l7policy_id", &id)),
                );
            }
            _ => {}
        }
        for (k, field) in HIDDEN {
            if *k == kind {
                v.remove(*field);
            }
        }
        if let Some(p) = v.get("project_id").cloned() {
            v.insert("tenant_id".into(), p);
        }
        v
    }

    /// Marks an object and its load balancer as changing (Octavia's PENDING_* states).
    pub fn mark_pending(&mut self, kind: &str, id: &str, status: &str) {
        let lb = self.get(kind, id).and_then(|o| self.lb_of(kind, o));
        let stamp = now();
        if let Some(o) = self.get_mut(kind, id) {
            o.insert("provisioning_status".into(), Value::from(status));
            o.insert("updated_at".into(), Value::from(stamp.clone()));
        }
        if kind != "loadbalancer" {
            if let Some(lb) = lb {
                if let Some(o) = self.get_mut("loadbalancer", &lb) {
                    o.insert("provisioning_status".into(), Value::from("PENDING_UPDATE"));
                    o.insert("updated_at".into(), Value::from(stamp));
                }
            }
        }
    }

    /// After an apply: PENDING_DELETE objects are gone, other PENDING_* are `ok` (ACTIVE) or
    /// ERROR; returns the (kind, id) pairs changed or removed, for the store.
    pub fn settle(&mut self, lbs: &[String], ok: bool, reason: &str) -> Vec<(String, String)> {
        let mut changed = Vec::new();
        for lb in lbs {
            for (kind, id) in self.tree(lb) {
                let Some(o) = self.get_mut(&kind, &id) else {
                    continue;
                };
                let st = s(o, "provisioning_status").to_string();
                if st == "PENDING_DELETE" && ok {
                    self.remove(&kind, &id);
                    changed.push((kind, id));
                } else if st.starts_with("PENDING_") {
                    o.insert(
                        "provisioning_status".into(),
                        Value::from(if ok { "ACTIVE" } else { "ERROR" }),
                    );
                    if ok {
                        o.remove("provisioning_status_reason");
                    } else {
                        o.insert("provisioning_status_reason".into(), Value::from(reason));
                    }
                    changed.push((kind, id));
                }
            }
        }
        changed
    }

    /// Load balancers with a change waiting to be applied.
    pub fn pending_lbs(&self) -> Vec<String> {
        self.all("loadbalancer")
            .filter(|o| s(o, "provisioning_status").starts_with("PENDING_"))
            .map(|o| s(o, "id").to_string())
            .collect()
    }

    /// How many objects of `kind` a project owns (for quotas).
    pub fn count(&self, kind: &str, project: &str) -> i64 {
        self.all(kind)
            .filter(|o| {
                s(o, "project_id") == project && s(o, "provisioning_status") != "PENDING_DELETE"
            })
            .count() as i64
    }
}
