//! `http-check expect [!] status|rstatus|string|rstring PATTERN`, and the default expectation
//! of `option httpchk` ("responses 2xx and 3xx are considered valid"), judged on one response
//! with HAProxy's outcomes: a status mismatch is "Layer7 wrong status" with the code and the
//! reason phrase as info; a content mismatch is "Layer7 invalid response" with info "HTTP
//! content check did not match" (both as haproxy 2.6 logs them). Pure.

use crate::probe::response::CheckResponse;
use crate::status::{CheckOutcome, CheckStatus};
use crate::HealthError;
use fulcrum_config::model::{ExpectKind, HttpCheckExpect, MatchMethod};
use regex::bytes::Regex;
use std::time::Duration;

/// A compiled regex compared by its source, so a check's definition can be compared on reload.
#[derive(Debug, Clone)]
pub struct Re(pub Regex);

impl Re {
    pub fn new(pattern: &str) -> Result<Re, regex::Error> {
        Regex::new(pattern).map(Re)
    }
}

impl PartialEq for Re {
    fn eq(&self, other: &Re) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}
impl Eq for Re {}

impl std::ops::Deref for Re {
    type Target = Regex;
    fn deref(&self) -> &Regex {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// No `http-check expect`: 2xx and 3xx pass.
    Default,
    Status {
        negate: bool,
        ranges: Vec<(u16, u16)>,
    },
    Rstatus {
        negate: bool,
        re: Re,
    },
    String {
        negate: bool,
        pattern: Vec<u8>,
    },
    Rstring {
        negate: bool,
        re: Re,
    },
    /// `string-lf`: the body pattern is a log-format string, rendered when the rule runs
    /// ([`Expect::resolve`]).
    StringLf {
        negate: bool,
        format: crate::probe::check_sample::Lf,
    },
    /// `hdr`/`fhdr` with `name-lf`/`value-lf`: the patterns rendered when the rule runs
    /// ([`Expect::resolve`] makes a [`Expect::Header`] of them).
    HeaderLf {
        negate: bool,
        full: bool,
        name: Pattern,
        value: Option<Pattern>,
    },
    /// `hdr` (`full: false`: each comma-separated value) or `fhdr` (the whole value).
    Header {
        negate: bool,
        full: bool,
        name: Text,
        value: Option<Text>,
    },
}

/// A header name or value pattern of a `name-lf`/`value-lf` rule: fixed, or a log-format
/// string with its match method (never `reg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Fixed(Text),
    Lf(MatchMethod, crate::probe::check_sample::Lf),
}

impl Pattern {
    fn text(&self, env: &crate::probe::check_sample::CheckEnv<'_>, lower: bool) -> Text {
        match self {
            Pattern::Fixed(t) => t.clone(),
            Pattern::Lf(m, lf) => {
                let s = String::from_utf8_lossy(&lf.render(env)).into_owned();
                // not `reg` (refused with log-format strings): cannot fail
                Text::new(*m, &s, lower).unwrap_or(Text::Str(s))
            }
        }
    }
}

/// A header name or value matcher: `-m str|beg|end|sub|reg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    Str(String),
    Beg(String),
    End(String),
    Sub(String),
    Reg(Re),
}

impl Text {
    fn new(m: MatchMethod, s: &str, case_insensitive: bool) -> Result<Text, regex::Error> {
        let s = if case_insensitive {
            s.to_ascii_lowercase()
        } else {
            s.to_string()
        };
        Ok(match m {
            MatchMethod::Str => Text::Str(s),
            MatchMethod::Beg => Text::Beg(s),
            MatchMethod::End => Text::End(s),
            MatchMethod::Sub => Text::Sub(s),
            MatchMethod::Reg if case_insensitive => Text::Reg(Re::new(&format!("(?i){s}"))?),
            MatchMethod::Reg => Text::Reg(Re::new(&s)?),
        })
    }

    fn matches(&self, v: &str) -> bool {
        match self {
            Text::Str(p) => v == p,
            Text::Beg(p) => v.starts_with(p.as_str()),
            Text::End(p) => v.ends_with(p.as_str()),
            Text::Sub(p) => v.contains(p.as_str()),
            Text::Reg(re) => re.is_match(v.as_bytes()),
        }
    }
}

impl Expect {
    pub fn from_model(e: Option<&HttpCheckExpect>) -> Result<Self, HealthError> {
        let Some(e) = e else {
            return Ok(Expect::Default);
        };
        let bad = |detail: String| HealthError::Config {
            what: format!("http-check expect at {}", e.span),
            detail,
        };
        Ok(match e.kind {
            ExpectKind::Status => Expect::Status {
                negate: e.negate,
                ranges: parse_status_list(&e.pattern).map_err(bad)?,
            },
            ExpectKind::Rstatus => Expect::Rstatus {
                negate: e.negate,
                re: Re::new(&e.pattern).map_err(|err| bad(format!("invalid regex: {err}")))?,
            },
            ExpectKind::String => Expect::String {
                negate: e.negate,
                pattern: e.pattern.as_bytes().to_vec(),
            },
            ExpectKind::Rstring => Expect::Rstring {
                negate: e.negate,
                re: Re::new(&e.pattern).map_err(|err| bad(format!("invalid regex: {err}")))?,
            },
            ExpectKind::StringLf => Expect::StringLf {
                negate: e.negate,
                format: crate::probe::check_sample::Lf::new(&e.pattern).map_err(bad)?,
            },
            ExpectKind::Hdr | ExpectKind::Fhdr => {
                let h = e
                    .header
                    .as_ref()
                    .ok_or_else(|| bad("a header name is needed".into()))?;
                let re_err = |err: regex::Error| bad(format!("invalid regex: {err}"));
                if h.name_lf || h.value_lf {
                    let lf = |text: &str| {
                        crate::probe::check_sample::Lf::new(text).map_err(|e| bad(e.to_string()))
                    };
                    let name = if h.name_lf {
                        Pattern::Lf(h.name_method, lf(&h.name)?)
                    } else {
                        Pattern::Fixed(Text::new(h.name_method, &h.name, true).map_err(re_err)?)
                    };
                    let value = match &h.value {
                        None => None,
                        Some((m, v)) if h.value_lf => Some(Pattern::Lf(*m, lf(v)?)),
                        Some((m, v)) => {
                            Some(Pattern::Fixed(Text::new(*m, v, false).map_err(re_err)?))
                        }
                    };
                    return Ok(Expect::HeaderLf {
                        negate: e.negate,
                        full: e.kind == ExpectKind::Fhdr,
                        name,
                        value,
                    });
                }
                Expect::Header {
                    negate: e.negate,
                    full: e.kind == ExpectKind::Fhdr,
                    // header names compare without case, values as written
                    name: Text::new(h.name_method, &h.name, true).map_err(re_err)?,
                    value: h
                        .value
                        .as_ref()
                        .map(|(m, v)| Text::new(*m, v, false))
                        .transpose()
                        .map_err(re_err)?,
                }
            }
        })
    }

    /// A `string-lf` rule with its pattern rendered over `env`; any other rule as it is.
    pub fn resolve(
        &self,
        env: &crate::probe::check_sample::CheckEnv<'_>,
    ) -> std::borrow::Cow<'_, Expect> {
        match self {
            Expect::StringLf { negate, format } => std::borrow::Cow::Owned(Expect::String {
                negate: *negate,
                pattern: format.render(env),
            }),
            Expect::HeaderLf {
                negate,
                full,
                name,
                value,
            } => std::borrow::Cow::Owned(Expect::Header {
                negate: *negate,
                full: *full,
                name: name.text(env, true),
                value: value.as_ref().map(|v| v.text(env, false)),
            }),
            other => std::borrow::Cow::Borrowed(other),
        }
    }

    /// Whether the rule reads the body (`min-recv` applies to these).
    pub fn reads_body(&self) -> bool {
        matches!(
            self,
            Expect::String { .. } | Expect::Rstring { .. } | Expect::StringLf { .. }
        )
    }

    pub fn evaluate(&self, resp: &CheckResponse, elapsed: Duration) -> CheckOutcome {
        let code = resp.status;
        let status_result = |matched: bool| {
            if matched {
                CheckOutcome::new(CheckStatus::L7Ok, elapsed).with_code(code)
            } else {
                CheckOutcome::new(CheckStatus::L7Status, elapsed)
                    .with_code(code)
                    .with_info(resp.reason.clone())
            }
        };
        let content_result = |found: bool, negate: bool| {
            if found != negate {
                CheckOutcome::new(CheckStatus::L7Ok, elapsed).with_code(code)
            } else if negate {
                CheckOutcome::new(CheckStatus::L7Response, elapsed)
                    .with_info("HTTP check matched unwanted content")
            } else {
                CheckOutcome::new(CheckStatus::L7Response, elapsed)
                    .with_info("HTTP content check did not match")
            }
        };
        match self {
            Expect::Default => status_result((200..400).contains(&code)),
            Expect::Status { negate, ranges } => {
                status_result(ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code)) != *negate)
            }
            Expect::Rstatus { negate, re } => {
                status_result(re.is_match(code.to_string().as_bytes()) != *negate)
            }
            Expect::String { negate, pattern } => {
                let found = pattern.is_empty()
                    || resp
                        .body
                        .windows(pattern.len())
                        .any(|w| w == pattern.as_slice());
                content_result(found, *negate)
            }
            Expect::Rstring { negate, re } => content_result(re.is_match(&resp.body), *negate),
            // rendered by `resolve` first; unrendered, the pattern is empty (always found)
            Expect::StringLf { negate, .. } => content_result(true, *negate),
            Expect::HeaderLf { negate, .. } => status_result(!*negate),
            Expect::Header {
                negate,
                full,
                name,
                value,
            } => {
                let found = resp
                    .headers
                    .iter()
                    .filter(|(n, _)| name.matches(&n.to_ascii_lowercase()))
                    .any(|(_, v)| match value {
                        None => true,
                        Some(want) if *full => want.matches(v),
                        Some(want) => v.split(',').any(|part| want.matches(part.trim())),
                    });
                // as haproxy 2.6: a header mismatch reads like a wrong status
                status_result(found != *negate)
            }
        }
    }
}

/// `200`, `200,301-302`, `2xx`-free HAProxy status lists.
pub fn parse_status_list(s: &str) -> Result<Vec<(u16, u16)>, String> {
    s.split(',')
        .map(|part| {
            let part = part.trim();
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            let lo: u16 = lo
                .trim()
                .parse()
                .map_err(|_| format!("expected a status code or range, found {part:?}"))?;
            let hi: u16 = hi
                .trim()
                .parse()
                .map_err(|_| format!("expected a status code or range, found {part:?}"))?;
            if lo > hi {
                return Err(format!("empty range {part:?}"));
            }
            Ok((lo, hi))
        })
        .collect()
}

#[cfg(test)]
#[path = "expect_tests.rs"]
mod tests;
