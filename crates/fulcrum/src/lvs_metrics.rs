//! fulcrum's `fulcrum_lvs_*` Prometheus families, rendered after HAProxy's by the
//! `prometheus-exporter` service (through `metrics::FulcrumMetrics`): per real server its
//! weight, whether it is in the rotation, and the connections the kernel scheduled to it (the
//! counter of its nftables chain, read at scrape time); per virtual server whether its quorum
//! is up. The LVS bridge refreshes the snapshot each time it applies a change.

use fulcrum_lvs::nft;
use fulcrum_lvs::ruleset::TableId;
use fulcrum_stats::prometheus::{Exposition, Kind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct Row {
    pub virtual_server: String,
    pub real_server: String,
    pub weight: u32,
    pub up: bool,
    /// The nftables chain whose counter counts this real server's connections.
    pub chain: String,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub rows: Vec<Row>,
    /// (virtual server, quorum up).
    pub quorum: Vec<(String, bool)>,
    pub tables: Vec<TableId>,
}

/// Shared between the LVS bridge (writer) and scrapes (readers).
#[derive(Clone, Default)]
pub struct LvsMetrics(Arc<Mutex<Snapshot>>);

impl LvsMetrics {
    pub fn update(&self, s: Snapshot) {
        match self.0.lock() {
            Ok(mut g) => *g = s,
            Err(p) => *p.into_inner() = s,
        }
    }

    fn get(&self) -> Snapshot {
        match self.0.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// chain → (packets, bytes).
type Counters = HashMap<String, (u64, u64)>;
/// name, help, kind, value of a row.
type Family = (&'static str, &'static str, Kind, fn(&Row, &Counters) -> f64);

/// Writes the families (nothing without virtual servers).
pub fn render(out: &mut Exposition, m: &LvsMetrics) {
    let s = m.get();
    if s.rows.is_empty() && s.quorum.is_empty() {
        return;
    }
    let mut counters: Counters = HashMap::new();
    for t in &s.tables {
        if let Ok(Some(h)) = nft::read_table(t) {
            counters.extend(h.counters);
        }
    }
    let labels = |r: &Row| {
        [
            ("virtual_server", r.virtual_server.clone()),
            ("real_server", r.real_server.clone()),
        ]
    };
    let families: [Family; 3] = [
        (
            "fulcrum_lvs_real_server_weight",
            "Current weight of the LVS real server (0: out of rotation or inhibited).",
            Kind::Gauge,
            |r, _| f64::from(r.weight),
        ),
        (
            "fulcrum_lvs_real_server_up",
            "1 if the LVS real server's checkers pass, else 0.",
            Kind::Gauge,
            |r, _| if r.up { 1.0 } else { 0.0 },
        ),
        (
            "fulcrum_lvs_real_server_connections_total",
            "Connections (NAT) or new flows (DR) the kernel scheduled to the real server since its rules were installed.",
            Kind::Counter,
            |r, c| c.get(&r.chain).map_or(0.0, |v| v.0 as f64),
        ),
    ];
    for (name, help, kind, get) in families {
        out.family(name, help, kind);
        for r in &s.rows {
            let l = labels(r);
            out.sample(
                name,
                &[(l[0].0, l[0].1.as_str()), (l[1].0, l[1].1.as_str())],
                get(r, &counters),
            );
        }
    }
    let name = "fulcrum_lvs_virtual_server_quorum_up";
    out.family(
        name,
        "1 while the virtual server has its quorum (else its sorry server serves).",
        Kind::Gauge,
    );
    for (vs, up) in &s.quorum {
        out.sample(
            name,
            &[("virtual_server", vs.as_str())],
            if *up { 1.0 } else { 0.0 },
        );
    }
}
