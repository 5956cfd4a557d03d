//! Tells a keepalived file from a HAProxy file by its content, as `fulcrum run -f` must.
//!
//! The first significant keyword decides: HAProxy files start sections with `global`,
//! `defaults`, `frontend`, `backend`, `listen` (and a few others); keepalived files use
//! brace blocks such as `global_defs {`, `vrrp_instance X {`, and may start with keepalived's
//! `$NAME=VALUE` parameters or `@ID` conditional lines. Comments (`#`, `!`) are skipped.

use crate::model::Dialect;

const HAPROXY_SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "api",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "fcgi-app",
    "cluster",
];

pub fn detect(text: &str) -> Dialect {
    let mut braces_seen = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        if trimmed.starts_with('@') || (trimmed.starts_with('$') && trimmed.contains('=')) {
            return Dialect::Keepalived;
        }
        let first = trimmed
            .split(|c: char| c.is_whitespace() || c == '{')
            .next()
            .unwrap_or("");
        if HAPROXY_SECTIONS.contains(&first) && !trimmed.contains('{') {
            return Dialect::Haproxy;
        }
        if trimmed.contains('{') {
            braces_seen = true;
        }
        if braces_seen || first.contains('_') || first == "include" {
            return Dialect::Keepalived;
        }
    }
    // Nothing decisive (empty or only comments): HAProxy, whose empty file is valid.
    Dialect::Haproxy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_them_apart() {
        assert_eq!(detect("global\n  daemon\n"), Dialect::Haproxy);
        assert_eq!(detect("# c\nfrontend x\n bind :80\n"), Dialect::Haproxy);
        assert_eq!(detect("! c\nglobal_defs {\n}\n"), Dialect::Keepalived);
        assert_eq!(detect("vrrp_instance VI_1 {\n}\n"), Dialect::Keepalived);
        assert_eq!(
            detect("include /etc/keepalived/*.conf\n"),
            Dialect::Keepalived
        );
        assert_eq!(detect(""), Dialect::Haproxy);
        assert_eq!(
            detect("$IF=eth0\nvrrp_instance VI_1 {\n}\n"),
            Dialect::Keepalived
        );
        assert_eq!(detect("@node1 global_defs {\n}\n"), Dialect::Keepalived);
    }
}
