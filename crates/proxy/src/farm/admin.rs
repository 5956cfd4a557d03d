//! The farm's admin API: servers marked up or down by health checks, and the operator's
//! administrative state and runtime weight (stats page, runtime socket). Every change wakes
//! the queue and makes the balancer rebuild its group at the next pick.

use super::Farm;
use crate::server::AdminState;
use std::sync::atomic::Ordering;

impl<P> Farm<P> {
    /// Marks a server up or down (health checks); the balancer rebuilds at the next pick.
    pub fn set_server_up(&self, index: usize, up: bool) {
        if let Some(s) = self.servers.get(index) {
            if s.set_up(up) {
                self.version.fetch_add(1, Ordering::AcqRel);
                self.queue.wake_all();
                self.note_state();
            }
        }
    }

    /// `disable-on-404`: puts a server in NOLB or takes it out; wakes the queue.
    pub fn set_server_stopping(&self, index: usize, on: bool) {
        if let Some(s) = self.servers.get(index) {
            if s.set_stopping(on) {
                self.version.fetch_add(1, Ordering::AcqRel);
                self.queue.wake_all();
            }
        }
    }

    /// A server's limit changed (an agent's `maxconn:N`): queued requests look again.
    pub fn queue_changed(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
        self.queue.wake_all();
    }

    /// The index of server `name` in `servers`.
    pub fn server_index(&self, name: &str) -> Option<usize> {
        self.servers.iter().position(|s| s.name == name)
    }

    /// Admin API: sets server `index`'s administrative state (READY, DRAIN, MAINT) and wakes
    /// queued requests. Returns whether it changed (`false` too for an unknown index).
    pub fn set_server_admin(&self, index: usize, state: AdminState) -> bool {
        let Some(s) = self.servers.get(index) else {
            return false;
        };
        let changed = s.set_admin(state);
        if changed {
            self.version.fetch_add(1, Ordering::AcqRel);
            self.queue.wake_all();
            self.note_state();
        }
        changed
    }

    /// Admin API: sets server `index`'s runtime weight (0..=256) and wakes queued requests.
    pub fn set_server_weight(&self, index: usize, weight: u32) -> Result<bool, String> {
        let s = self
            .servers
            .get(index)
            .ok_or_else(|| format!("no server #{index} in backend {}", self.name))?;
        let changed = s.set_weight(weight)?;
        if changed {
            self.version.fetch_add(1, Ordering::AcqRel);
            self.queue.wake_all();
        }
        Ok(changed)
    }
}
