//! HAProxy's runtime API (the `stats socket`): the same words, answers and error messages, so
//! `socat`, `hatop` and operators' scripts work unchanged.
//!
//! Layout: `command` (one command: words → `Command`, with the level each one needs),
//! `session` (framing of one connection: lines, `;`, `prompt` mode, level changes, `quit`),
//! `help` (the help table and "maybe one of the following" suggestions), `exec` (runs a command
//! against a [`exec::Target`] and renders HAProxy's answer), `render` (the pure formats:
//! `show info`, `show servers state`, ...), `live` (the target made of the running proxy and
//! health checks), `listen` (the tokio adapter on each `stats socket`). Everything but `live`
//! and `listen` is sans-IO.

pub mod command;
pub mod exec;
pub mod help;
pub mod listen;
pub mod live;
pub mod render;
pub mod session;

#[cfg(test)]
mod fuzz_replay;

use fulcrum_config::model::StatsLevel;

/// A CLI session's level, lowest first: `user` sees, `operator` also clears counters and lists
/// sessions, `admin` also changes servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    User,
    Operator,
    Admin,
}

impl Level {
    pub fn keyword(self) -> &'static str {
        match self {
            Level::User => "user",
            Level::Operator => "operator",
            Level::Admin => "admin",
        }
    }
}

impl From<StatsLevel> for Level {
    fn from(l: StatsLevel) -> Self {
        match l {
            StatsLevel::User => Level::User,
            StatsLevel::Operator => Level::Operator,
            StatsLevel::Admin => Level::Admin,
        }
    }
}
