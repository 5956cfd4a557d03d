//! What follows a server's health state change beside the server itself: the servers that
//! `track` it take the same state (with HAProxy's "is DOWN via B/S" log line), and the
//! sessions `on-marked-down shutdown-sessions` / `on-marked-up shutdown-backup-sessions`
//! name are closed (their tasks aborted through the generation's `end` registry).

use fulcrum_config::model::Config;
use fulcrum_proxy::backend::Backend;
use fulcrum_proxy::state::Generation;

/// One server following another: (its backend, its name, the server it tracks directly).
struct Follower {
    backend: String,
    server: String,
    via: String,
}

/// The servers tracking `backend/server`, directly or through others (HAProxy allows chains).
fn followers(config: &Config, backend: &str, server: &str) -> Vec<Follower> {
    let mut out: Vec<Follower> = Vec::new();
    let mut todo = vec![(backend.to_string(), server.to_string())];
    while let Some((b, s)) = todo.pop() {
        for p in &config.proxies {
            for srv in &p.servers {
                let Some((Some(tb), ts)) = &srv.limits.track else {
                    continue;
                };
                let known = out
                    .iter()
                    .any(|f| f.backend == p.name && f.server == srv.name);
                if *tb == b && *ts == s && !known && out.len() < 10_000 {
                    out.push(Follower {
                        backend: p.name.clone(),
                        server: srv.name.clone(),
                        via: format!("{b}/{s}"),
                    });
                    todo.push((p.name.clone(), srv.name.clone()));
                }
            }
        }
    }
    out
}

/// Closes the sessions the change of server `i` of `be` asks to close.
pub fn shutdown_sessions(generation: &Generation, be: &Backend, i: usize, up: bool) -> usize {
    let Some(s) = be.servers.get(i) else {
        return 0;
    };
    let ids = if !up && s.limits.shutdown_on_down() {
        s.limits.sessions()
    } else if up && !s.backup && s.limits.shutdown_backup_on_up() {
        be.servers
            .iter()
            .filter(|b| b.backup)
            .flat_map(|b| b.limits.sessions())
            .collect()
    } else {
        return 0;
    };
    generation.end.abort_tasks(&ids)
}

/// Gives `backend/server`'s new state to the servers tracking it; returns the log lines of
/// those that changed (each with whether it is UP).
pub fn follow(
    config: &Config,
    generation: &Generation,
    backend: &str,
    server: &str,
    up: bool,
) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    for f in followers(config, backend, server) {
        let Some(be) = generation.backends.get(&f.backend) else {
            continue;
        };
        let Some(i) = be.server_index(&f.server) else {
            continue;
        };
        if be.servers[i].is_up() == up {
            continue;
        }
        let sessions = be.servers[i].served();
        be.set_server_up(i, up);
        shutdown_sessions(generation, be, i, up);
        let count = |backup: bool| {
            be.servers
                .iter()
                .filter(|s| s.backup == backup && s.balanceable())
                .count()
        };
        let (active, backup) = (count(false), count(true));
        let queued = be.queued();
        let line = if up {
            format!(
                "Server {}/{} is UP via {}. {active} active and {backup} backup servers online. 0 sessions requeued, {queued} total in queue.",
                f.backend, f.server, f.via
            )
        } else {
            let on_backup = if active == 0 && backup > 0 {
                " Running on backup."
            } else {
                ""
            };
            format!(
                "Server {}/{} is DOWN via {}. {active} active and {backup} backup servers left.{on_backup} {sessions} sessions active, 0 requeued, {queued} remaining in queue.",
                f.backend, f.server, f.via
            )
        };
        lines.push((f.backend, line));
    }
    lines
}
