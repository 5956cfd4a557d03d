//! The data types a `stick-table ... store ...` keeps, as HAProxy 2.6 names, numbers and
//! prints them: the single counters (`conn_cnt`, `sess_rate(10s)`, `gpc0`...) and the arrays
//! of 2.5+ (`gpt(N)`, `gpc(N)`, `gpc_rate(N,PERIOD)`), stored one element per [`Data`]. The
//! legacy `gpt0`, `gpc0`, `gpc1`, `gpc0_rate`, `gpc1_rate` and the arrays' first elements
//! share their slots (a table holds one or the other, as HAProxy refuses both), so the legacy
//! fetches and actions reach an array's first elements as HAProxy's do.

use std::time::Duration;

/// A data type a table stores (an array element for `Gpt`, `Gpc`, `GpcRate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Data {
    ServerId,
    Gpt0,
    Gpc0,
    Gpc0Rate,
    ConnCnt,
    ConnRate,
    ConnCur,
    SessCnt,
    SessRate,
    HttpReqCnt,
    HttpReqRate,
    HttpErrCnt,
    HttpErrRate,
    BytesInCnt,
    BytesInRate,
    BytesOutCnt,
    BytesOutRate,
    Gpc1,
    Gpc1Rate,
    HttpFailCnt,
    HttpFailRate,
    Gpt(u8),
    Gpc(u8),
    GpcRate(u8),
}

/// HAProxy's limit on an array's elements.
pub const MAX_ARRAY: u32 = 100;

impl Data {
    /// `(name, type, needs a period)` of every single (non-array) type.
    pub const SINGLE: &'static [(&'static str, Data, bool)] = &[
        ("server_id", Data::ServerId, false),
        ("gpt0", Data::Gpt0, false),
        ("gpc0", Data::Gpc0, false),
        ("gpc0_rate", Data::Gpc0Rate, true),
        ("conn_cnt", Data::ConnCnt, false),
        ("conn_rate", Data::ConnRate, true),
        ("conn_cur", Data::ConnCur, false),
        ("sess_cnt", Data::SessCnt, false),
        ("sess_rate", Data::SessRate, true),
        ("http_req_cnt", Data::HttpReqCnt, false),
        ("http_req_rate", Data::HttpReqRate, true),
        ("http_err_cnt", Data::HttpErrCnt, false),
        ("http_err_rate", Data::HttpErrRate, true),
        ("bytes_in_cnt", Data::BytesInCnt, false),
        ("bytes_in_rate", Data::BytesInRate, true),
        ("bytes_out_cnt", Data::BytesOutCnt, false),
        ("bytes_out_rate", Data::BytesOutRate, true),
        ("gpc1", Data::Gpc1, false),
        ("gpc1_rate", Data::Gpc1Rate, true),
        ("http_fail_cnt", Data::HttpFailCnt, false),
        ("http_fail_rate", Data::HttpFailRate, true),
    ];

    /// HAProxy's data type number (`STKTABLE_DT_*`) and the element: the order `show table`
    /// prints them in.
    pub fn order(self) -> (u8, u8) {
        match self {
            Data::Gpt(i) => (22, i),
            Data::Gpc(i) => (23, i),
            Data::GpcRate(i) => (24, i),
            d => (
                Data::SINGLE
                    .iter()
                    .position(|(_, x, _)| *x == d)
                    .map_or(0, |p| if p >= 19 { p as u8 + 1 } else { p as u8 }),
                0,
            ),
        }
    }

    /// The name `show table` prints (`gpt2`, `gpc1_rate` for an array element).
    pub fn label(self) -> String {
        match self {
            Data::Gpt(i) => format!("gpt{i}"),
            Data::Gpc(i) => format!("gpc{i}"),
            Data::GpcRate(i) => format!("gpc{i}_rate"),
            d => Data::SINGLE
                .iter()
                .find(|(_, x, _)| *x == d)
                .map_or(String::new(), |(n, _, _)| (*n).to_string()),
        }
    }

    pub fn is_rate(self) -> bool {
        matches!(self, Data::GpcRate(_)) || Data::SINGLE.iter().any(|(_, d, p)| *d == self && *p)
    }

    /// A single type by name (`None` for arrays and unknown names).
    pub fn parse(name: &str) -> Option<(Data, bool)> {
        Data::SINGLE
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, d, p)| (*d, *p))
    }

    /// The runtime socket's `data.NAME`: a single type, or an array's name for its first
    /// element (as HAProxy 2.6's `set table`/filters read `data.gpc`).
    pub fn runtime(name: &str) -> Option<Data> {
        match name {
            "gpt" => Some(Data::Gpt(0)),
            "gpc" => Some(Data::Gpc(0)),
            "gpc_rate" => Some(Data::GpcRate(0)),
            _ => Data::parse(name).map(|(d, _)| d),
        }
    }

    /// The array element a legacy type shares its slot with (`gpc1` → `gpc[1]`).
    pub fn element(self) -> Option<Data> {
        Some(match self {
            Data::Gpt0 => Data::Gpt(0),
            Data::Gpc0 => Data::Gpc(0),
            Data::Gpc1 => Data::Gpc(1),
            Data::Gpc0Rate => Data::GpcRate(0),
            Data::Gpc1Rate => Data::GpcRate(1),
            _ => return None,
        })
    }
}

fn period(item: &str, p: &str) -> Result<Duration, String> {
    fulcrum_config::units::parse_haproxy_time(p.trim())
        .map_err(|e| format!("stick-table store {item}: {e}"))
}

fn count(item: &str, n: &str) -> Result<u8, String> {
    match n.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_ARRAY).contains(&n) => Ok(n as u8),
        _ => Err(format!(
            "stick-table store {item}: an array has 1 to {MAX_ARRAY} elements"
        )),
    }
}

/// The `store` items of a table, parsed: each stored type (one per array element) with its
/// period (rates). HAProxy's refusals: an unknown type, a rate without its period, an array
/// together with the legacy types it replaces.
pub fn parse_items<'a>(
    items: impl Iterator<Item = &'a str>,
) -> Result<Vec<(Data, Duration)>, String> {
    let mut out: Vec<(Data, Duration)> = Vec::new();
    for item in items {
        let (name, args) = match item.split_once('(') {
            Some((n, rest)) => (n, Some(rest.trim_end_matches(')'))),
            None => (item, None),
        };
        match name {
            "gpt" | "gpc" => {
                let n = count(item, args.unwrap_or(""))?;
                for i in 0..n {
                    out.push((
                        if name == "gpt" {
                            Data::Gpt(i)
                        } else {
                            Data::Gpc(i)
                        },
                        Duration::ZERO,
                    ));
                }
            }
            "gpc_rate" => {
                let (n, p) = args.and_then(|a| a.split_once(',')).ok_or_else(|| {
                    "stick-table store: 'gpc_rate' needs a size and a period, e.g. gpc_rate(2,10s)"
                        .to_string()
                })?;
                let (n, p) = (count(item, n)?, period(item, p)?);
                out.extend((0..n).map(|i| (Data::GpcRate(i), p)));
            }
            _ => {
                let (data, needs_period) = Data::parse(name).ok_or_else(|| {
                    format!("stick-table store: data type '{name}' is not kept by fulcrum yet")
                })?;
                let p = match (needs_period, args) {
                    (true, Some(p)) => period(item, p)?,
                    (true, None) => {
                        return Err(format!(
                            "stick-table store: '{name}' needs a period, e.g. {name}(10s)"
                        ))
                    }
                    (false, _) => Duration::ZERO,
                };
                out.push((data, p));
            }
        }
    }
    let has = |f: &dyn Fn(Data) -> bool| out.iter().any(|(d, _)| f(*d));
    for (array, legacy, names) in [
        ("gpt", &[Data::Gpt0][..], "gpt0"),
        ("gpc", &[Data::Gpc0, Data::Gpc1][..], "gpc[0/1]"),
        (
            "gpc_rate",
            &[Data::Gpc0Rate, Data::Gpc1Rate][..],
            "gpc[0/1]_rate",
        ),
    ] {
        let is_array = |d: Data| match array {
            "gpt" => matches!(d, Data::Gpt(_)),
            "gpc" => matches!(d, Data::Gpc(_)),
            _ => matches!(d, Data::GpcRate(_)),
        };
        if has(&is_array) && has(&|d| legacy.contains(&d)) {
            return Err(format!("stick-table: simultaneous usage of '{array}' and '{names}' in a same table is not permitted as '{array}' overrides '{names}'."));
        }
    }
    // A type listed twice is kept once.
    let mut seen = Vec::new();
    out.retain(|(d, _)| {
        let first = !seen.contains(d);
        seen.push(*d);
        first
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_expand_and_print_in_haproxys_order() {
        let list = [
            "gpc_rate(2,10s)",
            "conn_cnt",
            "gpt(3)",
            "sess_rate(1m)",
            "http_fail_cnt",
            "gpc(2)",
        ];
        let mut s = parse_items(list.into_iter()).expect("parsed");
        s.sort_by_key(|(d, _)| d.order());
        let labels: Vec<String> = s
            .iter()
            .map(|(d, p)| {
                if d.is_rate() {
                    format!("{}({})", d.label(), p.as_millis())
                } else {
                    d.label()
                }
            })
            .collect();
        assert_eq!(
            labels.join(" "),
            "conn_cnt sess_rate(60000) http_fail_cnt gpt0 gpt1 gpt2 gpc0 gpc1 gpc0_rate(10000) gpc1_rate(10000)"
        );
    }

    #[test]
    fn refusals_as_haproxy() {
        let p = |l: &str| parse_items(l.split(' '));
        assert!(p("gpc_rate(2,10s) gpc0_rate(1s)")
            .unwrap_err()
            .contains("simultaneous usage of 'gpc_rate' and 'gpc[0/1]_rate'"));
        assert!(p("gpt(1) gpt0").is_err());
        assert!(p("gpc(0)").is_err());
        assert!(p("gpc(101)").is_err());
        assert!(p("gpc_rate(2)").is_err());
        assert!(p("sess_rate").is_err());
        assert!(p("nope").is_err());
        assert_eq!(p("gpc(100)").map(|v| v.len()), Ok(100));
    }
}
