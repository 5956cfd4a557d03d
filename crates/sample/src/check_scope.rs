//! What a health check's expressions cannot read: HAProxy 2.6 refuses these fetches in
//! `tcp-check` and `http-check` sample expressions and log-format strings (a check has no
//! client connection, no frontend and no request), naming what they need in its words
//! ("... because it needs 'request buffer' which is not available here"). Measured with
//! `haproxy -c` on every fetch fulcrum knows (`haproxy_check_formats_crosscheck.rs`).

use crate::fetch::{FetchKw, Needs};

/// The frontend's and its listener's fetches.
const FRONTEND: &[&str] = &["fe_name", "fe_id", "so_name", "so_id"];

/// Fetches of the HTTP request as a whole (haproxy's "HTTP request", not its headers): the
/// request facts haproxy keeps for response rules too (its `SMP_USE_HRQHP` fetches).
const HTTP_REQUEST: &[&str] = crate::request_content::REQUEST_FACTS;

/// Request-side fetches a check may read all the same (haproxy's internal state, the
/// backend; `hdr`, `payload` and `payload_lv`, which read either channel).
const CHECKS_READ: &[&str] = &[
    "be_name",
    "be_id",
    "wait_end",
    "unique-id",
    "prio_class",
    "prio_offset",
    "hdr",
    "payload",
    "payload_lv",
];

/// What `kw` needs that a health check does not have, in haproxy's words; `None`: a check
/// may read it.
pub fn unavailable(kw: &FetchKw) -> Option<&'static str> {
    let name = kw.name;
    if FRONTEND.contains(&name) {
        return Some("frontend");
    }
    if name.starts_with("ssl_fc") || name.starts_with("ssl_c_") {
        return Some("client-side connection");
    }
    if kw.needs != Needs::Request || CHECKS_READ.contains(&name) {
        return None;
    }
    if HTTP_REQUEST.contains(&name) {
        Some("HTTP request")
    } else if kw.l6 {
        Some("request buffer")
    } else {
        Some("HTTP request headers")
    }
}
