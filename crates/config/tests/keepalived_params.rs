//! keepalived's advanced configuration: `@ID` conditional lines and `$NAME` parameters,
//! including the multi-line definitions of keepalived.conf(5).

mod keepalived_support;

use fulcrum_config::keepalived::Parser;
use fulcrum_config::{Diagnostics, Severity};
use keepalived_support::*;

fn parse_as(
    id: &str,
    text: &str,
) -> (
    fulcrum_config::model::Keepalived,
    Vec<fulcrum_config::Diagnostic>,
) {
    let mut d = Diagnostics::new();
    let mut p = Parser::with_config_id(id);
    p.parse_file("/nonexistent-fulcrum-dir/p.conf", text, &mut d);
    let k = p.finish(&mut d);
    (k, d.into_vec())
}

const CONDITIONAL: &str = "global_defs {\n    @main   router_id main_router\n    @backup router_id backup_router\n}\nvrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n    @main priority 200\n    @^main priority 100\n    unicast_peer {\n        @^main    192.0.2.4\n        @^backup  192.0.2.5\n    }\n    virtual_ipaddress {\n        192.0.2.10\n    }\n}\n";

#[test]
fn conditional_lines_follow_the_config_id() {
    let (k, d) = parse_as("main", CONDITIONAL);
    assert!(d.is_empty(), "{}", show(&d));
    assert_eq!(k.global_defs.router_id.as_deref(), Some("main_router"));
    assert_eq!(k.vrrp_instances[0].priority, 200);
    assert_eq!(
        k.vrrp_instances[0]
            .unicast_peer
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>(),
        vec!["192.0.2.5"]
    );
    let (k, _) = parse_as("backup", CONDITIONAL);
    assert_eq!(k.global_defs.router_id.as_deref(), Some("backup_router"));
    assert_eq!(k.vrrp_instances[0].priority, 100);
    assert_eq!(
        k.vrrp_instances[0]
            .unicast_peer
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>(),
        vec!["192.0.2.4"]
    );
    let (k, _) = parse_as("other", CONDITIONAL);
    assert_eq!(k.global_defs.router_id, None);
    assert_eq!(k.vrrp_instances[0].unicast_peer.len(), 2);
}

#[test]
fn parameters_substitute_recursively_at_use_time() {
    let text = "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\nvrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n    virtual_ipaddress {\n        ${ADDRESS_BASE}.100/32\n        $ADDRESS_BASE_SUB=10\n        ${ADDRESS_BASE}.100/32\n    }\n    notify_master \"/bin/echo $UNDEFINED ${_HASH}\"\n}\n";
    let (k, d) = parse_as("x", text);
    assert!(
        warnings(&d)
            .iter()
            .all(|w| w.message.contains("enable_script_security")),
        "{}",
        show(&d)
    );
    let vips: Vec<String> = k.vrrp_instances[0]
        .virtual_ipaddress
        .iter()
        .map(|v| v.address.to_string())
        .collect();
    assert_eq!(vips, vec!["10.2.0.100", "10.2.10.100"]);
    assert_eq!(
        k.vrrp_instances[0].notify_master.as_deref(),
        Some("/bin/echo $UNDEFINED #")
    );
}

#[test]
fn multi_line_parameter_expands_to_blocks_with_the_using_line() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keepalived_cases/valid-params-conditional.conf");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let (k, d) = parse_as("somehost", &text);
    assert!(d.is_empty(), "{}", show(&d));
    let got: Vec<(String, u8, u8, String)> = k
        .vrrp_instances
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                i.virtual_router_id,
                i.priority,
                i.virtual_ipaddress[0].address.to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("VI_1".into(), 91, 121, "10.99.7.1".into()),
            ("VI_2".into(), 92, 122, "10.99.7.2".into())
        ]
    );
    assert_eq!(
        k.vrrp_instances[1].span.line, 21,
        "expanded lines carry the line that used the parameter"
    );
    let (_, d) = parse_as("fulcrum_never_host", &text);
    let lines: Vec<u32> = errors(&d)
        .iter()
        .filter(|e| e.message.contains("found 300"))
        .map(|e| e.span.line)
        .collect();
    assert_eq!(lines, vec![19, 21], "{}", show(&d));
}

#[test]
fn self_referencing_parameters_are_bounded() {
    let (_, d) = parse_as("x", "$A=${A}${A}\nrouter ${A}\n");
    assert_eq!(
        find(&d, Severity::Error, "parameter substitution")
            .span
            .line,
        2
    );
    let (_, d) = parse_as("x", "$L= \\\n$L \\\n$L\n$L\n");
    assert!(
        errors(&d).iter().any(|e| e.message.contains("parameter")),
        "{}",
        show(&d)
    );
}
