//! Number, time and size values as both dialects write them.
//!
//! HAProxy times take a unit suffix (`us ms s m h d`) and a bare number is milliseconds;
//! keepalived times are seconds, possibly fractional (`advert_int 0.1`). Sizes take `k m g`.
//! Pure functions returning a message saying what was expected, for the caller to place.

use std::time::Duration;

/// HAProxy time: `100`, `100ms`, `5s`, `1m`, `2h`, `1d`, `50us`. A bare number is in `default_unit_ms`
/// milliseconds (HAProxy: 1 for timeouts).
pub fn parse_haproxy_time(text: &str) -> Result<Duration, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(digits_end);
    let value: u64 = num
        .parse()
        .map_err(|_| format!("expected a time such as '5s' or '500' (ms), found '{text}'"))?;
    let micros_per_unit: u64 = match unit {
        "" | "ms" => 1_000,
        "us" => 1,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => {
            return Err(format!(
                "unknown time unit '{unit}' in '{text}' (expected us, ms, s, m, h or d)"
            ))
        }
    };
    value
        .checked_mul(micros_per_unit)
        .map(Duration::from_micros)
        .ok_or_else(|| format!("time '{text}' is too large"))
}

/// HAProxy size: `16384`, `16k`, `1m`, `1g` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(digits_end);
    let value: u64 = num
        .parse()
        .map_err(|_| format!("expected a size such as '16384' or '16k', found '{text}'"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => {
            return Err(format!(
                "unknown size unit '{unit}' in '{text}' (expected k, m or g)"
            ))
        }
    };
    value
        .checked_mul(mult)
        .ok_or_else(|| format!("size '{text}' is too large"))
}

/// keepalived time in seconds, integer or fractional (`1`, `0.1`, `2.5`), at microsecond precision.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let bad = || format!("expected a number of seconds such as '1' or '0.5', found '{text}'");
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let secs: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut micros: u64 = 0;
    for (i, c) in frac.chars().take(6).enumerate() {
        micros += u64::from(c as u8 - b'0') * 10u64.pow(5 - i as u32);
    }
    Ok(Duration::from_secs(secs) + Duration::from_micros(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_times() {
        assert_eq!(parse_haproxy_time("5000"), Ok(Duration::from_millis(5000)));
        assert_eq!(parse_haproxy_time("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_haproxy_time("50us"), Ok(Duration::from_micros(50)));
        assert_eq!(parse_haproxy_time("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_haproxy_time("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_haproxy_time("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_haproxy_time("30ms"), Ok(Duration::from_millis(30)));
        assert!(parse_haproxy_time("5x").is_err());
        assert!(parse_haproxy_time("").is_err());
        assert!(parse_haproxy_time("s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16384"), Ok(16384));
        assert_eq!(parse_size("16k"), Ok(16384));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert!(parse_size("1q").is_err());
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("1"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_seconds("0.1"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_seconds("2.55"), Ok(Duration::from_millis(2550)));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("a").is_err());
        assert!(parse_seconds(".").is_err());
    }
}
