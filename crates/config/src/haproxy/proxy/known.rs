//! Which proxy keywords fulcrum knows and where each may appear: the keywords it runs, those it
//! reads but does not act on (warned), those refused because ignoring them would show, and
//! those HAProxy 2.x removed (with their replacements).

/// Where a keyword may appear.
#[derive(Clone, Copy)]
pub(super) enum Cap {
    /// frontend, listen (and defaults when `defaults_ok`).
    Frontend {
        defaults_ok: bool,
    },
    /// backend, listen (and defaults when `defaults_ok`).
    Backend {
        defaults_ok: bool,
    },
    /// Any proxy, not defaults.
    ProxyOnly,
    /// Any proxy and a named `defaults` section (rules and their ACLs, HAProxy 2.5+).
    ProxyOrNamedDefaults,
    Any,
}

/// Real HAProxy proxy keywords fulcrum reads but does not act on (yet): accepted with a warning.
pub(super) const IGNORED: &[&str] = &[
    "description",
    "hash-type",
    "hash-balance-factor",
    "email-alert",
    "load-server-state-from-file",
    "backlog",
    "max-keep-alive-queue",
    "bind-process",
    "max-session-srv-conns",
    "guid",
    "log-steps",
];

/// Real HAProxy proxy keywords fulcrum does not run yet whose absence a client, a server or a
/// log reader would see (answers, routing, persistence, headers, log lines, a disabled
/// proxy serving): refused, never ignored.
pub(super) const NOT_YET: &[&str] = &["redirect", "persist", "filter"];

pub(super) const KNOWN: &[&str] = &[
    "mode",
    "log-tag",
    "log-format-sd",
    "bind",
    "default_backend",
    "use_backend",
    "acl",
    "balance",
    "server",
    "default-server",
    "cookie",
    "timeout",
    "retries",
    "maxconn",
    "fullconn",
    "option",
    "no",
    "http-check",
    "tcp-check",
    "external-check",
    "http-request",
    "http-response",
    "tcp-request",
    "tcp-response",
    "log-format",
    "error-log-format",
    "unique-id-header",
    "http-after-response",
    "capture",
    "stick-table",
    "stick",
    "log",
    "errorfile",
    "stats",
    "source",
    "monitor-uri",
    "monitor",
    "http-reuse",
];

/// Keywords HAProxy 2.x removed: still an error there, so an error here, with the replacement.
pub(super) const REMOVED: &[(&str, &str)] = &[
    ("contimeout", "timeout connect"),
    ("clitimeout", "timeout client"),
    ("srvtimeout", "timeout server"),
    ("reqadd", "http-request add-header"),
    ("reqrep", "http-request replace-header"),
    ("reqdel", "http-request del-header"),
    ("rspadd", "http-response add-header"),
    ("rspdel", "http-response del-header"),
    ("block", "http-request deny"),
    ("redisp", "option redispatch"),
];
