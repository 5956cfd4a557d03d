//! Variables read where nothing sets them: `var(txn.x)` in a rule, value, log-format or
//! check when no `set-var`/`set-var-fmt` of the configuration names `txn.x`. HAProxy starts
//! such a configuration silently and the variable is always empty there (a typo in a name
//! goes unnoticed); `fulcrum check` warns at each line that reads it. `proc.` variables are
//! left out: the runtime socket's `set var` may set them. The warning gives the column where
//! the line names the variable (issue 13's "says where, with the column").

use crate::diagnostics::{Diagnostics, Span};
use fulcrum_sample::var_uses::Uses;
use std::collections::HashSet;

/// What the lines read so far read and set.
#[derive(Debug, Default)]
pub struct VarReads {
    /// (line, column of the name in the line if found, scope, name)
    reads: Vec<(Span, Option<usize>, String, String)>,
    sets: HashSet<(String, String)>,
}

impl VarReads {
    /// Notes what the line at `span` (its text `raw`) read and set.
    pub fn line(&mut self, span: &Span, raw: &str, uses: Uses) {
        for (scope, name) in uses.reads {
            if scope != "proc" {
                let col = column(raw, &format!("{scope}.{name}"));
                self.reads.push((span.clone(), col, scope, name));
            }
        }
        self.sets.extend(uses.sets);
    }

    /// One warning per line and variable read that no line sets.
    pub fn warn(&self, diags: &mut Diagnostics) {
        let mut said = HashSet::new();
        for (span, col, scope, name) in &self.reads {
            let key = (scope.clone(), name.clone());
            if self.sets.contains(&key) || !said.insert((span.to_string(), key)) {
                continue;
            }
            let at = col.map(|c| format!("column {c}: ")).unwrap_or_default();
            diags.warning(
                span,
                format!("{at}variable '{scope}.{name}' is read here but no 'set-var' of the configuration sets it: it is always empty"),
            );
        }
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
        v.line(
            &span,
            "  http-request set-header X %[var(txn.nothere)]",
            uses,
        );
        let mut d = Diagnostics::default();
        v.warn(&mut d);
        let w: Vec<String> = d.warnings().map(|w| w.to_string()).collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("f.cfg:7") && w[0].contains("column 35: variable 'txn.nothere'"),
            "{w:?}"
        );
    }
}
