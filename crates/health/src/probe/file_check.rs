//! keepalived's FILE_CHECK: the number written in a `track_file`'s file. With weight 0, a
//! non-zero number fails the real server and 0 keeps it. Otherwise the number times the
//! weight (negated with `reverse`) is added to the real server's weight, and a sum of 0 or
//! less leaves it in service at weight 0 (what keepalived 2.2.7 does: checked against it). A missing or unreadable file reads as 0, a
//! file that does not start with a number too (keepalived reads it with strtol). keepalived
//! watches the file with inotify; fulcrum reads it at every check (at least once a second).

use crate::status::{CheckOutcome, CheckStatus};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    pub path: PathBuf,
    pub weight: i32,
    pub reverse: bool,
    /// The real server's configured weight.
    pub base_weight: u32,
}

/// The number at the start of `text` (after blanks; sign allowed), else 0.
pub fn value(text: &str) -> i64 {
    let t = text.trim_start();
    let end = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(t.len(), |(i, _)| i);
    t[..end].parse().unwrap_or(0)
}

/// The new weight (Some) or a failure (None) for a value read.
pub fn judge(c: &FileCheck, v: i64) -> Option<u32> {
    if c.weight == 0 {
        return (v == 0).then_some(c.base_weight);
    }
    let delta = v.saturating_mul(i64::from(c.weight));
    let delta = if c.reverse { -delta } else { delta };
    let w = i64::from(c.base_weight).saturating_add(delta).max(0);
    Some(u32::try_from(w).unwrap_or(u32::MAX))
}

/// The weight a passed FILE_CHECK asks for, carried in the outcome's code + 2 as MISC_CHECK's
/// `misc_dynamic` does (see [`crate::probe::misc::dynamic_weight`]).
pub fn asked_weight(outcome: &CheckOutcome) -> Option<u32> {
    super::misc::dynamic_weight(outcome)
}

impl FileCheck {
    pub async fn run(&self) -> CheckOutcome {
        let start = crate::clock::now();
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .unwrap_or_default();
        let v = value(&text);
        match judge(self, v) {
            Some(w) => CheckOutcome::new(CheckStatus::ExternalOk, crate::clock::since(start))
                .with_code(u16::try_from(w.saturating_add(2)).unwrap_or(u16::MAX))
                .with_info(format!("track_file value {v}")),
            None => CheckOutcome::new(CheckStatus::ExternalError, crate::clock::since(start))
                .with_info(format!("track_file value {v}")),
        }
    }
}

/// How often a FILE_CHECK reads its file: the delay_loop, at most a second.
pub fn poll_interval(delay_loop: Duration) -> Duration {
    delay_loop.min(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(weight: i32, reverse: bool) -> FileCheck {
        FileCheck {
            path: PathBuf::new(),
            weight,
            reverse,
            base_weight: 10,
        }
    }

    #[test]
    fn values_as_strtol() {
        assert_eq!(value(" 42\n"), 42);
        assert_eq!(value("-3 apples"), -3);
        assert_eq!(value(""), 0);
        assert_eq!(value("x1"), 0);
    }

    #[test]
    fn weight_zero_is_a_status_else_a_weight() {
        assert_eq!(judge(&c(0, false), 0), Some(10));
        assert_eq!(judge(&c(0, false), 1), None);
        assert_eq!(judge(&c(2, false), 5), Some(20));
        assert_eq!(judge(&c(2, false), -5), Some(0), "10 - 10: weight 0, kept");
        assert_eq!(judge(&c(2, false), -50), Some(0), "never below 0");
        assert_eq!(judge(&c(1, true), 3), Some(7));
    }
}
