//! The stick-counter fetches and converters, answered from the tables: `sc_<what>(N[,T])`,
//! `sc<N>_<what>([T])` read the entry slot N tracks, `src_<what>([T])` the client address's
//! entry; the array forms `sc_get_gpt(IDX,N[,T])`, `sc_get_gpc`, `sc_gpc_rate`, `sc_inc_gpc`,
//! `sc_clr_gpc` and their `src_*(IDX,T)` siblings; `table_<what>(T)` and `table_gpt(IDX,T)`
//! converters on a key; `table_cnt([T])`, `table_avl([T])`. A type the table does not store
//! has no value, as HAProxy's.

use super::{Table, Tables, Tracking};
use crate::persist::track::{Data, Event};
use fulcrum_sample::fetch::{Arg, Fetch};
use fulcrum_sample::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// What the counter fetches read: the stream's tracked entries, its proxy's own table and
/// every table by name.
#[derive(Clone, Copy)]
pub struct Counters<'a> {
    pub tracking: &'a Tracking,
    pub own: Option<&'a Arc<Table>>,
    pub tables: &'a Tables,
}

/// What a fetch does with its entry.
enum Op {
    Read(Data),
    /// Applies the event, then reads (`inc_*`).
    Inc(Event, Data),
    /// Reads, then applies the event (`clr_*` answer the value before clearing).
    Clr(Event, Data),
    /// `kbytes_*`: the byte count in KiB.
    Kbytes(Data),
    Trackers,
    Tracked,
}

/// The operation of a fetch named `sc_WHAT`/`src_WHAT` (`idx`: the array index argument).
fn op_of(what: &str, idx: Option<u8>) -> Option<Op> {
    let inc = |i, array| Event::IncGpc { idx: i, array };
    let clr = |i, array| Event::ClrGpc { idx: i, array };
    if let Some(i) = idx {
        return Some(match what {
            "get_gpt" => Op::Read(Data::Gpt(i)),
            "get_gpc" => Op::Read(Data::Gpc(i)),
            "gpc_rate" => Op::Read(Data::GpcRate(i)),
            "inc_gpc" => Op::Inc(inc(i, true), Data::Gpc(i)),
            "clr_gpc" => Op::Clr(clr(i, true), Data::Gpc(i)),
            _ => return None,
        });
    }
    Some(match what {
        "get_gpc0" => Op::Read(Data::Gpc0),
        "get_gpc1" => Op::Read(Data::Gpc1),
        "get_gpt0" => Op::Read(Data::Gpt0),
        "inc_gpc0" => Op::Inc(inc(0, false), Data::Gpc0),
        "inc_gpc1" => Op::Inc(inc(1, false), Data::Gpc1),
        "clr_gpc0" => Op::Clr(clr(0, false), Data::Gpc0),
        "clr_gpc1" => Op::Clr(clr(1, false), Data::Gpc1),
        "kbytes_in" => Op::Kbytes(Data::BytesInCnt),
        "kbytes_out" => Op::Kbytes(Data::BytesOutCnt),
        "trackers" => Op::Trackers,
        "updt_conn_cnt" => Op::Inc(Event::UpdtConnCnt, Data::ConnCnt),
        "tracked" => Op::Tracked,
        _ => Op::Read(Data::parse(what)?.0),
    })
}

fn int(n: u64) -> Value {
    Value::Sint(i64::try_from(n).unwrap_or(i64::MAX))
}

fn index(a: Option<&Arg>) -> Option<u8> {
    u8::try_from(a?.as_int()).ok()
}

impl Counters<'_> {
    /// The `table_*` converters and `in_table` (`what` without the `table_` prefix; the
    /// array ones as `gpt(IDX)`, `gpc(IDX)`, `gpc_rate(IDX)`): 0 for a key not in the table,
    /// as HAProxy; `None` when the table does not store the data.
    pub fn table_conv(&self, table: &str, key: Value, what: &str) -> Option<Value> {
        let table = self.tables.get(table)?;
        let key = table.key(key)?;
        let now = Instant::now();
        if let Some((name, i)) = what.strip_suffix(')').and_then(|w| w.split_once('(')) {
            let i: u8 = i.parse().ok()?;
            let d = match name {
                "gpt" => Data::Gpt(i),
                "gpc" => Data::Gpc(i),
                "gpc_rate" => Data::GpcRate(i),
                _ => return None,
            };
            return table.read_at(now, &key, d).map(int);
        }
        match what {
            "in_table" => Some(Value::Bool(table.usage(now, &key).is_some())),
            // the milliseconds before the entry expires, and since it was last updated
            "expire" => table.usage(now, &key).map(|u| int(u.1)),
            "idle" => {
                let period = table.expire().map_or(0, |e| e.as_millis() as u64);
                table
                    .usage(now, &key)
                    .map(|u| int(period.saturating_sub(u.1)))
            }
            // HAProxy 2.6 counts its own lookup's reference too.
            "trackers" => Some(int(table.usage(now, &key).map_or(0, |u| u.0 + 1))),
            "kbytes_in" => table
                .read_at(now, &key, Data::BytesInCnt)
                .map(|n| int(n / 1024)),
            "kbytes_out" => table
                .read_at(now, &key, Data::BytesOutCnt)
                .map(|n| int(n / 1024)),
            _ => {
                let (d, _) = Data::parse(what)?;
                table.read_at(now, &key, d).map(int)
            }
        }
    }

    fn named(&self, f: &Fetch, i: usize) -> Option<Arc<Table>> {
        match f.args.get(i) {
            Some(Arg::Str(name)) => self.tables.get(std::str::from_utf8(name).ok()?).cloned(),
            _ => None,
        }
    }

    /// Answers a counter fetch: `None` when nothing is tracked in that slot (`sc*`) or the
    /// table does not store that data; an unknown key reads 0 (`src_*`).
    pub fn fetch(&self, f: &Fetch, src: SocketAddr) -> Option<Value> {
        let name = f.kw.name;
        if let "table_cnt" | "table_avl" = name {
            // HAProxy's `t->current` and `t->size - t->current`.
            let table = match f.args.first() {
                Some(_) => self.named(f, 0)?,
                None => self.own?.clone(),
            };
            let used = table.live_len(Instant::now()) as u64;
            return Some(int(if name == "table_cnt" {
                used
            } else {
                table.size().saturating_sub(used)
            }));
        }
        // (slot, what, array index, position of the table argument)
        let (slot, what, idx, table_arg) = if let Some(w) = name.strip_prefix("src_") {
            let array = matches!(
                w,
                "get_gpt" | "get_gpc" | "gpc_rate" | "inc_gpc" | "clr_gpc"
            );
            if array {
                (None, w, Some(index(f.args.first())?), 1)
            } else {
                (None, w, None, 0)
            }
        } else if let Some(w) = name.strip_prefix("sc_") {
            let array = matches!(
                w,
                "get_gpt" | "get_gpc" | "gpc_rate" | "inc_gpc" | "clr_gpc"
            );
            if array {
                let n = usize::try_from(f.args.get(1)?.as_int()).ok()?;
                (Some(n), w, Some(index(f.args.first())?), 2)
            } else {
                (
                    Some(usize::try_from(f.args.first()?.as_int()).ok()?),
                    w,
                    None,
                    1,
                )
            }
        } else {
            let n = usize::from(name.as_bytes().get(2)?.checked_sub(b'0')?);
            (Some(n), name.get(4..)?, None, 0)
        };
        let op = op_of(what, idx)?;
        let (table, key) = match slot {
            None => {
                let table = match f.args.get(table_arg) {
                    Some(_) => self.named(f, table_arg)?,
                    None => self.own?.clone(),
                };
                let ip = crate::net::canonical(src.ip());
                let v = match ip {
                    std::net::IpAddr::V4(a) => Value::Ipv4(a),
                    std::net::IpAddr::V6(a) => Value::Ipv6(a),
                };
                let key = table.key(v)?;
                (table, key)
            }
            Some(n) => {
                let tracked = self.tracking.get(n);
                if let Op::Tracked = op {
                    return Some(Value::Bool(tracked.is_some()));
                }
                let (tracked, key) = tracked?;
                let table = match f.args.get(table_arg) {
                    Some(_) => self.named(f, table_arg)?,
                    None => tracked,
                };
                (table, key)
            }
        };
        let now = Instant::now();
        match op {
            Op::Read(d) => table.read(&key, d).map(int),
            Op::Inc(ev, d) => {
                table.update(&key, ev);
                table.read(&key, d).map(int)
            }
            Op::Clr(ev, d) => {
                let before = table.read(&key, d)?;
                table.update(&key, ev);
                Some(int(before))
            }
            Op::Kbytes(d) => table.read(&key, d).map(|n| int(n / 1024)),
            Op::Trackers => Some(int(table.usage(now, &key).map_or(0, |u| u.0))),
            Op::Tracked => Some(Value::Bool(true)),
        }
    }
}
