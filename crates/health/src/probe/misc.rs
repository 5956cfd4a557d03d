//! keepalived's MISC_CHECK: run `misc_path` (a command line, split on spaces as keepalived
//! does; quotes group words), exit 0 → alive, anything else → failed; past `misc_timeout` the
//! process is killed and the check fails. With `misc_dynamic`, exit 1 is a failure and
//! 2..=255 a success that sets the weight to status - 2 (keepalived.conf(5)). The exit status
//! is the outcome's `code`, as HAProxy reports external checks. The child is always reaped
//! (kill_on_drop too).

use crate::status::{CheckOutcome, CheckStatus};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiscCheck {
    pub misc_path: String,
    pub timeout: Duration,
    /// `misc_dynamic`
    pub dynamic: bool,
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
        let words = split_command(&self.misc_path);
        let Some((program, args)) = words.split_first() else {
            return CheckOutcome::new(CheckStatus::ExternalError, start.elapsed())
                .with_info("empty misc_path");
        };
        let spawned = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                return CheckOutcome::new(CheckStatus::ExternalError, start.elapsed())
                    .with_info(format!("cannot run {program}: {e}"))
            }
        };
        match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(Ok(status)) => match status.code().and_then(|c| u16::try_from(c).ok()) {
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
            Ok(Err(e)) => CheckOutcome::new(CheckStatus::ExternalError, start.elapsed())
                .with_info(e.to_string()),
            Err(_) => {
                let _ = child.kill().await; // kills and reaps
                CheckOutcome::new(CheckStatus::ExternalTimeout, start.elapsed()).with_info(format!(
                    "misc_timeout {}ms exceeded, killed",
                    self.timeout.as_millis()
                ))
            }
        }
    }
}

/// Splits a command line on blanks; double or single quotes group words.
pub fn split_command(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell_for_simple_cases() {
        assert_eq!(
            split_command("/bin/check.sh 10.0.0.1 80"),
            vec!["/bin/check.sh", "10.0.0.1", "80"]
        );
        assert_eq!(
            split_command("  /bin/sh -c 'exit 3' "),
            vec!["/bin/sh", "-c", "exit 3"]
        );
        assert!(split_command("   ").is_empty());
    }
}
