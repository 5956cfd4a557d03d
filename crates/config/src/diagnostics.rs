//! Where a config item came from (`Span`) and what is wrong with it (`Diagnostic`).
//!
//! Every parser and the validator report through a `Diagnostics` collector so that one run of
//! `fulcrum check` shows every problem at once, each as `FILE:LINE: error: message`.
//! This module formats and collects; it never decides what is an error.

use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// A place in a config file: the file as the user named it and a 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    pub file: Arc<str>,
    pub line: u32,
}

impl Span {
    pub fn new(file: impl Into<Arc<str>>, line: u32) -> Self {
        Span {
            file: file.into(),
            line,
        }
    }
}

impl Default for Span {
    fn default() -> Self {
        Span {
            file: Arc::from("<builtin>"),
            line: 0,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// `.diag "MSG"`: shown only in HAProxy's diagnostic mode (`haproxy -dD`).
    Diag,
    /// `.notice "MSG"`: always shown, never a problem.
    Notice,
    Warning,
    Error,
}

static SHOW_DIAG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Diagnostic mode (`haproxy -dD`): `.diag` messages are kept from now on in this process.
pub fn show_diag(on: bool) {
    SHOW_DIAG.store(on, std::sync::atomic::Ordering::Relaxed);
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Diag => "diag",
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}: {}: {}", self.span, sev, self.message)
    }
}

/// Collects diagnostics in the order they were found.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn error(&mut self, span: &Span, message: impl Into<String>) {
        self.push(Severity::Error, span, message.into());
    }

    pub fn warning(&mut self, span: &Span, message: impl Into<String>) {
        self.push(Severity::Warning, span, message.into());
    }

    /// A `.notice` message (printed, not counted as a warning).
    pub fn notice(&mut self, span: &Span, message: impl Into<String>) {
        self.push(Severity::Notice, span, message.into());
    }

    /// A `.diag` message: kept only in diagnostic mode ([`show_diag`]).
    pub fn diag(&mut self, span: &Span, message: impl Into<String>) {
        if SHOW_DIAG.load(std::sync::atomic::Ordering::Relaxed) {
            self.push(Severity::Diag, span, message.into());
        }
    }

    fn push(&mut self, severity: Severity, span: &Span, message: String) {
        self.items.push(Diagnostic {
            severity,
            span: span.clone(),
            message,
        });
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}
