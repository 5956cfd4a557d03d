//! Variables read where nothing sets them: `var(txn.x)` in a rule, value, log-format or
//! check when no `set-var`/`set-var-fmt` of the configuration names `txn.x`. HAProxy starts
//! such a configuration silently and the variable is always empty there (a typo in a name
//! goes unnoticed); `fulcrum check` warns at each line that reads it. `proc.` variables are
//! left out: the runtime socket's `set var` may set them. The warning gives the column where
//! the line names the variable (issue 13's "says where, with the column").
//!
//! Also a `txn.`/`req.` variable read by a rule placed before every rule that sets it: when
//! all its sets are later lines of the same rule list (same section, same `http-request`,
//! `http-response`, `http-after-response` or `tcp-request|tcp-response` phase), it is empty
//! where it is read (a `sess.` variable may hold a previous request's value: not flagged).

use crate::diagnostics::{Diagnostics, Span};
use fulcrum_sample::var_uses::Uses;
use std::collections::{HashMap, HashSet};

/// Where a line sits: its section (counted as sections open), its rule list if it is a rule
/// (`http-request`, `tcp-request content`...), and its order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    section: u32,
    list: Option<String>,
    seq: u32,
}

#[derive(Debug)]
struct Read {
    span: Span,
    col: Option<usize>,
    scope: String,
    name: String,
    place: Place,
}

/// What the lines read so far read and set.
#[derive(Debug, Default)]
pub struct VarReads {
    reads: Vec<Read>,
    sets: HashMap<(String, String), Vec<(Span, Place)>>,
    section: u32,
    seq: u32,
}

impl VarReads {
    /// A section opened: rule order does not carry across sections.
    pub fn section(&mut self) {
        self.section += 1;
    }

    /// Notes what the line at `span` (its text `raw`, its words `words`) read and set.
    pub fn line(&mut self, span: &Span, raw: &str, words: &[String], uses: Uses) {
        self.seq += 1;
        let place = Place {
            section: self.section,
            list: rule_list(words),
            seq: self.seq,
        };
        for (scope, name) in uses.reads {
            if scope != "proc" {
                let col = column(raw, &format!("{scope}.{name}"));
                self.reads.push(Read {
                    span: span.clone(),
                    col,
                    scope,
                    name,
                    place: place.clone(),
                });
            }
        }
        for key in uses.sets {
            self.sets
                .entry(key)
                .or_default()
                .push((span.clone(), place.clone()));
        }
    }

    /// One warning per line and variable read that no line sets, or that only later rules of
    /// the same list set.
    pub fn warn(&self, diags: &mut Diagnostics) {
        let mut said = HashSet::new();
        for r in &self.reads {
            let key = (r.scope.clone(), r.name.clone());
            if !said.insert((r.span.to_string(), key.clone())) {
                continue;
            }
            let at = r.col.map(|c| format!("column {c}: ")).unwrap_or_default();
            let (scope, name) = (&r.scope, &r.name);
            match self.sets.get(&key) {
                None => diags.warning(
                    &r.span,
                    format!("{at}variable '{scope}.{name}' is read here but no 'set-var' of the configuration sets it: it is always empty"),
                ),
                Some(sets) if matches!(scope.as_str(), "txn" | "req") && r.place.list.is_some() => {
                    let only_later = sets.iter().all(|(_, p)| {
                        p.section == r.place.section && p.list == r.place.list && p.seq > r.place.seq
                    });
                    if let (true, Some((first, _))) = (only_later, sets.first()) {
                        diags.warning(
                            &r.span,
                            format!("{at}variable '{scope}.{name}' is read here but only later rules set it (first at line {}): it is empty here", first.line),
                        );
                    }
                }
                Some(_) => {}
            }
        }
    }
}

/// The rule list a line belongs to, if it is a rule: its keyword, with the phase word of
/// `tcp-request`/`tcp-response` (their phases run at different times).
fn rule_list(words: &[String]) -> Option<String> {
    match words.first().map(String::as_str)? {
        k @ ("http-request" | "http-response" | "http-after-response") => Some(k.to_string()),
        k @ ("tcp-request" | "tcp-response") => {
            Some(format!("{k} {}", words.get(1).map_or("", String::as_str)))
        }
        _ => None,
    }
}

/// The 1-based column (in characters) where `raw` names `var` as an argument: after `(` or
/// `,`, and ending at `)` or `,` (so `txn.a` is not found inside `txn.ab`).
fn column(raw: &str, var: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = raw[from..].find(var).map(|i| i + from) {
        let before = raw[..i].chars().next_back();
        let after = raw[i + var.len()..].chars().next();
        if matches!(before, Some('(' | ',')) && matches!(after, Some(')' | ',')) {
            return Some(raw[..i].chars().count() + 1);
        }
        from = i + var.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_column_is_where_the_line_names_the_variable_as_an_argument() {
        let raw = "  http-request set-header X %[var(txn.ab)]%[var(txn.a),lower]";
        assert_eq!(
            column(raw, "txn.a"),
            Some(raw.find("txn.a)").map_or(0, |i| i + 1))
        );
        assert_eq!(column(raw, "txn.ab"), Some(35));
        assert_eq!(column("  acl x var(txn.zz) -m found", "txn.zz"), Some(13));
        assert_eq!(column("no such thing", "txn.a"), None);
    }

    #[test]
    fn the_warning_carries_the_column() {
        let mut v = VarReads::default();
        let span = Span::new("f.cfg", 7);
        let uses = Uses {
            reads: vec![("txn".into(), "nothere".into())],
            sets: vec![],
        };
        let raw = "  http-request set-header X %[var(txn.nothere)]";
        v.line(&span, raw, &words(raw), uses);
        let mut d = Diagnostics::default();
        v.warn(&mut d);
        let w: Vec<String> = d.warnings().map(|w| w.to_string()).collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("f.cfg:7") && w[0].contains("column 35: variable 'txn.nothere'"),
            "{w:?}"
        );
    }

    fn words(raw: &str) -> Vec<String> {
        raw.split_whitespace().map(str::to_string).collect()
    }

    type TestLine<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)]);

    fn warnings(lines: &[TestLine<'_>]) -> Vec<String> {
        let mut v = VarReads::default();
        for (i, (raw, reads, sets)) in lines.iter().enumerate() {
            if raw.starts_with("frontend") || raw.starts_with("backend") {
                v.section();
            }
            let own = |l: &[(&str, &str)]| {
                l.iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect()
            };
            let uses = Uses {
                reads: own(reads),
                sets: own(sets),
            };
            v.line(&Span::new("f.cfg", i as u32 + 1), raw, &words(raw), uses);
        }
        let mut d = Diagnostics::default();
        v.warn(&mut d);
        d.warnings().map(|w| w.to_string()).collect()
    }

    #[test]
    fn a_read_before_every_set_of_the_same_list_is_flagged() {
        let w = warnings(&[
            ("frontend f", &[], &[]),
            (
                "http-request set-header X %[var(txn.a)]",
                &[("txn", "a")],
                &[],
            ),
            ("http-request set-var(txn.a) str(1)", &[], &[("txn", "a")]),
        ]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("f.cfg:2") && w[0].contains("only later rules set it (first at line 3)"),
            "{w:?}"
        );
    }

    #[test]
    fn reads_that_may_see_a_value_are_not_flagged() {
        // set earlier; set in another section (a frontend's rules run before its backend's);
        // set by another phase; a session variable (kept across requests); an acl line.
        let w = warnings(&[
            ("frontend f", &[], &[]),
            ("http-request set-var(txn.a) str(1)", &[], &[("txn", "a")]),
            (
                "http-request set-header X %[var(txn.a)]",
                &[("txn", "a")],
                &[],
            ),
            (
                "http-request set-header Y %[var(txn.b)]",
                &[("txn", "b")],
                &[],
            ),
            (
                "http-response set-header Z %[var(txn.c)]",
                &[("txn", "c")],
                &[],
            ),
            ("http-request set-var(txn.c) str(1)", &[], &[("txn", "c")]),
            (
                "http-request set-header S %[var(sess.s)]",
                &[("sess", "s")],
                &[],
            ),
            ("http-request set-var(sess.s) str(1)", &[], &[("sess", "s")]),
            ("acl x var(txn.d) -m found", &[("txn", "d")], &[]),
            ("http-request set-var(txn.d) str(1)", &[], &[("txn", "d")]),
            ("backend b", &[], &[]),
            ("http-request set-var(txn.b) str(1)", &[], &[("txn", "b")]),
        ]);
        assert!(w.is_empty(), "{w:?}");
    }
}
