//! What one lookup in a 100,000-entry map costs, per match method: `map_str`, `map_beg`,
//! `map_ip`, `map_int`, `map_end`, `map_dom`, `map_sub` (and `-m ip`, `-m str` ACLs), each
//! with hits and misses, measured in-process on one thread.
//!
//!   cargo run --release -p fulcrum-sample --example map_lookup
//!   ENTRIES=100000 SECS=0.3 cargo run --release -p fulcrum-sample --example map_lookup
//!
//! Prints a markdown table: ns per lookup (median of 5 rounds of about SECS seconds each).
//! Only the public `Map`/`Patterns` API is used, so the same file measures any version.

use fulcrum_sample::map::{Map, Match};
use fulcrum_sample::pattern::{Method, Patterns};
use fulcrum_sample::Value;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A small deterministic generator (no dependency): xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median of 5 rounds of ns per call of `f` over `samples` (each round about `secs`).
fn measure(secs: f64, samples: &[Value], mut f: impl FnMut(&Value) -> bool) -> (f64, usize) {
    let mut rounds = Vec::new();
    let mut hits = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let mut n = 0usize;
        hits = 0;
        while start.elapsed() < Duration::from_secs_f64(secs) {
            for _ in 0..64 {
                if f(black_box(&samples[n % samples.len()])) {
                    hits += 1;
                }
                n += 1;
            }
        }
        rounds.push(start.elapsed().as_nanos() as f64 / n as f64);
        hits = hits * 1000 / n.max(1);
    }
    rounds.sort_by(|a, b| a.total_cmp(b));
    (rounds[2], hits)
}

fn main() {
    let entries: usize = env("ENTRIES", 100_000);
    let secs: f64 = env("SECS", 0.3);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    println!("{entries} entries per map; ns per lookup, median of 5 rounds of {secs} s; hit rate per mille\n");
    println!("| lookup | ns/lookup | hits ‰ |");
    println!("|---|---:|---:|");

    let row = |name: &str, (ns, hits): (f64, usize)| {
        println!("| {name} | {ns:.0} | {hits} |");
    };

    // str: host names
    let text: String = (0..entries)
        .map(|i| format!("host{i}.example.com be{}\n", i % 7))
        .collect();
    let samples: Vec<Value> = (0..4096)
        .map(|_| Value::str(format!("host{}.example.com", rng.below(entries * 2))))
        .collect();
    if let Ok(m) = Map::parse(Match::Str, &text) {
        row(
            "map_str",
            measure(secs, &samples, |v| m.lookup(v).is_some()),
        );
    }
    let words: Vec<String> = (0..entries)
        .map(|i| format!("host{i}.example.com"))
        .collect();
    if let Ok(p) = Patterns::parse(Method::Str, false, &words) {
        row("acl -m str", measure(secs, &samples, |v| p.matches(v)));
    }

    // end and dom: domain names against a list of domains
    let text: String = (0..entries)
        .map(|i| format!("d{i}.com blocked\n"))
        .collect();
    let samples: Vec<Value> = (0..4096)
        .map(|_| Value::str(format!("www.d{}.com", rng.below(entries * 2))))
        .collect();
    if let Ok(m) = Map::parse(Match::End, &text) {
        row(
            "map_end",
            measure(secs, &samples, |v| m.lookup(v).is_some()),
        );
    }
    if let Ok(m) = Map::parse(Match::Dom, &text) {
        row(
            "map_dom",
            measure(secs, &samples, |v| m.lookup(v).is_some()),
        );
    }

    // beg: path prefixes of two depths
    let text: String = (0..entries)
        .map(|i| {
            if i % 10 == 0 {
                format!("/s{}/ short\n", i / 10)
            } else {
                format!("/s{}/p{i}/ long\n", i / 10)
            }
        })
        .collect();
    let samples: Vec<Value> = (0..4096)
        .map(|_| {
            let i = rng.below(entries * 2);
            Value::str(format!("/s{}/p{i}/index.html", i / 10))
        })
        .collect();
    if let Ok(m) = Map::parse(Match::Beg, &text) {
        row(
            "map_beg",
            measure(secs, &samples, |v| m.lookup(v).is_some()),
        );
    }

    // ip: /24 networks inside /16s, addresses anywhere in 10/8 and beyond
    let text: String = (0..entries)
        .map(|i| {
            if i % 100 == 0 {
                format!("10.{}.0.0/16 wide\n", (i / 100) % 256)
            } else {
                format!(
                    "{}.{}.{}.0/24 net\n",
                    10 + i / 65536,
                    (i / 256) % 256,
                    i % 256
                )
            }
        })
        .collect();
    let samples: Vec<Value> = (0..4096)
        .map(|_| {
            let a = rng.next();
            Value::Ipv4(std::net::Ipv4Addr::new(
                10 + (a % 3) as u8,
                (a >> 8) as u8,
                (a >> 16) as u8,
                (a >> 24) as u8,
            ))
        })
        .collect();
    if let Ok(m) = Map::parse(Match::Ip, &text) {
        row("map_ip", measure(secs, &samples, |v| m.lookup(v).is_some()));
    }
    let words: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    if let Ok(p) = Patterns::parse(Method::Ip, false, &words) {
        row("acl -m ip", measure(secs, &samples, |v| p.matches(v)));
    }

    // int
    let text: String = (0..entries).map(|i| format!("{} v\n", i * 3)).collect();
    let samples: Vec<Value> = (0..4096)
        .map(|_| Value::Sint(rng.below(entries * 3) as i64))
        .collect();
    if let Ok(m) = Map::parse(Match::Int, &text) {
        row(
            "map_int",
            measure(secs, &samples, |v| m.lookup(v).is_some()),
        );
    }

    // sub: a list in HAProxy too (every pattern is tried in order)
    let text: String = (0..entries).map(|i| format!("tok{i}x v\n")).collect();
    let samples: Vec<Value> = (0..4096)
        .map(|_| Value::str(format!("/a/tok{}x/b", rng.below(entries * 2))))
        .collect();
    if let Ok(m) = Map::parse(Match::Sub, &text) {
        row(
            "map_sub (a list, as HAProxy)",
            measure(secs, &samples, |v| m.lookup(v).is_some()),
        );
    }
}
