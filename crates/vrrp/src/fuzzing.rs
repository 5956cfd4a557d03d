//! The fuzz targets' entry (fuzz/fuzz_targets/vrrp_packet.rs) and its corpus replay test: the
//! first byte picks the case (v2 over IPv4, v3 over IPv4, v3 over IPv6), the rest is the VRRP
//! message as received. Decoding and the state machine must never panic.

use crate::machine::{GarpTiming, InstanceConfig, Machine, Received};
use crate::packet::{self, Auth};
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub fn one_input(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let (version, src, dst, me): (u8, IpAddr, IpAddr, IpAddr) = match selector % 3 {
        0 => (
            2,
            [10, 99, 0, 1].into(),
            packet::MULTICAST_V4.into(),
            [10, 99, 0, 2].into(),
        ),
        1 => (
            3,
            [10, 99, 0, 1].into(),
            packet::MULTICAST_V4.into(),
            [10, 99, 0, 2].into(),
        ),
        _ => (
            3,
            "fe80::1".parse().unwrap_or(IpAddr::from([0u8; 16])),
            packet::MULTICAST_V6.into(),
            "fe80::2".parse().unwrap_or(IpAddr::from([0u8; 16])),
        ),
    };
    let _ = packet::decode(bytes, src, dst);
    let mut m = Machine::new(InstanceConfig {
        version,
        vrid: 51,
        priority: 100,
        advert_int: Duration::from_secs(1),
        auth: if version == 2 {
            Auth::pass("secret")
        } else {
            Auth::None
        },
        addresses: vec![if me.is_ipv4() {
            [10, 99, 0, 100].into()
        } else {
            "fe80::100".parse().unwrap_or(IpAddr::from([0u8; 16]))
        }],
        primary: me,
        preempt: selector & 0x80 == 0,
        preempt_delay: (selector & 0x40 != 0).then_some(Duration::from_secs(1)),
        garp: GarpTiming {
            delay: Duration::from_secs(5),
            repeat: 5,
            refresh: None,
        },
    });
    let t0 = Instant::now();
    m.start(t0);
    // As BACKUP, as MASTER, and while handing over.
    for step in 0..3u64 {
        let now = t0 + Duration::from_secs(4 * step);
        m.handle_timeout(now);
        let rx = Received {
            src,
            dst,
            ttl: packet::TTL,
            bytes,
        };
        let _ = m.handle_packet(now, &rx);
        if step == 1 {
            m.shutdown(now);
        }
        while m.poll_action().is_some() {}
    }
}
