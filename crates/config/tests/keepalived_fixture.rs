//! The shared real-world fixtures: seed 001 (LVS + keepalived, DR mode) parses with the
//! warnings keepalived 1.x-era files deserve (nb_get_retry, nat_mask, lb_algo, lb_kind) and no error.

mod keepalived_support;

use fulcrum_config::model::*;
use fulcrum_config::Severity;
use keepalived_support::*;
use std::path::Path;
use std::time::Duration;

#[test]
fn seed001_lvs_dr_parses_with_warnings_and_no_error() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/seed001-lvs-dr.keepalived.conf");
    let (k, d) = parse_files(&[&path]);
    assert!(errors(&d).is_empty(), "{}", show(&d));
    let w = warnings(&d);
    let nb: Vec<u32> = w
        .iter()
        .filter(|x| x.message.contains("nb_get_retry"))
        .map(|x| x.span.line)
        .collect();
    assert_eq!(nb, vec![45, 57], "{}", show(&d));
    assert_eq!(find(&d, Severity::Warning, "nat_mask").span.line, 33);
    // DR persistence runs with its timeout: nothing to warn about.
    assert!(
        !d.iter().any(|x| x.message.contains("persistence")),
        "{}",
        show(&d)
    );
    assert_eq!(find(&d, Severity::Warning, "lb_algo").span.line, 31);
    assert_eq!(find(&d, Severity::Warning, "lb_kind").span.line, 32);

    let g = &k.global_defs;
    assert_eq!(g.router_id.as_deref(), Some("LVS_DEVEL"));
    assert_eq!(g.notification_email, vec!["root@localhost"]);
    assert_eq!(g.smtp_connect_timeout, Some(Duration::from_secs(30)));

    let i = &k.vrrp_instances[0];
    assert_eq!(i.name, "VI_1");
    assert_eq!(i.state, Some(VrrpState::Master));
    assert_eq!(i.interface.as_deref(), Some("eth0"));
    assert_eq!((i.virtual_router_id, i.priority, i.version), (51, 100, 2));
    assert_eq!(
        i.authentication,
        Some(VrrpAuth {
            auth_type: VrrpAuthType::Pass,
            auth_pass: "oracle".into()
        })
    );
    assert_eq!(i.virtual_ipaddress[0].address.to_string(), "172.16.31.188");

    let vs = &k.virtual_servers[0];
    assert_eq!(
        vs.address,
        VirtualServerAddress::Ip {
            ip: "172.16.31.188".parse().expect("literal"),
            port: 80
        }
    );
    assert_eq!(
        (vs.lb_algo.as_str(), vs.lb_kind, vs.protocol),
        ("rr", LbKind::Dr, IpProtocol::Tcp)
    );
    assert_eq!(vs.delay_loop, Duration::from_secs(6));
    assert_eq!(vs.persistence_timeout, Some(Duration::from_secs(50)));
    assert_eq!(vs.real_servers.len(), 2);
    for rs in &vs.real_servers {
        match &rs.checkers[..] {
            [Checker::HttpGet {
                urls,
                connect_timeout,
                retry,
                delay_before_retry,
                ..
            }] => {
                assert_eq!(urls[0].path, "/");
                assert_eq!(urls[0].status_code, vec![200]);
                assert_eq!(*connect_timeout, Duration::from_secs(3));
                assert_eq!(*retry, 3);
                assert_eq!(*delay_before_retry, Duration::from_secs(3));
            }
            other => panic!("expected one HTTP_GET, got {other:?}"),
        }
    }
}

#[test]
fn seed001_through_load_files_is_detected_as_keepalived() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/seed001-lvs-dr.keepalived.conf");
    let loaded = fulcrum_config::load_files(&[&path]);
    let errs: Vec<String> = loaded.diagnostics.errors().map(|e| e.to_string()).collect();
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(loaded.config.files[0].dialect, Dialect::Keepalived);
    assert_eq!(loaded.config.keepalived.vrrp_instances.len(), 1);
}
