//! A backend's UP/DOWN history as a whole (stats `lastchg`, `downtime`, `chkdown`): when it
//! last changed between having a usable server and having none. Pure: fed the state and the
//! time.

/// When the backend last changed between having a usable server and having none.
pub struct History {
    up: bool,
    since: u64,
    downtime: u64,
    downs: u64,
}

impl History {
    /// UP since `now` (UNIX seconds).
    pub fn new(now: u64) -> History {
        History {
            up: true,
            since: now,
            downtime: 0,
            downs: 0,
        }
    }

    pub fn up(&self) -> bool {
        self.up
    }

    /// Records the state at `now`: a change starts a new period.
    pub fn note(&mut self, up: bool, now: u64) {
        if self.up != up {
            if !up {
                self.downs += 1;
            } else {
                self.downtime += now.saturating_sub(self.since);
            }
            self.up = up;
            self.since = now;
        }
    }

    /// Seconds since the last change.
    pub fn last_change_secs(&self, now: u64) -> u64 {
        now.saturating_sub(self.since)
    }

    /// Seconds without any usable server, the current period included.
    pub fn downtime_secs(&self, now: u64) -> u64 {
        self.downtime
            + if self.up {
                0
            } else {
                now.saturating_sub(self.since)
            }
    }

    /// Times the backend lost its last usable server.
    pub fn downs(&self) -> u64 {
        self.downs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downtime_and_transitions_follow_the_state() {
        let mut h = History::new(100);
        h.note(true, 105);
        assert_eq!((h.downs(), h.last_change_secs(110)), (0, 10));
        h.note(false, 120);
        assert_eq!((h.downs(), h.downtime_secs(125)), (1, 5));
        h.note(false, 130);
        h.note(true, 140);
        assert_eq!(
            (h.downs(), h.downtime_secs(200), h.last_change_secs(150)),
            (1, 20, 10)
        );
    }
}
