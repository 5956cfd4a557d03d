//! One test per keepalived keyword fulcrum reads: parse a small config, assert the model fields.

mod keepalived_support;

use fulcrum_config::model::*;
use fulcrum_config::Severity;
use keepalived_support::*;
use std::net::IpAddr;
use std::time::Duration;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn vi(text: &str) -> VrrpInstance {
    let k = parse_clean(text);
    assert_eq!(k.vrrp_instances.len(), 1);
    k.vrrp_instances[0].clone()
}

fn one_vs(text: &str) -> VirtualServer {
    let k = parse_clean(text);
    assert_eq!(k.virtual_servers.len(), 1);
    k.virtual_servers[0].clone()
}

// ---------------------------------------------------------------- global_defs

#[test]
fn global_defs_router_id_and_email() {
    let k = parse_clean(
        "global_defs {\n router_id LVS_DEVEL\n notification_email {\n  a@example.org\n  b@example.org\n }\n notification_email_from ka@example.org\n smtp_server 127.0.0.1\n smtp_connect_timeout 30\n}\n",
    );
    let g = &k.global_defs;
    assert_eq!(g.router_id.as_deref(), Some("LVS_DEVEL"));
    assert_eq!(g.notification_email, vec!["a@example.org", "b@example.org"]);
    assert_eq!(g.notification_email_from.as_deref(), Some("ka@example.org"));
    assert_eq!(g.smtp_server.as_deref(), Some("127.0.0.1"));
    assert_eq!(g.smtp_connect_timeout, Some(Duration::from_secs(30)));
}

#[test]
fn global_defs_smtp_server_with_port() {
    let k = parse_clean("global_defs {\n smtp_server 127.0.0.1 2525\n}\n");
    assert_eq!(k.global_defs.smtp_server.as_deref(), Some("127.0.0.1:2525"));
}

#[test]
fn global_defs_vrrp_version_applies_to_instances() {
    let k = parse_clean(&format!(
        "global_defs {{\n vrrp_version 3\n}}\n{}",
        instance("")
    ));
    assert_eq!(k.global_defs.vrrp_version, Some(3));
    assert_eq!(k.vrrp_instances[0].version, 3);
}

#[test]
fn global_defs_script_security_and_user() {
    let k =
        parse_clean("global_defs {\n enable_script_security\n script_user keepalived_script\n}\n");
    assert!(k.global_defs.enable_script_security);
    assert_eq!(
        k.global_defs.script_user.as_deref(),
        Some("keepalived_script")
    );
}

#[test]
fn global_defs_real_but_unsupported_keywords_warn() {
    let (k, d) = parse(
        "global_defs {\n router_id R\n vrrp_skip_check_adv_addr\n vrrp_strict\n vrrp_garp_interval 0.001\n vrrp_gna_interval 0.001\n lvs_id LVS1\n enable_traps\n}\n",
    );
    assert!(errors(&d).is_empty(), "{}", show(&d));
    let w = warnings(&d);
    assert_eq!(w.len(), 6, "{}", show(&d));
    assert!(w
        .iter()
        .all(|x| x.message.contains("not supported yet, ignored")));
    assert_eq!(w[0].span.line, 3);
    assert_eq!(k.global_defs.router_id.as_deref(), Some("R"));
}

#[test]
fn global_garp_settings_are_instance_defaults() {
    let vip = |id| {
        format!(
            " interface eth0\n virtual_router_id {id}\n virtual_ipaddress {{\n  10.0.0.{id}\n }}\n"
        )
    };
    let (k, d) = parse(&format!(
        "global_defs {{\n vrrp_garp_master_delay 2\n vrrp_garp_master_repeat 3\n vrrp_garp_master_refresh 60\n}}\nvrrp_instance A {{\n{}}}\nvrrp_instance B {{\n{} garp_master_delay 7\n garp_master_refresh 0\n}}\n",
        vip(5),
        vip(6)
    ));
    assert!(errors(&d).is_empty(), "{}", show(&d));
    let (a, b) = (&k.vrrp_instances[0], &k.vrrp_instances[1]);
    assert_eq!(a.garp_master_delay, Duration::from_secs(2));
    assert_eq!(a.garp_master_repeat, 3);
    assert_eq!(a.garp_master_refresh, Some(Duration::from_secs(60)));
    assert_eq!(
        b.garp_master_delay,
        Duration::from_secs(7),
        "the instance's own value wins"
    );
    assert_eq!(b.garp_master_repeat, 3);
    assert_eq!(b.garp_master_refresh, None);
    let (_, d) = parse("global_defs {\n vrrp_garp_master_refresh\n}\n");
    assert_eq!(errors(&d)[0].span.line, 2, "{}", show(&d));
}

// ---------------------------------------------------------------- vrrp_script

#[test]
fn vrrp_script_all_fields() {
    let k = parse_clean(
        "global_defs {\n enable_script_security\n}\nvrrp_script chk_haproxy {\n script \"/usr/bin/killall -0 haproxy\"\n interval 2\n timeout 3\n weight -20\n fall 3\n rise 2\n}\n",
    );
    let s = &k.vrrp_scripts[0];
    assert_eq!(s.name, "chk_haproxy");
    assert_eq!(s.script, "/usr/bin/killall -0 haproxy");
    assert_eq!(s.interval, Duration::from_secs(2));
    assert_eq!(s.timeout, Some(Duration::from_secs(3)));
    assert_eq!(s.weight, -20);
    assert_eq!((s.fall, s.rise), (3, 2));
    assert_eq!(s.span.line, 4);
}

#[test]
fn vrrp_script_defaults_and_unquoted_command() {
    let k = parse_clean("global_defs {\n enable_script_security\n}\nvrrp_script c {\n script /bin/pidof haproxy\n}\n");
    let s = &k.vrrp_scripts[0];
    assert_eq!(s.script, "/bin/pidof haproxy");
    assert_eq!(s.interval, Duration::from_secs(1));
    assert_eq!((s.weight, s.fall, s.rise, s.timeout), (0, 1, 1, None));
}

#[test]
fn vrrp_script_weight_out_of_range() {
    let (_, d) = parse("vrrp_script c {\n script /bin/true\n weight 300\n}\n");
    assert_eq!(
        find(&d, Severity::Error, "weight must be -253..253, found 300")
            .span
            .line,
        3
    );
}

// ---------------------------------------------------------------- vrrp_instance

#[test]
fn instance_state_interface_vrid_priority() {
    let i = vi("vrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 51\n priority 150\n virtual_ipaddress {\n  192.0.2.10\n }\n}\n");
    assert_eq!(i.name, "VI_1");
    assert_eq!(i.state, Some(VrrpState::Master));
    assert_eq!(i.interface.as_deref(), Some("eth0"));
    assert_eq!(i.virtual_router_id, 51);
    assert_eq!(i.priority, 150);
}

#[test]
fn instance_defaults() {
    let i = vi(&instance(""));
    assert_eq!(i.state, None);
    assert_eq!(i.priority, 100);
    assert_eq!(i.advert_int, Duration::from_secs(1));
    assert_eq!(i.version, 2);
    assert_eq!(i.garp_master_delay, Duration::from_secs(5));
    assert_eq!(i.garp_master_repeat, 5);
    assert_eq!(i.garp_master_refresh, None);
    assert!(!i.nopreempt);
    assert!(i.authentication.is_none());
}

#[test]
fn instance_state_backup() {
    assert_eq!(
        vi(&instance(" state BACKUP")).state,
        Some(VrrpState::Backup)
    );
}

#[test]
fn instance_advert_int_whole_and_fractional_v3() {
    assert_eq!(
        vi(&instance(" advert_int 3")).advert_int,
        Duration::from_secs(3)
    );
    let i = vi(&instance(" version 3\n advert_int 0.1"));
    assert_eq!(i.advert_int, Duration::from_millis(100));
    assert_eq!(i.version, 3);
}

#[test]
fn instance_authentication_pass_and_ah() {
    let i = vi(&instance(
        " authentication {\n  auth_type PASS\n  auth_pass secret\n }",
    ));
    assert_eq!(
        i.authentication,
        Some(VrrpAuth {
            auth_type: VrrpAuthType::Pass,
            auth_pass: "secret".into()
        })
    );
    let i = vi(&instance(
        " authentication {\n  auth_type AH\n  auth_pass s2\n }",
    ));
    assert_eq!(
        i.authentication.map(|a| a.auth_type),
        Some(VrrpAuthType::Ah)
    );
}

#[test]
fn instance_virtual_ipaddress_with_options() {
    let i = vi(&instance(
        " virtual_ipaddress_excluded {\n  198.51.100.7/24 dev eth1 label eth1:1 brd 198.51.100.255 scope global\n  198.51.100.8\n }",
    ));
    assert_eq!(i.virtual_ipaddress.len(), 1);
    assert_eq!(i.virtual_ipaddress[0].address, ip("192.0.2.10"));
    assert_eq!(i.virtual_ipaddress[0].prefix, 24);
    let ex = &i.virtual_ipaddress_excluded;
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].address, ip("198.51.100.7"));
    assert_eq!(ex[0].dev.as_deref(), Some("eth1"));
    assert_eq!(ex[0].label.as_deref(), Some("eth1:1"));
    assert_eq!(ex[0].brd, Some(ip("198.51.100.255")));
    assert_eq!(ex[0].scope.as_deref(), Some("global"));
    assert_eq!(ex[1].prefix, 32);
    assert_eq!(ex[1].span.line, 9);
}

#[test]
fn instance_virtual_ipaddress_ipv6_default_prefix_and_version() {
    let i = vi("vrrp_instance V6 {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  2001:db8::10\n }\n}\n");
    assert_eq!(i.virtual_ipaddress[0].prefix, 128);
    assert_eq!(i.version, 3, "IPv6 instances run VRRPv3 as in keepalived");
}

#[test]
fn instance_nopreempt_and_preempt_delay() {
    let i = vi(&instance(" state BACKUP\n nopreempt"));
    assert!(i.nopreempt);
    let i = vi(&instance(" state BACKUP\n preempt_delay 300"));
    assert_eq!(i.preempt_delay, Some(Duration::from_secs(300)));
    assert!(!vi(&instance(" preempt")).nopreempt);
}

#[test]
fn instance_unicast_src_and_peers() {
    let i = vi(&instance(
        " unicast_src_ip 192.0.2.1\n unicast_peer {\n  192.0.2.2\n  192.0.2.3\n }",
    ));
    assert_eq!(i.unicast_src_ip, Some(ip("192.0.2.1")));
    assert_eq!(i.unicast_peer, vec![ip("192.0.2.2"), ip("192.0.2.3")]);
}

#[test]
fn instance_track_script_with_weight() {
    let k = parse_clean(&format!(
        "global_defs {{\n enable_script_security\n}}\nvrrp_script chk {{\n script /bin/true\n}}\nvrrp_script chk2 {{\n script /bin/true\n}}\n{}",
        instance(" track_script {\n  chk\n  chk2 weight -30\n }")
    ));
    let t = &k.vrrp_instances[0].track_script;
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].script.name, "chk");
    assert_eq!(t[0].weight, None);
    assert_eq!(t[1].weight, Some(-30));
}

#[test]
fn instance_track_interface_with_weight() {
    let i = vi(&instance(
        " track_interface {\n  eth1 weight 10\n  eth2\n }",
    ));
    assert_eq!(i.track_interface.len(), 2);
    assert_eq!(i.track_interface[0].interface, "eth1");
    assert_eq!(i.track_interface[0].weight, Some(10));
    assert_eq!(i.track_interface[1].weight, None);
}

#[test]
fn instance_notify_scripts() {
    let (k, d) = parse(&format!(
        "global_defs {{\n enable_script_security\n}}\n{}",
        instance(" notify /etc/ka/notify.sh\n notify_master \"/etc/ka/master.sh arg\"\n notify_backup /b.sh\n notify_fault /f.sh\n notify_stop /s.sh")
    ));
    assert!(d.is_empty(), "{}", show(&d));
    let i = &k.vrrp_instances[0];
    assert_eq!(i.notify.as_deref(), Some("/etc/ka/notify.sh"));
    assert_eq!(i.notify_master.as_deref(), Some("/etc/ka/master.sh arg"));
    assert_eq!(i.notify_backup.as_deref(), Some("/b.sh"));
    assert_eq!(i.notify_fault.as_deref(), Some("/f.sh"));
    assert_eq!(i.notify_stop.as_deref(), Some("/s.sh"));
}

#[test]
fn instance_garp_settings() {
    let i = vi(&instance(
        " garp_master_delay 10\n garp_master_repeat 3\n garp_master_refresh 60",
    ));
    assert_eq!(i.garp_master_delay, Duration::from_secs(10));
    assert_eq!(i.garp_master_repeat, 3);
    assert_eq!(i.garp_master_refresh, Some(Duration::from_secs(60)));
}

#[test]
fn instance_version_overrides_global() {
    let k = parse_clean(&format!(
        "global_defs {{\n vrrp_version 3\n}}\n{}",
        instance(" version 2")
    ));
    assert_eq!(k.vrrp_instances[0].version, 2);
}

// ---------------------------------------------------------------- vrrp_sync_group

#[test]
fn sync_group_members_and_notify() {
    let text = format!(
        "global_defs {{\n enable_script_security\n}}\n{}vrrp_instance VI_2 {{\n interface eth1\n virtual_router_id 52\n virtual_ipaddress {{\n  198.51.100.1\n }}\n}}\nvrrp_sync_group G1 {{\n group {{ VI_1 VI_2 }}\n notify_master /m.sh\n notify_backup /b.sh\n notify_fault /f.sh\n notify /n.sh\n}}\n",
        instance("")
    );
    let k = parse_clean(&text);
    let g = &k.vrrp_sync_groups[0];
    assert_eq!(g.name, "G1");
    let names: Vec<&str> = g.group.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["VI_1", "VI_2"]);
    assert_eq!(g.notify_master.as_deref(), Some("/m.sh"));
    assert_eq!(g.notify_backup.as_deref(), Some("/b.sh"));
    assert_eq!(g.notify_fault.as_deref(), Some("/f.sh"));
    assert_eq!(g.notify.as_deref(), Some("/n.sh"));
}

// ---------------------------------------------------------------- virtual_server

const RS: &str = "    real_server 10.99.0.2 80 {\n        weight 2\n    }\n";

#[test]
fn virtual_server_ip_port_and_settings() {
    let vs = one_vs(&format!(
        "virtual_server 192.0.2.10 80 {{\n    delay_loop 6\n    lvs_sched rr\n    lvs_method NAT\n    persistence_timeout 50\n    protocol TCP\n    sorry_server 10.99.0.9 8080\n    quorum 2\n    hysteresis 1\n    expire_nodest_conn\n{RS}}}\n"
    ));
    assert_eq!(
        vs.address,
        VirtualServerAddress::Ip {
            ip: ip("192.0.2.10"),
            port: 80
        }
    );
    assert_eq!(vs.delay_loop, Duration::from_secs(6));
    assert_eq!(vs.lb_algo, "rr");
    assert_eq!(vs.lb_kind, LbKind::Nat);
    assert_eq!(vs.persistence_timeout, Some(Duration::from_secs(50)));
    assert_eq!(vs.protocol, IpProtocol::Tcp);
    assert_eq!(vs.sorry_server, Some((ip("10.99.0.9"), 8080)));
    assert_eq!((vs.quorum, vs.hysteresis), (2, 1));
    assert_eq!(vs.real_servers[0].weight, 2);
    assert!(vs.expire_nodest_conn);
}

#[test]
fn virtual_server_fwmark_and_defaults() {
    let vs = one_vs(&format!("virtual_server fwmark 7 {{\n{RS}}}\n"));
    assert_eq!(vs.address, VirtualServerAddress::Fwmark(7));
    assert_eq!(vs.delay_loop, Duration::from_secs(60));
    assert_eq!(vs.lb_algo, "wlc");
    assert_eq!(vs.lb_kind, LbKind::Nat);
    assert_eq!(vs.protocol, IpProtocol::Tcp);
    assert_eq!(
        (vs.quorum, vs.hysteresis, vs.persistence_timeout),
        (1, 0, None)
    );
    assert!(!vs.expire_nodest_conn, "off by default, as LVS's sysctl");
}

#[test]
fn virtual_server_protocol_udp_and_sctp() {
    assert_eq!(
        one_vs(&format!(
            "virtual_server 192.0.2.10 53 {{\n    protocol UDP\n{RS}}}\n"
        ))
        .protocol,
        IpProtocol::Udp
    );
    assert_eq!(
        one_vs(&format!(
            "virtual_server 192.0.2.10 53 {{\n    protocol SCTP\n{RS}}}\n"
        ))
        .protocol,
        IpProtocol::Sctp
    );
}

#[test]
fn virtual_server_persistence_timeout_without_value_is_six_minutes() {
    let vs = one_vs(&format!(
        "virtual_server 192.0.2.10 443 {{\n    protocol TCP\n    persistence_timeout\n{RS}}}\n"
    ));
    assert_eq!(vs.persistence_timeout, Some(Duration::from_secs(360)));
}

#[test]
fn virtual_server_old_names_lb_algo_lb_kind_warn() {
    let (k, d) = parse(&format!("virtual_server 192.0.2.10 80 {{\n    protocol TCP\n    lb_algo sh\n    lb_kind DR\n{RS}}}\n"));
    assert!(errors(&d).is_empty(), "{}", show(&d));
    assert_eq!(
        find(
            &d,
            Severity::Warning,
            "'lb_algo' is the old name of 'lvs_sched'"
        )
        .span
        .line,
        3
    );
    assert_eq!(
        find(
            &d,
            Severity::Warning,
            "'lb_kind' is the old name of 'lvs_method'"
        )
        .span
        .line,
        4
    );
    assert_eq!(k.virtual_servers[0].lb_algo, "sh");
    assert_eq!(k.virtual_servers[0].lb_kind, LbKind::Dr);
}

#[test]
fn real_server_inhibit_on_failure_and_port() {
    let vs = one_vs("virtual_server 192.0.2.10 80 {\n    protocol TCP\n    real_server 10.99.0.2 8080 {\n        inhibit_on_failure\n    }\n    real_server 10.99.0.3 {\n    }\n}\n");
    let rs = &vs.real_servers;
    assert_eq!(rs[0].port, 8080);
    assert!(rs[0].inhibit_on_failure);
    assert_eq!(rs[0].weight, 1);
    assert_eq!(
        rs[1].port, 80,
        "a real_server without port takes the virtual server's"
    );
    assert!(!rs[1].inhibit_on_failure);
}

#[test]
fn real_server_http_get_full() {
    let vs = one_vs("virtual_server 192.0.2.10 80 {\n    protocol TCP\n    real_server 10.99.0.2 80 {\n        HTTP_GET {\n            url {\n                path /health\n                status_code 200 204\n                digest 9b3a0c85a887a256d6939da88aabd8cd\n            }\n            url {\n                path /ready\n            }\n            connect_timeout 3\n            connect_port 8080\n            retry 4\n            delay_before_retry 2\n        }\n    }\n}\n");
    match &vs.real_servers[0].checkers[0] {
        Checker::HttpGet {
            span,
            ssl,
            urls,
            connect_timeout,
            connect_port,
            retry,
            delay_before_retry,
            ..
        } => {
            assert_eq!(span.line, 4);
            assert!(!ssl);
            assert_eq!(urls.len(), 2);
            assert_eq!(urls[0].path, "/health");
            assert_eq!(urls[0].status_code, vec![200, 204]);
            assert_eq!(
                urls[0].digest.as_deref(),
                Some("9b3a0c85a887a256d6939da88aabd8cd")
            );
            assert!(urls[1].status_code.is_empty());
            assert_eq!(*connect_timeout, Duration::from_secs(3));
            assert_eq!(*connect_port, Some(8080));
            assert_eq!(*retry, 4);
            assert_eq!(*delay_before_retry, Duration::from_secs(2));
        }
        other => panic!("expected HTTP_GET, got {other:?}"),
    }
}

#[test]
fn real_server_ssl_get_defaults_and_status_range() {
    let vs = one_vs("virtual_server 192.0.2.10 443 {\n    protocol TCP\n    real_server 10.99.0.2 443 {\n        SSL_GET {\n            url {\n                path /\n                status_code 200-202\n            }\n        }\n    }\n}\n");
    match &vs.real_servers[0].checkers[0] {
        Checker::HttpGet {
            ssl,
            urls,
            connect_timeout,
            retry,
            delay_before_retry,
            connect_port,
            ..
        } => {
            assert!(ssl);
            assert_eq!(urls[0].status_code, vec![200, 201, 202]);
            assert_eq!(*connect_timeout, Duration::from_secs(5));
            assert_eq!(*retry, 1);
            assert_eq!(
                *delay_before_retry,
                Duration::from_secs(3),
                "keepalived.conf(5): 3s for HTTP_GET/SSL_GET"
            );
            assert_eq!(*connect_port, None);
        }
        other => panic!("expected SSL_GET, got {other:?}"),
    }
}

#[test]
fn real_server_tcp_check_and_inherited_defaults() {
    let vs = one_vs("virtual_server 192.0.2.10 80 {\n    protocol TCP\n    connect_timeout 7\n    real_server 10.99.0.2 80 {\n        retry 5\n        TCP_CHECK {\n            connect_port 81\n        }\n        TCP_CHECK {\n            connect_timeout 2\n            retry 0\n            delay_before_retry 0.5\n        }\n    }\n}\n");
    let c = &vs.real_servers[0].checkers;
    match (&c[0], &c[1]) {
        (
            Checker::TcpCheck {
                connect_timeout: t0,
                connect_port: p0,
                retry: r0,
                delay_before_retry: d0,
                ..
            },
            Checker::TcpCheck {
                connect_timeout: t1,
                retry: r1,
                delay_before_retry: d1,
                ..
            },
        ) => {
            assert_eq!(
                (*t0, *p0, *r0, *d0),
                (Duration::from_secs(7), Some(81), 5, Duration::from_secs(1))
            );
            assert_eq!(
                (*t1, *r1, *d1),
                (Duration::from_secs(2), 0, Duration::from_millis(500))
            );
        }
        other => panic!("expected two TCP_CHECKs, got {other:?}"),
    }
}

#[test]
fn real_server_misc_check() {
    let vs = one_vs("virtual_server 192.0.2.10 80 {\n    protocol TCP\n    real_server 10.99.0.2 80 {\n        MISC_CHECK {\n            misc_path \"/usr/local/bin/check.sh 10.99.0.2\"\n            misc_timeout 5\n            misc_dynamic\n        }\n        MISC_CHECK {\n            misc_path /bin/true\n        }\n    }\n}\n");
    let c = &vs.real_servers[0].checkers;
    assert_eq!(
        c[0],
        Checker::MiscCheck {
            span: c[0].span_for_test(),
            misc_path: "/usr/local/bin/check.sh 10.99.0.2".into(),
            misc_timeout: Some(Duration::from_secs(5)),
            misc_dynamic: true,
        }
    );
    match &c[1] {
        Checker::MiscCheck {
            misc_timeout,
            misc_dynamic,
            ..
        } => assert_eq!((*misc_timeout, *misc_dynamic), (None, false)),
        other => panic!("expected MISC_CHECK, got {other:?}"),
    }
}

trait SpanForTest {
    fn span_for_test(&self) -> fulcrum_config::Span;
}
impl SpanForTest for Checker {
    fn span_for_test(&self) -> fulcrum_config::Span {
        self.span().clone()
    }
}

#[test]
fn nb_get_retry_is_retry_with_a_warning() {
    let (k, d) = parse("virtual_server 192.0.2.10 80 {\n    protocol TCP\n    real_server 10.99.0.2 80 {\n        TCP_CHECK {\n            nb_get_retry 3\n        }\n    }\n}\n");
    assert!(errors(&d).is_empty(), "{}", show(&d));
    let w = find(&d, Severity::Warning, "'nb_get_retry' is deprecated");
    assert!(w.message.contains("'retry'"));
    assert_eq!(w.span.line, 5);
    match &k.virtual_servers[0].real_servers[0].checkers[0] {
        Checker::TcpCheck { retry, .. } => assert_eq!(*retry, 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn nat_mask_is_ignored_with_a_warning() {
    let (_, d) = parse(&format!(
        "virtual_server 192.0.2.10 80 {{\n    protocol TCP\n    nat_mask 255.255.0.0\n{RS}}}\n"
    ));
    assert!(errors(&d).is_empty(), "{}", show(&d));
    assert_eq!(find(&d, Severity::Warning, "nat_mask").span.line, 3);
}

// ---------------------------------------------------------------- syntax forms

#[test]
fn braces_on_next_line_and_shared_lines() {
    let (k, d) = parse("vrrp_instance VI_1\n{\n interface eth0\n virtual_router_id 3\n virtual_ipaddress { 192.0.2.1 192.0.2.2 }\n track_interface { eth1 weight 5 } }\n");
    assert!(d.is_empty(), "{}", show(&d));
    let i = &k.vrrp_instances[0];
    assert_eq!(i.virtual_ipaddress.len(), 2);
    assert_eq!(i.track_interface[0].weight, Some(5));
}

#[test]
fn comments_hash_and_bang_anywhere() {
    let i = vi("! header\n# header\nvrrp_instance VI_1 { # c\n interface eth0 ! c\n virtual_router_id 51#c\n priority 120!c\n virtual_ipaddress {\n  192.0.2.10 # vip\n }\n}\n");
    assert_eq!(i.virtual_router_id, 51);
    assert_eq!(i.priority, 120);
}

#[test]
fn multiple_files_share_one_model() {
    let mut d = fulcrum_config::Diagnostics::new();
    let mut p = fulcrum_config::keepalived::Parser::new();
    p.parse_file("a.conf", "global_defs {\n vrrp_version 3\n enable_script_security\n}\nvrrp_script chk {\n script /bin/true\n}\n", &mut d);
    p.parse_file("b.conf", &instance(" track_script {\n  chk\n }"), &mut d);
    let k = p.finish(&mut d);
    assert!(d.is_empty(), "{:?}", d);
    assert_eq!(k.vrrp_instances[0].version, 3);
    assert_eq!(k.vrrp_instances[0].span.file.as_ref(), "b.conf");
}

#[test]
fn virtual_server_tun_is_refused_with_its_line() {
    let (_, d) = parse(&format!(
        "virtual_server 192.0.2.10 80 {{\n    protocol TCP\n    lvs_method TUN\n{RS}}}\n"
    ));
    let e = find(&d, Severity::Error, "lb_kind TUN is not supported");
    assert_eq!(e.span.line, 3);
}

#[test]
fn virtual_server_quorum_scripts_and_granularity() {
    let vs = one_vs(&format!(
        "virtual_server 192.0.2.10 80 {{\n    protocol TCP\n    quorum_up \"/bin/true up\"\n    quorum_down /bin/false\n    persistence_granularity 255.255.255.0\n{RS}}}\n"
    ));
    assert_eq!(vs.quorum_up.as_deref(), Some("/bin/true up"));
    assert_eq!(vs.quorum_down.as_deref(), Some("/bin/false"));
    assert_eq!(
        vs.persistence_granularity,
        Some("255.255.255.0".parse().unwrap())
    );
}

#[test]
fn virtual_server_group_unknown_is_an_error_with_its_line() {
    let (k, d) = parse(&format!(
        "virtual_server group nope {{\n    protocol TCP\n{RS}}}\n"
    ));
    let e = find(&d, Severity::Error, "no virtual_server_group of that name");
    assert_eq!(e.span.line, 1);
    assert!(k.virtual_servers.is_empty());
}

#[test]
fn fwmark_with_dr_and_portless_virtual_servers_are_refused_with_their_line() {
    let (_, d) = parse(&format!(
        "virtual_server fwmark 5 {{\n    lvs_method DR\n{RS}}}\n"
    ));
    assert_eq!(
        find(&d, Severity::Error, "fwmark virtual_server with lb_kind DR")
            .span
            .line,
        1
    );
    let (_, d) = parse(&format!(
        "\nvirtual_server 192.0.2.10 {{\n    protocol TCP\n{RS}}}\n"
    ));
    assert_eq!(find(&d, Severity::Error, "without a port").span.line, 2);
}

#[test]
fn dr_persistence_runs_with_its_timeout_without_warning() {
    let (_, d) = parse(&format!(
        "virtual_server 192.0.2.10 80 {{\n    protocol TCP\n    lvs_method DR\n    persistence_timeout 50\n{RS}}}\n"
    ));
    assert!(
        !d.iter().any(|x| x.message.contains("persistence")),
        "{d:?}"
    );
}

#[test]
fn real_server_uthreshold_and_lthreshold() {
    let vs = one_vs(
        "virtual_server 10.0.0.1 53 {\n protocol UDP\n real_server 10.0.0.2 53 {\n  uthreshold 100\n  lthreshold 20\n }\n real_server 10.0.0.3 53 {\n  uthreshold 0\n }\n}\n",
    );
    assert_eq!(vs.real_servers[0].uthreshold, Some(100));
    assert_eq!(vs.real_servers[0].lthreshold, Some(20));
    // 0 is keepalived's "no limit".
    assert_eq!(vs.real_servers[1].uthreshold, None);
    // DR flows do not pass the director's conntrack, where fulcrum counts: refused.
    let (_, d) = parse(
        "virtual_server 10.0.0.1 53 {\n protocol UDP\n lvs_method DR\n real_server 10.0.0.2 53 {\n  uthreshold 100\n }\n}\n",
    );
    let e = find(
        &d,
        Severity::Error,
        "'uthreshold' is not supported with lb_kind DR",
    );
    assert_eq!(e.span.line, 4, "the real_server line: {}", show(&d));
}

#[test]
fn virtual_server_allowed_cidrs() {
    let vs = one_vs(
        "virtual_server 10.0.0.1 53 {\n protocol UDP\n allowed_cidrs 10.0.0.0/8 192.0.2.7 2001:db8::/32\n real_server 10.0.0.2 53\n}\n",
    );
    assert_eq!(
        vs.allowed_cidrs,
        vec![
            (ip("10.0.0.0"), 8),
            (ip("192.0.2.7"), 32),
            (ip("2001:db8::"), 32)
        ]
    );
    let (_, d) = parse(
        "virtual_server 10.0.0.1 53 {\n protocol UDP\n allowed_cidrs 10.0.0.0/33\n real_server 10.0.0.2 53\n}\n",
    );
    let e = find(&d, Severity::Error, "'10.0.0.0/33' is not a CIDR");
    assert_eq!(e.span.line, 3, "{}", show(&d));
}
