//! fulcrum answering to its daemons' names: `haproxy ARGS` and `keepalived ARGS`.
//!
//! Operators swap the binary into an existing unit file or script by a symlink named `haproxy`
//! or `keepalived`, or by calling `fulcrum haproxy ARGS` / `fulcrum keepalived ARGS`. Each
//! dialect parses that daemon's own command line and maps it onto fulcrum's `check` and `run`.
//! A flag fulcrum cannot honour is an error naming it; purely cosmetic flags are accepted (and
//! listed as such in each parser).

pub mod daemon;
pub mod haproxy;
pub mod keepalived;
pub mod master_cli;

use std::ffi::OsString;
use std::path::Path;

/// Which command line to speak, from argv[0] or the first argument.
pub enum Personality {
    Haproxy(Vec<String>),
    Keepalived(Vec<String>),
    Fulcrum,
}

pub fn personality(args: &[OsString]) -> Personality {
    let name = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rest = |skip: usize| {
        args.iter()
            .skip(skip)
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    };
    if name == "haproxy" {
        return Personality::Haproxy(rest(1));
    }
    if name == "keepalived" {
        return Personality::Keepalived(rest(1));
    }
    match args.get(1).map(|a| a.to_string_lossy()) {
        Some(a) if a == "haproxy" => Personality::Haproxy(rest(2)),
        Some(a) if a == "keepalived" => Personality::Keepalived(rest(2)),
        _ => Personality::Fulcrum,
    }
}

/// Takes the value after a flag, or says which flag lacks one.
pub fn value<'a>(args: &'a [String], i: &mut usize, flag: &str) -> Result<&'a str, String> {
    *i += 1;
    args.get(*i)
        .map(String::as_str)
        .ok_or_else(|| format!("option '{flag}' needs a value"))
}
