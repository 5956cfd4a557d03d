//! Properties of the parsers on arbitrary input: never panic; `--dump` output is deterministic.

use fulcrum_config::{load_sources, Source};
use proptest::prelude::*;

/// Lines built from real keywords, numbers, addresses and junk, to reach deep into the parsers.
fn haproxy_line() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "bind",
        "server",
        "default-server",
        "mode",
        "http",
        "tcp",
        "balance",
        "roundrobin",
        "hdr(host)",
        "random(2)",
        "uri",
        "acl",
        "use_backend",
        "default_backend",
        "if",
        "unless",
        "!",
        "||",
        "{",
        "}",
        "path_beg",
        "-i",
        "-m",
        "timeout",
        "connect",
        "client",
        "5s",
        "10x",
        "option",
        "httpchk",
        "forwardfor",
        "except",
        "header",
        "cookie",
        "insert",
        "indirect",
        "nocache",
        "http-request",
        "http-response",
        "set-header",
        "redirect",
        "scheme",
        "code",
        "return",
        "status",
        "string",
        "content-type",
        "deny",
        "stick-table",
        "type",
        "ip",
        "size",
        "stick",
        "on",
        "src",
        "check",
        "inter",
        "weight",
        "256",
        "-1",
        ":80",
        "*:81-82",
        "[::1]:8",
        "1.2.3.4:99999",
        "\"quoted ${X}\"",
        "'single'",
        "\\",
        "#",
        "log",
        "global",
        "local0",
        "stats",
        "socket",
        "errorfile",
        "503",
        "from",
        "x",
        "",
        "\u{0}",
        "é",
        "999999999999999999999",
    ]);
    prop::collection::vec(words, 0..8).prop_map(|w| w.join(" "))
}

fn keepalived_line() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "global_defs",
        "vrrp_instance",
        "vrrp_script",
        "vrrp_sync_group",
        "virtual_server",
        "real_server",
        "HTTP_GET",
        "TCP_CHECK",
        "MISC_CHECK",
        "url",
        "path",
        "status_code",
        "{",
        "}",
        "state",
        "MASTER",
        "BACKUP",
        "interface",
        "eth0",
        "virtual_router_id",
        "51",
        "300",
        "priority",
        "advert_int",
        "0.1",
        "authentication",
        "auth_type",
        "PASS",
        "AH",
        "auth_pass",
        "virtual_ipaddress",
        "10.0.0.1/24",
        "dev",
        "label",
        "unicast_peer",
        "track_script",
        "weight",
        "-20",
        "include",
        "/nonexistent/*.conf",
        "!",
        "#",
        "\"q\"",
        "nb_get_retry",
        "nat_mask",
        "lb_algo",
        "lb_kind",
        "DR",
        "fwmark",
        "80",
        "x",
        "",
    ]);
    prop::collection::vec(words, 0..8).prop_map(|w| w.join(" "))
}

fn dump(text: &str) -> String {
    let l = load_sources(&[Source {
        name: "p.cfg",
        text,
    }]);
    let model = serde_json::to_string(&l.config).unwrap_or_default();
    let diags: Vec<String> = l.diagnostics.iter().map(|d| d.to_string()).collect();
    format!("{model}\n{}", diags.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn haproxy_parser_never_panics(lines in prop::collection::vec(haproxy_line(), 0..30)) {
        let _ = dump(&lines.join("\n"));
    }

    #[test]
    fn keepalived_parser_never_panics(lines in prop::collection::vec(keepalived_line(), 0..30)) {
        let text = format!("global_defs {{\n}}\n{}", lines.join("\n"));
        let _ = dump(&text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = dump(&text);
    }

    #[test]
    fn dump_is_deterministic(lines in prop::collection::vec(haproxy_line(), 0..30)) {
        let text = lines.join("\n");
        prop_assert_eq!(dump(&text), dump(&text));
    }
}
