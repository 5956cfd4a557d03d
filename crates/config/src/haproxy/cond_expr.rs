//! The expression of a `.if` / `.elif` line, as HAProxy 2.6 reads it: terms joined by `&&`
//! (binds tighter) and `||`, each term optionally negated with `!` and either an integer
//! (C `strtol` syntax: `0x10`, `-1`, `07`; 0 is false), a parenthesised expression or a
//! predicate `NAME(ARG,...)` (arguments split at commas, `"…"`/`'…'` group, spaces kept).
//! The whole line is parsed before it is evaluated (a syntax error anywhere is an error),
//! then evaluated left to right with short circuits.
//!
//! Answers (documented in the README): fulcrum claims HAProxy version [`HAPROXY_VERSION`]
//! (the release whose behaviour it is compared with) for `version_atleast`/`version_before`,
//! compared as HAProxy's `split_version` does; `feature(NAME)` is true for [`FEATURES`]
//! (what fulcrum runs: TLS, gzip/deflate compression, the Prometheus exporter) and false
//! otherwise (`LUA`, `QUIC`, ...); `ssllib_name_startswith(X)` compares with "rustls";
//! `openssl_version_atleast`/`_before` are an error when reached (the TLS library is not
//! OpenSSL: HAProxy built without OpenSSL refuses them the same way).

/// The HAProxy release fulcrum's behaviour is compared with (Debian 12's haproxy 2.6.12).
pub const HAPROXY_VERSION: &str = "2.6.12";

/// Build features `feature(NAME)` answers true for: `OPENSSL` (TLS, terminated with rustls),
/// `ZLIB`/`SLZ` (`compression algo gzip|deflate|raw-deflate`, with flate2), `PROMEX`
/// (`http-request use-service prometheus-exporter`).
pub const FEATURES: &[&str] = &["OPENSSL", "ZLIB", "SLZ", "PROMEX"];

/// The name `ssllib_name_startswith` compares with.
const SSL_LIBRARY: &str = "rustls";

/// Recursion budget (HAProxy's `MAX_CFG_RECURSION`): about 340 levels of parentheses.
const MAX_DEPTH: usize = 1024;

/// A problem, with the byte offset in the expression text where it was found.
#[derive(Debug, PartialEq)]
pub struct ExprError {
    pub at: usize,
    pub msg: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Pred {
    Defined,
    Feature,
    Streq,
    Strneq,
    VersionAtleast,
    VersionBefore,
    OsslAtleast,
    OsslBefore,
    SslLibStartsWith,
}

const PREDICATES: &[(&str, Pred, usize)] = &[
    ("defined", Pred::Defined, 1),
    ("feature", Pred::Feature, 1),
    ("streq", Pred::Streq, 2),
    ("strneq", Pred::Strneq, 2),
    ("version_atleast", Pred::VersionAtleast, 1),
    ("version_before", Pred::VersionBefore, 1),
    ("openssl_version_atleast", Pred::OsslAtleast, 1),
    ("openssl_version_before", Pred::OsslBefore, 1),
    ("ssllib_name_startswith", Pred::SslLibStartsWith, 1),
];

#[derive(Debug)]
enum Kind {
    Const(bool),
    Pred(&'static str, Pred, Vec<String>),
    Paren(Expr),
}

#[derive(Debug)]
struct Term {
    neg: bool,
    kind: Kind,
}

/// OR of ANDs of terms.
#[derive(Debug)]
struct Expr(Vec<Vec<Term>>);

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

fn blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// C `isspace`, which `strtol` skips.
fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// C `strtol(s, &end, base)`: the bytes consumed (0: no conversion) and the value,
/// saturated to i64 as glibc does.
fn strtol(s: &[u8], base0: bool) -> (usize, i64) {
    let mut i = 0;
    while i < s.len() && c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let mut radix = 10;
    if base0 && s.get(i) == Some(&b'0') {
        if matches!(s.get(i + 1), Some(b'x' | b'X'))
            && s.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
        {
            radix = 16;
            i += 2;
        } else {
            radix = 8;
        }
    }
    let start = i;
    let mut v: i128 = 0;
    while let Some(d) = s.get(i).and_then(|&c| char::from(c).to_digit(radix)) {
        v = (v * i128::from(radix) + i128::from(d)).min(i128::from(i64::MAX) + 1);
        i += 1;
    }
    if i == start {
        return (0, 0);
    }
    let v = if neg { -v } else { v };
    (
        i,
        v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
    )
}

impl<'a> Parser<'a> {
    fn skip_blanks(&mut self) {
        while self.pos < self.s.len() && blank(self.s[self.pos]) {
            self.pos += 1;
        }
    }

    fn rest(&self, from: usize) -> &'a str {
        self.text.get(from..).unwrap_or("")
    }

    fn err(&self, at: usize, msg: String) -> ExprError {
        ExprError { at, msg }
    }

    /// `None`: nothing to parse here (end of text).
    fn expr(&mut self, depth: usize) -> Result<Option<Expr>, ExprError> {
        let mut ors = Vec::new();
        loop {
            let start = self.pos;
            let Some(and) = self.and(depth)? else {
                if ors.is_empty() {
                    return Ok(None);
                }
                let msg = format!("unparsable conditional expression '{}'", self.text);
                return Err(self.err(start, msg));
            };
            ors.push(and);
            self.skip_blanks();
            if !self.s[self.pos..].starts_with(b"||") {
                return Ok(Some(Expr(ors)));
            }
            self.pos += 2;
            self.skip_blanks();
        }
    }

    fn and(&mut self, depth: usize) -> Result<Option<Vec<Term>>, ExprError> {
        let mut terms = Vec::new();
        loop {
            let start = self.pos;
            let Some(term) = self.term(depth)? else {
                if terms.is_empty() && start >= self.s.len() {
                    return Ok(None);
                }
                let msg = format!(
                    "unparsable conditional sub-expression '{}'",
                    self.rest(start)
                );
                return Err(self.err(start, msg));
            };
            terms.push(term);
            self.skip_blanks();
            if !self.s[self.pos..].starts_with(b"&&") {
                return Ok(Some(terms));
            }
            self.pos += 2;
            self.skip_blanks();
        }
    }

    fn term(&mut self, depth: usize) -> Result<Option<Term>, ExprError> {
        self.skip_blanks();
        let start = self.pos;
        if start >= self.s.len() {
            return Ok(None);
        }
        let unparsable = |p: &Self| {
            let msg = format!("unparsable conditional expression '{}'", p.rest(start));
            p.err(start, msg)
        };
        // HAProxy's recursion budget: each nesting level takes three (expression, AND, term).
        if depth < 3 {
            return Err(unparsable(self));
        }
        let mut neg = false;
        while self.s.get(self.pos) == Some(&b'!') {
            neg = !neg;
            self.pos += 1;
            self.skip_blanks();
        }
        let (used, val) = strtol(&self.s[self.pos..], true);
        if used > 0 {
            self.pos += used;
            return Ok(Some(Term {
                neg,
                kind: Kind::Const(val != 0),
            }));
        }
        if self.s.get(self.pos) == Some(&b'(') {
            self.pos += 1;
            self.skip_blanks();
            let Some(inner) = self.expr(depth - 3)? else {
                return Err(unparsable(self));
            };
            self.skip_blanks();
            if self.s.get(self.pos) != Some(&b')') {
                let msg = format!(
                    "expected ')' after conditional expression '{}'",
                    self.rest(start)
                );
                return Err(self.err(start, msg));
            }
            self.pos += 1;
            self.skip_blanks();
            return Ok(Some(Term {
                neg,
                kind: Kind::Paren(inner),
            }));
        }
        let word_len = self.s[self.pos..]
            .iter()
            .position(|&c| c == b' ' || c == b'(')
            .unwrap_or(self.s.len() - self.pos);
        let word = self.text.get(self.pos..self.pos + word_len).unwrap_or("");
        let Some(&(name, pred, nargs)) = PREDICATES.iter().find(|(n, _, _)| *n == word) else {
            return Err(unparsable(self));
        };
        self.pos += word_len;
        let args = self.args(name, nargs)?;
        Ok(Some(Term {
            neg,
            kind: Kind::Pred(name, pred, args),
        }))
    }

    /// A predicate's argument list: none (one empty argument) without `(`.
    fn args(&mut self, name: &str, nargs: usize) -> Result<Vec<String>, ExprError> {
        let mut args = vec![String::new()];
        if self.s.get(self.pos) == Some(&b'(') {
            self.pos += 1;
            let mut quote: Option<u8> = None;
            let mut cur = Vec::new();
            loop {
                let Some(&c) = self.s.get(self.pos) else {
                    let msg = format!("expected ')' in argument {} of predicate '{name}' used in conditional expression", args.len());
                    return Err(self.err(self.pos, msg));
                };
                match (quote, c) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), c) => cur.push(c),
                    (None, b'"' | b'\'') => quote = Some(c),
                    (None, b',') => {
                        if let Some(last) = args.last_mut() {
                            *last = String::from_utf8_lossy(&std::mem::take(&mut cur)).into_owned();
                        }
                        if args.len() == nargs {
                            let msg = format!("expected ')' before '{}' in argument {nargs} of predicate '{name}' used in conditional expression", self.rest(self.pos));
                            return Err(self.err(self.pos, msg));
                        }
                        args.push(String::new());
                    }
                    (None, b')') => {
                        if let Some(last) = args.last_mut() {
                            *last = String::from_utf8_lossy(&cur).into_owned();
                        }
                        self.pos += 1;
                        break;
                    }
                    (None, c) => cur.push(c),
                }
                self.pos += 1;
            }
        }
        if args.len() < nargs {
            let msg = format!(
                "missing arguments (got {}/{nargs}), type 'string' expected in argument {} of predicate '{name}' used in conditional expression",
                args.len(),
                args.len() + 1
            );
            return Err(self.err(self.pos, msg));
        }
        Ok(args)
    }
}

/// HAProxy's version vector: 4 numbers, the tag (1 dev, 2 rc/pre, 3 release), the tag's
/// number and the commit count; `None` when HAProxy cannot parse it.
fn split_version(v: &str) -> Option<[u32; 7]> {
    let s = v.as_bytes();
    let mut out = [0, 0, 0, 0, 3, 0, 0];
    if s.is_empty() {
        return None;
    }
    let mut p = 0;
    let mut tag_at = None;
    for (i, slot) in out.iter_mut().take(4).enumerate() {
        let (used, val) = strtol(&s[p..], false);
        *slot = val as u32; // C's long to unsigned int
        let end = p + used;
        match s.get(end) {
            None => return Some(out),
            Some(b'-') => {
                tag_at = Some(end + 1);
                break;
            }
            Some(b'.') if i < 3 => p = end + 1,
            _ => return None,
        }
    }
    let mut p = tag_at?;
    let rest = &s[p..];
    if !rest.first().is_some_and(u8::is_ascii_digit) {
        let tag = if rest.starts_with(b"dev") {
            Some((1, 3))
        } else if rest.starts_with(b"rc") {
            Some((2, 2))
        } else if rest.starts_with(b"pre") {
            Some((2, 3))
        } else {
            None
        };
        if let Some((rank, len)) = tag {
            out[4] = rank;
            p += len;
            let (used, val) = strtol(&s[p..], false);
            out[5] = val as u32;
            match s.get(p + used) {
                None => return Some(out),
                Some(b'-') => p += used + 1,
                _ => return None,
            }
        }
    }
    // The commit count: after the last '-', or the whole rest; 0 unless all digits.
    let rest = &s[p..];
    let commit = match rest.iter().rposition(|&c| c == b'-') {
        Some(i) if i + 1 == rest.len() => return None,
        Some(i) => &rest[i + 1..],
        None => rest,
    };
    let (used, val) = strtol(commit, false);
    out[6] = if used == commit.len() { val as u32 } else { 0 };
    Some(out)
}

/// `Some(ordering of fulcrum's version against V)`, `None` when V does not parse.
fn compare_version(v: &str) -> Option<std::cmp::Ordering> {
    let ours = split_version(HAPROXY_VERSION)?;
    Some(ours.cmp(&split_version(v)?))
}

fn eval_pred(
    pred: Pred,
    name: &str,
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<bool, String> {
    let a = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    Ok(match pred {
        Pred::Defined => {
            let n = a(0);
            !n.is_empty() && !n.contains(['=', '\0']) && env(n).is_some()
        }
        Pred::Feature => FEATURES.contains(&a(0)),
        Pred::Streq => a(0) == a(1),
        Pred::Strneq => a(0) != a(1),
        // As HAProxy: a version that does not parse is "at least" and not "before".
        Pred::VersionAtleast => compare_version(a(0)).is_none_or(|o| o.is_ge()),
        Pred::VersionBefore => compare_version(a(0)).is_some_and(|o| o.is_lt()),
        Pred::SslLibStartsWith => SSL_LIBRARY.starts_with(a(0)),
        Pred::OsslAtleast | Pred::OsslBefore => {
            return Err(format!("'{name}' has no answer: fulcrum's TLS library is rustls, not OpenSSL (refused as by HAProxy built without OpenSSL; feature(OPENSSL) and version_atleast() answer)"))
        }
    })
}

fn eval_expr(e: &Expr, env: &dyn Fn(&str) -> Option<String>) -> Result<bool, String> {
    for and in &e.0 {
        let mut all = true;
        for t in and {
            let v = match &t.kind {
                Kind::Const(b) => *b,
                Kind::Pred(name, p, args) => eval_pred(*p, name, args, env)?,
                Kind::Paren(inner) => eval_expr(inner, env)?,
            };
            if v == t.neg {
                all = false;
                break;
            }
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Parses and evaluates the text of a `.if`/`.elif` condition (its words joined by one
/// space, as HAProxy joins them). Empty text is false.
pub fn evaluate(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<bool, ExprError> {
    if text.is_empty() {
        return Ok(false);
    }
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    let Some(expr) = p.expr(MAX_DEPTH)? else {
        return Err(ExprError {
            at: 0,
            msg: format!("unparsable conditional expression '{text}'"),
        });
    };
    p.skip_blanks();
    if let Some(&c) = p.s.get(p.pos) {
        return Err(ExprError {
            at: p.pos,
            msg: format!(
                "unexpected character '{}' at the end of conditional expression '{text}'",
                char::from(c)
            ),
        });
    }
    eval_expr(&expr, env).map_err(|msg| ExprError { at: 0, msg })
}

#[cfg(test)]
#[path = "cond_expr_tests.rs"]
mod tests;
