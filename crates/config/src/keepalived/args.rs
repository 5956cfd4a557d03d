//! Reading the values after a keepalived keyword: counts, numbers in range, addresses, times,
//! booleans, and the "unknown keyword (did you mean ...?)" message.
//!
//! Each helper reports its own problem at the keyword's line, saying what was found and what
//! was expected, and returns `None` so the caller keeps the default and carries on.

use super::lexer::{describe, Stmt, Word};
use crate::diagnostics::{Diagnostics, Span};
use crate::units::parse_seconds;
use std::net::IpAddr;
use std::time::Duration;

/// The single value of `keyword VALUE`; warns about extra words, errors when missing.
pub fn one<'a>(stmt: &'a Stmt, d: &mut Diagnostics) -> Option<&'a Word> {
    no_block(stmt, d);
    let args = stmt.args();
    match args.len() {
        0 => {
            d.error(
                stmt.span(),
                format!("'{}' expects a value, found nothing", stmt.keyword()),
            );
            None
        }
        1 => Some(&args[0]),
        _ => {
            let extra: Vec<&str> = args[1..].iter().map(|w| w.text.as_str()).collect();
            d.warning(
                stmt.span(),
                format!(
                    "'{}' takes one value; ignoring extra '{}'",
                    stmt.keyword(),
                    extra.join(" ")
                ),
            );
            Some(&args[0])
        }
    }
}

/// A keyword that takes no value (`nopreempt`); extra words are warned about.
pub fn flag(stmt: &Stmt, d: &mut Diagnostics) {
    no_block(stmt, d);
    if !stmt.args().is_empty() {
        let extra: Vec<&str> = stmt.args().iter().map(|w| w.text.as_str()).collect();
        d.warning(
            stmt.span(),
            format!(
                "'{}' takes no value; ignoring '{}'",
                stmt.keyword(),
                extra.join(" ")
            ),
        );
    }
}

/// A keyword with an optional boolean (`inhibit_on_failure [yes|no]`), keepalived's BOOL words.
pub fn opt_bool(stmt: &Stmt, d: &mut Diagnostics) -> bool {
    no_block(stmt, d);
    match stmt.args().first() {
        None => true,
        Some(w) => match parse_bool(&w.text) {
            Some(b) => b,
            None => {
                d.error(
                    &w.span,
                    format!(
                        "'{}' expects on|off|true|false|yes|no, found '{}'",
                        stmt.keyword(),
                        w.text
                    ),
                );
                true
            }
        },
    }
}

pub fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// An error when a keyword that takes no block was given one (the block is skipped).
pub fn no_block(stmt: &Stmt, d: &mut Diagnostics) {
    if let Some(b) = &stmt.block {
        d.error(
            &b.open,
            format!(
                "'{}' does not take a '{{ }}' block; block skipped",
                stmt.keyword()
            ),
        );
    }
}

/// The block of a keyword that needs one; an error when it is missing.
pub fn block<'a>(stmt: &'a Stmt, d: &mut Diagnostics) -> Option<&'a [Stmt]> {
    match &stmt.block {
        Some(b) => Some(&b.stmts),
        None => {
            d.error(
                stmt.span(),
                format!(
                    "'{}' expects a block '{{ ... }}' after it, found none",
                    describe(stmt)
                ),
            );
            None
        }
    }
}

pub fn int_in(word: &Word, what: &str, lo: i64, hi: i64, d: &mut Diagnostics) -> Option<i64> {
    match word.text.parse::<i64>() {
        Ok(v) if (lo..=hi).contains(&v) => Some(v),
        Ok(v) => {
            d.error(&word.span, format!("{what} must be {lo}..{hi}, found {v}"));
            None
        }
        Err(_) => {
            d.error(
                &word.span,
                format!(
                    "{what} expects a whole number {lo}..{hi}, found '{}'",
                    word.text
                ),
            );
            None
        }
    }
}

pub fn u32_in(word: &Word, what: &str, lo: u32, hi: u32, d: &mut Diagnostics) -> Option<u32> {
    int_in(word, what, i64::from(lo), i64::from(hi), d).and_then(|v| u32::try_from(v).ok())
}

pub fn u8_in(word: &Word, what: &str, lo: u8, hi: u8, d: &mut Diagnostics) -> Option<u8> {
    int_in(word, what, i64::from(lo), i64::from(hi), d).and_then(|v| u8::try_from(v).ok())
}

pub fn i32_in(word: &Word, what: &str, lo: i32, hi: i32, d: &mut Diagnostics) -> Option<i32> {
    int_in(word, what, i64::from(lo), i64::from(hi), d).and_then(|v| i32::try_from(v).ok())
}

/// A TCP/UDP port, 1..65535 (0 only where `allow_zero`, e.g. a port-less virtual server).
pub fn port(word: &Word, what: &str, allow_zero: bool, d: &mut Diagnostics) -> Option<u16> {
    let lo = if allow_zero { 0 } else { 1 };
    int_in(word, what, lo, 65535, d).and_then(|v| u16::try_from(v).ok())
}

pub fn ip(word: &Word, what: &str, d: &mut Diagnostics) -> Option<IpAddr> {
    match word.text.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            d.error(
                &word.span,
                format!(
                    "{what} expects an IPv4 or IPv6 address, found '{}'",
                    word.text
                ),
            );
            None
        }
    }
}

pub fn seconds(word: &Word, what: &str, d: &mut Diagnostics) -> Option<Duration> {
    match parse_seconds(&word.text) {
        Ok(t) => Some(t),
        Err(e) => {
            d.error(&word.span, format!("{what}: {e}"));
            None
        }
    }
}

/// `keyword SCRIPT [user [group]]`: the script, with a warning for the user/group words we do
/// not apply yet. A quoted script keeps its spaces; an unquoted one is one word.
pub fn script_with_user(stmt: &Stmt, d: &mut Diagnostics) -> Option<String> {
    no_block(stmt, d);
    let args = stmt.args();
    let Some(first) = args.first() else {
        d.error(
            stmt.span(),
            format!(
                "'{}' expects a script path or a quoted command, found nothing",
                stmt.keyword()
            ),
        );
        return None;
    };
    if args.len() > 1 {
        d.warning(
            stmt.span(),
            format!(
                "'{}': running the script as user '{}' is not supported yet, ignored (quote the command if the words are its arguments)",
                stmt.keyword(),
                args[1].text
            ),
        );
    }
    balanced_single_quotes(stmt, &first.text, d);
    Some(first.text.clone())
}

/// keepalived refuses a script line whose single quotes do not pair up ("missing terminating
/// '"): the command would run with a different split than written.
fn balanced_single_quotes(stmt: &Stmt, command: &str, d: &mut Diagnostics) {
    let mut in_double = false;
    let mut singles = 0;
    for c in command.chars() {
        match c {
            '"' => in_double = !in_double,
            '\'' if !in_double => singles += 1,
            _ => {}
        }
    }
    if singles % 2 == 1 {
        d.error(
            stmt.span(),
            format!(
                "'{}': unterminated single quote in '{command}' (keepalived refuses it too)",
                stmt.keyword()
            ),
        );
    }
}

/// `script ...` of a vrrp_script / `misc_path ...`: the whole rest of the line is the command.
pub fn command(stmt: &Stmt, d: &mut Diagnostics) -> Option<String> {
    no_block(stmt, d);
    if stmt.args().is_empty() {
        d.error(
            stmt.span(),
            format!("'{}' expects a command, found nothing", stmt.keyword()),
        );
        return None;
    }
    let parts: Vec<String> = stmt
        .args()
        .iter()
        .map(|w| {
            if w.quoted && stmt.args().len() > 1 {
                format!("\"{}\"", w.text)
            } else {
                w.text.clone()
            }
        })
        .collect();
    let command = parts.join(" ");
    balanced_single_quotes(stmt, &command, d);
    Some(command)
}

/// Reports a keyword a block does not know. Real keepalived keywords fulcrum does not implement
/// yet are a warning; anything else is an error with a spelling suggestion.
pub fn unknown(
    stmt: &Stmt,
    context: &str,
    known: &[&str],
    unsupported: &[&str],
    d: &mut Diagnostics,
) {
    let kw = stmt.keyword();
    if unsupported.contains(&kw) {
        let what = if stmt.block.is_some() {
            "block"
        } else {
            "keyword"
        };
        d.warning(
            stmt.span(),
            format!("{what} '{kw}' in {context} is not supported yet, ignored"),
        );
        return;
    }
    let skipped = if stmt.block.is_some() {
        "; its block is skipped"
    } else {
        ""
    };
    let hint = suggest(kw, known.iter().chain(unsupported.iter()).copied())
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default();
    d.error(
        stmt.span(),
        format!("unknown keyword '{kw}' in {context}{hint}{skipped}"),
    );
}

/// The closest candidate within a small edit distance, if any.
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .map(|c| {
            (
                edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(dist, _)| *dist <= limit)
        .min_by_key(|(dist, _)| *dist)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            row[j + 1] = sub.min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

/// A name with where it was written, for duplicate checks.
pub fn first_arg_or_error(stmt: &Stmt, what: &str, d: &mut Diagnostics) -> Option<(String, Span)> {
    match stmt.args().first() {
        Some(w) => {
            if stmt.args().len() > 1 {
                d.warning(
                    stmt.span(),
                    format!(
                        "{what} takes one name; ignoring the words after '{}'",
                        w.text
                    ),
                );
            }
            Some((w.text.clone(), w.span.clone()))
        }
        None => {
            d.error(stmt.span(), format!("{what} expects a name, found nothing"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let kws = ["priority", "interface", "state"];
        assert_eq!(suggest("priorty", kws.iter().copied()), Some("priority"));
        assert_eq!(suggest("interfce", kws.iter().copied()), Some("interface"));
        assert_eq!(suggest("zzzzzz", kws.iter().copied()), None);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
