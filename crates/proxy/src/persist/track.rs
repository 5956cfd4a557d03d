//! Stick counters: the data a `stick-table ... store ...` keeps per key (`conn_cnt conn_cur
//! conn_rate() http_req_cnt http_req_rate() http_err_cnt http_err_rate() gpc0 gpc0_rate()
//! gpc1 gpt0 bytes_in_cnt bytes_out_cnt bytes_in_rate() bytes_out_rate()`), updated by the
//! streams that track a key (`track-sc0/1/2`) and read by the `sc*_`/`src_*` fetches. Pure:
//! the caller passes `now`. Sits beside `stick.rs` (server persistence), which it leaves
//! alone. Rates are HAProxy's sliding-window frequency counters: the current period's
//! count plus the previous period's weighted by what is left of the current one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A data type a table stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Data {
    ConnCnt,
    ConnCur,
    ConnRate,
    HttpReqCnt,
    HttpReqRate,
    HttpErrCnt,
    HttpErrRate,
    Gpc0,
    Gpc0Rate,
    Gpc1,
    Gpt0,
    BytesInCnt,
    BytesOutCnt,
    BytesInRate,
    BytesOutRate,
    ServerId,
}

impl Data {
    /// `(name, needs a period)` of every type fulcrum keeps.
    pub const ALL: &'static [(&'static str, Data, bool)] = &[
        ("conn_cnt", Data::ConnCnt, false),
        ("conn_cur", Data::ConnCur, false),
        ("conn_rate", Data::ConnRate, true),
        ("http_req_cnt", Data::HttpReqCnt, false),
        ("http_req_rate", Data::HttpReqRate, true),
        ("http_err_cnt", Data::HttpErrCnt, false),
        ("http_err_rate", Data::HttpErrRate, true),
        ("gpc0", Data::Gpc0, false),
        ("gpc0_rate", Data::Gpc0Rate, true),
        ("gpc1", Data::Gpc1, false),
        ("gpt0", Data::Gpt0, false),
        ("bytes_in_cnt", Data::BytesInCnt, false),
        ("bytes_out_cnt", Data::BytesOutCnt, false),
        ("bytes_in_rate", Data::BytesInRate, true),
        ("bytes_out_rate", Data::BytesOutRate, true),
        ("server_id", Data::ServerId, false),
    ];

    /// HAProxy's data type number (`STKTABLE_DT_*`): the order `show table` prints them in.
    pub fn haproxy_id(self) -> u8 {
        match self {
            Data::ServerId => 0,
            Data::Gpt0 => 1,
            Data::Gpc0 => 2,
            Data::Gpc0Rate => 3,
            Data::ConnCnt => 4,
            Data::ConnRate => 5,
            Data::ConnCur => 6,
            Data::HttpReqCnt => 9,
            Data::HttpReqRate => 10,
            Data::HttpErrCnt => 11,
            Data::HttpErrRate => 12,
            Data::BytesInCnt => 13,
            Data::BytesInRate => 14,
            Data::BytesOutCnt => 15,
            Data::BytesOutRate => 16,
            Data::Gpc1 => 17,
        }
    }

    pub fn name(self) -> &'static str {
        Data::ALL
            .iter()
            .find(|(_, d, _)| *d == self)
            .map_or("", |(n, _, _)| n)
    }

    pub fn is_rate(self) -> bool {
        Data::ALL.iter().any(|(_, d, p)| *d == self && *p)
    }

    pub fn parse(name: &str) -> Option<(Data, bool)> {
        Data::ALL
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, d, p)| (*d, *p))
    }
}

/// HAProxy's `freq_ctr` over a period.
#[derive(Debug, Clone, Copy, Default)]
struct Freq {
    start: Option<Instant>,
    curr: u64,
    prev: u64,
}

impl Freq {
    fn rotate(&mut self, now: Instant, period: Duration) {
        let Some(start) = self.start else {
            self.start = Some(now);
            return;
        };
        let elapsed = now.saturating_duration_since(start);
        if elapsed < period {
            return;
        }
        self.prev = if elapsed < period * 2 { self.curr } else { 0 };
        self.curr = 0;
        let periods = (elapsed.as_nanos() / period.as_nanos().max(1)) as u32;
        self.start = Some(start + period * periods);
    }

    fn add(&mut self, now: Instant, period: Duration, n: u64) {
        self.rotate(now, period);
        self.curr += n;
    }

    fn read(&self, now: Instant, period: Duration) -> u64 {
        let mut f = *self;
        f.rotate(now, period);
        let Some(start) = f.start else { return 0 };
        let elapsed = now.saturating_duration_since(start).as_nanos();
        let p = period.as_nanos().max(1);
        let remain = p.saturating_sub(elapsed);
        f.curr + (u128::from(f.prev) * remain / p) as u64
    }
}

/// One key's counters.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    conn_cnt: u64,
    conn_cur: u64,
    http_req_cnt: u64,
    http_err_cnt: u64,
    gpc0: u64,
    gpc1: u64,
    gpt0: u64,
    bytes_in: u64,
    bytes_out: u64,
    conn_rate: Freq,
    http_req_rate: Freq,
    http_err_rate: Freq,
    gpc0_rate: Freq,
    bytes_in_rate: Freq,
    bytes_out_rate: Freq,
    server_id: u64,
    /// The server's name, written by stick rules (HAProxy 2.6's `server_key`).
    server_key: Option<Box<str>>,
    expires: Option<Instant>,
}

/// What happened to a tracked key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A stream started tracking it (`conn_cur`, `conn_cnt`, `conn_rate`).
    TrackStart,
    /// A stream that tracked it ended (`conn_cur` down).
    TrackEnd,
    HttpReq,
    HttpErr,
    IncGpc0,
    IncGpc1,
    SetGpt0(u64),
    BytesIn(u64),
    BytesOut(u64),
}

/// A `stick-table`'s counters by key.
#[derive(Debug)]
pub struct CounterTable {
    pub size: usize,
    pub expire: Option<Duration>,
    /// The stored types, each with its period (rates).
    pub store: Vec<(Data, Duration)>,
    entries: HashMap<Vec<u8>, Counters>,
}

impl CounterTable {
    pub fn new(size: usize, expire: Option<Duration>, store: Vec<(Data, Duration)>) -> Self {
        CounterTable {
            size,
            expire,
            store,
            entries: HashMap::new(),
        }
    }

    fn period(&self, d: Data) -> Option<Duration> {
        self.store.iter().find(|(x, _)| *x == d).map(|(_, p)| *p)
    }

    pub fn stores(&self, d: Data) -> bool {
        self.period(d).is_some()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn alive(&self, now: Instant, c: &Counters) -> bool {
        c.conn_cur > 0 || c.expires.is_none_or(|e| e > now)
    }

    /// Applies `ev` to `key`'s entry, creating it (evicting the entry closest to expiry when
    /// the table is full, never one a stream still tracks), and refreshes its expiry.
    pub fn update(&mut self, now: Instant, key: &[u8], ev: Event) {
        if !self.entries.contains_key(key) {
            if self.entries.len() >= self.size {
                self.entries
                    .retain(|_, c| c.conn_cur > 0 || c.expires.is_none_or(|e| e > now));
            }
            if self.entries.len() >= self.size {
                let victim = self
                    .entries
                    .iter()
                    .filter(|(_, c)| c.conn_cur == 0)
                    .min_by_key(|(_, c)| c.expires)
                    .map(|(k, _)| k.clone());
                match victim {
                    Some(k) => {
                        self.entries.remove(&k);
                    }
                    None => return,
                }
            }
        }
        let periods: Vec<(Data, Duration)> = self.store.clone();
        let p = |d: Data| periods.iter().find(|(x, _)| *x == d).map(|(_, p)| *p);
        let expire = self.expire;
        let c = self.entries.entry(key.to_vec()).or_default();
        if c.expires.is_some_and(|e| e <= now) && c.conn_cur == 0 {
            *c = Counters::default();
        }
        match ev {
            Event::TrackStart => {
                c.conn_cur += 1;
                c.conn_cnt += 1;
                if let Some(p) = p(Data::ConnRate) {
                    c.conn_rate.add(now, p, 1);
                }
            }
            Event::TrackEnd => c.conn_cur = c.conn_cur.saturating_sub(1),
            Event::HttpReq => {
                c.http_req_cnt += 1;
                if let Some(p) = p(Data::HttpReqRate) {
                    c.http_req_rate.add(now, p, 1);
                }
            }
            Event::HttpErr => {
                c.http_err_cnt += 1;
                if let Some(p) = p(Data::HttpErrRate) {
                    c.http_err_rate.add(now, p, 1);
                }
            }
            Event::IncGpc0 => {
                c.gpc0 += 1;
                if let Some(p) = p(Data::Gpc0Rate) {
                    c.gpc0_rate.add(now, p, 1);
                }
            }
            Event::IncGpc1 => c.gpc1 += 1,
            Event::SetGpt0(v) => c.gpt0 = v,
            Event::BytesIn(n) => {
                c.bytes_in += n;
                if let Some(p) = p(Data::BytesInRate) {
                    c.bytes_in_rate.add(now, p, n);
                }
            }
            Event::BytesOut(n) => {
                c.bytes_out += n;
                if let Some(p) = p(Data::BytesOutRate) {
                    c.bytes_out_rate.add(now, p, n);
                }
            }
        }
        c.expires = expire.map(|e| now + e);
    }

    /// The live keys (the runtime socket's `show table`).
    pub fn keys(&self, now: Instant) -> Vec<Vec<u8>> {
        self.entries
            .iter()
            .filter(|(_, c)| self.alive(now, c))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// How many streams track `key` now (`use=`) and the milliseconds before it expires
    /// (`exp=`; 0 without `expire`).
    pub fn usage(&self, now: Instant, key: &[u8]) -> Option<(u64, u64)> {
        let c = self.entries.get(key).filter(|c| self.alive(now, c))?;
        let exp = c
            .expires
            .map_or(0, |e| e.saturating_duration_since(now).as_millis() as u64);
        Some((c.conn_cur, exp))
    }

    /// Creates `key`'s entry if needed and refreshes its expiry.
    pub fn touch(&mut self, now: Instant, key: &[u8]) {
        // A new entry's gpt0 is 0: setting it changes nothing but makes the entry.
        let gpt0 = self.entries.get(key).map_or(0, |c| c.gpt0);
        self.update(now, key, Event::SetGpt0(gpt0));
    }

    /// `set table T key K data.D V`: creates the entry if needed, sets `d` (a rate starts a
    /// new period at `v`) and refreshes the expiry. `false`: the table does not store `d`.
    pub fn set(&mut self, now: Instant, key: &[u8], d: Data, v: u64) -> bool {
        if !self.stores(d) {
            return false;
        }
        if !self.entries.contains_key(key) {
            // Created (room made) as a tracked key would be; a new entry's gpt0 is 0 anyway.
            self.update(now, key, Event::SetGpt0(0));
        }
        let expire = self.expire;
        let Some(c) = self.entries.get_mut(key) else {
            return true;
        };
        let fresh = Freq {
            start: Some(now),
            curr: v,
            prev: 0,
        };
        match d {
            Data::ConnCnt => c.conn_cnt = v,
            Data::ConnCur => c.conn_cur = v,
            Data::ConnRate => c.conn_rate = fresh,
            Data::HttpReqCnt => c.http_req_cnt = v,
            Data::HttpReqRate => c.http_req_rate = fresh,
            Data::HttpErrCnt => c.http_err_cnt = v,
            Data::HttpErrRate => c.http_err_rate = fresh,
            Data::Gpc0 => c.gpc0 = v,
            Data::Gpc0Rate => c.gpc0_rate = fresh,
            Data::Gpc1 => c.gpc1 = v,
            Data::Gpt0 => c.gpt0 = v,
            Data::BytesInCnt => c.bytes_in = v,
            Data::BytesOutCnt => c.bytes_out = v,
            Data::BytesInRate => c.bytes_in_rate = fresh,
            Data::BytesOutRate => c.bytes_out_rate = fresh,
            Data::ServerId => c.server_id = v,
        }
        c.expires = expire.map(|e| now + e);
        true
    }

    /// A stick rule stored `key` with server `id` named `name` (HAProxy keeps persistence in
    /// the table's own entries): creates the entry if needed, sets `server_id` and
    /// `server_key`, refreshes the expiry.
    pub fn stick(&mut self, now: Instant, key: &[u8], id: u64, name: &str) {
        if !self.stores(Data::ServerId) {
            self.store.push((Data::ServerId, Duration::ZERO));
        }
        self.touch(now, key);
        if let Some(c) = self.entries.get_mut(key) {
            c.server_id = id;
            if c.server_key.as_deref() != Some(name) {
                c.server_key = Some(name.into());
            }
        }
    }

    /// The server name a stick rule stored for `key` (`show table`'s `server_key`).
    pub fn server_key(&self, now: Instant, key: &[u8]) -> Option<&str> {
        let c = self.entries.get(key).filter(|c| self.alive(now, c))?;
        c.server_key.as_deref()
    }

    /// `clear table T [key K]`: removes the entries (all, or `key`'s) no stream tracks.
    pub fn clear(&mut self, key: Option<&[u8]>) {
        match key {
            Some(k) => {
                if self.entries.get(k).is_some_and(|c| c.conn_cur == 0) {
                    self.entries.remove(k);
                }
            }
            None => self.entries.retain(|_, c| c.conn_cur > 0),
        }
    }

    /// `key`'s value of `d`: `None` when the table does not store `d`; 0 for an unknown or
    /// expired key (as HAProxy's `src_*` fetches).
    pub fn read(&self, now: Instant, key: &[u8], d: Data) -> Option<u64> {
        let period = self.period(d)?;
        let Some(c) = self.entries.get(key).filter(|c| self.alive(now, c)) else {
            return Some(0);
        };
        Some(match d {
            Data::ConnCnt => c.conn_cnt,
            Data::ConnCur => c.conn_cur,
            Data::ConnRate => c.conn_rate.read(now, period),
            Data::HttpReqCnt => c.http_req_cnt,
            Data::HttpReqRate => c.http_req_rate.read(now, period),
            Data::HttpErrCnt => c.http_err_cnt,
            Data::HttpErrRate => c.http_err_rate.read(now, period),
            Data::Gpc0 => c.gpc0,
            Data::Gpc0Rate => c.gpc0_rate.read(now, period),
            Data::Gpc1 => c.gpc1,
            Data::Gpt0 => c.gpt0,
            Data::BytesInCnt => c.bytes_in,
            Data::BytesOutCnt => c.bytes_out,
            Data::BytesInRate => c.bytes_in_rate.read(now, period),
            Data::BytesOutRate => c.bytes_out_rate.read(now, period),
            Data::ServerId => c.server_id,
        })
    }
}

#[cfg(test)]
mod tests {
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
        t.update(t0, b"b", Event::IncGpc0);
        assert_eq!(t.read(t0, b"a", Data::ConnCur), Some(1));
        assert_eq!(t.read(t0, b"b", Data::Gpc0), Some(1));
        // Full: a new key evicts the untracked entry, never the tracked one.
        t.update(t0, b"c", Event::IncGpc0);
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
}
