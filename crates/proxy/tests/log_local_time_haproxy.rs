//! Local time in log lines, side by side with the real haproxy 2.6, under a zone that is not
//! UTC (`TZ=IST-5:30`: a POSIX zone string glibc reads without tzdata, five and a half hours
//! east): `%t %tr` and `%Tl %trl` are local, `%T %trg` GMT, `ltime` local (`%z %Z` the zone's),
//! `utime` GMT, and the syslog header's date local in both the RFC 3164 and RFC 5424 frames.
//! Each side's line is checked against the time the request was sent (every date must be
//! that time, give or take two seconds, in its zone), and the two sides' verdicts compared.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use fulcrum_sample::localtime::Zone;
use fulcrum_sample::time::strftime_in;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const OFFSET: i64 = 5 * 3600 + 30 * 60;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend f\n  bind 127.0.0.1:{}\n\
         \x20 log 127.0.0.1:{} format rfc5424 local0\n\
         \x20 log-format \"t=%t T=%T Tl=%Tl tr=%tr trg=%trg trl=%trl lt=%[date,ltime(%H:%M:%S~%z~%Z)] ut=%[date,utime(%H:%M:%S~%z~%Z)]\"\n\
         \x20 default_backend b\n\
         backend b\n  server s {}\n",
        s.head("http"),
        s.ports[0],
        s.syslog,
        s.backend
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Whether `text` is `fmt` of some second in `[from - 2, to + 2]` shown in `zone`.
fn is_date(text: &str, fmt: &str, zone: &Zone, (from, to): (i64, i64)) -> bool {
    (from - 2..=to + 2).any(|t| strftime_in(fmt.as_bytes(), t, zone) == text.as_bytes())
}

/// A verdict per date of a datagram: `NAME=ok` or `NAME=bad(TEXT)`.
fn verdicts(datagram: &str, window: (i64, i64)) -> Vec<String> {
    let local = Zone {
        offset: OFFSET,
        name: "IST".into(),
    };
    let gmt = Zone::utc();
    let mut out = Vec::new();
    let judge = |name: &str, text: &str, fmt: &str, zone: &Zone| {
        if is_date(text, fmt, zone, window) {
            format!("{name}=ok")
        } else {
            format!("{name}=bad({text})")
        }
    };
    let (head, body) = datagram.split_once(" t=").unwrap_or((datagram, ""));
    if let Some(rest) = head.strip_prefix("<134>1 ") {
        // `2026-12-05T17:12:01.123456+05:30 host tag pid - - `
        let stamp = rest.split(' ').next().unwrap_or("");
        let (sec, frac) = stamp.split_once('.').unwrap_or((stamp, ""));
        out.push(judge("5424", sec, "%Y-%m-%dT%H:%M:%S", &local));
        out.push(format!("5424zone={}", frac.get(6..).unwrap_or("")));
    } else {
        // `<134>Dec  5 17:12:01 tag[pid]: `
        let stamp = head.get(5..20).unwrap_or("");
        out.push(judge("3164", stamp, "%b %e %H:%M:%S", &local));
    }
    let line = format!("t={body}");
    for field in line.split(' ') {
        let Some((name, value)) = field.split_once('=') else {
            continue;
        };
        let verdict = match name {
            "t" | "tr" => {
                let sec = value.rsplit_once('.').map_or(value, |x| x.0);
                judge(name, sec, "%d/%b/%Y:%H:%M:%S", &local)
            }
            "lt" => judge(name, value, "%H:%M:%S~%z~%Z", &local),
            "ut" => judge(name, value, "%H:%M:%S~%z~%Z", &gmt),
            _ => continue,
        };
        out.push(verdict);
    }
    // `%T %Tl %trg %trl` hold a blank: `T=05/Dec/2026:11:42:01 +0000 Tl=...`.
    for (name, zone) in [("T", &gmt), ("Tl", &local), ("trg", &gmt), ("trl", &local)] {
        let key = format!(" {name}=");
        let Some(start) = format!(" {body}").find(&key) else {
            out.push(format!("{name}=missing"));
            continue;
        };
        let text: String = format!(" {body}")[start + key.len()..]
            .chars()
            .take(26)
            .collect();
        out.push(judge(name, &text, "%d/%b/%Y:%H:%M:%S %z", zone));
    }
    out
}

async fn run(side: Arc<Side>) -> Vec<String> {
    let from = now();
    let answer = side
        .exchange(
            0,
            b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        )
        .await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}: {answer:?}",
        side.who
    );
    let mut out = Vec::new();
    for _ in 0..2 {
        let d = side
            .datagram(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{}: two log datagrams within 5 s", side.who));
        out.push(d);
    }
    let window = (from, now());
    // The two frames, RFC 3164 first.
    out.sort_by_key(|d| d.starts_with("<134>1 "));
    out.iter()
        .flat_map(|d| verdicts(d.trim_end(), window))
        .collect()
}

#[tokio::test]
async fn local_dates_are_the_zones_as_haproxy() {
    // Before anything reads the zone (glibc reads TZ once per process); haproxy inherits it.
    std::env::set_var("TZ", "IST-5:30");
    let (ours, theirs) = side_by_side(1, cfg, run).await;
    let Some(theirs) = theirs else {
        eprintln!("SKIP (loud): haproxy is not installed; fulcrum's side only");
        assert!(
            ours.iter()
                .all(|v| v.ends_with("=ok") || v.starts_with("5424zone=")),
            "{ours:?}"
        );
        return;
    };
    assert!(
        theirs
            .iter()
            .all(|v| v.ends_with("=ok") || v.starts_with("5424zone=")),
        "the test's expectations do not describe haproxy: {theirs:?}"
    );
    assert_same(&ours, &theirs);
    assert!(ours.contains(&"5424zone=+05:30".to_string()), "{ours:?}");
}
