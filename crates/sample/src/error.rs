//! Compile errors: what was found, what was expected, and the column it was found at.

/// An expression or log-format string that does not compile. `col` is 1-based, counted in
/// characters of the text handed to the compiler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {col}: {msg}")]
pub struct CompileError {
    pub col: usize,
    pub msg: String,
}

impl CompileError {
    pub fn at(col: usize, msg: impl Into<String>) -> Self {
        CompileError {
            col,
            msg: msg.into(),
        }
    }

    /// The same error, its column moved by `by` (when the text was part of a longer one).
    pub fn shifted(mut self, by: usize) -> Self {
        self.col += by;
        self
    }
}
