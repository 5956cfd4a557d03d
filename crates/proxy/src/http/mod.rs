//! HTTP/1 mode: message heads, bodies, rules, generated responses, and the session that
//! forwards requests as a sequence of named phases (see `session.rs`).

pub mod body;
pub mod compress;
pub mod errors;
pub mod headers;
pub mod message;
pub mod originalto;
pub mod persist;
pub mod policy;
pub mod rules;
pub mod sample_env;
pub mod session;
