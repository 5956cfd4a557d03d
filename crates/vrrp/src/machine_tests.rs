//! Deterministic tests of every state-machine transition, with simulated time.

use super::*;
use crate::packet::{encode, MULTICAST_V4};

const ME: &str = "10.99.0.2";
const LOWER_PEER: &str = "10.99.0.1";
const HIGHER_PEER: &str = "10.99.0.3";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cfg(version: u8, priority: u8) -> InstanceConfig {
    InstanceConfig {
        version,
        vrid: 51,
        priority,
        advert_int: Duration::from_secs(1),
        auth: if version == 2 {
            Auth::pass("secret")
        } else {
            Auth::None
        },
        addresses: vec![ip("10.99.0.100")],
        primary: ip(ME),
        preempt: true,
        preempt_delay: None,
        garp: GarpTiming {
            delay: Duration::from_secs(5),
            repeat: 5,
            refresh: None,
        },
    }
}

struct Sim {
    m: Machine,
    t0: Instant,
}

impl Sim {
    fn new(cfg: InstanceConfig) -> Sim {
        Sim {
            m: Machine::new(cfg),
            t0: Instant::now(),
        }
    }
    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }
    fn start(&mut self) -> Vec<Action> {
        self.m.start(self.t0);
        self.drain()
    }
    fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.m.poll_action()).collect()
    }
    /// Runs every timer due up to `ms`, in order, like the adapter would.
    fn advance(&mut self, ms: u64) -> Vec<Action> {
        let end = self.at(ms);
        while let Some(t) = self.m.poll_timeout().filter(|t| *t <= end) {
            self.m.handle_timeout(t);
        }
        self.drain()
    }
    fn advert_from(&mut self, ms: u64, from: &str, priority: u8) -> Result<Vec<Action>, DropCause> {
        let a = advert_bytes(self.m.config().version, priority);
        let bytes = encode(&a, ip(from), IpAddr::V4(MULTICAST_V4));
        self.packet(ms, from, 255, &bytes)
    }
    fn packet(
        &mut self,
        ms: u64,
        from: &str,
        ttl: u8,
        bytes: &[u8],
    ) -> Result<Vec<Action>, DropCause> {
        let rx = Received {
            src: ip(from),
            dst: IpAddr::V4(MULTICAST_V4),
            ttl,
            bytes,
        };
        self.m.handle_packet(self.at(ms), &rx)?;
        Ok(self.drain())
    }
}

fn advert_bytes(version: u8, priority: u8) -> Advert {
    Advert {
        version,
        vrid: 51,
        priority,
        interval_cs: 100,
        auth: if version == 2 {
            Auth::pass("secret")
        } else {
            Auth::None
        },
        addresses: vec![ip("10.99.0.100")],
    }
}

fn sends(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert(ad) => Some(ad.priority),
            _ => None,
        })
        .collect()
}

fn changed_to(actions: &[Action]) -> Option<State> {
    actions.iter().rev().find_map(|a| match a {
        Action::StateChanged { to, .. } => Some(*to),
        _ => None,
    })
}

#[test]
fn timing_formulas_v2_and_v3() {
    let m = Machine::new(cfg(2, 100));
    // Skew_Time = (256 - 100) / 256 s = 609.375 ms.
    assert_eq!(m.skew_time(), Duration::from_micros(609_375));
    assert_eq!(m.master_down_interval(), Duration::from_micros(3_609_375));
    let mut c = cfg(3, 100);
    c.advert_int = Duration::from_millis(100);
    let m = Machine::new(c);
    // v3 scales skew by the interval: (256 - 100) × 100 ms / 256.
    assert_eq!(
        m.skew_time(),
        Duration::from_micros(60_937) + Duration::from_nanos(500)
    );
    assert_eq!(
        m.master_down_interval(),
        Duration::from_millis(300) + m.skew_time()
    );
}

#[test]
fn startup_goes_backup_then_master_after_master_down_interval() {
    let mut s = Sim::new(cfg(2, 100));
    let a = s.start();
    assert_eq!(
        a,
        vec![Action::StateChanged {
            from: State::Init,
            to: State::Backup
        }]
    );
    assert_eq!(
        s.m.poll_timeout(),
        Some(s.at(3609) + Duration::from_micros(375))
    );
    assert!(s.advance(3609).is_empty(), "not yet");
    let a = s.advance(3610);
    assert_eq!(sends(&a), vec![100]);
    assert!(a.contains(&Action::AddAddresses));
    assert!(a.contains(&Action::Announce { count: 5 }));
    assert_eq!(changed_to(&a), Some(State::Master));
    assert_eq!(s.m.state(), State::Master);
}

#[test]
fn address_owner_goes_master_at_startup() {
    let mut s = Sim::new(cfg(2, 255));
    let a = s.start();
    assert_eq!(sends(&a), vec![255]);
    assert!(a.contains(&Action::AddAddresses));
    assert_eq!(s.m.state(), State::Master);
    // The owner ignores tracking weights.
    s.m.set_priority(s.at(1), 50);
    assert_eq!(s.m.priority(), 255);
}

#[test]
fn master_sends_an_advert_every_interval() {
    let mut s = Sim::new(cfg(3, 255));
    s.start();
    assert_eq!(sends(&s.advance(999)), Vec::<u8>::new());
    assert_eq!(sends(&s.advance(1000)), vec![255]);
    assert_eq!(sends(&s.advance(3500)), vec![255, 255]);
}

#[test]
fn backup_hearing_a_master_resets_master_down_timer() {
    let mut s = Sim::new(cfg(2, 100));
    s.start();
    // A higher master keeps us BACKUP as long as it speaks.
    for k in 0..10 {
        assert_eq!(s.advert_from(k * 1000 + 3000, HIGHER_PEER, 150), Ok(vec![]));
        assert!(s.advance(k * 1000 + 3500).is_empty());
    }
    assert_eq!(s.m.state(), State::Backup);
    // It stops (SIGKILL): takeover 3 × advert + skew after its last advert.
    let last = 9 * 1000 + 3000;
    assert!(s.advance(last + 3609).is_empty());
    assert_eq!(changed_to(&s.advance(last + 3610)), Some(State::Master));
}

#[test]
fn backup_takes_over_after_skew_time_on_priority_zero() {
    let mut s = Sim::new(cfg(2, 100));
    s.start();
    s.advert_from(1000, HIGHER_PEER, 150).unwrap();
    s.advert_from(1500, HIGHER_PEER, 0).unwrap();
    assert!(s.advance(1500 + 609).is_empty());
    assert_eq!(changed_to(&s.advance(1500 + 610)), Some(State::Master));
}

#[test]
fn preemption_backup_ignores_lower_master_and_takes_over() {
    let mut s = Sim::new(cfg(2, 100));
    s.start();
    for k in 0..3 {
        assert_eq!(s.advert_from(k * 1000, LOWER_PEER, 50), Ok(vec![]));
    }
    // Lower adverts do not reset Master_Down_Timer: takeover at Master_Down_Interval.
    assert_eq!(changed_to(&s.advance(3610)), Some(State::Master));
}

#[test]
fn nopreempt_backup_defers_to_lower_master() {
    let mut c = cfg(2, 100);
    c.preempt = false;
    let mut s = Sim::new(c);
    s.start();
    for k in 0..10 {
        s.advert_from(k * 1000, LOWER_PEER, 50).unwrap();
    }
    assert!(s.advance(9000 + 3609).is_empty());
    assert_eq!(s.m.state(), State::Backup);
    assert_eq!(
        changed_to(&s.advance(9000 + 3610)),
        Some(State::Master),
        "…until it goes silent"
    );
}

#[test]
fn preempt_delay_defers_then_preempts() {
    let mut c = cfg(2, 100);
    c.preempt_delay = Some(Duration::from_secs(5));
    let mut s = Sim::new(c);
    s.start();
    // A lower master speaks every second from t=0: we defer to it until t=5 s; later adverts
    // are discarded and Master_Down_Timer (last reset at t=4 s) runs out.
    for k in 0..=6 {
        s.advert_from(k * 1000, LOWER_PEER, 50).unwrap();
        assert!(
            s.advance(k * 1000 + 999).is_empty(),
            "still deferring at {k} s"
        );
    }
    s.advert_from(7000, LOWER_PEER, 50).unwrap();
    assert!(s.advance(7609).is_empty());
    assert_eq!(changed_to(&s.advance(7610)), Some(State::Master));
}

fn master_at_100() -> Sim {
    let mut s = Sim::new(cfg(2, 100));
    s.start();
    s.advance(3610);
    assert_eq!(s.m.state(), State::Master);
    s
}

#[test]
fn master_steps_down_for_higher_priority() {
    let mut s = master_at_100();
    let a = s.advert_from(4000, LOWER_PEER, 150).unwrap();
    assert_eq!(
        a,
        vec![Action::StateChanged {
            from: State::Master,
            to: State::Backup
        }]
    );
    // The addresses stay HANDOVER_LINGER more, while clients follow the new master's ARPs.
    assert_eq!(s.m.poll_timeout(), Some(s.at(4200)));
    assert_eq!(s.advance(4199), vec![]);
    assert_eq!(s.advance(4200), vec![Action::RemoveAddresses]);
    assert_eq!(
        s.m.poll_timeout(),
        Some(s.at(4000 + 3609) + Duration::from_micros(375))
    );
}

#[test]
fn equal_priority_is_broken_by_the_higher_primary_address() {
    let mut s = master_at_100();
    // From a lower address: we stay master and answer at once.
    let a = s.advert_from(4000, LOWER_PEER, 100).unwrap();
    assert_eq!(sends(&a), vec![100]);
    assert_eq!(s.m.state(), State::Master);
    // From a higher address: we step down.
    let a = s.advert_from(4100, HIGHER_PEER, 100).unwrap();
    assert_eq!(changed_to(&a), Some(State::Backup));
    assert!(s.advance(4300).contains(&Action::RemoveAddresses));
}

#[test]
fn master_answers_priority_zero_with_an_advert() {
    let mut s = master_at_100();
    let a = s.advert_from(4000, LOWER_PEER, 0).unwrap();
    assert_eq!(sends(&a), vec![100]);
    assert_eq!(s.m.state(), State::Master);
    // Adver_Timer restarted from then.
    assert_eq!(sends(&s.advance(4999)), Vec::<u8>::new());
    assert_eq!(sends(&s.advance(5000)), vec![100]);
}

#[test]
fn master_shutdown_now_sends_priority_zero_and_removes_addresses() {
    let mut s = master_at_100();
    s.m.shutdown_now(s.at(5000));
    let a = s.drain();
    assert_eq!(sends(&a), vec![0]);
    assert!(a.contains(&Action::RemoveAddresses));
    assert_eq!(changed_to(&a), Some(State::Init));
    assert_eq!(s.m.poll_timeout(), None);
}

#[test]
fn planned_stop_keeps_the_addresses_until_the_new_master_advertises() {
    let mut s = master_at_100();
    s.m.shutdown(s.at(5000));
    let a = s.drain();
    assert_eq!(sends(&a), vec![0], "priority 0 at once");
    assert!(
        !a.contains(&Action::RemoveAddresses),
        "addresses kept: {a:?}"
    );
    assert_eq!(changed_to(&a), None);
    assert_eq!(s.m.state(), State::Master);
    assert!(s.m.handing_over());
    // Our own tracking changes and another leaving router change nothing meanwhile.
    s.m.set_priority(s.at(5100), 50);
    assert_eq!(s.drain(), vec![]);
    assert_eq!(s.advert_from(5200, HIGHER_PEER, 0).unwrap(), vec![]);
    // The backup takes over after its Skew_Time and advertises: the addresses go
    // HANDOVER_LINGER later, once clients have followed its gratuitous ARPs.
    assert_eq!(s.advert_from(5600, LOWER_PEER, 90).unwrap(), vec![]);
    assert_eq!(s.advert_from(5650, HIGHER_PEER, 200).unwrap(), vec![]);
    assert_eq!(s.advance(5799), vec![]);
    let a = s.advance(5800);
    assert_eq!(
        a,
        vec![
            Action::RemoveAddresses,
            Action::HandedOver {
                new_master: Some(ip(LOWER_PEER))
            },
            Action::StateChanged {
                from: State::Master,
                to: State::Init
            }
        ]
    );
    assert!(!s.m.handing_over());
    assert_eq!(s.m.poll_timeout(), None);
    // A second stop does nothing more.
    s.m.shutdown(s.at(5700));
    assert_eq!(s.drain(), vec![]);
}

#[test]
fn planned_stop_repeats_priority_zero_and_is_bounded() {
    let mut s = master_at_100();
    s.m.shutdown(s.at(5000));
    s.drain();
    let bound = s.m.handover_timeout();
    assert_eq!(bound, s.m.master_down_interval(), "1 s adverts: 3 s + skew");
    // Nobody answers: priority 0 again every interval, never our own priority.
    assert_eq!(sends(&s.advance(6000)), vec![0]);
    assert_eq!(sends(&s.advance(7000)), vec![0]);
    let end = 5000 + bound.as_millis() as u64;
    let a = s.advance(end - 1);
    assert!(!a.contains(&Action::RemoveAddresses));
    let a = s.advance(end + 1);
    assert!(a.contains(&Action::RemoveAddresses), "{a:?}");
    assert!(a.contains(&Action::HandedOver { new_master: None }));
    assert_eq!(changed_to(&a), Some(State::Init));
    // Long adverts: capped.
    let mut c = cfg(3, 100);
    c.advert_int = Duration::from_secs(10);
    assert_eq!(Machine::new(c).handover_timeout(), HANDOVER_MAX);
}

#[test]
fn a_fault_or_an_immediate_stop_ends_a_handover_at_once() {
    let mut s = master_at_100();
    s.m.shutdown(s.at(5000));
    s.drain();
    s.m.set_fault(s.at(5100), true);
    let a = s.drain();
    assert!(a.contains(&Action::RemoveAddresses));
    assert_eq!(changed_to(&a), Some(State::Init));

    let mut s = master_at_100();
    s.m.shutdown(s.at(5000));
    s.drain();
    s.m.shutdown_now(s.at(5100));
    let a = s.drain();
    assert!(a.contains(&Action::RemoveAddresses));
    assert!(a.contains(&Action::HandedOver { new_master: None }));
    assert_eq!(sends(&a), Vec::<u8>::new(), "priority 0 was already sent");
}

#[test]
fn a_pending_removal_is_flushed_by_a_stop_or_a_fault() {
    let mut s = master_at_100();
    s.advert_from(4000, LOWER_PEER, 150).unwrap();
    s.m.shutdown(s.at(4050));
    let a = s.drain();
    assert_eq!(a[0], Action::RemoveAddresses, "{a:?}");
    let mut s = master_at_100();
    s.advert_from(4000, LOWER_PEER, 150).unwrap();
    s.m.set_fault(s.at(4050), true);
    assert!(s.drain().contains(&Action::RemoveAddresses));
}

#[test]
fn backup_shutdown_is_silent() {
    let mut s = Sim::new(cfg(2, 100));
    s.start();
    s.m.shutdown(s.at(100));
    let a = s.drain();
    assert_eq!(
        a,
        vec![Action::StateChanged {
            from: State::Backup,
            to: State::Init
        }]
    );
}

#[test]
fn fault_from_master_and_backup_and_recovery() {
    let mut s = master_at_100();
    s.m.set_fault(s.at(4000), true);
    let a = s.drain();
    assert_eq!(sends(&a), vec![0], "a faulty master hands over at once");
    assert!(a.contains(&Action::RemoveAddresses));
    assert_eq!(s.m.state(), State::Fault);
    assert_eq!(s.m.poll_timeout(), None);
    // Adverts are validated but ignored in FAULT.
    assert_eq!(s.advert_from(4500, LOWER_PEER, 50), Ok(vec![]));
    s.m.set_fault(s.at(5000), false);
    assert_eq!(changed_to(&s.drain()), Some(State::Backup));
    assert_eq!(changed_to(&s.advance(5000 + 3610)), Some(State::Master));

    let mut s = Sim::new(cfg(2, 100));
    s.start();
    s.m.set_fault(s.at(100), true);
    assert_eq!(
        s.drain(),
        vec![Action::StateChanged {
            from: State::Backup,
            to: State::Fault
        }]
    );
}

#[test]
fn fault_before_start_starts_in_fault() {
    let mut s = Sim::new(cfg(2, 100));
    s.m.set_fault(s.t0, true);
    assert_eq!(changed_to(&s.start()), Some(State::Fault));
}

#[test]
fn lowered_priority_is_advertised_at_once_and_lets_a_backup_preempt() {
    let mut s = master_at_100();
    s.m.set_priority(s.at(4000), 80);
    assert_eq!(sends(&s.drain()), vec![80]);
    assert_eq!(s.m.priority(), 80);
    assert_eq!(sends(&s.advance(5000)), vec![80]);
    // Priorities are kept within 1..=254.
    s.m.set_priority(s.at(5001), 0);
    assert_eq!(s.m.priority(), 1);
}

#[test]
fn drops_are_counted_by_cause() {
    let mut s = Sim::new(cfg(2, 100));
    s.start();
    let good = encode(
        &advert_bytes(2, 150),
        ip(HIGHER_PEER),
        IpAddr::V4(MULTICAST_V4),
    );
    assert_eq!(s.packet(10, HIGHER_PEER, 64, &good), Err(DropCause::Ttl));
    let mut bad = good.clone();
    bad[7] ^= 0xff;
    assert_eq!(
        s.packet(20, HIGHER_PEER, 255, &bad),
        Err(DropCause::Checksum)
    );
    assert_eq!(
        s.packet(30, HIGHER_PEER, 255, &good[..5]),
        Err(DropCause::Truncated)
    );
    let mut other = advert_bytes(2, 150);
    other.vrid = 52;
    let b = encode(&other, ip(HIGHER_PEER), IpAddr::V4(MULTICAST_V4));
    assert_eq!(s.packet(40, HIGHER_PEER, 255, &b), Err(DropCause::Vrid));
    let mut other = advert_bytes(2, 150);
    other.auth = Auth::pass("wrong");
    let b = encode(&other, ip(HIGHER_PEER), IpAddr::V4(MULTICAST_V4));
    assert_eq!(
        s.packet(50, HIGHER_PEER, 255, &b),
        Err(DropCause::Authentication)
    );
    other.auth = Auth::None;
    let b = encode(&other, ip(HIGHER_PEER), IpAddr::V4(MULTICAST_V4));
    assert_eq!(
        s.packet(55, HIGHER_PEER, 255, &b),
        Err(DropCause::Authentication)
    );
    let mut other = advert_bytes(2, 150);
    other.interval_cs = 200;
    let b = encode(&other, ip(HIGHER_PEER), IpAddr::V4(MULTICAST_V4));
    assert_eq!(s.packet(60, HIGHER_PEER, 255, &b), Err(DropCause::Interval));
    let b = encode(
        &advert_bytes(3, 150),
        ip(HIGHER_PEER),
        IpAddr::V4(MULTICAST_V4),
    );
    assert_eq!(
        s.packet(70, HIGHER_PEER, 255, &b),
        Err(DropCause::VersionMismatch)
    );
    assert_eq!(s.packet(80, ME, 255, &good), Err(DropCause::OwnPacket));
    assert_eq!(
        s.packet(90, HIGHER_PEER, 255, &[0x11, 0, 0, 0, 0, 0, 0, 0]),
        Err(DropCause::Malformed)
    );
    let c = s.m.counters();
    assert_eq!(c.received, 10);
    assert_eq!(c.accepted, 0);
    for cause in [
        DropCause::Ttl,
        DropCause::Checksum,
        DropCause::Truncated,
        DropCause::Vrid,
        DropCause::Interval,
    ] {
        assert_eq!(c.dropped(cause), 1, "{cause:?}");
    }
    assert_eq!(c.dropped(DropCause::Authentication), 2);
    // None of them reset Master_Down_Timer: we still take over on time.
    assert_eq!(changed_to(&s.advance(3610)), Some(State::Master));
}

#[test]
fn address_list_mismatch_is_counted_but_accepted() {
    let mut s = Sim::new(cfg(3, 100));
    s.start();
    let mut a = advert_bytes(3, 150);
    a.addresses = vec![ip("10.99.0.200")];
    let b = encode(&a, ip(HIGHER_PEER), IpAddr::V4(MULTICAST_V4));
    assert_eq!(s.packet(10, HIGHER_PEER, 255, &b), Ok(vec![]));
    assert_eq!(s.m.counters().address_list_mismatch, 1);
}

#[test]
fn v3_centisecond_interval() {
    let mut c = cfg(3, 100);
    c.advert_int = Duration::from_millis(100);
    let mut s = Sim::new(c);
    s.start();
    let a = s.advance(361);
    assert_eq!(changed_to(&a), Some(State::Master));
    match &a[0] {
        Action::SendAdvert(ad) => assert_eq!(ad.interval_cs, 10),
        other => panic!("expected an advert first, got {other:?}"),
    }
    assert_eq!(sends(&s.advance(461)), vec![100]);
}

#[test]
fn garp_bursts_follow_delay_repeat_refresh() {
    let mut c = cfg(2, 255);
    c.garp = GarpTiming {
        delay: Duration::from_secs(5),
        repeat: 3,
        refresh: Some(Duration::from_secs(2)),
    };
    let mut s = Sim::new(c);
    let a = s.start();
    assert!(a.contains(&Action::Announce { count: 3 }));
    let announces = |a: &[Action]| {
        a.iter()
            .filter(|x| matches!(x, Action::Announce { .. }))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(announces(&s.advance(1999)), vec![]);
    assert_eq!(
        announces(&s.advance(2000)),
        vec![Action::Announce { count: 1 }]
    );
    assert_eq!(
        announces(&s.advance(4000)),
        vec![Action::Announce { count: 1 }]
    );
    assert_eq!(
        announces(&s.advance(5000)),
        vec![Action::Announce { count: 3 }]
    );
    // Leaving MASTER stops both.
    s.m.shutdown(s.at(5100));
    s.drain();
    assert_eq!(announces(&s.advance(20_000)), vec![]);
}

#[test]
fn garp_without_second_burst_when_delay_is_zero() {
    let mut c = cfg(2, 255);
    c.garp = GarpTiming {
        delay: Duration::ZERO,
        repeat: 1,
        refresh: None,
    };
    let mut s = Sim::new(c);
    s.start();
    assert_eq!(s.m.poll_timeout(), Some(s.at(1000)), "only the Adver_Timer");
}

#[test]
fn sync_group_forcing() {
    let mut s = Sim::new(cfg(2, 100));
    s.start();
    s.m.force_master(s.at(10));
    assert_eq!(s.m.state(), State::Master);
    assert!(s.drain().contains(&Action::AddAddresses));
    s.m.force_backup(s.at(20));
    let a = s.drain();
    assert_eq!(sends(&a), vec![0]);
    assert_eq!(changed_to(&a), Some(State::Backup));
    // A faulty member is not forced to MASTER.
    s.m.set_fault(s.at(30), true);
    s.m.force_master(s.at(40));
    assert_eq!(s.m.state(), State::Fault);
}

#[test]
fn v2_interval_is_whole_seconds_on_the_wire_and_in_the_timer() {
    let mut c = cfg(2, 255);
    c.advert_int = Duration::from_millis(500);
    let mut s = Sim::new(c);
    let a = s.start();
    match &a[0] {
        Action::SendAdvert(ad) => assert_eq!(ad.interval_cs, 100),
        other => panic!("expected an advert first, got {other:?}"),
    }
    assert_eq!(sends(&s.advance(999)), Vec::<u8>::new());
    assert_eq!(sends(&s.advance(1000)), vec![255]);
}
