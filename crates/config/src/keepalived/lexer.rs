//! Turns keepalived.conf text into a tree of statements and `{ }` blocks.
//!
//! Owns what keepalived does before any keyword has a meaning: comments (`#` or `!` anywhere on
//! a line, except inside double quotes), quoted strings with spaces, `{`/`}` as tokens of their
//! own wherever they appear (same line, next line, or sharing a line with content), and
//! `include PATTERN` (glob; relative to the including file's directory; loop- and depth-guarded).
//! Conditional lines and `$NAME` parameters are rewritten first (see `params`).
//! Every word keeps the file and line it was written on, so an included file's problems are
//! reported against that file. It never interprets keywords.

use super::params::{Line, Params};
use super::tree::{build_tree, Tok};
pub use super::tree::{describe, Block, Stmt, Word};
use crate::diagnostics::{Diagnostics, Span};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How deep `include` may nest; keepalived has no limit short of running out of file handles.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// How many files one parse may pull in through `include`, all patterns together.
pub const MAX_INCLUDED_FILES: usize = 1024;

/// Lines one file may expand to through parameter substitution, beyond its own.
pub const MAX_EXPANDED_LINES: usize = 100_000;

/// Reads one file (and everything it includes) into top-level statements. `config_id` selects
/// `@ID` conditional lines (keepalived's `-i`).
pub fn parse_tree(
    path: &str,
    text: &str,
    config_id: Option<String>,
    diags: &mut Diagnostics,
) -> Vec<Stmt> {
    let params = Params::new(config_id);
    let mut lx = Lexer {
        toks: Vec::new(),
        next_line: 0,
        stack: Vec::new(),
        included: 0,
        params,
    };
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
    lx.stack.push(canonical);
    lx.lex_text(path, text, diags);
    build_tree(lx.toks, diags)
}

struct Lexer {
    toks: Vec<Tok>,
    next_line: u64,
    /// Files being read, outermost first (canonical paths), to refuse include loops.
    stack: Vec<PathBuf>,
    included: usize,
    /// `$NAME=VALUE` definitions, shared by a file and what it includes.
    params: Params,
}

impl Lexer {
    fn lex_text(&mut self, path: &str, text: &str, diags: &mut Diagnostics) {
        let file: Arc<str> = Arc::from(path);
        let pwd = Path::new(path)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        // Lines still to read with their line number; an expanded multi-line parameter puts
        // its lines back at the front, numbered as the line that used it.
        let mut queue: VecDeque<(String, u32)> = text
            .lines()
            .enumerate()
            .map(|(i, l)| (l.to_string(), u32::try_from(i + 1).unwrap_or(u32::MAX)))
            .collect();
        let mut budget = queue.len() + MAX_EXPANDED_LINES;
        while let Some((raw, line_no)) = queue.pop_front() {
            let span = Span {
                file: file.clone(),
                line: line_no,
            };
            if budget == 0 {
                diags.error(&span, format!("parameter expansion produces more than {MAX_EXPANDED_LINES} extra lines; the rest of the file is not read"));
                return;
            }
            budget -= 1;
            let stripped = strip_comment(&raw);
            let body = match self.params.classify(stripped) {
                Line::Skipped => continue,
                Line::Define {
                    name,
                    value,
                    continued,
                } => {
                    let name = name.to_string();
                    let mut value = value.to_string();
                    let mut more = continued;
                    while more {
                        let Some((next, _)) = queue.pop_front() else {
                            break;
                        };
                        let piece = strip_comment(&next).trim();
                        let (piece, cont) = match piece.strip_suffix('\\') {
                            Some(p) => (p.trim_end(), true),
                            None => (piece, false),
                        };
                        if !value.is_empty() {
                            value.push('\n');
                        }
                        value.push_str(piece);
                        more = cont;
                    }
                    self.params.define(&name, value);
                    continue;
                }
                Line::Text(body) => body,
            };
            let expanded = match self.params.substitute(body, &pwd) {
                Ok(e) => e,
                Err(msg) => {
                    diags.error(&span, msg);
                    continue;
                }
            };
            if expanded.contains('\n') {
                for l in expanded.lines().rev() {
                    queue.push_front((l.to_string(), line_no));
                }
                continue;
            }
            let line_id = self.next_line;
            self.next_line += 1;
            let toks = split_line(&expanded, &span, diags);
            if let Some(Tok::Word { word, .. }) = toks.first() {
                if is_include_keyword(word) {
                    self.include(path, &toks[1..], &span, diags);
                    continue;
                }
            }
            self.toks.extend(toks.into_iter().map(|t| match t {
                Tok::Word { word, .. } => Tok::Word {
                    word,
                    line: line_id,
                },
                other => other,
            }));
        }
    }

    fn include(&mut self, including: &str, args: &[Tok], span: &Span, diags: &mut Diagnostics) {
        let words: Vec<&Word> = args
            .iter()
            .filter_map(|t| match t {
                Tok::Word { word, .. } => Some(word),
                _ => None,
            })
            .collect();
        let Some(pattern) = words.first() else {
            diags.error(
                span,
                "include expects a file name or glob pattern, found nothing",
            );
            return;
        };
        if words.len() > 1 {
            diags.warning(
                span,
                "include takes one pattern; the rest of the line is ignored",
            );
        }
        // A brace after the pattern still opens or closes a block.
        let braces: Vec<Tok> = args
            .iter()
            .filter(|t| !matches!(t, Tok::Word { .. }))
            .cloned()
            .collect();
        self.include_pattern(including, pattern, span, diags);
        self.toks.extend(braces);
    }

    fn include_pattern(
        &mut self,
        including: &str,
        pattern: &Word,
        span: &Span,
        diags: &mut Diagnostics,
    ) {
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            diags.error(
                span,
                format!(
                    "include of '{}' nests deeper than {MAX_INCLUDE_DEPTH} files; not read",
                    pattern.text
                ),
            );
            return;
        }
        let base = Path::new(including).parent().unwrap_or(Path::new(""));
        // The including file's directory is a literal path: escape any glob characters in it.
        let full_str = if Path::new(&pattern.text).is_absolute() || base.as_os_str().is_empty() {
            pattern.text.clone()
        } else {
            let dir = glob::Pattern::escape(&base.display().to_string());
            format!("{}/{}", dir.trim_end_matches('/'), pattern.text)
        };
        let paths = match glob::glob(&full_str) {
            Ok(p) => p,
            Err(e) => {
                diags.error(
                    span,
                    format!(
                        "include pattern '{}' is not a valid glob: {e}",
                        pattern.text
                    ),
                );
                return;
            }
        };
        let mut matched = 0usize;
        for entry in paths {
            let file = match entry {
                Ok(f) => f,
                Err(e) => {
                    diags.warning(span, format!("include '{}': cannot read {e}", pattern.text));
                    continue;
                }
            };
            if file.is_dir() {
                continue;
            }
            matched += 1;
            if self.included >= MAX_INCLUDED_FILES {
                diags.error(
                    span,
                    format!(
                        "more than {MAX_INCLUDED_FILES} included files; '{}' not read",
                        file.display()
                    ),
                );
                return;
            }
            self.included += 1;
            let canonical = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if self.stack.contains(&canonical) {
                diags.error(
                    span,
                    format!(
                        "include loop: '{}' is already being read; not included again",
                        file.display()
                    ),
                );
                continue;
            }
            let name = file.display().to_string();
            match std::fs::read(&file) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    self.stack.push(canonical);
                    self.lex_text(&name, &text, diags);
                    self.stack.pop();
                }
                Err(e) => diags.error(span, format!("cannot read included file '{name}': {e}")),
            }
        }
        if matched == 0 {
            // keepalived's plain `include` does not fail on this either ("Config files missing").
            diags.warning(
                span,
                format!(
                    "include '{}' matched no file ({full_str}); nothing included",
                    pattern.text
                ),
            );
        }
    }
}

/// `include` and its checking variants (`includer`, `includem`, ...), read the same way here.
fn is_include_keyword(w: &Word) -> bool {
    !w.quoted
        && matches!(
            w.text.as_str(),
            "include" | "includer" | "includem" | "includew" | "includeb" | "includea"
        )
}

/// The line without its comment: from an unquoted `#` or `!` to the end, as keepalived.
/// A `"` opens a quoted string where a word starts, as in `split_line`.
fn strip_comment(raw: &str) -> &str {
    let mut in_quote = false;
    let mut word_start = true;
    for (i, c) in raw.char_indices() {
        if in_quote {
            in_quote = c != '"';
            word_start = !in_quote;
            continue;
        }
        match c {
            '#' | '!' => return &raw[..i],
            '"' if word_start => in_quote = true,
            c => word_start = c.is_whitespace() || c == '{' || c == '}',
        }
    }
    raw
}

/// Splits one comment-free line into words and braces. `line` ids are filled by the caller.
fn split_line(raw: &str, span: &Span, diags: &mut Diagnostics) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut chars = raw.chars().peekable();
    let mut cur = String::new();
    let flush = |cur: &mut String, toks: &mut Vec<Tok>| {
        if !cur.is_empty() {
            let word = Word {
                text: std::mem::take(cur),
                span: span.clone(),
                quoted: false,
            };
            toks.push(Tok::Word { word, line: 0 });
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' => {
                flush(&mut cur, &mut toks);
                toks.push(if c == '{' {
                    Tok::Open(span.clone())
                } else {
                    Tok::Close(span.clone())
                });
            }
            '"' if cur.is_empty() => {
                let mut s = String::new();
                let mut closed = false;
                for q in chars.by_ref() {
                    if q == '"' {
                        closed = true;
                        break;
                    }
                    s.push(q);
                }
                if !closed {
                    diags.error(
                        span,
                        "unterminated quoted string: expected a closing '\"' on the same line",
                    );
                }
                let word = Word {
                    text: s,
                    span: span.clone(),
                    quoted: true,
                };
                toks.push(Tok::Word { word, line: 0 });
            }
            c if c.is_whitespace() => flush(&mut cur, &mut toks),
            '"' => {
                // keepalived: "Unmatched quote" (a quote only opens a string at a word start).
                diags.error(
                    span,
                    "unmatched '\"' inside a word: a quoted string must start at a word boundary",
                );
                cur.push('"');
            }
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut toks);
    toks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> (Vec<Stmt>, Diagnostics) {
        let mut d = Diagnostics::new();
        let t = parse_tree("/nonexistent-dir/t.conf", text, Some("main".into()), &mut d);
        (t, d)
    }

    #[test]
    fn braces_same_line_next_line_and_shared() {
        let (t, d) = tree("a x {\n b 1\n}\nc\n{\n d }\ne { f g }\n");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].keyword(), "a");
        assert_eq!(t[0].block.as_ref().map(|b| b.stmts.len()), Some(1));
        assert_eq!(t[1].block.as_ref().map(|b| b.stmts[0].keyword()), Some("d"));
        let e = t[2].block.as_ref().map(|b| b.stmts[0].words.len());
        assert_eq!(e, Some(2));
    }

    #[test]
    fn comments_and_quotes() {
        let (t, d) = tree("s \"/bin/a -b # c\" # x\nt 1!y\n! z\n# w\n");
        assert!(d.is_empty());
        assert_eq!(t[0].words[1].text, "/bin/a -b # c");
        assert!(t[0].words[1].quoted);
        assert_eq!(t[1].words[1].text, "1");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn unbalanced_reports_opening_line() {
        let (_, d) = tree("a {\n b {\n }\n");
        let e: Vec<_> = d.errors().collect();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].span.line, 1);
        let (_, d) = tree("a\n}\n");
        assert_eq!(d.errors().next().map(|e| e.span.line), Some(2));
    }
}
