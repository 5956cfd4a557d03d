//! Implicit casts between sample types, after HAProxy's `sample_casts` table.
//!
//! A cast HAProxy does not have (an IPv4 address to a boolean, a binary to an integer...)
//! is refused at compile time by [`can_cast`], and fails at run time (`None`) where the
//! value cannot be converted (a string that is not an address).

use crate::value::{Type, Value};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether HAProxy converts a value of type `from` into `to` implicitly.
pub fn can_cast(from: Type, to: Type) -> bool {
    use Type::*;
    if from == to || to == Any || from == Any {
        return true;
    }
    match from {
        Bool | Sint => matches!(to, Bool | Sint | Addr | Ipv4 | Ipv6 | Str | Bin),
        Ipv4 => matches!(to, Sint | Addr | Ipv6 | Str | Bin),
        Ipv6 => matches!(to, Addr | Ipv4 | Str | Bin),
        // An address fetch (`src`) may be IPv4 or IPv6: what either casts to is accepted, and
        // the value decides at run time (haproxy -c accepts `src,add(1)` too).
        Addr => matches!(to, Sint | Ipv4 | Ipv6 | Str | Bin),
        Str => true,
        Bin => matches!(to, Str | Meth),
        Meth => matches!(to, Str | Bin),
        Any => true,
    }
}

/// HAProxy's `read_int64`: an optional `-`, then digits up to the first non-digit.
fn read_int(s: &[u8]) -> i64 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        n = n.wrapping_mul(10).wrapping_add(i64::from(c - b'0'));
    }
    if neg {
        n.wrapping_neg()
    } else {
        n
    }
}

fn parse_v4(s: &[u8]) -> Option<Ipv4Addr> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn parse_v6(s: &[u8]) -> Option<Ipv6Addr> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// An IPv4 address in dotted decimal (`Ipv4Addr`'s `Display` without the formatter: this runs
/// for every `%[src]` of a header value).
fn v4_text(a: Ipv4Addr) -> Vec<u8> {
    let mut out = Vec::with_capacity(15);
    crate::value_text::write_v4(&mut out, a);
    out
}

/// The value converted to `to`, or `None` when HAProxy's cast fails.
pub fn cast(v: Value, to: Type) -> Option<Value> {
    use Value::*;
    if to == Type::Any || v.ty() == to {
        return Some(v);
    }
    Some(match (v, to) {
        (Bool(b), Type::Sint) => Sint(i64::from(b)),
        (Sint(n), Type::Bool) => Bool(n != 0),
        (Bool(b), t) => return cast(Sint(i64::from(b)), t),
        (Sint(n), Type::Ipv4 | Type::Addr) => Ipv4(Ipv4Addr::from(n as u32)),
        (Sint(n), Type::Ipv6) => Ipv6(Ipv4Addr::from(n as u32).to_ipv6_mapped()),
        (Sint(n), Type::Str) => Str(itoa::Buffer::new().format(n).as_bytes().to_vec()),
        (Sint(n), Type::Bin) => Bin(n.to_be_bytes().to_vec()),
        (Ipv4(a), Type::Sint) => Sint(i64::from(u32::from(a))),
        (Ipv4(a), Type::Addr) => Ipv4(a),
        (Ipv4(a), Type::Ipv6) => Ipv6(a.to_ipv6_mapped()),
        (Ipv4(a), Type::Str) => Str(v4_text(a)),
        (Ipv4(a), Type::Bin) => Bin(a.octets().to_vec()),
        (Ipv6(a), Type::Addr) => Ipv6(a),
        (Ipv6(a), Type::Ipv4) => Ipv4(a.to_ipv4_mapped()?),
        (Ipv6(a), Type::Str) => Str(a.to_string().into_bytes()),
        (Ipv6(a), Type::Bin) => Bin(a.octets().to_vec()),
        (Str(s), Type::Sint) if !s.is_empty() => Sint(read_int(&s)),
        (Str(s), Type::Bool) if !s.is_empty() => Bool(read_int(&s) != 0),
        (Str(s), Type::Ipv4) => Ipv4(parse_v4(&s)?),
        (Str(s), Type::Ipv6) => Ipv6(parse_v6(&s)?),
        (Str(s), Type::Addr) => match parse_v4(&s) {
            Some(a) => Ipv4(a),
            None => Ipv6(parse_v6(&s)?),
        },
        (Str(s), Type::Bin) => Bin(s),
        (Str(s) | Bin(s), Type::Meth) => Meth(s),
        // HAProxy's `c_bin2str`: the bytes up to the first NUL
        (Bin(mut s), Type::Str) => {
            if let Some(nul) = s.iter().position(|&b| b == 0) {
                s.truncate(nul);
            }
            Str(s)
        }
        (Meth(s), Type::Str) => Str(s),
        (Meth(s), Type::Bin) => Bin(s),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_to_integers_as_read_int64() {
        for (s, n) in [
            ("42", 42),
            ("-7x", -7),
            ("abc", 0),
            ("12abc", 12),
            ("+3", 0),
        ] {
            assert_eq!(cast(Value::str(s), Type::Sint), Some(Value::Sint(n)), "{s}");
        }
        assert_eq!(cast(Value::str(""), Type::Sint), None);
    }

    #[test]
    fn addresses() {
        let v4 = Value::Ipv4(Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(cast(v4.clone(), Type::Sint), Some(Value::Sint(0x0a00_0001)));
        assert_eq!(cast(v4.clone(), Type::Str), Some(Value::str("10.0.0.1")));
        for a in ["0.0.0.0", "255.255.255.255", "192.168.100.9"] {
            let v = Value::Ipv4(a.parse().expect("v4"));
            assert_eq!(cast(v, Type::Str), Some(Value::str(a)));
        }
        for n in [0, -1, i64::MIN, i64::MAX, 1234567] {
            assert_eq!(
                cast(Value::Sint(n), Type::Str),
                Some(Value::str(n.to_string()))
            );
        }
        assert_eq!(
            cast(v4, Type::Ipv6),
            Some(Value::Ipv6("::ffff:10.0.0.1".parse().expect("v6")))
        );
        assert_eq!(
            cast(Value::Ipv6("2001:db8::1".parse().expect("v6")), Type::Ipv4),
            None
        );
        assert_eq!(
            cast(Value::str("::1"), Type::Addr),
            Some(Value::Ipv6(Ipv6Addr::LOCALHOST))
        );
        assert!(!can_cast(Type::Ipv4, Type::Bool));
        assert!(!can_cast(Type::Bin, Type::Sint));
    }

    #[test]
    fn binary_to_string_stops_at_the_first_nul() {
        assert_eq!(
            cast(Value::Bin(b"A\0B".to_vec()), Type::Str),
            Some(Value::str("A"))
        );
    }

    #[test]
    fn integers_to_binary_are_eight_bytes_big_endian() {
        assert_eq!(
            cast(Value::Sint(258), Type::Bin),
            Some(Value::Bin(vec![0, 0, 0, 0, 0, 0, 1, 2]))
        );
    }
}
