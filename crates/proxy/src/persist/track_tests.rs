//! The counter table's unit tests.
use super::*;

fn table(expire: u64) -> CounterTable {
    let s = Duration::from_secs(10);
    CounterTable::new(
        2,
        Some(Duration::from_secs(expire)),
        vec![
            (Data::HttpReqRate, s),
            (Data::ConnCur, s),
            (Data::ConnCnt, s),
            (Data::Gpc0, s),
        ],
    )
}

#[test]
fn rates_slide_over_the_period() {
    let t0 = Instant::now();
    let mut t = table(60);
    for _ in 0..10 {
        t.update(t0, b"a", Event::HttpReq);
    }
    assert_eq!(t.read(t0, b"a", Data::HttpReqRate), Some(10));
    // Half-way through the next period, half of the previous one still counts.
    let later = t0 + Duration::from_secs(15);
    assert_eq!(t.read(later, b"a", Data::HttpReqRate), Some(5));
    t.update(later, b"a", Event::HttpReq);
    assert_eq!(t.read(later, b"a", Data::HttpReqRate), Some(6));
    assert_eq!(
        t.read(t0 + Duration::from_secs(30), b"a", Data::HttpReqRate),
        Some(0)
    );
    assert_eq!(
        t.read(t0, b"b", Data::HttpReqRate),
        Some(0),
        "unknown key: 0"
    );
    assert_eq!(t.read(t0, b"a", Data::HttpErrRate), None, "not stored");
}

#[test]
fn tracking_expiry_and_eviction() {
    let t0 = Instant::now();
    let mut t = table(5);
    t.update(t0, b"a", Event::TrackStart);
    t.update(
        t0,
        b"b",
        Event::IncGpc {
            idx: 0,
            array: false,
        },
    );
    assert_eq!(t.read(t0, b"a", Data::ConnCur), Some(1));
    assert_eq!(t.read(t0, b"b", Data::Gpc0), Some(1));
    // Full: a new key evicts the untracked entry, never the tracked one.
    t.update(
        t0,
        b"c",
        Event::IncGpc {
            idx: 0,
            array: false,
        },
    );
    assert_eq!(t.len(), 2);
    assert_eq!(t.read(t0, b"b", Data::Gpc0), Some(0));
    assert_eq!(t.read(t0, b"a", Data::ConnCnt), Some(1));
    // A tracked entry outlives its expiry; once released it expires.
    let late = t0 + Duration::from_secs(6);
    assert_eq!(t.read(late, b"a", Data::ConnCnt), Some(1));
    t.update(t0, b"a", Event::TrackEnd);
    assert_eq!(t.read(late, b"a", Data::ConnCnt), Some(0));
    assert_eq!(t.read(late, b"c", Data::Gpc0), Some(0));
}

#[test]
fn arrays_and_the_legacy_names_sharing_their_first_slots() {
    let t0 = Instant::now();
    let s = Duration::from_secs(10);
    let mut t = CounterTable::new(
        4,
        None,
        vec![
            (Data::Gpt(0), Duration::ZERO),
            (Data::Gpt(1), Duration::ZERO),
            (Data::Gpc(0), Duration::ZERO),
            (Data::Gpc(1), Duration::ZERO),
            (Data::GpcRate(0), s),
            (Data::GpcRate(1), s),
        ],
    );
    // legacy actions reach the arrays' first elements
    t.update(
        t0,
        b"k",
        Event::IncGpc {
            idx: 0,
            array: false,
        },
    );
    t.update(
        t0,
        b"k",
        Event::IncGpc {
            idx: 1,
            array: true,
        },
    );
    t.update(
        t0,
        b"k",
        Event::IncGpc {
            idx: 1,
            array: true,
        },
    );
    t.update(
        t0,
        b"k",
        Event::SetGpt {
            idx: 0,
            array: false,
            value: 7,
        },
    );
    t.update(
        t0,
        b"k",
        Event::SetGpt {
            idx: 1,
            array: true,
            value: 9,
        },
    );
    assert_eq!(t.read(t0, b"k", Data::Gpc0), Some(1));
    assert_eq!(t.read(t0, b"k", Data::Gpc(0)), Some(1));
    assert_eq!(t.read(t0, b"k", Data::Gpc1), Some(2));
    assert_eq!(t.read(t0, b"k", Data::Gpc1Rate), Some(2));
    assert_eq!(t.read(t0, b"k", Data::Gpt0), Some(7));
    assert_eq!(t.read(t0, b"k", Data::Gpt(1)), Some(9));
    // an element past the array is not stored
    assert_eq!(t.read(t0, b"k", Data::Gpt(2)), None);
    t.update(
        t0,
        b"k",
        Event::ClrGpc {
            idx: 1,
            array: true,
        },
    );
    assert_eq!(t.read(t0, b"k", Data::Gpc(1)), Some(0));
    // the array forms do not reach legacy types
    let mut l = CounterTable::new(4, None, vec![(Data::Gpc0, Duration::ZERO)]);
    l.update(
        t0,
        b"k",
        Event::IncGpc {
            idx: 0,
            array: true,
        },
    );
    assert_eq!(l.read(t0, b"k", Data::Gpc0), Some(0));
    assert_eq!(l.read(t0, b"k", Data::Gpc(0)), None);
}

#[test]
fn sessions_and_server_failures_count_where_stored() {
    let t0 = Instant::now();
    let s = Duration::from_secs(10);
    let mut t = CounterTable::new(
        4,
        None,
        vec![
            (Data::SessCnt, Duration::ZERO),
            (Data::SessRate, s),
            (Data::HttpFailCnt, Duration::ZERO),
            (Data::HttpFailRate, s),
        ],
    );
    t.update(t0, b"k", Event::Session);
    t.update(t0, b"k", Event::Session);
    t.update(t0, b"k", Event::HttpFail);
    assert_eq!(t.read(t0, b"k", Data::SessCnt), Some(2));
    assert_eq!(t.read(t0, b"k", Data::SessRate), Some(2));
    assert_eq!(t.read(t0, b"k", Data::HttpFailCnt), Some(1));
    assert_eq!(t.read(t0, b"k", Data::HttpFailRate), Some(1));
    assert_eq!(t.read(t0, b"k", Data::ConnCnt), None);
}
