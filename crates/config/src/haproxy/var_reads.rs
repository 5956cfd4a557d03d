//! Variables read where nothing sets them: `var(txn.x)` in a rule, value, log-format or
//! check when no `set-var`/`set-var-fmt` of the configuration names `txn.x`. HAProxy starts
//! such a configuration silently and the variable is always empty there (a typo in a name
//! goes unnoticed); `fulcrum check` warns at each line that reads it. `proc.` variables are
//! left out: the runtime socket's `set var` may set them.

use crate::diagnostics::{Diagnostics, Span};
use fulcrum_sample::var_uses::Uses;
use std::collections::HashSet;

/// What the lines read so far read and set.
#[derive(Debug, Default)]
pub struct VarReads {
    reads: Vec<(Span, String, String)>,
    sets: HashSet<(String, String)>,
}

impl VarReads {
    /// Notes what the line at `span` read and set.
    pub fn line(&mut self, span: &Span, uses: Uses) {
        for (scope, name) in uses.reads {
            if scope != "proc" {
                self.reads.push((span.clone(), scope, name));
            }
        }
        self.sets.extend(uses.sets);
    }

    /// One warning per line and variable read that no line sets.
    pub fn warn(&self, diags: &mut Diagnostics) {
        let mut said = HashSet::new();
        for (span, scope, name) in &self.reads {
            let key = (scope.clone(), name.clone());
            if self.sets.contains(&key) || !said.insert((span.to_string(), key)) {
                continue;
            }
            diags.warning(
                span,
                format!("variable '{scope}.{name}' is read here but no 'set-var' of the configuration sets it: it is always empty"),
            );
        }
    }
}
