//! Who keepalived's scripts run as: `script_user USER [GROUP]` and `enable_script_security`
//! from `global_defs`, resolved as keepalived 2.2 resolves them (keepalived.conf(5)):
//!
//! - `script_user USER [GROUP]`: scripts run as USER, in GROUP or else USER's primary group.
//! - no `script_user`: the user `keepalived_script` if it exists; otherwise root, with
//!   keepalived's warning. With `enable_script_security` as well, keepalived refuses to fall
//!   back to root ("Unable to set default user keepalived_script for script") and removes the
//!   scripts; so does fulcrum (`RunAs::Unresolved`).
//! - `enable_script_security`: a script that runs as root (or as USER) is refused when any
//!   component of its path can be changed by another non-root user (see `security`).

use fulcrum_config::model::GlobalDefs;
use nix::unistd::{Group, User};

/// keepalived's default script user.
pub const DEFAULT_USER: &str = "keepalived_script";

/// The user scripts run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAs {
    /// A named user (and group) that exists on this machine.
    User { name: String, uid: u32, gid: u32 },
    /// root: no `script_user`, no `keepalived_script`, security not enabled.
    Root,
    /// No user could be chosen; every script is refused with this reason.
    Unresolved(String),
}

/// The script settings of one keepalived model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub security: bool,
    pub run_as: RunAs,
}

impl Default for Policy {
    /// What a config without `script_user` / `enable_script_security` gets on a machine
    /// without `keepalived_script`: root, as keepalived.
    fn default() -> Self {
        Policy {
            security: false,
            run_as: RunAs::Root,
        }
    }
}

impl Policy {
    /// Resolves `global_defs` against this machine's user database.
    pub fn from_global_defs(g: &GlobalDefs) -> Policy {
        Policy::resolve(g.script_user.as_deref(), g.enable_script_security)
    }

    /// `script_user` is the keyword's value ("USER [GROUP]").
    pub fn resolve(script_user: Option<&str>, security: bool) -> Policy {
        let run_as = match script_user.map(str::split_whitespace) {
            Some(mut words) => {
                let user = words.next().unwrap_or("");
                match lookup(user, words.next()) {
                    Ok(r) => r,
                    Err(why) => RunAs::Unresolved(format!("script_user {why}")),
                }
            }
            None => match lookup(DEFAULT_USER, None) {
                Ok(r) => r,
                Err(_) if security => RunAs::Unresolved(format!(
                    "default user '{DEFAULT_USER}' for script execution does not exist and \
                     enable_script_security forbids running scripts as root: create the user \
                     or set script_user"
                )),
                Err(_) => RunAs::Root,
            },
        };
        Policy { security, run_as }
    }

    /// (uid, gid) scripts run as, or the reason none can run.
    pub fn ids(&self) -> Result<(u32, u32), String> {
        match &self.run_as {
            RunAs::User { uid, gid, .. } => Ok((*uid, *gid)),
            RunAs::Root => Ok((0, 0)),
            RunAs::Unresolved(why) => Err(why.clone()),
        }
    }

    /// The name used in log lines.
    pub fn user_name(&self) -> &str {
        match &self.run_as {
            RunAs::User { name, .. } => name,
            RunAs::Root => "root",
            RunAs::Unresolved(_) => "(none)",
        }
    }
}

fn lookup(user: &str, group: Option<&str>) -> Result<RunAs, String> {
    let u = match User::from_name(user) {
        Ok(Some(u)) => u,
        Ok(None) => return Err(format!("{user}: no such user")),
        Err(e) => return Err(format!("{user}: cannot look up the user: {e}")),
    };
    let gid = match group {
        None => u.gid.as_raw(),
        Some(g) => match Group::from_name(g) {
            Ok(Some(g)) => g.gid.as_raw(),
            Ok(None) => return Err(format!("{user} {g}: no such group")),
            Err(e) => return Err(format!("{user} {g}: cannot look up the group: {e}")),
        },
    };
    let uid = u.uid.as_raw();
    if uid == 0 && gid == 0 {
        return Ok(RunAs::Root);
    }
    Ok(RunAs::User {
        name: u.name,
        uid,
        gid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_users_and_the_default() {
        let p = Policy::resolve(Some("root"), true);
        assert_eq!(p.run_as, RunAs::Root);
        let p = Policy::resolve(Some("nobody"), true);
        let nobody = User::from_name("nobody").unwrap().unwrap();
        assert_eq!(p.ids().unwrap(), (nobody.uid.as_raw(), nobody.gid.as_raw()));
        let p = Policy::resolve(Some("nobody root"), false);
        assert_eq!(p.ids().unwrap(), (nobody.uid.as_raw(), 0));
        let p = Policy::resolve(Some("no-such-user-fulcrum"), false);
        assert!(matches!(p.run_as, RunAs::Unresolved(ref w) if w.contains("no such user")));
        let p = Policy::resolve(Some("nobody no-such-group-fulcrum"), false);
        assert!(matches!(p.run_as, RunAs::Unresolved(ref w) if w.contains("no such group")));
        // The default depends on whether keepalived_script exists here.
        let exists = User::from_name(DEFAULT_USER).unwrap().is_some();
        let p = Policy::resolve(None, true);
        assert_eq!(matches!(p.run_as, RunAs::User { .. }), exists);
        assert_eq!(matches!(p.run_as, RunAs::Unresolved(_)), !exists);
        let p = Policy::resolve(None, false);
        assert_eq!(matches!(p.run_as, RunAs::Root), !exists);
    }
}
