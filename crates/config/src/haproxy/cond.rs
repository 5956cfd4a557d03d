//! Conditional blocks (`.if COND` / `.elif COND` / `.else` / `.endif`) and messages
//! (`.diag`, `.notice`, `.warning`, `.alert`), as HAProxy 2.6: per file, nested, lines of
//! a false branch skipped. Conditions: `defined(NAME)`, `feature(NAME)`, `streq(A,B)`,
//! `strneq(A,B)`, `version_atleast(V)`, `version_before(V)`, or an integer (0: false).
//! fulcrum answers as HAProxy 2.6 without the optional features. A message takes one
//! argument (quoted when it has spaces): `.alert` is an error, `.warning` a warning,
//! `.notice` always printed, `.diag` printed in diagnostic mode only (`haproxy -dD`).

use crate::diagnostics::{Diagnostics, Span};

/// The version fulcrum answers `version_atleast`/`version_before` with.
const VERSION: &[u32] = &[2, 6];

#[derive(Debug)]
struct Level {
    /// Lines of the enclosing level are read.
    parent: bool,
    /// A branch of this `.if` was taken.
    taken: bool,
    /// The current branch's lines are read.
    active: bool,
    seen_else: bool,
    span: Span,
}

/// The open blocks of one file.
#[derive(Debug, Default)]
pub struct Blocks {
    stack: Vec<Level>,
}

fn version(v: &str) -> Vec<u32> {
    v.split(['.', '-']).map_while(|p| p.parse().ok()).collect()
}

fn eval(words: &[String], env: &dyn Fn(&str) -> Option<String>) -> Result<bool, String> {
    let text = words.join(" ");
    let text = text.trim();
    if text.is_empty() {
        return Ok(false);
    }
    if let Ok(n) = text.parse::<i64>() {
        return Ok(n != 0);
    }
    let (func, args) = text
        .split_once('(')
        .and_then(|(f, a)| Some((f.trim(), a.strip_suffix(')')?)))
        .ok_or_else(|| format!("unparsable conditional expression '{text}'"))?;
    let args: Vec<&str> = args.split(',').map(str::trim).collect();
    let arg = |i: usize| args.get(i).copied().unwrap_or("");
    Ok(match func {
        "defined" => env(arg(0)).is_some(),
        "feature" => false,
        "streq" => arg(0) == arg(1),
        "strneq" => arg(0) != arg(1),
        "version_atleast" => VERSION >= version(arg(0)).as_slice(),
        "version_before" => VERSION < version(arg(0)).as_slice(),
        other => return Err(format!("unknown conditional predicate '{other}'")),
    })
}

impl Blocks {
    /// Whether lines are read at this point.
    pub fn active(&self) -> bool {
        self.stack.last().is_none_or(|l| l.active)
    }

    /// Handles a line starting with `.`: true when it was a block directive or a message
    /// (nothing else to do with it).
    pub fn directive(
        &mut self,
        words: &[String],
        span: &Span,
        env: &dyn Fn(&str) -> Option<String>,
        diags: &mut Diagnostics,
    ) -> bool {
        let kw = words.first().map(String::as_str).unwrap_or("");
        let rest = &words[1.min(words.len())..];
        match kw {
            ".if" => {
                let parent = self.active();
                let cond = if parent {
                    eval(rest, env).unwrap_or_else(|e| {
                        diags.error(span, e);
                        false
                    })
                } else {
                    false
                };
                self.stack.push(Level {
                    parent,
                    taken: cond,
                    active: parent && cond,
                    seen_else: false,
                    span: span.clone(),
                });
            }
            ".elif" | ".else" => {
                let Some(top) = self.stack.last_mut() else {
                    diags.error(span, format!("'{kw}' without a matching '.if'"));
                    return true;
                };
                if top.seen_else {
                    diags.error(span, format!("'{kw}' after '.else'"));
                    return true;
                }
                let cond = if kw == ".else" {
                    top.seen_else = true;
                    true
                } else if top.parent && !top.taken {
                    eval(rest, env).unwrap_or_else(|e| {
                        diags.error(span, e);
                        false
                    })
                } else {
                    false
                };
                top.active = top.parent && !top.taken && cond;
                top.taken |= top.active;
            }
            ".endif" => {
                if self.stack.pop().is_none() {
                    diags.error(span, "'.endif' without a matching '.if'");
                }
            }
            ".diag" | ".notice" | ".warning" | ".alert" => {
                if self.active() {
                    // One argument, as HAProxy 2.6 (a message with spaces is quoted).
                    if let Some(extra) = rest.get(1) {
                        diags.error(span, format!("Unexpected argument '{extra}' for '{kw}'. Use quotes if the message should contain spaces."));
                        return true;
                    }
                    let msg = rest.first().cloned().unwrap_or_default();
                    match kw {
                        ".alert" => diags.error(span, msg),
                        ".warning" => diags.warning(span, msg),
                        ".notice" => diags.notice(span, msg),
                        _ => diags.diag(span, msg),
                    }
                }
            }
            _ => return false,
        }
        true
    }

    /// At the end of a file: every block must be closed.
    pub fn finish(&mut self, diags: &mut Diagnostics) {
        for l in self.stack.drain(..) {
            diags.error(&l.span, "'.if' is not closed by '.endif' in this file");
        }
    }
}
