//! Counting from many threads, sessions, status classes, averages.

use super::*;
use std::sync::Arc;

#[test]
fn counts_from_many_threads_add_up() {
    let c = Arc::new(Counters::new());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    c.inc(Ctr::Http2xx);
                    c.add(Ctr::BytesOut, 10);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(c.get(Ctr::Http2xx), 8000);
    assert_eq!(c.get(Ctr::BytesOut), 80_000);
}

#[test]
fn sessions_track_current_and_max() {
    let c = Arc::new(Counters::new());
    assert_eq!(c.last_session_secs(), None);
    let a = SessionGuard::start(&c);
    let b = SessionGuard::start(&c);
    assert_eq!((c.current(), c.max(), c.get(Ctr::Sessions)), (2, 2, 2));
    assert_eq!(c.last_session_secs(), Some(0));
    drop(a);
    drop(b);
    let _d = SessionGuard::start(&c);
    assert_eq!((c.current(), c.max(), c.get(Ctr::Sessions)), (1, 2, 3));
    assert!(c.rate() >= 1 && c.rate_max() >= c.rate());
}

#[test]
fn status_classes() {
    assert_eq!(Ctr::for_status(101), Ctr::Http1xx);
    assert_eq!(Ctr::for_status(204), Ctr::Http2xx);
    assert_eq!(Ctr::for_status(503), Ctr::Http5xx);
    assert_eq!(Ctr::for_status(0), Ctr::HttpOther);
    assert_eq!(Ctr::for_status(600), Ctr::HttpOther);
}

#[test]
fn average_times() {
    let c = Counters::new();
    assert_eq!(c.avg(Ctr::TtimeSum), 0);
    c.times(0, 2, 10, 20);
    c.times(0, 4, 30, 40);
    assert_eq!(
        (
            c.avg(Ctr::CtimeSum),
            c.avg(Ctr::RtimeSum),
            c.avg(Ctr::TtimeSum)
        ),
        (3, 20, 30)
    );
}

/// A burst of sessions then silence: the maximum is the burst's second, read seconds later
/// (it was 0: only an event after the burst rolled its second into `rate_max`).
#[test]
fn a_burst_then_silence_keeps_its_maximum() {
    use std::time::{Duration, Instant};
    for _attempt in 0..3 {
        let c = Counters::new();
        let sec = now_ms() / 1000;
        for _ in 0..50 {
            c.start_counted(0);
        }
        if now_ms() / 1000 != sec {
            continue; // the burst straddled two seconds: try again
        }
        // Two seconds later the estimate over the last second is 0.
        let deadline = Instant::now() + Duration::from_secs(10);
        while now_ms() / 1000 < sec + 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(c.rate(), 0);
        assert_eq!(c.rate_max(), 50);
        return;
    }
    panic!("three bursts of 50 events each straddled a second");
}
