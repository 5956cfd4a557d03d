//! Which instances a reload restarts (pure: no sockets).

use super::restart_set;
use fulcrum_config::diagnostics::Span;
use fulcrum_config::model::{
    Keepalived, Reference, TrackScript, VrrpInstance, VrrpScript, VrrpSyncGroup,
};
use std::time::Duration;

fn inst(name: &str, line: u32) -> VrrpInstance {
    VrrpInstance {
        name: name.into(),
        span: Span::new("k.conf", line),
        state: None,
        interface: Some("eth0".into()),
        virtual_router_id: 51,
        priority: 100,
        advert_int: Duration::from_secs(1),
        version: 2,
        authentication: None,
        virtual_ipaddress: vec![],
        virtual_ipaddress_excluded: vec![],
        nopreempt: false,
        preempt_delay: None,
        unicast_src_ip: None,
        unicast_peer: vec![],
        track_script: vec![],
        track_interface: vec![],
        notify: None,
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        notify_stop: None,
        garp_master_delay: Duration::from_secs(5),
        garp_master_repeat: 5,
        garp_master_refresh: None,
        smtp_alert: None,
    }
}

fn script(name: &str, weight: i32) -> VrrpScript {
    VrrpScript {
        name: name.into(),
        span: Span::new("k.conf", 1),
        script: "/bin/true".into(),
        interval: Duration::from_secs(1),
        timeout: None,
        weight,
        fall: 1,
        rise: 1,
        user: None,
    }
}

fn refer(name: &str, line: u32) -> Reference {
    Reference {
        name: name.into(),
        span: Span::new("k.conf", line),
    }
}

fn names(k1: &Keepalived, k2: &Keepalived) -> Vec<String> {
    let mut v: Vec<String> = restart_set(k1, k2).into_iter().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn moved_lines_restart_nothing_and_changes_restart_only_what_changed() {
    let old = Keepalived {
        vrrp_instances: vec![inst("A", 10), inst("B", 20)],
        ..Keepalived::default()
    };
    let shifted = Keepalived {
        vrrp_instances: vec![inst("A", 12), inst("B", 22)],
        ..Keepalived::default()
    };
    assert!(names(&old, &shifted).is_empty());
    let mut changed = shifted.clone();
    changed.vrrp_instances[1].priority = 200;
    assert_eq!(names(&old, &changed), vec!["B"]);
    let removed = Keepalived {
        vrrp_instances: vec![inst("A", 10)],
        ..Keepalived::default()
    };
    assert_eq!(names(&old, &removed), vec!["B"]);
    let added = Keepalived {
        vrrp_instances: vec![inst("A", 10), inst("B", 20), inst("C", 30)],
        ..Keepalived::default()
    };
    assert_eq!(names(&old, &added), vec!["C"]);
}

#[test]
fn a_changed_script_restarts_the_instances_tracking_it() {
    let mut a = inst("A", 10);
    a.track_script.push(TrackScript {
        script: refer("chk", 11),
        weight: None,
    });
    let old = Keepalived {
        vrrp_scripts: vec![script("chk", 0)],
        vrrp_instances: vec![a.clone(), inst("B", 20)],
        ..Keepalived::default()
    };
    let new = Keepalived {
        vrrp_scripts: vec![script("chk", -20)],
        vrrp_instances: vec![a, inst("B", 20)],
        ..Keepalived::default()
    };
    assert_eq!(names(&old, &new), vec!["A"]);
}

#[test]
fn a_sync_group_restarts_whole() {
    let group = |line| VrrpSyncGroup {
        name: "G".into(),
        span: Span::new("k.conf", line),
        group: vec![refer("A", line + 1), refer("B", line + 2)],
        notify: None,
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        smtp_alert: None,
    };
    let old = Keepalived {
        vrrp_sync_groups: vec![group(1)],
        vrrp_instances: vec![inst("A", 10), inst("B", 20), inst("C", 30)],
        ..Keepalived::default()
    };
    let mut new = old.clone();
    new.vrrp_sync_groups = vec![group(3)];
    assert!(names(&old, &new).is_empty(), "moved lines only");
    new.vrrp_instances[0].priority = 150;
    assert_eq!(
        names(&old, &new),
        vec!["A", "B"],
        "one member changed: the group restarts"
    );
}
