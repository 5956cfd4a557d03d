//! Session persistence, pure: HAProxy's `cookie` (insert/rewrite/prefix and all options) and
//! stick tables (`stick-table` + `stick on`), as functions from header views and the current
//! time to decisions and header edits. No I/O, no clock: the forward path calls these.
//!
//! Header views are plain slices of `(name, value)` byte pairs in message order; edits refer
//! to those positions, so the caller applies them to whatever representation it keeps
//! ([`apply_edits`] does it for a `Vec` and shows the order: replacements, removals from the
//! end, then appends).

pub mod cache;
pub mod cookie;
pub mod cookie_date;
pub mod stick;
#[cfg(test)]
mod stick_replication_tests;
pub mod stick_sample;
pub mod track;
pub mod track_data;

/// One change to a message's header list, by position in the view that was passed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    Replace { index: usize, value: String },
    Remove { index: usize },
    Append { name: &'static str, value: String },
}

/// A header view: `(name, value)` in message order.
pub type Headers<'a> = [(&'a [u8], &'a [u8])];

/// Applies `edits` to an owned header list (tests, and a reference for the proxy).
pub fn apply_edits(headers: &mut Vec<(String, String)>, edits: &[HeaderEdit]) {
    for e in edits {
        if let HeaderEdit::Replace { index, value } = e {
            if let Some(h) = headers.get_mut(*index) {
                h.1 = value.clone();
            }
        }
    }
    let mut removals: Vec<usize> = edits
        .iter()
        .filter_map(|e| {
            if let HeaderEdit::Remove { index } = e {
                Some(*index)
            } else {
                None
            }
        })
        .collect();
    removals.sort_unstable();
    removals.dedup();
    for i in removals.into_iter().rev() {
        if i < headers.len() {
            headers.remove(i);
        }
    }
    for e in edits {
        if let HeaderEdit::Append { name, value } = e {
            headers.push(((*name).to_string(), value.clone()));
        }
    }
}
