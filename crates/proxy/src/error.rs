//! The proxy's errors as the binary reports them (a leaf: every layer may return them).

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A `bind` could not be opened (address in use, permission, ...).
    #[error("{0}")]
    Bind(String),
    /// The configuration cannot be run (unknown backend, unreadable errorfile, bad ACL...).
    #[error("{0}")]
    Config(String),
    /// Worker threads could not be started.
    #[error("{0}")]
    Runtime(String),
}
