//! One parsed config line: its words and where it was, with helpers that turn a missing or
//! malformed argument into a message saying what was expected.

use crate::diagnostics::Span;
use crate::units;
use std::time::Duration;

pub struct Line<'a> {
    pub words: &'a [String],
    pub span: Span,
    /// Variables that were undefined when a word was expanded: (word index, name).
    pub undefined: &'a [(usize, String)],
    pub env: super::lexer::EnvLookup<'a>,
    /// Where its relative file names are read from (`default-path`, `crt-base`, `ca-base`).
    pub paths: &'a super::paths::Paths,
}

impl<'a> Line<'a> {
    /// Word `i` read as an address: variables still in it are expanded (HAProxy expands them in
    /// addresses whatever the quoting); an undefined variable is an error, not an empty string.
    pub fn address(&self, i: usize, what: &str) -> Result<String, String> {
        let text = self.need(i, what)?;
        if let Some((_, name)) = self.undefined.iter().find(|(w, _)| *w == i) {
            return Err(format!(
                "environment variable '{name}' used in address '{text}' is not defined"
            ));
        }
        super::lexer::expand_address(text, self.env)
    }

    /// Word `i`, a file read while parsing: joined with the `default-path` directory.
    pub fn file(&self, i: usize, what: &str) -> Result<String, String> {
        self.need(i, what).map(|f| self.paths.file(f))
    }

    pub fn keyword(&self) -> &'a str {
        self.words.first().map(String::as_str).unwrap_or("")
    }

    pub fn arg(&self, i: usize) -> Option<&'a str> {
        self.words.get(i).map(String::as_str)
    }

    /// Argument `i`, or an error naming what was expected there.
    pub fn need(&self, i: usize, what: &str) -> Result<&'a str, String> {
        self.arg(i)
            .ok_or_else(|| format!("'{}' expects {what}", self.words[..i].join(" ")))
    }

    pub fn args_from(&self, i: usize) -> &'a [String] {
        self.words.get(i..).unwrap_or(&[])
    }

    /// Errors if there is anything from word `i` on.
    pub fn no_more(&self, i: usize) -> Result<(), String> {
        match self.arg(i) {
            None => Ok(()),
            Some(extra) => Err(format!(
                "unexpected '{extra}' after '{}'",
                self.words[..i].join(" ")
            )),
        }
    }
}

pub fn time(text: &str, what: &str) -> Result<Duration, String> {
    units::parse_haproxy_time(text).map_err(|e| format!("{what}: {e}"))
}

pub fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse::<T>()
        .map_err(|_| format!("{what} expects a whole number, found '{text}'"))
}

/// A number that must lie in `min..=max`.
pub fn number_in(text: &str, what: &str, min: u64, max: u64) -> Result<u32, String> {
    let n: u64 = number(text, what)?;
    if n < min || n > max {
        return Err(format!("{what} must be between {min} and {max}, found {n}"));
    }
    u32::try_from(n).map_err(|_| format!("{what} is too large: {n}"))
}

/// Strips a stream IP family prefix: `ipv4@`/`tcp4@` (4), `ipv6@`/`tcp6@` (6), `tcp@` (either).
pub fn ip_family(text: &str) -> (Option<u8>, &str) {
    for (prefix, family) in [
        ("ipv4@", Some(4)),
        ("tcp4@", Some(4)),
        ("ipv6@", Some(6)),
        ("tcp6@", Some(6)),
        ("tcp@", None),
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return (family, rest);
        }
    }
    (None, text)
}
