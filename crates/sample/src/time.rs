//! `strftime` for the `utime`/`ltime` converters and the log's date fields, in UTC or local time, for the
//! conversions HAProxy's users write (`%Y %m %d %H %M %S %y %C %e %j %a %A %b %B %h %p %I %l
//! %k %u %w %U %W %G %g %V %Z %z %s %T %D %F %R %n %t %%`). An unknown conversion is copied
//! as it is, as glibc does.

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Civil date (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// algorithm): the one calendar of the workspace (log dates, API timestamps, `utime`).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// ISO 8601's week-based year and week (`%G`, `%V`) of day `yday` (1-based) of year `y`,
/// a `wday` (0: Sunday).
fn iso_week(y: i64, yday: usize, wday: usize) -> (i64, i64) {
    // whether a year has 53 weeks: it starts on a Thursday, or is leap and starts on a
    // Wednesday (p: the weekday of its last day, 0: Sunday)
    let p = |y: i64| (y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400)).rem_euclid(7);
    let weeks = |y: i64| 52 + i64::from(p(y) == 4 || p(y - 1) == 3);
    let iso_wday = ((wday + 6) % 7 + 1) as i64;
    let week = (yday as i64 - iso_wday + 10) / 7;
    if week < 1 {
        (y - 1, weeks(y - 1))
    } else if week > weeks(y) {
        (y + 1, 1)
    } else {
        (y, week)
    }
}

pub fn strftime_utc(fmt: &[u8], t: i64) -> Vec<u8> {
    strftime_in(fmt, t, &crate::localtime::Zone::utc())
}

/// `strftime` in the system's local time (`ltime`), as glibc's `localtime` + `strftime`.
pub fn strftime_local(fmt: &[u8], t: i64) -> Vec<u8> {
    strftime_in(fmt, t, &crate::localtime::zone_at(t))
}

/// `strftime` of unix time `t` shown in `zone` (`%z`/`%Z` print the zone).
pub fn strftime_in(fmt: &[u8], t: i64, zone: &crate::localtime::Zone) -> Vec<u8> {
    let shown = t + zone.offset;
    let days = shown.div_euclid(86_400);
    let secs = shown.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    let wday = (days + 4).rem_euclid(7) as usize;
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cum[(m - 1) as usize] + d as usize + usize::from(m > 2 && leap(y));
    let mut out = Vec::new();
    let mut it = fmt.iter().copied();
    while let Some(c) = it.next() {
        if c != b'%' {
            out.push(c);
            continue;
        }
        let Some(k) = it.next() else {
            out.push(b'%');
            break;
        };
        let s = match k {
            b'Y' => y.to_string(),
            b'y' => format!("{:02}", y.rem_euclid(100)),
            b'm' => format!("{m:02}"),
            b'd' => format!("{d:02}"),
            b'e' => format!("{d:2}"),
            b'H' => format!("{hh:02}"),
            b'I' => format!("{:02}", if hh % 12 == 0 { 12 } else { hh % 12 }),
            b'l' => format!("{:2}", if hh % 12 == 0 { 12 } else { hh % 12 }),
            b'k' => format!("{hh:2}"),
            b'C' => format!("{:02}", y.div_euclid(100)),
            // weeks of the year: from its first Sunday (`%U`), its first Monday (`%W`)
            b'U' => format!("{:02}", (yday + 6 - wday) / 7),
            b'W' => format!("{:02}", (yday + 6 - (wday + 6) % 7) / 7),
            b'G' => iso_week(y, yday, wday).0.to_string(),
            b'g' => format!("{:02}", iso_week(y, yday, wday).0.rem_euclid(100)),
            b'V' => format!("{:02}", iso_week(y, yday, wday).1),
            b'M' => format!("{mm:02}"),
            b'S' => format!("{ss:02}"),
            b'j' => format!("{yday:03}"),
            b'a' => DAYS[wday][..3].to_string(),
            b'A' => DAYS[wday].to_string(),
            b'b' | b'h' => MONTHS[(m - 1) as usize][..3].to_string(),
            b'B' => MONTHS[(m - 1) as usize].to_string(),
            b'p' => (if hh < 12 { "AM" } else { "PM" }).to_string(),
            b'Z' => zone.name.clone(),
            b'z' => crate::localtime::offset_hhmm(zone.offset),
            b's' => t.to_string(),
            b'u' => (if wday == 0 { 7 } else { wday }).to_string(),
            b'w' => wday.to_string(),
            b'T' => format!("{hh:02}:{mm:02}:{ss:02}"),
            b'R' => format!("{hh:02}:{mm:02}"),
            b'D' => format!("{m:02}/{d:02}/{:02}", y.rem_euclid(100)),
            b'F' => format!("{y}-{m:02}-{d:02}"),
            b'n' => "\n".to_string(),
            b't' => "\t".to_string(),
            b'%' => "%".to_string(),
            other => format!("%{}", other as char),
        };
        out.extend_from_slice(s.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(
            strftime_utc(b"%Y-%m-%d %H:%M:%S", 0),
            b"1970-01-01 00:00:00"
        );
        assert_eq!(
            strftime_utc(b"%d/%b/%Y:%H:%M:%S %z %a %j", 1_700_000_000),
            b"14/Nov/2023:22:13:20 +0000 Tue 318"
        );
        assert_eq!(strftime_utc(b"%F %T", 951_782_400), b"2000-02-29 00:00:00");
        // ISO weeks at year ends (glibc's answers): 2021-01-03 is in 2020's week 53,
        // 2024-12-30 in 2025's week 1
        assert_eq!(
            strftime_utc(b"%G %V %U %W", 1_609_632_000),
            b"2020 53 01 00"
        );
        assert_eq!(
            strftime_utc(b"%G %V %U %W", 1_735_516_800),
            b"2025 01 52 53"
        );
    }
}
