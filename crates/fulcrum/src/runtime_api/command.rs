//! One runtime API command: its words parsed into a [`Parsed`], with HAProxy's error messages
//! and the level each command needs (HAProxy 2.6: `show sess` needs operator, anything that
//! changes a server needs admin, the rest is open to `user`).
//!
//! Commands that need the running process become [`Command`]s (run by `exec`); the ones a
//! session answers by itself (help, prompt, quit, level changes, timeouts, errors) are
//! answered here. Pure.

use super::help;
use super::Level;
use fulcrum_proxy::tls::cafiles::{FileCommand, Kind};
use fulcrum_proxy::tls::crtlists::CrtListCommand;
use fulcrum_proxy::tls::store::SslCommand;
use fulcrum_proxy::tls::ticket_keys::TlsKeysCommand;
use std::time::Duration;

/// What the admin asked of a server's administrative state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminChange {
    /// `set server B/S state ready`.
    Ready,
    /// `enable server B/S`: leaves MAINT (a DRAIN server stays DRAIN, as HAProxy; unlike
    /// HAProxy, DRAIN set before a MAINT is not remembered: the server comes back READY).
    LeaveMaint,
    /// `set server B/S state drain`.
    Drain,
    /// `set server B/S state maint`, `disable server B/S`.
    Maint,
}

/// `show stat` options (HAProxy's `[{<iid>|<proxy>} <type> <sid>] [typed|json] [up|no-maint]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatOptions {
    pub typed: bool,
    pub json: bool,
    pub up_only: bool,
    pub no_maint: bool,
    /// `iid type sid`: proxy id (-1 all), type bitmask (1 frontends, 2 backends, 4 servers;
    /// -1 all), server id (-1 all).
    pub filter: Option<(i64, i64, i64)>,
    /// A `user`-level session does not see server addresses (HAProxy hides `addr` there).
    pub hide_addresses: bool,
}

/// A command that needs the running process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    ShowInfo {
        typed: bool,
        json: bool,
    },
    ShowStat(StatOptions),
    ShowServersState {
        backend: Option<String>,
    },
    ShowBackend,
    /// `show cache`: the `cache` sections and their objects.
    ShowCache,
    ShowSess,
    /// `get weight B/S` (the `B/S` word as written; `exec` resolves it).
    GetWeight(String),
    /// `set weight B/S W` or `set server B/S weight W` (weight as written: `N` or `N%`).
    SetWeight(String, String),
    SetAdmin(String, AdminChange),
    /// `enable health B/S` (true) / `disable health B/S` (false).
    SetChecks(String, bool),
    /// `show|get|add|del|set|clear map|acl ...` (the words as typed), answered by the
    /// generation's pattern registry.
    Patterns(Vec<String>),
    /// `show|clear|set table ...` (the words as typed); whether the session may see entries
    /// (operator and above).
    Table(Vec<String>, bool),
    /// `show|new|set|commit|abort|del ssl cert ...`.
    SslCert(SslCommand),
    /// `show|add|del ssl crt-list ...`.
    SslCrtList(CrtListCommand),
    /// `show tls-keys [ID|FILE|*]`, `set ssl tls-key ID|FILE KEY`.
    TlsKeys(TlsKeysCommand),
    /// `show|new|set|commit|abort|del ssl ca-file|crl-file ...`.
    SslFile(Kind, FileCommand),
}

/// What a session does with one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Answered at once (help, errors, "Permission denied").
    Answer(String),
    Prompt,
    Quit,
    /// `operator` / `user`: lower the session's level.
    SetLevel(Level),
    ShowLevel,
    /// `set timeout cli <delay>`: the session's idle timeout.
    SetTimeout(Duration),
    Run(Command),
}

pub const PERMISSION_DENIED: &str = "Permission denied\n";

fn need(level: Level, at_least: Level, then: Command) -> Parsed {
    if level >= at_least {
        Parsed::Run(then)
    } else {
        Parsed::Answer(PERMISSION_DENIED.to_string())
    }
}

/// Parses one command (the words of one `;`-separated part of a line) at `level`.
pub fn parse(words: &[&str], level: Level) -> Parsed {
    if let Some(p) = ssl_cert(words, level, None)
        .or_else(|| crt_list(words, level, None))
        .or_else(|| ssl_files(words, level, None))
    {
        return p;
    }
    let arg = |i: usize| words.get(i).copied().unwrap_or("");
    match words {
        [] => Parsed::Answer(help::unknown_command(words)),
        ["help", rest @ ..] => Parsed::Answer(help::help(rest)),
        ["prompt", ..] => Parsed::Prompt,
        ["quit", ..] => Parsed::Quit,
        ["user", ..] => Parsed::SetLevel(Level::User),
        ["operator", ..] => {
            if level >= Level::Operator {
                Parsed::SetLevel(Level::Operator)
            } else {
                Parsed::Answer(PERMISSION_DENIED.to_string())
            }
        }
        ["show", "cli", "level", ..] => Parsed::ShowLevel,
        // HAProxy 2.6 asks no level for these (a `user` session may read and set keys).
        ["show", "tls-keys", rest @ ..] => Parsed::Run(Command::TlsKeys(TlsKeysCommand::Show(
            rest.first().map(|w| w.to_string()),
        ))),
        ["set", "ssl", "tls-key", ..] => Parsed::Run(Command::TlsKeys(TlsKeysCommand::Set(
            arg(3).to_string(),
            arg(4).to_string(),
        ))),
        // HAProxy 2.6 lets every level read and change maps and ACLs.
        // `set table` and `show|clear table NAME key K` need operator (HAProxy 2.6).
        ["set", "table", ..] | ["show" | "clear", "table", _, "key", ..] => need(
            level,
            Level::Operator,
            Command::Table(words.iter().map(|w| w.to_string()).collect(), true),
        ),
        ["show" | "clear", "table", ..] => Parsed::Run(Command::Table(
            words.iter().map(|w| w.to_string()).collect(),
            level >= Level::Operator,
        )),
        ["show" | "get" | "add" | "del" | "clear" | "prepare" | "commit", "map" | "acl", ..]
        | ["set", "map", ..] => Parsed::Run(Command::Patterns(
            words.iter().map(|w| w.to_string()).collect(),
        )),
        ["set", "timeout", rest @ ..] => set_timeout(rest),
        ["show", "info", opts @ ..] => Parsed::Run(Command::ShowInfo {
            typed: opts.contains(&"typed"),
            json: opts.contains(&"json"),
        }),
        ["show", "stat", opts @ ..] => Parsed::Run(Command::ShowStat(StatOptions {
            hide_addresses: level == Level::User,
            ..stat_options(opts)
        })),
        ["show", "servers", "state", rest @ ..] => Parsed::Run(Command::ShowServersState {
            backend: rest.first().map(|b| b.to_string()),
        }),
        ["show", "backend", ..] => Parsed::Run(Command::ShowBackend),
        ["show", "cache", ..] => Parsed::Run(Command::ShowCache),
        ["show", "sess", ..] => need(level, Level::Operator, Command::ShowSess),
        ["get", "weight", ..] => Parsed::Run(Command::GetWeight(arg(2).to_string())),
        ["set", "weight", ..] => need(
            level,
            Level::Admin,
            Command::SetWeight(arg(2).to_string(), arg(3).to_string()),
        ),
        ["disable", "server", ..] => need(
            level,
            Level::Admin,
            Command::SetAdmin(arg(2).to_string(), AdminChange::Maint),
        ),
        ["enable", "server", ..] => need(
            level,
            Level::Admin,
            Command::SetAdmin(arg(2).to_string(), AdminChange::LeaveMaint),
        ),
        ["disable", "health", ..] => need(
            level,
            Level::Admin,
            Command::SetChecks(arg(2).to_string(), false),
        ),
        ["enable", "health", ..] => need(
            level,
            Level::Admin,
            Command::SetChecks(arg(2).to_string(), true),
        ),
        ["set", "server", ..] => {
            if level < Level::Admin {
                return Parsed::Answer(PERMISSION_DENIED.to_string());
            }
            set_server(arg(2), &words[3.min(words.len())..])
        }
        _ => Parsed::Answer(help::unknown_command(words)),
    }
}

/// Parses a command whose line ended with `<<` and the payload lines that followed it (up to
/// an empty line); `set ssl cert` and `add map` read a payload, the others ignore it as
/// HAProxy does.
pub fn parse_with_payload(words: &[&str], level: Level, payload: &str) -> Parsed {
    if let ["add", "map", first, rest @ ..] = words {
        // `add map [@VER] REF <<`: the pattern registry reads the payload's `KEY VALUE` lines
        let marked = format!("{}{payload}", fulcrum_sample::registry_cli::PAYLOAD);
        let mut out = vec!["add".to_string(), "map".into(), first.to_string()];
        if first.starts_with('@') {
            out.extend(rest.first().map(|r| r.to_string()));
        }
        out.push(marked);
        return Parsed::Run(Command::Patterns(out));
    }
    ssl_cert(words, level, Some(payload))
        .or_else(|| crt_list(words, level, Some(payload)))
        .or_else(|| ssl_files(words, level, Some(payload)))
        .unwrap_or_else(|| parse(words, level))
}

/// `show|add|del ssl crt-list` (HAProxy 2.6: all three need admin; `add` reads a one-line
/// payload when the line ends with `<<`).
fn crt_list(words: &[&str], level: Level, payload: Option<&str>) -> Option<Parsed> {
    if words.get(1..3) != Some(&["ssl", "crt-list"][..]) {
        return None;
    }
    let arg = |i: usize| words.get(i).map_or(String::new(), |w| w.to_string());
    let cmd = match words.first().copied()? {
        "show" => {
            let numbers = words.get(3) == Some(&"-n");
            let list = words
                .get(if numbers { 4 } else { 3 })
                .map(|w| w.to_string());
            CrtListCommand::Show { numbers, list }
        }
        "add" => CrtListCommand::Add {
            list: arg(3),
            cert: arg(4),
            payload: payload.map(str::to_string),
        },
        "del" => CrtListCommand::Del {
            list: arg(3),
            cert: arg(4),
        },
        _ => return None,
    };
    Some(need(level, Level::Admin, Command::SslCrtList(cmd)))
}

/// The `ssl ca-file` and `ssl crl-file` commands (HAProxy 2.6: `show` needs operator, the
/// others admin; `set` reads a payload).
fn ssl_files(words: &[&str], level: Level, payload: Option<&str>) -> Option<Parsed> {
    let kind = match words.get(1..3)? {
        ["ssl", "ca-file"] => Kind::Ca,
        ["ssl", "crl-file"] => Kind::Crl,
        _ => return None,
    };
    let name = words.get(3).map_or(String::new(), |w| w.to_string());
    let cmd = match words.first().copied()? {
        "show" => {
            if level < Level::Operator {
                return Some(Parsed::Answer("Can't allocate memory!\n".into()));
            }
            let name = words.get(3).map(|w| w.to_string());
            return Some(Parsed::Run(Command::SslFile(kind, FileCommand::Show(name))));
        }
        "new" => FileCommand::New(name),
        "set" => FileCommand::Set(name, payload.map(str::to_string)),
        "commit" => FileCommand::Commit(name),
        "abort" => FileCommand::Abort(name),
        "del" => FileCommand::Del(name),
        _ => return None,
    };
    Some(need(level, Level::Admin, Command::SslFile(kind, cmd)))
}

/// The `ssl cert` commands (HAProxy 2.6: `show` needs operator (a `user` session is answered
/// "Can't allocate memory!", haproxy 2.6's own words), the others admin).
fn ssl_cert(words: &[&str], level: Level, payload: Option<&str>) -> Option<Parsed> {
    if words.get(1..3) != Some(&["ssl", "cert"][..]) {
        return None;
    }
    let name = words.get(3).map_or(String::new(), |w| w.to_string());
    let cmd = match words.first().copied()? {
        "show" => {
            if level < Level::Operator {
                return Some(Parsed::Answer("Can't allocate memory!\n".into()));
            }
            let name = words.get(3).map(|w| w.to_string());
            return Some(Parsed::Run(Command::SslCert(SslCommand::Show(name))));
        }
        "new" => SslCommand::New(name),
        "set" => SslCommand::Set(name, payload.unwrap_or("").to_string()),
        "commit" => SslCommand::Commit(name),
        "abort" => SslCommand::Abort(name),
        "del" => SslCommand::Del(name),
        _ => return None,
    };
    Some(need(level, Level::Admin, Command::SslCert(cmd)))
}

const SET_SERVER_USAGE: &str = "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n";

fn set_server(target: &str, rest: &[&str]) -> Parsed {
    let target = target.to_string();
    match rest {
        ["state", state, ..] => match *state {
            "ready" => Parsed::Run(Command::SetAdmin(target, AdminChange::Ready)),
            "drain" => Parsed::Run(Command::SetAdmin(target, AdminChange::Drain)),
            "maint" => Parsed::Run(Command::SetAdmin(target, AdminChange::Maint)),
            _ => Parsed::Answer("'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n".into()),
        },
        ["state"] => Parsed::Answer("'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n".into()),
        ["weight", w, ..] => Parsed::Run(Command::SetWeight(target, w.to_string())),
        ["weight"] => Parsed::Run(Command::SetWeight(target, String::new())),
        [what @ ("addr" | "agent" | "agent-addr" | "agent-port" | "agent-send" | "check-addr" | "check-port" | "fqdn"
        | "health" | "ssl"), ..] => {
            Parsed::Answer(format!("'set server <srv> {what}' is not supported by fulcrum yet (supported: state, weight).\n"))
        }
        _ => Parsed::Answer(SET_SERVER_USAGE.into()),
    }
}

fn set_timeout(rest: &[&str]) -> Parsed {
    match rest {
        ["cli", delay, ..] => match parse_delay_s(delay) {
            Some(d) if d >= Duration::from_millis(1) => Parsed::SetTimeout(d),
            _ => Parsed::Answer("Invalid timeout value.\n".into()),
        },
        ["cli"] => Parsed::Answer("Expects an integer value.\n".into()),
        _ => Parsed::Answer("'set timeout' only supports 'cli'.\n".into()),
    }
}

/// HAProxy's time format with seconds as the default unit (`5`, `500ms`, `2m`, `1h`, `1d`).
fn parse_delay_s(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit {
        "" | "s" => n.checked_mul(1000)?,
        "us" => n / 1000,
        "ms" => n,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

fn stat_options(opts: &[&str]) -> StatOptions {
    let mut o = StatOptions::default();
    let mut nums = Vec::new();
    for w in opts {
        match *w {
            "typed" => o.typed = true,
            "json" => o.json = true,
            "up" => o.up_only = true,
            "no-maint" => o.no_maint = true,
            other => {
                if let Ok(n) = other.parse::<i64>() {
                    nums.push(n);
                }
            }
        }
    }
    if let [iid, kind, sid, ..] = nums[..] {
        o.filter = Some((iid, kind, sid));
    }
    o
}

/// Splits `B/S` as HAProxy does: "Require 'backend/server'." when there is no `/` or no server.
pub fn split_target(target: &str) -> Result<(&str, &str), String> {
    match target.split_once('/') {
        Some((b, s)) if !s.is_empty() => Ok((b, s)),
        _ => Err("Require 'backend/server'.\n".into()),
    }
}

/// HAProxy's `server_parse_weight_change_request`: `N` (0..=256) or `N%` of the initial weight;
/// `static_lb` backends only take `0%`/`100%` (0 or the initial weight).
pub fn parse_weight(text: &str, iweight: u32, static_lb: bool) -> Result<u32, String> {
    if text.is_empty() {
        return Err("Require <weight> or <weight%>.\n".into());
    }
    let digits_end = text
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+'))))
        .map_or(text.len(), |(i, _)| i);
    let (num, rest) = text.split_at(digits_end);
    let Ok(mut w) = num.parse::<i64>() else {
        return Err("Empty weight string empty or preceded by garbage".into());
    };
    if rest == "%" {
        if w < 0 {
            return Err("Relative weight must be positive.\n".into());
        }
        w = w.min(25_600);
        w = (i64::from(iweight) * w / 100).min(256);
    } else if !(0..=256).contains(&w) {
        return Err("Absolute weight can only be between 0 and 256 inclusive.\n".into());
    } else if !rest.is_empty() {
        return Err("Trailing garbage in weight string".into());
    }
    let w = u32::try_from(w).unwrap_or(0);
    if w != 0 && w != iweight && static_lb {
        return Err(
            "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"
                .into(),
        );
    }
    Ok(w)
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
