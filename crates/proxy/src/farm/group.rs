//! The usable group a farm balances over: HAProxy's active servers that are up, else the first
//! backup that is up (every backup with `option allbackups`); with `dispatch` beside servers,
//! the dispatch address alone (the servers take only what persistence sends them).

use super::Farm;
use crate::balance::Candidate;
use crate::server::ServerRt;

impl<P> Farm<P> {
    /// HAProxy's usable group: active servers that are up; else the first backup that is up
    /// (or every backup with `option allbackups`).
    pub(super) fn group(&self) -> Vec<Candidate> {
        // UP, READY and a runtime weight above 0: DRAIN and MAINT servers take no new session.
        let usable = |s: &ServerRt| s.balanceable();
        if let Some(index) = self.dispatch {
            let s = &self.servers[index];
            return if usable(s) {
                vec![Candidate {
                    index,
                    weight: s.effective_weight(),
                    scale: s.weight_scale(),
                }]
            } else {
                Vec::new()
            };
        }
        let act: Vec<Candidate> = self
            .servers
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.backup && usable(s))
            .map(|(index, s)| Candidate {
                index,
                weight: s.effective_weight(),
                scale: s.weight_scale(),
            })
            .collect();
        if !act.is_empty() {
            return act;
        }
        let bck = self
            .servers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.backup && usable(s))
            .map(|(index, s)| Candidate {
                index,
                weight: s.effective_weight(),
                scale: s.weight_scale(),
            });
        if self.options.allbackups {
            bck.collect()
        } else {
            bck.take(1).collect()
        }
    }
}
