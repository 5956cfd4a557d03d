//! fulcrum's own Prometheus families, served after HAProxy's by the `prometheus-exporter`
//! service: per VRRP instance its state (one-hot over INIT/BACKUP/MASTER/FAULT, like HAProxy's
//! `state` label), priority, MASTER transitions, adverts sent, received, accepted, and dropped
//! by cause. The supervisor refreshes the instances' status on its VRRP tick; a scrape reads
//! the latest copy (at most one tick old) without waiting on the VRRP engine.

use fulcrum_stats::prometheus::{Exposition, Kind, MetricsSource};
use fulcrum_vrrp::machine::{DropCause, State};
use fulcrum_vrrp::Status;
use std::sync::{Arc, Mutex};

const STATES: [State; 4] = [State::Init, State::Backup, State::Master, State::Fault];
const CAUSES: [(DropCause, &str); 9] = [
    (DropCause::Ttl, "ttl"),
    (DropCause::Truncated, "truncated"),
    (DropCause::Malformed, "malformed"),
    (DropCause::Checksum, "checksum"),
    (DropCause::VersionMismatch, "version"),
    (DropCause::Vrid, "vrid"),
    (DropCause::Authentication, "authentication"),
    (DropCause::Interval, "interval"),
    (DropCause::OwnPacket, "own_packet"),
];

/// The latest VRRP status, shared between the supervisor (writer) and scrapes (readers).
#[derive(Clone, Default)]
pub struct FulcrumMetrics {
    vrrp: Arc<Mutex<Vec<(String, Status)>>>,
    /// The `fulcrum_lvs_*` families (see lvs_metrics.rs).
    pub lvs: crate::lvs_metrics::LvsMetrics,
}

impl FulcrumMetrics {
    pub fn update_vrrp(&self, statuses: Vec<(String, Status)>) {
        match self.vrrp.lock() {
            Ok(mut g) => *g = statuses,
            Err(p) => *p.into_inner() = statuses,
        }
    }
}

impl MetricsSource for FulcrumMetrics {
    fn render(&self, out: &mut Exposition) {
        let vrrp = match self.vrrp.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        render_vrrp(out, &vrrp);
        crate::lvs_metrics::render(out, &self.lvs);
    }

    fn lvs(&self) -> Vec<fulcrum_stats::lvs::LvsVirtualServer> {
        crate::lvs_metrics::table(&self.lvs)
    }
}

/// Writes the `fulcrum_vrrp_*` families for `instances` (nothing when there are none).
pub fn render_vrrp(out: &mut Exposition, instances: &[(String, Status)]) {
    if instances.is_empty() {
        return;
    }
    let name = "fulcrum_vrrp_state";
    out.family(
        name,
        "Current state of the VRRP instance, per state label value.",
        Kind::Gauge,
    );
    for (inst, st) in instances {
        for s in STATES {
            let v = if st.state == s { 1.0 } else { 0.0 };
            out.sample(name, &[("instance", inst), ("state", s.keyword())], v);
        }
    }
    let simple: [Simple; 5] = [
        (
            "fulcrum_vrrp_priority",
            "Current priority of the VRRP instance (after tracking weights).",
            Kind::Gauge,
            |s| u64::from(s.priority),
        ),
        (
            "fulcrum_vrrp_became_master_total",
            "Transitions to MASTER since the instance started.",
            Kind::Counter,
            |s| s.counters.became_master,
        ),
        (
            "fulcrum_vrrp_adverts_sent_total",
            "VRRP advertisements sent.",
            Kind::Counter,
            |s| s.counters.sent,
        ),
        (
            "fulcrum_vrrp_adverts_received_total",
            "VRRP packets received.",
            Kind::Counter,
            |s| s.counters.received,
        ),
        (
            "fulcrum_vrrp_adverts_accepted_total",
            "VRRP advertisements received and accepted.",
            Kind::Counter,
            |s| s.counters.accepted,
        ),
    ];
    for (name, help, kind, get) in simple {
        out.family(name, help, kind);
        for (inst, st) in instances {
            out.sample(name, &[("instance", inst)], get(st) as f64);
        }
    }
    let name = "fulcrum_vrrp_adverts_dropped_total";
    out.family(
        name,
        "VRRP packets received and dropped, per cause.",
        Kind::Counter,
    );
    for (inst, st) in instances {
        for (cause, word) in CAUSES {
            out.sample(
                name,
                &[("instance", inst), ("cause", word)],
                st.counters.dropped(cause) as f64,
            );
        }
    }
}

/// A family written from one number of each instance: name, HELP, type, how to read it.
type Simple = (&'static str, &'static str, Kind, fn(&Status) -> u64);

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_vrrp::machine::Counters;

    #[test]
    fn vrrp_families_one_hot_state_and_drop_causes() {
        let mut counters = Counters {
            sent: 7,
            received: 5,
            accepted: 3,
            became_master: 1,
            ..Default::default()
        };
        counters.dropped.insert(DropCause::Authentication, 2);
        let st = Status {
            state: State::Master,
            priority: 150,
            counters,
        };
        let mut out = Exposition::new();
        render_vrrp(&mut out, &[("VI_1".to_string(), st)]);
        let text = out.finish();
        assert!(
            text.contains("fulcrum_vrrp_state{instance=\"VI_1\",state=\"MASTER\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("fulcrum_vrrp_state{instance=\"VI_1\",state=\"BACKUP\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("fulcrum_vrrp_priority{instance=\"VI_1\"} 150\n"),
            "{text}"
        );
        assert!(
            text.contains("fulcrum_vrrp_adverts_sent_total{instance=\"VI_1\"} 7\n"),
            "{text}"
        );
        assert!(text.contains("fulcrum_vrrp_adverts_dropped_total{instance=\"VI_1\",cause=\"authentication\"} 2\n"), "{text}");
        assert!(
            text.contains(
                "fulcrum_vrrp_adverts_dropped_total{instance=\"VI_1\",cause=\"ttl\"} 0\n"
            ),
            "{text}"
        );
        assert_eq!(text.matches("# TYPE").count(), 7);
    }

    #[test]
    fn no_instances_no_families() {
        let mut out = Exposition::new();
        render_vrrp(&mut out, &[]);
        assert!(out.finish().is_empty());
    }
}
