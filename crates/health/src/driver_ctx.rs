//! What a probe needs to know about its server when it starts: whether it is UP
//! (`disable-on-404`) and the `X-Haproxy-Server-State` value (`http-check send-state`).

use crate::driver::Driver;

impl Driver {
    /// What a `send-state` or `disable-on-404` probe needs to know about its server.
    pub(crate) fn probe_ctx(&self, i: usize) -> Option<crate::probe::ProbeCtx> {
        let c = self.checks.get(i)?;
        let s = match &c.spec.probe {
            crate::probe::Probe::Script(s) => s,
            crate::probe::Probe::External(_) => {
                // HAPROXY_SERVER_CURCONN: the data plane's sessions on the server
                let curconn = self
                    .shared
                    .load
                    .lock()
                    .ok()
                    .and_then(|l| {
                        l.as_ref()
                            .and_then(|l| l.load(&c.key.backend, &c.key.server))
                    })
                    .map(|(scur, _, _)| scur);
                return curconn.map(|n| crate::probe::ProbeCtx {
                    curconn: Some(n),
                    ..Default::default()
                });
            }
            _ => return None,
        };
        if !s.disable_on_404 && s.send_state.is_none() {
            return None;
        }
        let key = (c.key.backend.clone(), c.key.server.clone());
        let up = self
            .shared
            .states
            .lock()
            .ok()
            .and_then(|m| m.get(&key).copied())
            .unwrap_or(true);
        let state_header = s.send_state.as_ref().map(|h| {
            let (health, rise, fall) = c.machine.health_counts().unwrap_or((0, 1, 1));
            let weight_of = |b: &str, srv: &str, configured: u32| {
                self.checks
                    .iter()
                    .find(|x| x.key.backend == b && x.key.server == srv)
                    .and_then(|x| x.dynamic_weight)
                    .unwrap_or(configured)
            };
            let states = self.shared.states.lock().ok();
            let (mut active, mut backup, mut any_active) = (0, 0, false);
            for m in self.members.iter().filter(|m| m.backend == key.0) {
                let k = (m.backend.clone(), m.server.clone());
                let usable = states
                    .as_ref()
                    .and_then(|s| s.get(&k).copied())
                    .unwrap_or(true)
                    && !self.unusable.contains(&k)
                    && !self.stopping.contains(&k);
                if !usable {
                    continue;
                }
                let w = weight_of(&m.backend, &m.server, m.weight);
                if m.backup {
                    backup += w;
                } else {
                    active += w;
                    any_active = true;
                }
            }
            let (scur, backend_cur, qcur) = self
                .shared
                .load
                .lock()
                .ok()
                .and_then(|l| l.as_ref().and_then(|l| l.load(&key.0, &key.1)))
                .unwrap_or_default();
            let view = crate::send_state::ServerView {
                checking: true,
                up,
                stopping: self.stopping.contains(&key),
                health,
                rise,
                fall,
                weight: c.dynamic_weight.unwrap_or(c.spec.weight),
                total_weight: if any_active { active } else { backup },
                scur,
                backend_cur,
                qcur,
            };
            crate::send_state::value(h, &view)
        });
        Some(crate::probe::ProbeCtx {
            server_up: up,
            state_header,
            curconn: None,
        })
    }
}
