//! The system's local time as HAProxy reads it: glibc's `localtime_r` (the `TZ` variable,
//! else `/etc/localtime`), for the `ltime` converter and the log's local dates (`%t %tr %Tl
//! %trl`, the syslog header). One call per date (an offset: per second and thread); glibc
//! reads the zone once per process.
//!
//! The only `unsafe` of the crate: the C call and the zone name it points to. Calling glibc
//! is what makes the dates equal to haproxy's, which makes the same call.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::mem::MaybeUninit;

/// The local zone at one instant: seconds east of UTC and the abbreviation (`CET`, `IST`,
/// `UTC`), as `strftime`'s `%z` and `%Z` print them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub offset: i64,
    pub name: String,
}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            offset: 0,
            name: "GMT".into(),
        }
    }
}

/// The local zone at unix time `t` (UTC when the C library cannot say).
pub fn zone_at(t: i64) -> Zone {
    let tt: libc::time_t = t;
    let mut tm = MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: `localtime_r` reads `tt` and writes only the `tm` it is given (reentrant).
    let got = unsafe { libc::localtime_r(&tt, tm.as_mut_ptr()) };
    if got.is_null() {
        return Zone::utc();
    }
    // SAFETY: `localtime_r` succeeded, so it filled `tm`.
    let tm = unsafe { tm.assume_init() };
    let name = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: glibc points `tm_zone` at a NUL-terminated name it keeps for the process.
        unsafe { CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    Zone {
        offset: tm.tm_gmtoff,
        name,
    }
}

/// Only the offset (seconds east of UTC) at unix time `t`. Remembered per thread for the last
/// second asked (a log line asks for it once or twice per request: `localtime_r` and the
/// zone name's allocation then run once per second, not once per line).
pub fn offset_at(t: i64) -> i64 {
    thread_local! {
        static LAST: std::cell::Cell<(i64, i64)> = const { std::cell::Cell::new((i64::MIN, 0)) };
    }
    LAST.with(|last| {
        let (at, offset) = last.get();
        if at == t {
            return offset;
        }
        let offset = zone_at(t).offset;
        last.set((t, offset));
        offset
    })
}

/// `+0530` / `-0800`: `%z` of an offset in seconds.
pub fn offset_hhmm(offset: i64) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let m = offset.abs() / 60;
    format!("{sign}{:02}{:02}", m / 60, m % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_print_as_strftime_z() {
        assert_eq!(offset_hhmm(0), "+0000");
        assert_eq!(offset_hhmm(19_800), "+0530");
        assert_eq!(offset_hhmm(-28_800), "-0800");
    }

    #[test]
    fn the_zone_is_a_whole_number_of_minutes() {
        let z = zone_at(1_700_000_000);
        assert_eq!(z.offset % 60, 0, "{z:?}");
        assert!(z.offset.abs() < 15 * 3600, "{z:?}");
    }
}
