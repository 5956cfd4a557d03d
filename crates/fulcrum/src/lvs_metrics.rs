//! fulcrum's `fulcrum_lvs_*` Prometheus families, rendered after HAProxy's by the
//! `prometheus-exporter` service (through `metrics::FulcrumMetrics`): per real server its
//! weight, whether it is in the rotation, and the connections the kernel scheduled to it (the
//! counter of its nftables chain, read at scrape time); per virtual server whether its quorum
//! is up. The LVS bridge refreshes the snapshot each time it applies a change. The same
//! snapshot gives the stats page its LVS table (`table`), with ipvsadm's active/inactive
//! connections read from conntrack when the page is built.

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
    pub address: Option<(std::net::IpAddr, u16)>,
    /// `UP`, `DOWN (removed)`, `DOWN (inhibited, weight 0)`.
    pub state: &'static str,
}

/// What the stats page shows of a virtual server besides its rows.
#[derive(Debug, Clone, Default)]
pub struct VirtualServerInfo {
    pub name: String,
    pub protocol: &'static str,
    pub lb_kind: String,
    pub lb_algo: String,
    /// Its virtual addresses and ports (none for fwmark services), to match conntrack flows.
    pub addresses: Vec<(std::net::IpAddr, u16)>,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub rows: Vec<Row>,
    pub virtual_servers: Vec<VirtualServerInfo>,
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

/// The stats page's LVS table: the snapshot with the nft counters and conntrack's
/// active/inactive counts (NAT) read now.
pub fn table(m: &LvsMetrics) -> Vec<fulcrum_stats::lvs::LvsVirtualServer> {
    use fulcrum_stats::lvs::{LvsRealServer, LvsVirtualServer};
    let s = m.get();
    if s.virtual_servers.is_empty() {
        return Vec::new();
    }
    let mut counters: Counters = HashMap::new();
    for t in &s.tables {
        if let Ok(Some(h)) = nft::read_table(t) {
            counters.extend(h.counters);
        }
    }
    let tracked = fulcrum_lvs::conntrack::read();
    s.virtual_servers
        .iter()
        .map(|vs| LvsVirtualServer {
            name: vs.name.clone(),
            protocol: vs.protocol.to_string(),
            lb_kind: vs.lb_kind.clone(),
            lb_algo: vs.lb_algo.clone(),
            quorum_up: s.quorum.iter().any(|(v, up)| *v == vs.name && *up),
            real_servers: s
                .rows
                .iter()
                .filter(|r| r.virtual_server == vs.name)
                .map(|r| {
                    let (mut active, mut inactive) = (0, 0);
                    if let Some((ip, port)) = r.address {
                        for (vip, vport) in &vs.addresses {
                            let key = (vs.protocol.to_string(), *vip, *vport, ip, port);
                            if let Some(n) = tracked.get(&key) {
                                active += n.active;
                                inactive += n.inactive;
                            }
                        }
                    }
                    LvsRealServer {
                        name: r.real_server.clone(),
                        weight: r.weight,
                        state: r.state.to_string(),
                        up: r.up,
                        active,
                        inactive,
                        scheduled: counters.get(&r.chain).map_or(0, |c| c.0),
                    }
                })
                .collect(),
        })
        .collect()
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
