//! HTTP_GET/SSL_GET `url { path status_code digest virtualhost regex regex_no_match
//! regex_options regex_min_offset regex_max_offset }`. A regex is checked here (the `regex`
//! crate's syntax): one that does not compile is an error at its line.

use super::args;
use super::lexer::Stmt;
use crate::diagnostics::Diagnostics;
use crate::model::CheckUrl;

const URL_KNOWN: &[&str] = &[
    "path",
    "status_code",
    "digest",
    "virtualhost",
    "regex",
    "regex_no_match",
    "regex_options",
    "regex_min_offset",
    "regex_max_offset",
];
const URL_UNSUPPORTED: &[&str] = &["regex_stack"];
/// keepalived's `regex_options` that the `regex` crate has as flags.
const REGEX_OPTIONS: &[(&str, char)] = &[
    ("caseless", 'i'),
    ("multiline", 'm'),
    ("dotall", 's'),
    ("extended", 'x'),
    ("ungreedy", 'U'),
];

pub fn parse(stmt: &Stmt, d: &mut Diagnostics) -> Option<CheckUrl> {
    let body = args::block(stmt, d)?;
    let mut u = CheckUrl::default();
    let mut path = None;
    let mut options = String::new();
    for kw in body {
        match kw.keyword() {
            "path" => path = args::one(kw, d).map(|w| w.text.clone()),
            "status_code" => {
                args::no_block(kw, d);
                if kw.args().is_empty() {
                    d.error(kw.span(), "'status_code' expects a code such as 200 or a range such as 200-299, found nothing");
                }
                for w in kw.args() {
                    status_codes(&w.text, &mut u.status_code)
                        .unwrap_or_else(|m| d.error(&w.span, m));
                }
            }
            "digest" => {
                if let Some(w) = args::one(kw, d) {
                    if w.text.len() == 32 && w.text.chars().all(|c| c.is_ascii_hexdigit()) {
                        u.digest = Some(w.text.to_ascii_lowercase());
                    } else {
                        d.error(
                            &w.span,
                            format!(
                                "digest expects 32 hex digits (an MD5 from genhash), found '{}'",
                                w.text
                            ),
                        );
                    }
                }
            }
            "virtualhost" => u.virtualhost = args::one(kw, d).map(|w| w.text.clone()),
            "regex" => {
                args::no_block(kw, d);
                // keepalived joins the words of the line into one pattern
                let text: Vec<&str> = kw.args().iter().map(|w| w.text.as_str()).collect();
                if text.is_empty() {
                    d.error(kw.span(), "'regex' expects a pattern, found nothing");
                } else {
                    u.regex = Some(text.join(" "));
                }
            }
            "regex_no_match" => {
                args::flag(kw, d);
                u.regex_no_match = true;
            }
            "regex_options" => {
                args::no_block(kw, d);
                for w in kw.args() {
                    match REGEX_OPTIONS.iter().find(|(n, _)| *n == w.text) {
                        Some((_, flag)) => options.push(*flag),
                        None => d.error(
                            &w.span,
                            format!(
                                "regex_options '{}' is not supported (fulcrum has: caseless multiline dotall extended ungreedy)",
                                w.text
                            ),
                        ),
                    }
                }
            }
            "regex_min_offset" | "regex_max_offset" => {
                if let Some(v) =
                    args::one(kw, d).and_then(|w| args::u32_in(w, kw.keyword(), 0, u32::MAX, d))
                {
                    let v = v as usize;
                    if kw.keyword() == "regex_min_offset" {
                        u.regex_min_offset = Some(v);
                    } else {
                        u.regex_max_offset = Some(v);
                    }
                }
            }
            _ => args::unknown(kw, "url", URL_KNOWN, URL_UNSUPPORTED, d),
        }
    }
    if let Some(re) = &mut u.regex {
        if !options.is_empty() {
            *re = format!("(?{options}){re}");
        }
        if let Err(e) = regex::bytes::Regex::new(re) {
            d.error(stmt.span(), format!("url regex does not compile: {e}"));
        }
    } else if u.regex_no_match || !options.is_empty() {
        d.error(stmt.span(), "url has regex options but no 'regex'");
    }
    match path {
        Some(p) => {
            u.path = p;
            Some(u)
        }
        None => {
            d.error(
                stmt.span(),
                "url has no 'path': expected e.g. 'path /health'",
            );
            None
        }
    }
}

/// `200` or `200-299`, HTTP codes 100..599.
fn status_codes(text: &str, out: &mut Vec<u16>) -> Result<(), String> {
    let bad = || {
        format!("status_code expects a code 100..599 or a range such as 200-299, found '{text}'")
    };
    let (lo, hi) = match text.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let v = text.parse::<u16>().map_err(|_| bad())?;
            (v, v)
        }
    };
    if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) || lo > hi {
        return Err(bad());
    }
    out.extend(lo..=hi);
    Ok(())
}
