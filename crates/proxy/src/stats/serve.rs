//! Answering a proxy's `stats uri`: matching the request, `stats auth` (401 with HAProxy's
//! Basic realm), the page's options in the URI (`;csv`, `;json`, `;norefresh`, `;up`,
//! `;st=`), `stats scope`, and the page's admin POST (`stats admin if|unless COND`).
//!
//! Pure: the HTTP session hands over the parsed request (and a POST's body) and writes the
//! bytes returned. The proxies shown are those of the configuration generation the stats
//! proxy belongs to ([`View`], held weakly so a generation is freed when it retires).

use super::snapshot::{self, StatRow};
use crate::acl::{self, Cond};
use crate::backend::Backend;
use crate::state::Frontend;
use fulcrum_config::model::Proxy;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

/// Every proxy of one configuration generation, for its stats pages.
pub struct View {
    frontends: Vec<Weak<Frontend>>,
    backends: Vec<Weak<Backend>>,
}

impl View {
    pub fn new(frontends: &HashMap<String, Arc<Frontend>>, backends: &HashMap<String, Arc<Backend>>) -> View {
        View {
            frontends: frontends.values().map(Arc::downgrade).collect(),
            backends: backends.values().map(Arc::downgrade).collect(),
        }
    }
    pub fn frontends(&self) -> Vec<Arc<Frontend>> {
        self.frontends.iter().filter_map(Weak::upgrade).collect()
    }
    pub fn backends(&self) -> Vec<Arc<Backend>> {
        self.backends.iter().filter_map(Weak::upgrade).collect()
    }
    /// The rows of every proxy still alive.
    pub fn rows(&self) -> Vec<StatRow> {
        let fes = self.frontends();
        let bes = self.backends();
        snapshot::rows(fes.iter().map(|f| f.as_ref()), bes.iter().map(|b| b.as_ref()))
    }
}

/// A proxy's compiled `stats` lines.
pub struct StatsRt {
    /// The proxy that carries the `stats` lines (`stats scope .` means this one).
    pub proxy: String,
    /// `stats uri`, HAProxy's default `/haproxy?stats`.
    pub uri: String,
    /// `stats realm`, default "HAProxy Statistics".
    pub realm: String,
    /// `stats auth USER:PASS` lines (none: no authentication).
    pub auth: Vec<(String, String)>,
    pub refresh: Option<Duration>,
    /// `stats admin if|unless COND`: when true, the page offers and accepts server actions.
    pub admin: Option<Cond>,
    pub hide_version: bool,
    pub show_legends: bool,
    /// `stats scope`: the proxies shown (empty: all).
    pub scope: Vec<String>,
    view: Arc<OnceLock<View>>,
}

impl StatsRt {
    /// Compiles `p`'s `stats` lines; `None` when stats are not enabled there.
    pub fn build(p: &Proxy, view: &Arc<OnceLock<View>>) -> Result<Option<Arc<StatsRt>>, String> {
        let Some(st) = p.stats.as_ref().filter(|s| s.enabled) else { return Ok(None) };
        let admin = match &st.admin {
            Some(c) => Some(acl::compile_condition(c, &p.acls).map_err(|e| format!("stats admin: {e}"))?),
            None => None,
        };
        Ok(Some(Arc::new(StatsRt {
            proxy: p.name.clone(),
            uri: st.uri.clone().unwrap_or_else(|| "/haproxy?stats".to_string()),
            realm: st.realm.clone().unwrap_or_else(|| "HAProxy Statistics".to_string()),
            auth: st.auth.clone(),
            refresh: st.refresh,
            admin,
            hide_version: st.hide_version,
            show_legends: st.show_legends,
            scope: st.scope.iter().map(|s| if s == "." { p.name.clone() } else { s.clone() }).collect(),
            view: view.clone(),
        })))
    }

    /// The rows this page shows (`stats scope` applied).
    pub fn rows(&self) -> Vec<StatRow> {
        let mut rows = self.view.get().map(View::rows).unwrap_or_default();
        if !self.scope.is_empty() {
            rows.retain(|r| self.scope.iter().any(|s| s == &r.pxname));
        }
        rows
    }

    pub fn view(&self) -> Option<&View> {
        self.view.get()
    }
}
