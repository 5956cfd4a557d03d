//! Server options of `model_limits::ServerLimits` (`slowstart`, `maxqueue`, `redir`, `track`,
//! `on-marked-down`, `on-marked-up`), the ones refused because fulcrum does not run them
//! (`minconn`, `namespace`), and the check of `track` targets once every proxy is read.

use super::super::line::{number_in, time, Line};
use crate::model::{Proxy, Server};

/// Whether `opt` is one of this file's server options.
pub fn is_option(opt: &str) -> bool {
    matches!(
        opt,
        "slowstart"
            | "maxqueue"
            | "redir"
            | "track"
            | "on-marked-down"
            | "on-marked-up"
            | "minconn"
            | "namespace"
    )
}

/// Applies option `opt` at word `i`; returns the words consumed.
pub fn apply(s: &mut Server, line: &Line<'_>, i: usize) -> Result<usize, String> {
    let opt = line.arg(i).unwrap_or_default();
    let value = line.need(i + 1, &format!("a value after '{opt}'"))?;
    let l = &mut s.limits;
    match opt {
        "slowstart" => l.slowstart = Some(time(value, opt)?).filter(|d| !d.is_zero()),
        // HAProxy: 0 (and -1) mean no limit.
        "maxqueue" => {
            l.maxqueue = if value == "-1" {
                None
            } else {
                Some(number_in(value, opt, 0, u64::from(u32::MAX))?).filter(|n| *n > 0)
            }
        }
        "redir" => l.redir = Some(value.to_string()),
        "track" => {
            l.track = Some(match value.split_once('/') {
                Some((b, srv)) => (Some(b.to_string()), srv.to_string()),
                None => (None, value.to_string()),
            })
        }
        "on-marked-down" => {
            if value != "shutdown-sessions" {
                return Err(format!(
                    "'on-marked-down' expects 'shutdown-sessions' but got '{value}'."
                ));
            }
            l.shutdown_on_down = true;
        }
        "on-marked-up" => {
            if value != "shutdown-backup-sessions" {
                return Err(format!(
                    "'on-marked-up' expects 'shutdown-backup-sessions' but got '{value}'."
                ));
            }
            l.shutdown_backup_on_up = true;
        }
        "minconn" => return Err("server option 'minconn' (a maxconn that grows with the backend's load up to 'fullconn') is not run by fulcrum; write a fixed 'maxconn' instead".into()),
        _ => return Err(format!("server option '{opt}' (connecting from another network namespace) is not run by fulcrum; run fulcrum inside that namespace instead")),
    }
    Ok(2)
}

/// Checks every `track` once all proxies are read, with HAProxy 2.6's words: the tracked
/// backend and server exist, the tracking server has no `check` of its own, and the tracked
/// one has checks (or an agent) or tracks another in turn. Fills in the backend when the
/// line named only the server. Returns (span, message) errors.
pub fn check_tracks(proxies: &mut [Proxy]) -> Vec<(crate::diagnostics::Span, String)> {
    let mut errors = Vec::new();
    // per proxy: its servers as (name, checked or with an agent, tracking another)
    type Servers = Vec<(String, bool, bool)>;
    let snapshot: Vec<(String, Servers)> = proxies
        .iter()
        .map(|p| {
            let servers = p
                .servers
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        s.check || s.agent.enabled,
                        s.limits.track.is_some(),
                    )
                })
                .collect();
            (p.name.clone(), servers)
        })
        .collect();
    for p in proxies.iter_mut() {
        let own = p.name.clone();
        for s in p.servers.iter_mut() {
            let Some((backend, target)) = s.limits.track.clone() else {
                continue;
            };
            let who = format!("'server {own}/{}'", s.name);
            if s.check {
                errors.push((
                    s.span.clone(),
                    format!("{who} : unable to enable checks and tracking at the same time!"),
                ));
                continue;
            }
            let b = backend.unwrap_or_else(|| own.clone());
            let Some((_, servers)) = snapshot.iter().find(|(n, _)| *n == b) else {
                errors.push((
                    s.span.clone(),
                    format!("{who} : unable to find required proxy '{b}' for tracking."),
                ));
                continue;
            };
            match servers.iter().find(|(n, ..)| *n == target) {
                None => errors.push((s.span.clone(), format!("{who} : unable to find required server '{target}' for tracking."))),
                Some((_, checked, tracks)) if !checked && !tracks => errors.push((
                    s.span.clone(),
                    format!("{who} : unable to use {b}/{target} for tracking as it does not have any check nor agent enabled."),
                )),
                Some(_) => s.limits.track = Some((Some(b), target)),
            }
        }
    }
    errors
}

#[cfg(test)]
#[path = "../limits_tests.rs"]
mod tests;
