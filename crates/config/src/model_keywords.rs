//! Model of the proxy keywords issue 13 moved from "refused" to "run": `disabled` /
//! `enabled`, `http-send-name-header`, `errorloc*`, `http-error`, `use-server`,
//! `force-persist` / `ignore-persist`, some `option`s, and the global `setenv` family.
//!
//! Parsed by `haproxy/keywords.rs`. `errorloc*` and
//! `http-error` become error pages ([`crate::model::ErrorFile`] with a [`ErrorReply`]);
//! `server-template` becomes plain servers.

use serde::Serialize;

/// The server name a backend's `dispatch ADDR:PORT` runs as (the name HAProxy logs for a
/// request that no server took).
pub const DISPATCH_SERVER: &str = "<NOSRV>";

/// Keywords of one proxy (inherited from `defaults` where HAProxy allows it).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProxyKeywords {
    /// `disabled` (`enabled` clears it): the proxy does not serve. Applied by the config
    /// crate: a disabled proxy keeps no listener and no server.
    pub disabled: bool,
    /// `id N`: the proxy's number (`fe_id`, `be_id`, the stats' `iid`); see `model_ids`.
    pub id: Option<u32>,
    /// `http-send-name-header NAME`: the chosen server's name, sent to it in header NAME.
    pub send_name_header: Option<String>,
    /// `option http-pretend-keepalive`: no `Connection: close` to the server (HTTP/1.1)
    /// when the proxy closes the server side (`http-server-close`, `httpclose`). A backend's.
    pub pretend_keepalive: bool,
    /// `option http-restrict-req-hdr-names preserve|delete|reject`, applied after the
    /// proxy's `http-request` rules.
    pub restrict_req_hdr_names: HdrNamePolicy,
    /// `option checkcache`: a cacheable answer setting a cookie is refused. A backend's.
    pub checkcache: bool,
    /// `use-server NAME if|unless COND`, in order (backends).
    pub use_servers: Vec<UseServer>,
    /// `force-persist` / `ignore-persist if|unless COND`, in order: the first that holds
    /// decides (backends).
    pub persist_rules: Vec<PersistRule>,
    /// `rate-limit sessions N`: new connections a frontend accepts per second.
    pub rate_limit_sessions: Option<u32>,
    /// A `balance` line was written (here or in the `defaults` inherited): HAProxy then
    /// ignores `dispatch` (with a warning); without one, `dispatch` takes every request that
    /// persistence does not send to a server.
    pub balance_set: bool,
}

/// `use-server NAME if|unless COND`: a request the condition holds for goes to server NAME
/// when it is usable (UP, or `option persist`, or `force-persist`), unless a persistence
/// cookie chose a server already.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UseServer {
    pub span: crate::diagnostics::Span,
    pub server: String,
    pub condition: crate::model::Condition,
}

/// `force-persist if|unless COND` (`force`: a cookie or `use-server` naming a DOWN server
/// is honoured) or `ignore-persist if|unless COND` (the persistence cookie is not looked at).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersistRule {
    pub force: bool,
    pub condition: crate::model::Condition,
}

/// What `option http-restrict-req-hdr-names` does with a request header whose name has a
/// character other than letters, digits and `-`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HdrNamePolicy {
    #[default]
    Preserve,
    Delete,
    Reject,
}

/// An error page that is not a file: `errorloc302|303 CODE URL` or `http-error status CODE ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorReply {
    /// A redirect (302 or 303) to `url`, with no body.
    Location { code: u16, url: String },
    /// `http-error status CODE [content-type T] [string S|file F|lf-string S|lf-file F]
    /// [hdr N V]...`; `hdr` values are log-format strings.
    Reply {
        content_type: Option<String>,
        /// The body (a `string`, or a `file`'s content read when the config is loaded).
        body: Vec<u8>,
        headers: Vec<(String, String)>,
        /// `lf-string S` / `lf-file F` (its content): a log-format body rendered per answer
        /// (`body` is then empty).
        #[serde(skip_serializing_if = "Option::is_none")]
        lf_body: Option<String>,
    },
    /// `http-error status CODE errorfile F`: the file is the whole answer.
    File,
    /// `http-error status CODE errorfiles NAME`: the `http-errors` section's file for CODE,
    /// resolved once every section is read (then [`ErrorReply::File`], or the entry is
    /// dropped with haproxy's warning when the section has no file for CODE).
    Section(String),
}

/// Global keywords of issue 13.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GlobalKeywords {
    /// What `setenv`, `presetenv`, `resetenv` and `unsetenv` did to the environment, in
    /// order. The parser applied them already (later lines expand `${VAR}` with them); the
    /// data plane applies them too, so that `env(NAME)` reads what HAProxy would.
    pub environment: Vec<EnvOp>,
    /// `set-var proc.NAME EXPR` / `set-var-fmt proc.NAME FMT`: process variables set when the
    /// configuration is loaded (only process-level fetches: nothing of a stream).
    pub proc_vars: Vec<ProcVar>,
    /// Map and `-f` ACL files named relatively under a `default-path` other than `current`:
    /// (name as written, file to read), the first line naming it wins (as HAProxy's
    /// references, one per name). Installed with `fulcrum_sample::files::install`.
    pub pattern_files: Vec<(String, std::path::PathBuf)>,
    /// `hard-stop-after TIME`: how long a replaced configuration's connections (after a
    /// reload) and a stopping process's (after SIGTERM/SIGUSR1) may last.
    pub hard_stop_after: Option<std::time::Duration>,
    /// `mworker-max-reloads N`: a configuration's connections end once N reloads replaced it.
    pub mworker_max_reloads: Option<u32>,
    /// `busy-polling` (`no busy-polling` undoes it): workers poll for events with a null
    /// timeout and never let their CPU sleep.
    pub busy_polling: bool,
}

/// A global `set-var` or `set-var-fmt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcVar {
    /// The name after `proc.`.
    pub name: String,
    /// `set-var`: a sample expression; `set-var-fmt`: a log-format string.
    pub expr: Option<String>,
    pub format: Option<String>,
}

/// One change to the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvOp {
    /// `setenv NAME VALUE`, or a `presetenv` whose variable was not set.
    Set(String, String),
    /// `unsetenv NAME`.
    Unset(String),
    /// `resetenv [NAME...]`: every variable but these is removed.
    Reset(Vec<String>),
}

impl EnvOp {
    /// `name` as seen after `ops`, given its value before them (`base`).
    pub fn lookup(
        ops: &[EnvOp],
        name: &str,
        base: impl FnOnce() -> Option<String>,
    ) -> Option<String> {
        for op in ops.iter().rev() {
            match op {
                EnvOp::Set(n, v) if n == name => return Some(v.clone()),
                EnvOp::Unset(n) if n == name => return None,
                EnvOp::Reset(keep) if !keep.iter().any(|k| k == name) => return None,
                _ => {}
            }
        }
        base()
    }
}
