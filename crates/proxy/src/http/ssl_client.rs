//! The `ssl_c_*` fetches of the client's certificate, as HAProxy 2.6 answers them: whole DNs
//! or one entry of them (`ssl_c_s_dn(CN)`, `ssl_c_i_dn(OU,2)`, `ssl_c_s_dn(O,-1)`: the entry
//! type matched without regard to case, the first occurrence by default, a negative one
//! counted from the end), the serial, the SHA-1 of the DER certificate, and the validity
//! dates as `YYMMDDhhmmssZ`, the X.509 version (`ssl_c_version`) and OpenSSL's short names
//! of the signature and key algorithms (`ssl_c_sig_alg`, `ssl_c_key_alg`). None without a
//! client certificate.

use crate::stream::ClientCert;
use fulcrum_sample::fetch::Fetch;
use fulcrum_sample::Value;

/// `ssl_c_*` for `name`; None when it is not one of these (or there is no answer).
pub fn fetch(cert: Option<&ClientCert>, name: &str, f: &Fetch) -> Option<Value> {
    let s = |v: &str| Some(Value::Str(v.as_bytes().to_vec()));
    match name {
        "ssl_c_s_dn" => dn(&cert?.subject, &cert?.subject_entries, f),
        "ssl_c_i_dn" => dn(&cert?.issuer, &cert?.issuer_entries, f),
        "ssl_c_serial" => {
            let hex = &cert?.serial;
            let bytes = (0..hex.len() / 2)
                .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            Some(Value::Bin(bytes))
        }
        "ssl_c_sha1" => Some(Value::Bin(cert?.sha1.clone())),
        "ssl_c_notbefore" => Some(&cert?.not_before)
            .filter(|t| !t.is_empty())
            .and_then(|t| s(t)),
        "ssl_c_version" => Some(Value::Sint(cert?.version)),
        "ssl_c_sig_alg" => s(&cert?.sig_alg),
        "ssl_c_key_alg" => s(&cert?.key_alg),
        "ssl_c_notafter" => Some(&cert?.not_after)
            .filter(|t| !t.is_empty())
            .and_then(|t| s(t)),
        _ => None,
    }
}

/// The whole DN without an argument, else the entry's value (`ssl_sock_get_dn_entry`).
fn dn(whole: &str, entries: &[(String, String)], f: &Fetch) -> Option<Value> {
    let entry = f.args.first().map(|a| a.as_bytes()).unwrap_or(b"");
    if entry.is_empty() {
        return Some(Value::Str(whole.as_bytes().to_vec()));
    }
    let pos = f.args.get(1).map_or(1, |a| a.as_int());
    entry_value(entries, entry, pos).map(|v| Value::Str(v.as_bytes().to_vec()))
}

/// The `pos`-th entry of type `entry` (1 = first; -1 = last; 0 = none).
pub fn entry_value<'a>(entries: &'a [(String, String)], entry: &[u8], pos: i64) -> Option<&'a str> {
    let matching = entries
        .iter()
        .filter(|(k, _)| k.as_bytes().eq_ignore_ascii_case(entry))
        .map(|(_, v)| v.as_str());
    match pos {
        0 => None,
        p if p > 0 => matching.clone().nth(usize::try_from(p - 1).ok()?),
        p => {
            let all: Vec<&str> = matching.collect();
            let back = usize::try_from(p.unsigned_abs()).ok()?;
            all.len()
                .checked_sub(back)
                .and_then(|i| all.get(i).copied())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<(String, String)> {
        [("C", "FR"), ("OU", "a"), ("OU", "b"), ("CN", "client")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn one_entry_by_type_and_occurrence_as_haproxy() {
        let e = entries();
        assert_eq!(entry_value(&e, b"cn", 1), Some("client"));
        assert_eq!(entry_value(&e, b"CN", 1), Some("client"));
        assert_eq!(entry_value(&e, b"OU", 1), Some("a"));
        assert_eq!(entry_value(&e, b"OU", 2), Some("b"));
        assert_eq!(entry_value(&e, b"OU", -1), Some("b"));
        assert_eq!(entry_value(&e, b"OU", -2), Some("a"));
        assert_eq!(entry_value(&e, b"OU", 3), None);
        assert_eq!(entry_value(&e, b"OU", -3), None);
        assert_eq!(entry_value(&e, b"O", 1), None);
        assert_eq!(entry_value(&e, b"OU", 0), None);
    }
}
