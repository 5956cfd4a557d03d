//! HAProxy's log lines for server state changes, word for word (checked against haproxy 2.6):
//!
//! `Server app_pool/app-1 is DOWN, reason: Layer4 connection problem, info: "Connection
//! refused", check duration: 0ms. 1 active and 1 backup servers left. 0 sessions active, 0
//! requeued, 0 remaining in queue.`
//!
//! `Server app_pool/app-1 is UP, reason: Layer7 check passed, code: 200, check duration: 0ms.
//! 1 active and 1 backup servers online. 0 sessions requeued, 0 total in queue.`
//!
//! The counts of servers and sessions belong to the data plane; callers pass them in.
//! Pure formatting, no I/O.

use crate::state::StateChange;

/// What the backend looks like after the change (HAProxy counts usable servers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendCounts {
    /// Usable non-backup servers after the change.
    pub active: u32,
    /// Usable backup servers after the change.
    pub backup: u32,
    /// Sessions that were on the server that went DOWN.
    pub sessions_active: u32,
    pub requeued: u32,
    pub queued: u32,
}

/// The line HAProxy logs (at level WARNING/NOTICE) when `backend/server` goes UP or DOWN.
pub fn server_state_line(
    backend: &str,
    server: &str,
    change: &StateChange,
    counts: BackendCounts,
) -> String {
    server_state_line_as(backend, server, change, counts, true)
}

/// [`server_state_line`]; without the reason when `option log-health-checks` already logged
/// it (`Server b/s is DOWN. 2 active ...`, as HAProxy).
pub fn server_state_line_as(
    backend: &str,
    server: &str,
    change: &StateChange,
    counts: BackendCounts,
    with_reason: bool,
) -> String {
    let reason = if with_reason {
        format!(", {}", change.outcome)
    } else {
        String::new()
    };
    if change.up {
        format!(
            "Server {backend}/{server} is UP{reason}. {} active and {} backup servers online. {} sessions requeued, {} total in queue.",
            counts.active, counts.backup, counts.requeued, counts.queued
        )
    } else {
        let on_backup = if counts.active == 0 && counts.backup > 0 {
            " Running on backup."
        } else {
            ""
        };
        format!(
            "Server {backend}/{server} is DOWN{reason}. {} active and {} backup servers left.{on_backup} {} sessions active, {} requeued, {} remaining in queue.",
            counts.active, counts.backup, counts.sessions_active, counts.requeued, counts.queued
        )
    }
}

/// HAProxy's alert when the last usable server of a backend is gone.
pub fn no_server_line(backend: &str) -> String {
    format!("backend {backend} has no server available!")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{CheckOutcome, CheckStatus};
    use std::time::Duration;

    #[test]
    fn down_line_as_haproxy_2_6() {
        let change = StateChange {
            up: false,
            outcome: CheckOutcome::new(CheckStatus::L4Connection, Duration::ZERO)
                .with_info("Connection refused"),
        };
        let counts = BackendCounts {
            active: 1,
            backup: 1,
            ..Default::default()
        };
        assert_eq!(
            server_state_line("app_pool", "app-1", &change, counts),
            "Server app_pool/app-1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 1 active and 1 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
        let counts = BackendCounts {
            active: 0,
            backup: 1,
            ..Default::default()
        };
        assert!(server_state_line("app_pool", "app-2", &change, counts)
            .contains("0 active and 1 backup servers left. Running on backup. 0 sessions active"));
    }

    #[test]
    fn issue_example_prefix_and_up_line() {
        let change = StateChange {
            up: false,
            outcome: CheckOutcome::new(CheckStatus::L7Status, Duration::from_millis(3))
                .with_code(500),
        };
        let line = server_state_line(
            "app_pool",
            "app-1",
            &change,
            BackendCounts {
                active: 1,
                ..Default::default()
            },
        );
        assert!(line.starts_with(
            "Server app_pool/app-1 is DOWN, reason: Layer7 wrong status, code: 500, check duration: 3ms. 1 active and 0 backup servers left."
        ));
        let up = StateChange {
            up: true,
            outcome: CheckOutcome::new(CheckStatus::L7Ok, Duration::ZERO).with_code(200),
        };
        assert_eq!(
            server_state_line("app_pool", "app-1", &up, BackendCounts { active: 1, backup: 1, ..Default::default() }),
            "Server app_pool/app-1 is UP, reason: Layer7 check passed, code: 200, check duration: 0ms. 1 active and 1 backup servers online. 0 sessions requeued, 0 total in queue."
        );
        assert_eq!(
            no_server_line("app_pool"),
            "backend app_pool has no server available!"
        );
    }
}
