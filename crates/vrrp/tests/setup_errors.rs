//! `start` refuses, with a message naming the instance and what was expected, what fulcrum
//! cannot run. These checks happen before any socket is opened, so they need no privileges.
//! An interface that does not exist (yet) is not a refusal: as keepalived, the instance waits
//! for it in FAULT.
#![allow(clippy::unwrap_used)]

use fulcrum_config::model::{Keepalived, VirtualIp, VrrpAuth, VrrpAuthType, VrrpInstance};
use std::time::Duration;

fn instance(interface: &str, vip: &str) -> VrrpInstance {
    VrrpInstance {
        name: "VI_X".into(),
        span: Default::default(),
        state: None,
        interface: Some(interface.into()),
        virtual_router_id: 51,
        priority: 100,
        advert_int: Duration::from_secs(1),
        version: 2,
        authentication: None,
        virtual_ipaddress: vec![VirtualIp {
            span: Default::default(),
            address: vip.parse().unwrap(),
            prefix: 32,
            dev: None,
            label: None,
            brd: None,
            scope: None,
        }],
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

async fn start_err(inst: VrrpInstance) -> String {
    let k = Keepalived {
        vrrp_instances: vec![inst],
        ..Keepalived::default()
    };
    match fulcrum_vrrp::start(&k).await {
        Ok(_) => panic!("start should have refused"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn unknown_interface_waits_in_fault() {
    let k = Keepalived {
        vrrp_instances: vec![instance("nosuchif9", "10.99.0.100")],
        ..Keepalived::default()
    };
    let h = fulcrum_vrrp::start(&k)
        .await
        .expect("an instance waits for its interface");
    let status = h.status().await;
    assert_eq!(status.len(), 1);
    assert_eq!(
        status[0].1.state,
        fulcrum_vrrp::machine::State::Fault,
        "{status:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), h.shutdown())
        .await
        .expect("a waiting instance stops at once");
}

#[tokio::test]
async fn ah_authentication_is_refused_by_name() {
    let mut i = instance("lo", "10.99.0.100");
    i.authentication = Some(VrrpAuth {
        auth_type: VrrpAuthType::Ah,
        auth_pass: "x".into(),
    });
    let e = start_err(i).await;
    assert!(e.contains("AH is not supported"), "{e}");
}

#[tokio::test]
async fn ipv6_needs_version_3() {
    let e = start_err(instance("lo", "fd99::100")).await;
    assert!(e.contains("version 3"), "{e}");
}

#[tokio::test]
async fn vrid_zero_is_refused() {
    let mut i = instance("lo", "10.99.0.100");
    i.virtual_router_id = 0;
    let e = start_err(i).await;
    assert!(e.contains("virtual_router_id"), "{e}");
}

#[tokio::test]
async fn unknown_track_script() {
    let mut i = instance("lo", "10.99.0.100");
    i.track_script.push(fulcrum_config::model::TrackScript {
        script: fulcrum_config::model::Reference {
            name: "nope".into(),
            span: Default::default(),
        },
        weight: None,
    });
    let e = start_err(i).await;
    assert!(e.contains("no vrrp_script"), "{e}");
}

#[tokio::test]
async fn no_instances_is_fine_and_shuts_down() {
    let h = fulcrum_vrrp::start(&Keepalived::default()).await.unwrap();
    assert!(h.states().await.is_empty());
    h.shutdown().await;
}
