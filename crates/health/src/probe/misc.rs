//! keepalived's MISC_CHECK: run `misc_path` (a command line, split on spaces as keepalived
//! does; quotes group words), exit 0 → alive, anything else → failed; past `misc_timeout` the
//! process is killed and the check fails. The shared runner (crates/script) splits the line and
//! applies `script_user` / `enable_script_security`: a refused script is a failed check. With `misc_dynamic`, exit 1 is a failure and
//! 2..=255 a success that sets the weight to status - 2 (keepalived.conf(5)). The exit status
//! is the outcome's `code`, as HAProxy reports external checks. The child is always reaped
//! (kill_on_drop too).

use crate::status::{CheckOutcome, CheckStatus};
use fulcrum_script::{prepare, Outcome, Policy};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiscCheck {
    pub misc_path: String,
    pub timeout: Duration,
    /// `misc_dynamic`
    pub dynamic: bool,
    /// `script_user` / `enable_script_security`.
    pub policy: Policy,
}

/// The weight a `misc_dynamic` success asks for (exit status 2..=255 → status - 2).
pub fn dynamic_weight(outcome: &CheckOutcome) -> Option<u32> {
    match (outcome.status, outcome.code) {
        (CheckStatus::ExternalOk, Some(code)) if code >= 2 => Some(u32::from(code) - 2),
        _ => None,
    }
}

impl MiscCheck {
    pub async fn run(&self) -> CheckOutcome {
        let start = Instant::now();
        let script = match prepare(&self.policy, &self.misc_path) {
            Ok(s) => s,
            Err(refused) => {
                return CheckOutcome::new(CheckStatus::ExternalError, start.elapsed())
                    .with_info(refused.to_string())
            }
        };
        match fulcrum_script::run(&script, self.timeout).await {
            Outcome::Exited(status) => match status.code().and_then(|c| u16::try_from(c).ok()) {
                Some(0) => CheckOutcome::new(CheckStatus::ExternalOk, start.elapsed()).with_code(0),
                Some(code) if self.dynamic && code >= 2 => {
                    CheckOutcome::new(CheckStatus::ExternalOk, start.elapsed()).with_code(code)
                }
                Some(code) => {
                    CheckOutcome::new(CheckStatus::ExternalError, start.elapsed()).with_code(code)
                }
                None => CheckOutcome::new(CheckStatus::ExternalError, start.elapsed())
                    .with_info("killed by a signal"),
            },
            Outcome::CannotStart(e) => {
                CheckOutcome::new(CheckStatus::ExternalError, start.elapsed())
                    .with_info(format!("cannot run {}: {e}", script.argv[0]))
            }
            Outcome::TimedOut => CheckOutcome::new(CheckStatus::ExternalTimeout, start.elapsed())
                .with_info(format!(
                    "misc_timeout {}ms exceeded, killed",
                    self.timeout.as_millis()
                )),
        }
    }
}
