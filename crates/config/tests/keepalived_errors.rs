//! Errors and warnings land on the exact FILE:LINE of the offending token, say what was found
//! and what was expected, and every problem of a file is reported (never only the first).

mod keepalived_support;

use fulcrum_config::Severity;
use keepalived_support::*;
use std::time::Duration;

#[test]
fn vrid_out_of_range_at_its_line() {
    let (_, d) = parse("vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 300\n}\n");
    let e = find(
        &d,
        Severity::Error,
        "virtual_router_id must be 1..255, found 300",
    );
    assert_eq!(
        e.to_string(),
        "/nonexistent-fulcrum-dir/test.conf:3: error: virtual_router_id must be 1..255, found 300"
    );
}

#[test]
fn misspelt_keyword_suggests_the_right_one() {
    let (_, d) = parse(&instance("    priorty 100"));
    let e = find(
        &d,
        Severity::Error,
        "unknown keyword 'priorty' in vrrp_instance VI_1",
    );
    assert!(
        e.message.contains("(did you mean 'priority'?)"),
        "{}",
        e.message
    );
    assert_eq!(e.span.line, 7);
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 0\n priority 256\n advert_int fast\n state master\n}\nvirtual_server 192.0.2.1 70000 {\n}\n";
    let (_, d) = parse(text);
    let lines: Vec<u32> = errors(&d).iter().map(|e| e.span.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 6, 8, 1], "{}", show(&d));
    assert!(show(&d).contains("priority must be 1..255, found 256"));
    assert!(show(&d).contains("state must be MASTER or BACKUP (upper case), found 'master'"));
    assert!(show(&d).contains("virtual_server port must be 1..65535, found 70000"));
}

#[test]
fn unknown_block_is_skipped_whole_with_one_error() {
    let text =
        "bogus_block X {\n  a b\n  nested {\n    c\n  }\n}\nglobal_defs {\n router_id R\n}\n";
    let (k, d) = parse(text);
    assert_eq!(d.len(), 1, "{}", show(&d));
    assert_eq!(
        find(&d, Severity::Error, "unknown keyword 'bogus_block'")
            .span
            .line,
        1
    );
    assert_eq!(k.global_defs.router_id.as_deref(), Some("R"));
}

#[test]
fn unknown_keyword_inside_a_block_keeps_the_rest() {
    let (k, d) = parse(&instance("    frobnicate 1\n    priority 120"));
    assert_eq!(errors(&d).len(), 1, "{}", show(&d));
    assert_eq!(k.vrrp_instances[0].priority, 120);
}

#[test]
fn unbalanced_brace_reported_where_the_block_opened() {
    let text = "global_defs {\n router_id R\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_ipaddress {\n  192.0.2.1\n}\n";
    let (_, d) = parse(text);
    let e = find(&d, Severity::Error, "never closed");
    assert_eq!(e.span.line, 4, "{}", show(&d));
    assert!(e.message.contains("vrrp_instance VI_1"));
}

#[test]
fn extra_closing_brace_at_its_line() {
    let (_, d) = parse("global_defs {\n router_id R\n}\n}\n");
    assert_eq!(find(&d, Severity::Error, "unexpected '}'").span.line, 4);
}

#[test]
fn unterminated_quote() {
    let (_, d) = parse("vrrp_script s {\n script \"/bin/true\n}\n");
    assert_eq!(
        find(&d, Severity::Error, "unterminated quoted string")
            .span
            .line,
        2
    );
}

#[test]
fn missing_interface_is_an_error() {
    let (_, d) = parse("vrrp_instance VI_1 {\n virtual_router_id 5\n}\n");
    assert_eq!(find(&d, Severity::Error, "has no 'interface'").span.line, 1);
}

#[test]
fn missing_virtual_router_id_is_an_error() {
    let (_, d) = parse("\nvrrp_instance VI_1 {\n interface eth0\n}\n");
    assert_eq!(
        find(&d, Severity::Error, "has no 'virtual_router_id'")
            .span
            .line,
        2
    );
}

#[test]
fn track_script_must_name_a_vrrp_script() {
    let text = format!(
        "global_defs {{\n enable_script_security\n}}\nvrrp_script chk_haproxy {{\n script /bin/true\n}}\n{}",
        instance("    track_script {\n        chk_haprox\n    }")
    );
    let (_, d) = parse(&text);
    let e = find(
        &d,
        Severity::Error,
        "track_script 'chk_haprox' in vrrp_instance VI_1 names no vrrp_script",
    );
    assert!(e.message.contains("did you mean 'chk_haproxy'"));
    assert_eq!(e.span.line, 14);
}

#[test]
fn sync_group_members_must_be_instances() {
    let text = format!(
        "{}vrrp_sync_group G {{\n group {{\n  VI_1\n  VI_9\n }}\n}}\n",
        instance("")
    );
    let (_, d) = parse(&text);
    assert_eq!(
        find(
            &d,
            Severity::Error,
            "lists 'VI_9', which is no vrrp_instance"
        )
        .span
        .line,
        12
    );
}

#[test]
fn duplicate_names_are_rejected() {
    let text = format!(
        "vrrp_script s {{\n script /bin/true\n}}\nvrrp_script s {{\n script /bin/false\n}}\n{}{}",
        instance(""),
        instance("").replace("virtual_router_id 51", "virtual_router_id 52")
    );
    let (_, d) = parse(&text);
    let e = find(
        &d,
        Severity::Error,
        "vrrp_script s is already defined at /nonexistent-fulcrum-dir/test.conf:1",
    );
    assert_eq!(e.span.line, 4);
    assert_eq!(
        find(&d, Severity::Error, "vrrp_instance VI_1 is already defined")
            .span
            .line,
        15
    );
}

#[test]
fn duplicate_interface_and_vrid_is_rejected() {
    let second = instance("").replace("VI_1", "VI_2");
    let (_, d) = parse(&format!("{}{second}", instance("")));
    let e = find(
        &d,
        Severity::Error,
        "uses virtual_router_id 51 on interface eth0, already used by vrrp_instance VI_1",
    );
    assert_eq!(e.span.line, 11);
    // Same VRID on another interface is fine.
    let other_if = second.replace("eth0", "eth1");
    let (_, d) = parse(&format!("{}{other_if}", instance("")));
    assert!(errors(&d).is_empty(), "{}", show(&d));
}

#[test]
fn priority_255_with_backup_warns() {
    let (_, d) = parse(&instance("    state BACKUP\n    priority 255"));
    assert!(errors(&d).is_empty());
    assert_eq!(
        find(&d, Severity::Warning, "priority 255 means address owner")
            .span
            .line,
        8
    );
}

#[test]
fn priority_zero_is_an_error() {
    let (_, d) = parse(&instance("    priority 0"));
    assert_eq!(
        find(&d, Severity::Error, "priority must be 1..255, found 0")
            .span
            .line,
        7
    );
}

#[test]
fn advert_int_zero_is_an_error() {
    let (_, d) = parse(&instance("    advert_int 0"));
    assert_eq!(
        find(&d, Severity::Error, "advert_int must be greater than 0")
            .span
            .line,
        7
    );
}

#[test]
fn vrrpv2_fractional_advert_int_is_rounded_with_a_warning() {
    let (k, d) = parse(&instance("    advert_int 1.6"));
    assert!(errors(&d).is_empty(), "{}", show(&d));
    let w = find(
        &d,
        Severity::Warning,
        "VRRPv2 advert_int must be a whole number of seconds",
    );
    assert!(w.message.contains("rounds it to 2s"), "{}", w.message);
    assert_eq!(w.span.line, 7);
    assert_eq!(k.vrrp_instances[0].advert_int, Duration::from_secs(2));
    let (k, _) = parse(&instance("    advert_int 0.1"));
    assert_eq!(
        k.vrrp_instances[0].advert_int,
        Duration::from_secs(1),
        "v2 never rounds below 1s"
    );
}

#[test]
fn vrrpv3_advert_int_centiseconds() {
    let (k, d) = parse(&instance("    version 3\n    advert_int 0.015"));
    assert!(errors(&d).is_empty(), "{}", show(&d));
    assert!(find(&d, Severity::Warning, "centiseconds")
        .message
        .contains("0.02"));
    assert_eq!(k.vrrp_instances[0].advert_int, Duration::from_millis(20));
    let (_, d) = parse(&instance("    version 3\n    advert_int 41"));
    assert_eq!(
        find(&d, Severity::Error, "at most 40.95 seconds").span.line,
        8
    );
}

#[test]
fn long_auth_pass_is_truncated_with_a_warning() {
    let (k, d) = parse(&instance(
        "    authentication {\n        auth_type PASS\n        auth_pass 123456789012\n    }",
    ));
    assert!(errors(&d).is_empty());
    assert_eq!(
        find(&d, Severity::Warning, "longer than 8 characters")
            .span
            .line,
        9
    );
    assert_eq!(
        k.vrrp_instances[0]
            .authentication
            .as_ref()
            .map(|a| a.auth_pass.as_str()),
        Some("12345678")
    );
}

#[test]
fn ah_with_version_3_is_an_error() {
    let (_, d) = parse(&instance(
        "    version 3\n    authentication {\n        auth_type AH\n        auth_pass x\n    }",
    ));
    assert_eq!(
        find(
            &d,
            Severity::Error,
            "auth_type AH is not available with VRRP version 3"
        )
        .span
        .line,
        8
    );
}

#[test]
fn unicast_peer_family_must_match() {
    let (_, d) = parse(&instance("    unicast_src_ip 192.0.2.1\n    unicast_peer {\n        192.0.2.2\n        2001:db8::2\n    }"));
    let e = find(&d, Severity::Error, "unicast_peer 2001:db8::2 is IPv6");
    assert_eq!(e.span.line, 10);
    assert_eq!(errors(&d).len(), 1, "{}", show(&d));
}

#[test]
fn virtual_server_without_real_server_warns() {
    let (_, d) = parse("\nvirtual_server 192.0.2.1 80 {\n protocol TCP\n}\n");
    assert!(errors(&d).is_empty());
    assert_eq!(
        find(&d, Severity::Warning, "has no real_server").span.line,
        2
    );
}

#[test]
fn ports_out_of_range() {
    let (_, d) = parse("virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 10.99.0.1 0 {\n }\n real_server 10.99.0.2 80 {\n  TCP_CHECK {\n   connect_port 65536\n  }\n }\n}\n");
    assert_eq!(
        find(
            &d,
            Severity::Error,
            "real_server port must be 1..65535, found 0"
        )
        .span
        .line,
        3
    );
    assert_eq!(
        find(
            &d,
            Severity::Error,
            "connect_port must be 1..65535, found 65536"
        )
        .span
        .line,
        7
    );
}

#[test]
fn bad_addresses_say_what_was_expected() {
    let (_, d) = parse(&instance("    unicast_src_ip 10.0.0.300\n    virtual_ipaddress_excluded {\n        10.0.0.1/33\n        eth0\n    }"));
    assert_eq!(
        find(
            &d,
            Severity::Error,
            "unicast_src_ip expects an IPv4 or IPv6 address, found '10.0.0.300'"
        )
        .span
        .line,
        7
    );
    assert_eq!(
        find(
            &d,
            Severity::Error,
            "prefix length of '10.0.0.1/33' must be 0..32"
        )
        .span
        .line,
        9
    );
    assert_eq!(
        find(
            &d,
            Severity::Error,
            "expects an address such as 192.0.2.10/24, found 'eth0'"
        )
        .span
        .line,
        10
    );
}

#[test]
fn checker_without_url_or_misc_path() {
    let (_, d) = parse("virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 10.99.0.1 80 {\n  HTTP_GET {\n   connect_timeout 3\n  }\n  MISC_CHECK {\n  }\n }\n}\n");
    assert_eq!(
        find(&d, Severity::Error, "HTTP_GET has no 'url").span.line,
        4
    );
    assert_eq!(
        find(&d, Severity::Error, "MISC_CHECK has no 'misc_path'")
            .span
            .line,
        7
    );
}

#[test]
fn keyword_needing_a_block_without_one() {
    let (_, d) = parse(&instance("    authentication PASS"));
    assert_eq!(
        find(&d, Severity::Error, "'authentication PASS' expects a block")
            .span
            .line,
        7
    );
}

#[test]
fn value_missing() {
    let (_, d) = parse(&instance("    priority"));
    assert_eq!(
        find(
            &d,
            Severity::Error,
            "'priority' expects a value, found nothing"
        )
        .span
        .line,
        7
    );
}

#[test]
fn nopreempt_with_owner_priority_and_preempt_delay_are_reset() {
    let (k, d) = parse(&instance(
        "    state BACKUP\n    priority 255\n    nopreempt",
    ));
    assert_eq!(
        find(
            &d,
            Severity::Warning,
            "nopreempt does not apply to an address owner"
        )
        .span
        .line,
        9
    );
    assert!(!k.vrrp_instances[0].nopreempt);
    let (k, d) = parse(&instance(
        "    state BACKUP\n    nopreempt\n    preempt_delay 10",
    ));
    assert_eq!(
        find(
            &d,
            Severity::Warning,
            "preempt_delay has no effect with nopreempt"
        )
        .span
        .line,
        9
    );
    assert_eq!(k.vrrp_instances[0].preempt_delay, None);
}

#[test]
fn tracking_own_interface_and_duplicates_are_ignored() {
    let text = format!(
        "global_defs {{\n enable_script_security\n}}\nvrrp_script chk {{\n script /bin/true\n}}\n{}",
        instance("    track_interface {\n        eth0\n        eth1\n        eth1 weight 3\n    }\n    track_script {\n        chk\n        chk weight 4\n    }")
    );
    let (k, d) = parse(&text);
    assert!(errors(&d).is_empty(), "{}", show(&d));
    assert_eq!(
        find(
            &d,
            Severity::Warning,
            "always tracks its own interface eth0"
        )
        .span
        .line,
        14
    );
    assert_eq!(
        find(
            &d,
            Severity::Warning,
            "track_interface eth1 is listed twice"
        )
        .span
        .line,
        16
    );
    assert_eq!(
        find(&d, Severity::Warning, "track_script 'chk' is listed twice")
            .span
            .line,
        20
    );
    let i = &k.vrrp_instances[0];
    assert_eq!(i.track_interface.len(), 1);
    assert_eq!(i.track_script.len(), 1);
    assert_eq!(i.track_script[0].weight, None);
}

#[test]
fn weighted_tracking_in_a_sync_group_is_ignored_as_keepalived() {
    let text = format!(
        "global_defs {{\n enable_script_security\n}}\nvrrp_script w {{\n script /bin/true\n weight 5\n}}\nvrrp_script z {{\n script /bin/true\n}}\n{}{}vrrp_sync_group G {{\n group {{\n  VI_1\n  VI_2\n }}\n}}\n",
        instance("    track_script {\n        w\n        z\n    }\n    track_interface {\n        eth1 weight 2\n        eth2\n    }"),
        instance("").replace("VI_1", "VI_2").replace("virtual_router_id 51", "virtual_router_id 52"),
    );
    let (k, d) = parse(&text);
    assert!(errors(&d).is_empty(), "{}", show(&d));
    assert_eq!(
        find(&d, Severity::Warning, "ignores tracked script 'w'")
            .span
            .line,
        18
    );
    assert_eq!(
        find(&d, Severity::Warning, "ignores tracked interface 'eth1'")
            .span
            .line,
        22
    );
    let i = &k.vrrp_instances[0];
    assert_eq!(
        i.track_script
            .iter()
            .map(|t| t.script.name.as_str())
            .collect::<Vec<_>>(),
        vec!["z"]
    );
    assert_eq!(
        i.track_interface
            .iter()
            .map(|t| t.interface.as_str())
            .collect::<Vec<_>>(),
        vec!["eth2"]
    );
}

#[test]
fn protocol_on_fwmark_is_ignored_and_missing_protocol_warns_on_ip_services() {
    let (k, d) =
        parse("virtual_server fwmark 3 {\n protocol UDP\n real_server 10.99.0.1 80 {\n }\n}\n");
    assert_eq!(
        find(
            &d,
            Severity::Warning,
            "protocol is ignored for a fwmark virtual_server"
        )
        .span
        .line,
        2
    );
    assert_eq!(d.len(), 1, "{}", show(&d));
    assert_eq!(k.virtual_servers[0].real_servers[0].port, 80);
    let (_, d) = parse("virtual_server 192.0.2.1 80 {\n real_server 10.99.0.1 80 {\n }\n}\n");
    assert_eq!(
        find(&d, Severity::Warning, "has no 'protocol'").span.line,
        1
    );
}

#[test]
fn ah_with_initial_master_starts_as_backup() {
    let (k, d) = parse(&instance(
        "    state MASTER\n    authentication {\n        auth_type AH\n        auth_pass x\n    }",
    ));
    assert!(errors(&d).is_empty(), "{}", show(&d));
    assert_eq!(
        find(
            &d,
            Severity::Warning,
            "initial state MASTER does not work with auth_type AH"
        )
        .span
        .line,
        7
    );
    assert_eq!(
        k.vrrp_instances[0].state,
        Some(fulcrum_config::model::VrrpState::Backup)
    );
}

#[test]
fn scripts_without_script_security_warn() {
    let (_, d) = parse("vrrp_script chk {\n script /bin/true\n}\n");
    assert_eq!(
        find(&d, Severity::Warning, "enable_script_security")
            .span
            .line,
        1
    );
}

#[test]
fn unsupported_real_keywords_warn_in_every_block() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n mcast_src_ip 192.0.2.1\n dont_track_primary\n virtual_ipaddress {\n  192.0.2.9 use_vmac\n }\n}\nstatic_ipaddress {\n 192.0.2.50/24 dev eth0\n}\nvirtual_server 192.0.2.9 80 {\n protocol TCP\n ha_suspend\n real_server 10.99.0.1 80 {\n  notify_up /bin/true\n  DNS_CHECK {\n   type A\n  }\n }\n}\n";
    let (_, d) = parse(text);
    assert!(errors(&d).is_empty(), "{}", show(&d));
    let lines: Vec<u32> = warnings(&d)
        .iter()
        .filter(|w| w.message.contains("not supported yet"))
        .map(|w| w.span.line)
        .collect();
    // DNS_CHECK (line 18) runs now
    assert_eq!(lines, vec![4, 5, 7, 10, 15, 17], "{}", show(&d));
}

#[test]
fn same_vrid_allowed_for_unicast_instances_with_different_peers() {
    let a = instance("    unicast_peer {\n        192.0.2.2\n    }");
    let b = a
        .replace("VI_1", "VI_2")
        .replace("192.0.2.2", "192.0.2.3")
        .replace("192.0.2.10/24", "192.0.2.11/24");
    let (_, d) = parse(&format!("{a}{b}"));
    assert!(errors(&d).is_empty(), "{}", show(&d));
    let c = a.replace("VI_1", "VI_3");
    let (_, d) = parse(&format!("{a}{c}"));
    assert_eq!(
        find(&d, Severity::Error, "already used by vrrp_instance VI_1")
            .span
            .line,
        13
    );
}
