//! Runs one runtime API [`Command`] against a [`Target`] (the running process, or a fake in
//! tests) and returns HAProxy's answer text: `No such backend.`, `No such server.`,
//! `7 (initial 3)`, an empty answer for a change that was applied. Pure given the target.

use super::command::{parse_weight, split_target, AdminChange, Command, StatOptions};
use super::render::{self, BackendView, InfoView, ServerView};

/// What the runtime API can see and change of the running process.
pub trait Target {
    fn info(&self) -> InfoView;
    /// Every backend (and `listen`) in config order, with its servers.
    fn backends(&self) -> Vec<BackendView>;
    /// Open connections per frontend, for `show sess`.
    fn frontend_connections(&self) -> Vec<(String, u64)>;
    /// `show stat` as HAProxy prints it (CSV or typed).
    fn stat(&self, opts: &StatOptions) -> Result<String, String>;
    fn set_admin(&mut self, backend: &str, server: &str, change: AdminChange)
        -> Result<(), String>;
    fn set_weight(&mut self, backend: &str, server: &str, weight: u32) -> Result<(), String>;
    /// `enable health` / `disable health`: resume or pause the server's health checks.
    fn set_checks(&mut self, backend: &str, server: &str, enabled: bool) -> Result<(), String>;
    /// A map or ACL command (`show map`, `add acl`, ...) answered by the running generation's
    /// pattern registry (`None`: nothing is running).
    fn patterns(&mut self, _words: &[&str]) -> Option<String> {
        None
    }
    /// A stick-table command (`show table`, `set table`, `clear table`).
    fn table(&mut self, _words: &[&str], _dump: bool) -> Option<String> {
        None
    }
    /// `ssl cert` commands: the proxy's certificate registry (one per process).
    fn ssl_cert(&mut self, cmd: &fulcrum_proxy::tls::store::SslCommand) -> String {
        fulcrum_proxy::tls::store::run(cmd)
    }
    /// `ssl crt-list` commands: the proxy's crt-lists (one registry per process).
    fn crt_list(&mut self, cmd: &fulcrum_proxy::tls::crtlists::CrtListCommand) -> String {
        fulcrum_proxy::tls::crtlists::run(cmd)
    }
}

/// Resolves `B/S` to its backend and server views, with HAProxy's messages.
fn find(backends: &[BackendView], target: &str) -> Result<(BackendView, ServerView), String> {
    let (b, s) = split_target(target)?;
    let be = backends
        .iter()
        .find(|x| x.name == b)
        .ok_or_else(|| "No such backend.\n".to_string())?;
    let srv = be
        .servers
        .iter()
        .find(|x| x.name == s)
        .ok_or_else(|| "No such server.\n".to_string())?;
    Ok((be.clone(), srv.clone()))
}

pub fn execute(cmd: &Command, target: &mut dyn Target) -> String {
    match run(cmd, target) {
        Ok(s) | Err(s) => s,
    }
}

fn run(cmd: &Command, target: &mut dyn Target) -> Result<String, String> {
    match cmd {
        Command::ShowInfo { json: true, .. } => Ok(render::info_json(&target.info())),
        Command::ShowInfo { typed, .. } => Ok(render::info(&target.info(), *typed)),
        Command::ShowStat(opts) => target.stat(opts),
        Command::ShowServersState { backend } => {
            let mut all = target.backends();
            if let Some(name) = backend {
                all.retain(|b| &b.name == name);
                if all.is_empty() {
                    return Err("Can't find backend.\n".into());
                }
            }
            Ok(render::servers_state(&all))
        }
        Command::ShowBackend => Ok(render::backend_list(&target.backends())),
        Command::ShowCache => Ok(fulcrum_proxy::http::cache::show(
            fulcrum_proxy::http::cache_flow::now(),
        )),
        Command::ShowSess => Ok(render::sessions(
            &target.frontend_connections(),
            &target.backends(),
        )),
        Command::GetWeight(t) => {
            let (_, s) = find(&target.backends(), t)?;
            Ok(format!("{} (initial {})\n", s.uweight, s.iweight))
        }
        Command::SetWeight(t, w) => {
            let (b, s) = find(&target.backends(), t)?;
            let weight = parse_weight(w, s.iweight, b.static_lb)?;
            target.set_weight(&b.name, &s.name, weight)?;
            Ok(String::new())
        }
        Command::SetAdmin(t, change) => {
            let (b, s) = find(&target.backends(), t)?;
            target.set_admin(&b.name, &s.name, *change)?;
            Ok(String::new())
        }
        Command::Patterns(words) => {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            Ok(target.patterns(&words).unwrap_or_default())
        }
        Command::Table(words, dump) => {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            Ok(target.table(&words, *dump).unwrap_or_default())
        }
        Command::SetChecks(t, enabled) => {
            let (b, s) = find(&target.backends(), t)?;
            target.set_checks(&b.name, &s.name, *enabled)?;
            Ok(String::new())
        }
        Command::SslCert(c) => Ok(target.ssl_cert(c)),
        Command::SslCrtList(c) => Ok(target.crt_list(c)),
        Command::TlsKeys(c) => Ok(fulcrum_proxy::tls::ticket_keys::run(c)),
        Command::SslFile(kind, c) => Ok(fulcrum_proxy::tls::cafiles::run(*kind, c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Fake {
        backends: Vec<BackendView>,
        log: Vec<String>,
    }

    impl Target for Fake {
        fn info(&self) -> InfoView {
            InfoView::default()
        }
        fn backends(&self) -> Vec<BackendView> {
            self.backends.clone()
        }
        fn frontend_connections(&self) -> Vec<(String, u64)> {
            vec![("web".into(), 2)]
        }
        fn stat(&self, _: &StatOptions) -> Result<String, String> {
            Ok("# pxname\n".into())
        }
        fn set_admin(&mut self, b: &str, s: &str, c: AdminChange) -> Result<(), String> {
            self.log.push(format!("{b}/{s} {c:?}"));
            Ok(())
        }
        fn set_weight(&mut self, b: &str, s: &str, w: u32) -> Result<(), String> {
            self.log.push(format!("{b}/{s} weight {w}"));
            Ok(())
        }
        fn set_checks(&mut self, b: &str, s: &str, on: bool) -> Result<(), String> {
            self.log.push(format!("{b}/{s} checks {on}"));
            Ok(())
        }
    }

    fn fake() -> Fake {
        let s2 = ServerView {
            id: 2,
            name: "s2".into(),
            uweight: 7,
            iweight: 3,
            ..Default::default()
        };
        Fake {
            backends: vec![BackendView {
                id: 3,
                name: "app".into(),
                static_lb: false,
                servers: vec![s2],
            }],
            log: Vec::new(),
        }
    }

    #[test]
    fn answers_and_errors_as_haproxy() {
        let mut f = fake();
        assert_eq!(
            execute(&Command::GetWeight("app/s2".into()), &mut f),
            "7 (initial 3)\n"
        );
        assert_eq!(
            execute(&Command::GetWeight("app/s9".into()), &mut f),
            "No such server.\n"
        );
        assert_eq!(
            execute(&Command::GetWeight("foo/s2".into()), &mut f),
            "No such backend.\n"
        );
        assert_eq!(
            execute(&Command::GetWeight("app".into()), &mut f),
            "Require 'backend/server'.\n"
        );
        assert_eq!(execute(&Command::ShowBackend, &mut f), "# name\napp\n");
        assert_eq!(
            execute(
                &Command::ShowServersState {
                    backend: Some("nope".into())
                },
                &mut f
            ),
            "Can't find backend.\n"
        );
        assert_eq!(
            execute(&Command::ShowSess, &mut f),
            "# frontend current_connections\nweb 2\n# backend/server current_sessions\napp/s2 0\n"
        );
    }

    #[test]
    fn changes_reach_the_target() {
        let mut f = fake();
        assert_eq!(
            execute(
                &Command::SetAdmin("app/s2".into(), AdminChange::Maint),
                &mut f
            ),
            ""
        );
        assert_eq!(
            execute(&Command::SetWeight("app/s2".into(), "50%".into()), &mut f),
            ""
        );
        assert_eq!(
            execute(&Command::SetChecks("app/s2".into(), false), &mut f),
            ""
        );
        assert_eq!(
            execute(&Command::SetWeight("app/s2".into(), "999".into()), &mut f),
            "Absolute weight can only be between 0 and 256 inclusive.\n"
        );
        assert_eq!(
            f.log,
            ["app/s2 Maint", "app/s2 weight 1", "app/s2 checks false"]
        );
    }
}
