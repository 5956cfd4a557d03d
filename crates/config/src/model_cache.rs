//! The model of HAProxy's small object cache (`cache NAME` sections) and of `monitor-uri` /
//! `monitor fail` (a frontend answering health probes itself).

use crate::diagnostics::Span;
use crate::model::Condition;
use serde::Serialize;

/// A `cache NAME` section (HAProxy 2.6 section 6.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheSection {
    pub name: String,
    pub span: Span,
    /// `total-max-size` in bytes (written in megabytes; mandatory).
    pub total_max_size: u64,
    /// `max-object-size` in bytes (default: a 256th of `total-max-size`).
    pub max_object_size: u64,
    /// `max-age` in seconds (default 60): the longest an object stays.
    pub max_age: u32,
    /// `process-vary on|off` (default off: a response with `Vary` is never stored; on: one
    /// object per `Accept-Encoding`/`Referer` variant, see the proxy's `cache_vary`).
    pub process_vary: bool,
    /// `max-secondary-entries` (default 10; used with `process-vary on`).
    pub max_secondary_entries: u32,
}

impl CacheSection {
    pub fn new(name: String, span: Span) -> CacheSection {
        CacheSection {
            name,
            span,
            total_max_size: 0,
            max_object_size: 0,
            max_age: 60,
            process_vary: false,
            max_secondary_entries: 10,
        }
    }
}

/// `monitor fail if|unless COND`: the monitor URI answers 503 when the condition holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorFail {
    pub span: Span,
    pub condition: Condition,
}
