//! HAProxy's rates ("events over the last second", as its `read_freq_ctr`): each shard counts
//! the current and the previous second; a reader sums the shards and weighs the previous
//! second by the part of it still within one second. The `*_max` columns keep the highest.

use super::shard::{bump, now_ms};
use super::Counters;
use std::sync::atomic::Ordering;

/// Which rate an event counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rate {
    /// Sessions (`rate`, `rate_max`).
    Sessions,
    /// HTTP requests (`req_rate`, `req_rate_max`).
    Requests,
}

impl Counters {
    /// Counts one event in this second's rate; returns the time (ms since the epoch).
    #[inline]
    pub(super) fn tick(&self, rate: Rate) -> u64 {
        let (s, owned) = self.shard();
        self.tick_in(s, owned, rate)
    }

    /// [`Self::tick`] in this thread's shard `s` (`owned`: its only writer), already looked up.
    #[inline]
    pub(super) fn tick_in(&self, s: &super::shard::Shard, owned: bool, rate: Rate) -> u64 {
        let req = rate == Rate::Requests;
        let ms = now_ms();
        let now = ms / 1000;
        let f = if req { &s.req } else { &s.sess };
        let sec = f.sec.load(Ordering::Relaxed);
        if sec != now {
            self.roll(rate, f, sec, now);
        }
        bump(&f.cur, 1, owned);
        ms
    }

    /// A shard's first event of second `now` (its last was in `sec`): the counts move to
    /// the previous second. Once a second per shard: out of [`Self::tick`]'s way (its
    /// registers and its inlined callers' code).
    #[cold]
    #[inline(never)]
    fn roll(&self, rate: Rate, f: &super::shard::Freq, sec: u64, now: u64) {
        if f.sec
            .compare_exchange(sec, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let done = f.cur.swap(0, Ordering::Relaxed);
        f.prev
            .store(if now == sec + 1 { done } else { 0 }, Ordering::Relaxed);
        // The second that just ended, over every thread, for the `*_max` columns.
        let total = self.second_total(rate, sec);
        let max = if rate == Rate::Requests {
            &self.req_rate_max
        } else {
            &self.rate_max
        };
        max.fetch_max(total, Ordering::Relaxed);
    }

    /// Events of second `sec` over every shard (shards not rolled over yet still count it in
    /// `cur`, the others in `prev`).
    fn second_total(&self, rate: Rate, sec: u64) -> u64 {
        let req = rate == Rate::Requests;
        self.shards
            .iter()
            .map(|s| {
                let f = if req { &s.req } else { &s.sess };
                let at = f.sec.load(Ordering::Relaxed);
                if at == sec {
                    f.cur.load(Ordering::Relaxed)
                } else if at == sec + 1 {
                    f.prev.load(Ordering::Relaxed)
                } else {
                    0
                }
            })
            .sum()
    }

    /// HAProxy's estimate of events over the last second: this second's count plus the part
    /// of the previous second's that is still within one second.
    fn rate_of(&self, rate: Rate) -> u64 {
        let req = rate == Rate::Requests;
        let ms = now_ms();
        let (now, into) = (ms / 1000, ms % 1000);
        let cur = self.second_total(rate, now);
        let prev = if now == 0 {
            0
        } else {
            self.second_total(rate, now - 1)
        };
        let r = cur + prev * (1000 - into) / 1000;
        let max = if req {
            &self.req_rate_max
        } else {
            &self.rate_max
        };
        max.fetch_max(r, Ordering::Relaxed);
        // A second after which no event came was never rolled over by `tick`: its total is
        // final now and counts for `*_max` (HAProxy raises the maximum at each event, so a
        // burst followed by silence still shows in `MaxSslRate`, `SslFrontendMaxKeyRate`...).
        for s in self.shards.iter() {
            let f = if req { &s.req } else { &s.sess };
            let at = f.sec.load(Ordering::Relaxed);
            if at < now {
                max.fetch_max(self.second_total(rate, at), Ordering::Relaxed);
            }
        }
        r
    }

    /// `rate`: sessions over the last second.
    pub fn rate(&self) -> u64 {
        self.rate_of(Rate::Sessions)
    }
    /// `rate_max`.
    pub fn rate_max(&self) -> u64 {
        self.rate();
        self.rate_max.load(Ordering::Relaxed)
    }
    /// `req_rate`: HTTP requests over the last second.
    pub fn req_rate(&self) -> u64 {
        self.rate_of(Rate::Requests)
    }
    pub fn req_rate_max(&self) -> u64 {
        self.req_rate();
        self.req_rate_max.load(Ordering::Relaxed)
    }
}
