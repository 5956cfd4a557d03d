//! keepalived's scripts, run as keepalived runs them: one runner shared by `notify*` scripts,
//! `vrrp_script` checks (crates/vrrp) and MISC_CHECK (crates/health).
//!
//! - `split_command`: a script line becomes argv (blanks separate, quotes group), executed
//!   directly, never through a shell.
//! - `policy`: `script_user` and `enable_script_security` from `global_defs`, resolved the way
//!   keepalived 2.2 does: who a script runs as, and whether it may run at all.
//! - `security`: the path check `enable_script_security` asks for (no component of a script's
//!   path writable by a user other than root or the script user).
//! - `run`: start a prepared script as its user, bounded in time, always reaped.
//! - `audit`: the same rules applied to a whole keepalived model, for `fulcrum check`.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod audit;
mod policy;
mod run;
mod security;
mod split;

pub use audit::audit;
pub use policy::{Policy, RunAs};
pub use run::{prepare, prepare_argv, run, Outcome, Prepared, Refused};
pub use security::{check_path, resolve_program, Insecure};
pub use split::split_command;
