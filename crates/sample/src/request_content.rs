//! Which request fetches read the request's content — its path, headers, cookies, body and
//! buffer — which HAProxy 2.6 no longer offers to `http-response`/`http-after-response`
//! rules: derived from each keyword's `needs`, less the request facts HAProxy keeps.

/// The HTTP request's facts as a whole, not its content (haproxy's `SMP_USE_HRQHP` fetches):
/// response rules may read them, health checks may not (`check_scope`).
pub const REQUEST_FACTS: &[&str] = &[
    "method",
    "req.proto_http",
    "http_first_req",
    "capture.req.hdr",
    "capture.req.method",
    "capture.req.uri",
];

/// Request fetches HAProxy 2.6 still offers to response rules (measured with `haproxy -c`):
/// the request's facts it keeps (its method, the captures, the unique id, whether it is the
/// connection's first), the stream's own (its backend, its priority) and `wait_end`. Every
/// other fetch that needs the request reads its content, which is gone by then.
pub const KEPT_FOR_RESPONSE: &[&str] = &[
    REQUEST_FACTS[0],
    REQUEST_FACTS[1],
    REQUEST_FACTS[2],
    REQUEST_FACTS[3],
    REQUEST_FACTS[4],
    REQUEST_FACTS[5],
    "unique-id",
    "be_name",
    "be_id",
    "prio_class",
    "prio_offset",
    "wait_end",
];

impl crate::fetch::FetchKw {
    /// Whether it reads the request's content (path, headers, cookies, body, buffer), which
    /// HAProxy 2.6 no longer offers to `http-response`/`http-after-response` rules.
    pub fn reads_request_content(&self) -> bool {
        self.needs == crate::fetch::Needs::Request && !KEPT_FOR_RESPONSE.contains(&self.name)
    }
}
