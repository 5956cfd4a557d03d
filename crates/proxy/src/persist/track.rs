//! Stick counters: the data a `stick-table ... store ...` keeps per key (the types of
//! [`super::track_data`]: `conn_*`, `sess_*`, `http_req_*`, `http_err_*`, `http_fail_*`,
//! `bytes_*`, `gpt0`/`gpc0`/`gpc1` and their rates, the `gpt(N)`/`gpc(N)`/`gpc_rate(N,P)`
//! arrays, `server_id`), updated by the streams that track a key (`track-sc0/1/2`) and read
//! by the `sc*_`/`src_*` fetches. Pure: the caller passes `now`. Sits beside `stick.rs`
//! (server persistence), which it leaves alone. Rates are HAProxy's sliding-window frequency
//! counters: the current period's count plus the previous period's weighted by what is left
//! of the current one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub use super::track_data::Data;

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

/// One key's counters. The legacy `gpt0`, `gpc0`, `gpc1`, `gpc0_rate`, `gpc1_rate` live in
/// the arrays' first slots (see [`super::track_data`]).
#[derive(Debug, Clone, Default)]
pub struct Counters {
    conn_cnt: u64,
    conn_cur: u64,
    sess_cnt: u64,
    http_req_cnt: u64,
    http_err_cnt: u64,
    http_fail_cnt: u64,
    bytes_in: u64,
    bytes_out: u64,
    server_id: u64,
    conn_rate: Freq,
    sess_rate: Freq,
    http_req_rate: Freq,
    http_err_rate: Freq,
    http_fail_rate: Freq,
    bytes_in_rate: Freq,
    bytes_out_rate: Freq,
    gpt: Vec<u64>,
    gpc: Vec<u64>,
    gpc_rate: Vec<Freq>,
    /// The server's name, written by stick rules (HAProxy 2.6's `server_key`).
    server_key: Option<Box<str>>,
    expires: Option<Instant>,
}

/// A counter's storage: a plain count or a rate.
enum Cell<'a> {
    Count(&'a mut u64),
    Rate(&'a mut Freq),
}

fn grown<T: Default>(v: &mut Vec<T>, i: u8) -> &mut T {
    let i = usize::from(i);
    if v.len() <= i {
        v.resize_with(i + 1, T::default);
    }
    &mut v[i]
}

impl Counters {
    fn cell(&mut self, d: Data) -> Cell<'_> {
        match d {
            Data::ServerId => Cell::Count(&mut self.server_id),
            Data::ConnCnt => Cell::Count(&mut self.conn_cnt),
            Data::ConnCur => Cell::Count(&mut self.conn_cur),
            Data::SessCnt => Cell::Count(&mut self.sess_cnt),
            Data::HttpReqCnt => Cell::Count(&mut self.http_req_cnt),
            Data::HttpErrCnt => Cell::Count(&mut self.http_err_cnt),
            Data::HttpFailCnt => Cell::Count(&mut self.http_fail_cnt),
            Data::BytesInCnt => Cell::Count(&mut self.bytes_in),
            Data::BytesOutCnt => Cell::Count(&mut self.bytes_out),
            Data::ConnRate => Cell::Rate(&mut self.conn_rate),
            Data::SessRate => Cell::Rate(&mut self.sess_rate),
            Data::HttpReqRate => Cell::Rate(&mut self.http_req_rate),
            Data::HttpErrRate => Cell::Rate(&mut self.http_err_rate),
            Data::HttpFailRate => Cell::Rate(&mut self.http_fail_rate),
            Data::BytesInRate => Cell::Rate(&mut self.bytes_in_rate),
            Data::BytesOutRate => Cell::Rate(&mut self.bytes_out_rate),
            Data::Gpc(i) => Cell::Count(grown(&mut self.gpc, i)),
            Data::GpcRate(i) => Cell::Rate(grown(&mut self.gpc_rate, i)),
            Data::Gpt(i) => Cell::Count(grown(&mut self.gpt, i)),
            // the legacy types share the arrays' first slots
            Data::Gpt0 => Cell::Count(grown(&mut self.gpt, 0)),
            Data::Gpc0 => Cell::Count(grown(&mut self.gpc, 0)),
            Data::Gpc1 => Cell::Count(grown(&mut self.gpc, 1)),
            Data::Gpc0Rate => Cell::Rate(grown(&mut self.gpc_rate, 0)),
            Data::Gpc1Rate => Cell::Rate(grown(&mut self.gpc_rate, 1)),
        }
    }

    fn get(&self, d: Data, now: Instant, period: Duration) -> u64 {
        let at = |v: &Vec<u64>, i: u8| v.get(usize::from(i)).copied().unwrap_or(0);
        match d.element().unwrap_or(d) {
            Data::ServerId => self.server_id,
            Data::ConnCnt => self.conn_cnt,
            Data::ConnCur => self.conn_cur,
            Data::SessCnt => self.sess_cnt,
            Data::HttpReqCnt => self.http_req_cnt,
            Data::HttpErrCnt => self.http_err_cnt,
            Data::HttpFailCnt => self.http_fail_cnt,
            Data::BytesInCnt => self.bytes_in,
            Data::BytesOutCnt => self.bytes_out,
            Data::ConnRate => self.conn_rate.read(now, period),
            Data::SessRate => self.sess_rate.read(now, period),
            Data::HttpReqRate => self.http_req_rate.read(now, period),
            Data::HttpErrRate => self.http_err_rate.read(now, period),
            Data::HttpFailRate => self.http_fail_rate.read(now, period),
            Data::BytesInRate => self.bytes_in_rate.read(now, period),
            Data::BytesOutRate => self.bytes_out_rate.read(now, period),
            Data::Gpc(i) => at(&self.gpc, i),
            Data::GpcRate(i) => self
                .gpc_rate
                .get(usize::from(i))
                .map_or(0, |f| f.read(now, period)),
            Data::Gpt(i) => at(&self.gpt, i),
            _ => 0,
        }
    }
}

/// What happened to a tracked key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A stream started tracking it (`conn_cur`, `conn_cnt`, `conn_rate`).
    TrackStart,
    /// A stream that tracked it ended (`conn_cur` down).
    TrackEnd,
    /// A session was accepted while the key was tracked (`sess_cnt`, `sess_rate`).
    Session,
    HttpReq,
    HttpErr,
    /// A server's failure (`http_fail_cnt`, `http_fail_rate`).
    HttpFail,
    /// `sc-inc-gpc(IDX,N)` (`array`) or `sc-inc-gpc0/1(N)`: the counter and its rate.
    IncGpc {
        idx: u8,
        array: bool,
    },
    /// `sc-set-gpt(IDX,N)` (`array`) or `sc-set-gpt0(N)`.
    SetGpt {
        idx: u8,
        array: bool,
        value: u64,
    },
    /// `sc_clr_gpc*` fetches: the counter back to 0.
    ClrGpc {
        idx: u8,
        array: bool,
    },
    BytesIn(u64),
    BytesOut(u64),
    /// Creates or refreshes the entry, nothing else (`set table` without data).
    Touch,
    /// `src_updt_conn_cnt`: `conn_cnt` up, nothing else.
    UpdtConnCnt,
}

/// The general-purpose type an action or fetch names: `gpc(IDX)`-style array elements, or
/// the legacy `gpc0`/`gpc1`/`gpt0`.
fn general(kind: char, idx: u8, array: bool) -> Option<Data> {
    Some(match (kind, array, idx) {
        ('c', true, i) => Data::Gpc(i),
        ('r', true, i) => Data::GpcRate(i),
        ('t', true, i) => Data::Gpt(i),
        ('c', false, 0) => Data::Gpc0,
        ('c', false, 1) => Data::Gpc1,
        ('r', false, 0) => Data::Gpc0Rate,
        ('r', false, 1) => Data::Gpc1Rate,
        ('t', false, 0) => Data::Gpt0,
        _ => return None,
    })
}

impl Event {
    /// The types a general-purpose event reads (`Gpc`, `GpcRate`, `Gpt` forms).
    pub fn general(kind: char, idx: u8, array: bool) -> Option<Data> {
        general(kind, idx, array)
    }
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
        // What the event changes, resolved against the stored types before borrowing the
        // entry: (type, period) pairs to count up, or one to set.
        let mut adds: [Option<(Data, Duration, u64)>; 2] = [None, None];
        let mut put: Option<(Data, u64)> = None;
        let mut conn_cur = 0i8;
        let mut pair = |a: Data, b: Data, n: u64| {
            adds = [
                self.resolve(a).map(|(d, p)| (d, p, n)),
                self.resolve(b).map(|(d, p)| (d, p, n)),
            ];
        };
        match ev {
            Event::TrackStart => {
                conn_cur = 1;
                pair(Data::ConnCnt, Data::ConnRate, 1);
            }
            Event::TrackEnd => conn_cur = -1,
            Event::Session => pair(Data::SessCnt, Data::SessRate, 1),
            Event::HttpReq => pair(Data::HttpReqCnt, Data::HttpReqRate, 1),
            Event::HttpErr => pair(Data::HttpErrCnt, Data::HttpErrRate, 1),
            Event::HttpFail => pair(Data::HttpFailCnt, Data::HttpFailRate, 1),
            Event::BytesIn(n) => pair(Data::BytesInCnt, Data::BytesInRate, n),
            Event::BytesOut(n) => pair(Data::BytesOutCnt, Data::BytesOutRate, n),
            Event::IncGpc { idx, array } => {
                if let (Some(c), Some(r)) = (general('c', idx, array), general('r', idx, array)) {
                    pair(c, r, 1);
                }
            }
            Event::SetGpt { idx, array, value } => {
                put = general('t', idx, array)
                    .and_then(|d| self.resolve(d))
                    .map(|(d, _)| (d, value));
            }
            Event::ClrGpc { idx, array } => {
                put = general('c', idx, array)
                    .and_then(|d| self.resolve(d))
                    .map(|(d, _)| (d, 0));
            }
            Event::Touch => {}
            Event::UpdtConnCnt => adds[0] = self.resolve(Data::ConnCnt).map(|(d, p)| (d, p, 1)),
        }
        let expire = self.expire;
        let c = self.entries.entry(key.to_vec()).or_default();
        if c.expires.is_some_and(|e| e <= now) && c.conn_cur == 0 {
            *c = Counters::default();
        }
        match conn_cur {
            1 => c.conn_cur += 1,
            -1 => c.conn_cur = c.conn_cur.saturating_sub(1),
            _ => {}
        }
        for (d, p, n) in adds.into_iter().flatten() {
            match c.cell(d) {
                Cell::Count(v) => *v = v.wrapping_add(n),
                Cell::Rate(f) => f.add(now, p, n),
            }
        }
        if let Some((d, v)) = put {
            if let Cell::Count(x) = c.cell(d) {
                *x = v;
            }
        }
        c.expires = expire.map(|e| now + e);
    }

    /// How many entries are live (`table_cnt`, `show table`'s `used:`).
    pub fn live_count(&self, now: Instant) -> usize {
        self.entries.values().filter(|c| self.alive(now, c)).count()
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
        self.update(now, key, Event::Touch);
    }

    /// The stored type a fetch or action reaches for `d`: `d` itself, or for a legacy
    /// `gpt0`/`gpc0`/`gpc1`/`gpc0_rate`/`gpc1_rate` the array element holding it (HAProxy:
    /// "all 'gpc0' related fetches and actions will apply to the first element"). With its
    /// period; `None`: not stored.
    pub fn resolve(&self, d: Data) -> Option<(Data, Duration)> {
        if let Some(p) = self.period(d) {
            return Some((d, p));
        }
        let e = d.element()?;
        self.period(e).map(|p| (e, p))
    }

    /// `set table T key K data.D V`: creates the entry if needed, sets `d` (a rate starts a
    /// new period at `v`) and refreshes the expiry. `false`: the table does not store `d`.
    pub fn set(&mut self, now: Instant, key: &[u8], d: Data, v: u64) -> bool {
        if !self.stores(d) {
            return false;
        }
        if !self.entries.contains_key(key) {
            // Created (room made) as a tracked key would be.
            self.update(now, key, Event::Touch);
        }
        let expire = self.expire;
        let Some(c) = self.entries.get_mut(key) else {
            return true;
        };
        match c.cell(d) {
            Cell::Count(x) => *x = v,
            // a rate starts a new period at `v`
            Cell::Rate(f) => {
                *f = Freq {
                    start: Some(now),
                    curr: v,
                    prev: 0,
                }
            }
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
        let (d, period) = self.resolve(d)?;
        let Some(c) = self.entries.get(key).filter(|c| self.alive(now, c)) else {
            return Some(0);
        };
        Some(c.get(d, now, period))
    }
}

#[cfg(test)]
#[path = "track_tests.rs"]
mod tests;
