//! Conditional blocks (`.if COND` / `.elif COND` / `.else` / `.endif`) and messages
//! (`.diag`, `.notice`, `.warning`, `.alert`), as HAProxy 2.6: per file, nested, lines of
//! a false branch skipped. The condition's grammar and answers are `cond_expr.rs`'s
//! (`!`, `&&`, `||`, parentheses, HAProxy 2.6's predicates). A message takes one
//! argument (quoted when it has spaces): `.alert` is an error, `.warning` a warning,
//! `.notice` always printed, `.diag` printed in diagnostic mode only (`haproxy -dD`).

use crate::diagnostics::{Diagnostics, Span};

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

/// The condition of a `.if`/`.elif` line: its words joined by one space, as HAProxy 2.6
/// joins them, parsed and evaluated by `cond_expr`.
fn eval(kw: &str, words: &[String], env: &dyn Fn(&str) -> Option<String>) -> Result<bool, String> {
    super::cond_expr::evaluate(&words.join(" "), env)
        .map_err(|e| format!("{} in '{kw}' at position {}", e.msg, e.at + 1))
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
                    eval(kw, rest, env).unwrap_or_else(|e| {
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
                    eval(kw, rest, env).unwrap_or_else(|e| {
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
