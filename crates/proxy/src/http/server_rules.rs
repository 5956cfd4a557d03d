//! A backend's `use-server NAME if|unless COND` and `force-persist` / `ignore-persist if|unless
//! COND` rules, compiled once, as HAProxy 2.6 runs them:
//! - the persist rules are evaluated first, the first whose condition holds decides: `force`
//!   lets a persistence cookie or a `use-server` name a DOWN server, `ignore` skips the
//!   persistence cookie (it is neither read nor removed; the answer gets a new one);
//! - `use-server` runs when the cookie chose no server: the first rule whose condition holds
//!   and whose server is usable (UP and not in maintenance, or `option persist`, or forced)
//!   sends the request there; a rule naming an unusable server is passed over.

use crate::acl::{self, Cond, Ctx};
use fulcrum_config::model::Proxy;

/// What the persist rules decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Persist {
    #[default]
    Normal,
    Force,
    Ignore,
}

#[derive(Default)]
pub struct ServerRules {
    use_servers: Vec<(Cond, usize)>,
    persist: Vec<(Cond, bool)>,
}

impl ServerRules {
    /// `p`'s rules; an unknown server or ACL is an error naming the line.
    pub fn compile(p: &Proxy) -> Result<ServerRules, String> {
        let k = &p.options.keywords;
        let mut out = ServerRules::default();
        for u in &k.use_servers {
            let Some(index) = p.servers.iter().position(|s| s.name == u.server) else {
                return Err(format!(
                    "{}: use-server: unable to find server '{}' referenced in backend '{}'",
                    u.span, u.server, p.name
                ));
            };
            let cond = acl::compile_condition(&u.condition, &p.acls)
                .map_err(|e| format!("{}: {e}", u.span))?;
            out.use_servers.push((cond, index));
        }
        for r in &k.persist_rules {
            let cond = acl::compile_condition(&r.condition, &p.acls).map_err(|e| e.to_string())?;
            out.persist.push((cond, r.force));
        }
        Ok(out)
    }

    pub fn has_persist_rules(&self) -> bool {
        !self.persist.is_empty()
    }

    pub fn has_use_server(&self) -> bool {
        !self.use_servers.is_empty()
    }

    /// The first persist rule whose condition holds.
    pub fn persist(&self, ctx: &Ctx<'_>) -> Persist {
        self.persist
            .iter()
            .find(|(c, _)| c.eval(ctx))
            .map_or(Persist::Normal, |(_, force)| {
                if *force {
                    Persist::Force
                } else {
                    Persist::Ignore
                }
            })
    }

    /// The server of the first `use-server` rule that holds and whose server `usable` accepts.
    pub fn use_server(&self, ctx: &Ctx<'_>, usable: impl Fn(usize) -> bool) -> Option<usize> {
        self.use_servers
            .iter()
            .find(|(c, i)| usable(*i) && c.eval(ctx))
            .map(|(_, i)| *i)
    }
}
