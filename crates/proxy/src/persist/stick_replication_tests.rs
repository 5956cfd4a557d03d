//! The stick table's replication hook: the update feed, `apply`'s conflict rule, `live`.

use super::stick::{StickTable, UpdateFeed};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

type Fed = Arc<Mutex<Vec<(IpAddr, &'static str, Option<Instant>)>>>;

fn table_with_feed() -> (StickTable<IpAddr, &'static str>, Fed) {
    let fed: Fed = Arc::default();
    let mut t = StickTable::new(10, Some(Duration::from_secs(30)), false);
    let sink = fed.clone();
    t.set_feed(UpdateFeed(Arc::new(move |k: &IpAddr, s: &&str, e| {
        sink.lock().unwrap().push((*k, *s, e))
    })));
    (t, fed)
}

#[test]
fn every_store_is_fed_with_its_expiry() {
    let t0 = Instant::now();
    let (mut t, fed) = table_with_feed();
    t.store(t0, ip("10.0.0.1"), "s1");
    t.stick_on(t0 + Duration::from_secs(5), &ip("10.0.0.1"), |_| true);
    let fed = fed.lock().unwrap();
    assert_eq!(
        *fed,
        [
            (ip("10.0.0.1"), "s1", Some(t0 + Duration::from_secs(30))),
            (ip("10.0.0.1"), "s1", Some(t0 + Duration::from_secs(35))),
        ],
        "a refresh by use is fed too (the peer's copy must not expire first)"
    );
}

#[test]
fn apply_takes_the_entry_used_last_and_does_not_feed_it_back() {
    let t0 = Instant::now();
    let (mut t, fed) = table_with_feed();
    t.store(t0, ip("10.0.0.1"), "local");
    fed.lock().unwrap().clear();
    // Older than the local entry (expires first): the local one stays.
    assert!(!t.apply(
        t0,
        ip("10.0.0.1"),
        "peer",
        Some(t0 + Duration::from_secs(10))
    ));
    assert_eq!(t.lookup(t0, &ip("10.0.0.1")), Some(&"local"));
    // A tie keeps the local entry.
    assert!(!t.apply(
        t0,
        ip("10.0.0.1"),
        "peer",
        Some(t0 + Duration::from_secs(30))
    ));
    // Used later on the peer: taken, with the peer's expiry, not this table's `expire`.
    assert!(t.apply(
        t0,
        ip("10.0.0.1"),
        "peer",
        Some(t0 + Duration::from_secs(40))
    ));
    assert_eq!(
        t.lookup(t0 + Duration::from_secs(39), &ip("10.0.0.1")),
        Some(&"peer")
    );
    // A new key, an expired entry.
    assert!(t.apply(
        t0,
        ip("10.0.0.2"),
        "peer",
        Some(t0 + Duration::from_secs(5))
    ));
    assert!(!t.apply(t0, ip("10.0.0.3"), "peer", Some(t0)));
    assert!(
        fed.lock().unwrap().is_empty(),
        "applied entries are not fed"
    );
    let mut live = t.live(t0 + Duration::from_secs(1));
    live.sort();
    assert_eq!(
        live,
        [
            (ip("10.0.0.1"), "peer", Some(t0 + Duration::from_secs(40))),
            (ip("10.0.0.2"), "peer", Some(t0 + Duration::from_secs(5))),
        ]
    );
    // The applied entry expires on its own date and frees its room.
    assert_eq!(t.live(t0 + Duration::from_secs(6)).len(), 1);
    assert_eq!(
        t.lookup(t0 + Duration::from_secs(40), &ip("10.0.0.1")),
        None
    );
}

#[test]
fn apply_respects_size_and_nopurge() {
    let t0 = Instant::now();
    let mut t: StickTable<IpAddr, &str> = StickTable::new(1, None, true);
    assert!(t.apply(t0, ip("10.0.0.1"), "a", None));
    assert!(!t.apply(t0, ip("10.0.0.2"), "b", None), "full, nopurge");
    // Without expiry on either side, a different server from a peer wins (as HAProxy).
    assert!(t.apply(t0, ip("10.0.0.1"), "c", None));
    assert!(
        !t.apply(t0, ip("10.0.0.1"), "c", None),
        "same entry: nothing to do"
    );
    assert_eq!(t.lookup(t0, &ip("10.0.0.1")), Some(&"c"));
}
