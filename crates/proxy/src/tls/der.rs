//! The few fields of an X.509 certificate that HAProxy's fetches and SNI selection read:
//! serial number, issuer and subject distinguished names (in HAProxy's `/C=FR/CN=name`
//! form) and the subject's common name. A minimal DER walker, pure and bounds-checked:
//! malformed input gives `None`, never a panic. (Signatures, validity and chains are
//! rustls/webpki's job.)

/// One DER element: tag and contents; the rest of the input after it.
pub(crate) fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, head) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for b in input.get(2..2 + n)? {
            len = (len << 8) | usize::from(*b);
        }
        (len, 2 + n)
    };
    let end = head.checked_add(len)?;
    Some((tag, input.get(head..end)?, input.get(end..)?))
}

/// The parts of a certificate's TBSCertificate that fetches need.
pub struct CertFields<'a> {
    pub serial: &'a [u8],
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    /// The Validity SEQUENCE's contents (notBefore, notAfter).
    pub validity: &'a [u8],
    /// The SubjectPublicKeyInfo SEQUENCE's contents (algorithm, key bits).
    pub spki: &'a [u8],
    /// The X.509 version as written (0 for v1, 2 for v3).
    pub version: i64,
    /// The signature algorithm's OID (TBSCertificate's `signature`).
    pub sig_alg: &'a [u8],
}

pub fn fields(cert: &[u8]) -> Option<CertFields<'_>> {
    let (0x30, cert, _) = element(cert)? else {
        return None;
    };
    let (0x30, tbs, _) = element(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] EXPLICIT version, optional (v1 without it).
    let mut version = 0;
    if rest.first() == Some(&0xa0) {
        let (_, explicit, after) = element(rest)?;
        if let Some((0x02, v, _)) = element(explicit) {
            version = v.iter().fold(0i64, |a, b| (a << 8) | i64::from(*b));
        }
        rest = after;
    }
    let (0x02, serial, rest) = element(rest)? else {
        return None;
    };
    let (_, sig, rest) = element(rest)?;
    let sig_alg = match element(sig) {
        Some((0x06, oid, _)) => oid,
        _ => &[],
    };
    let (0x30, issuer, rest) = element(rest)? else {
        return None;
    };
    let (0x30, validity, rest) = element(rest)? else {
        return None;
    };
    let (0x30, subject, rest) = element(rest)? else {
        return None;
    };
    let (0x30, spki, _) = element(rest)? else {
        return None;
    };
    Some(CertFields {
        serial,
        issuer,
        subject,
        validity,
        spki,
        version,
        sig_alg,
    })
}

/// OpenSSL's short name of a signature algorithm OID (`OBJ_nid2sn`, what HAProxy's
/// `ssl_c_sig_alg` answers); a dotted OID for the others.
pub fn sig_alg_name(oid: &[u8]) -> String {
    const RSA: [u8; 8] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: [u8; 7] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
    let name = match oid {
        [r @ .., last] if r == RSA => match last {
            0x05 => "RSA-SHA1",
            0x0a => "RSASSA-PSS",
            0x0b => "RSA-SHA256",
            0x0c => "RSA-SHA384",
            0x0d => "RSA-SHA512",
            0x0e => "RSA-SHA224",
            _ => return dotted(oid),
        },
        [e @ .., last] if e == ECDSA => match last {
            0x01 => "ecdsa-with-SHA224",
            0x02 => "ecdsa-with-SHA256",
            0x03 => "ecdsa-with-SHA384",
            0x04 => "ecdsa-with-SHA512",
            _ => return dotted(oid),
        },
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01] => "ecdsa-with-SHA1",
        [0x2b, 0x65, 0x70] => "ED25519",
        [0x2b, 0x65, 0x71] => "ED448",
        _ => return dotted(oid),
    };
    name.into()
}

/// OpenSSL's short name of the public key's algorithm (`ssl_c_key_alg`): `rsaEncryption`,
/// `id-ecPublicKey`, `ED25519`...; a dotted OID for the others.
pub fn key_alg_name(spki: &[u8]) -> String {
    let Some((0x30, alg, _)) = element(spki) else {
        return String::new();
    };
    let Some((0x06, oid, _)) = element(alg) else {
        return String::new();
    };
    match oid {
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01] => "rsaEncryption".into(),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a] => "RSASSA-PSS".into(),
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01] => "id-ecPublicKey".into(),
        [0x2b, 0x65, 0x70] => "ED25519".into(),
        [0x2b, 0x65, 0x71] => "ED448".into(),
        _ => dotted(oid),
    }
}

/// Short names of the attribute types HAProxy prints (OpenSSL's); others as dotted OIDs.
fn attr_name(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".into(),
        [0x55, 0x04, 0x06] => "C".into(),
        [0x55, 0x04, 0x07] => "L".into(),
        [0x55, 0x04, 0x08] => "ST".into(),
        [0x55, 0x04, 0x0a] => "O".into(),
        [0x55, 0x04, 0x0b] => "OU".into(),
        [0x55, 0x04, 0x05] => "serialNumber".into(),
        [0x55, 0x04, 0x09] => "street".into(),
        [0x55, 0x04, 0x2a] => "GN".into(),
        [0x55, 0x04, 0x04] => "SN".into(),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress".into(),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC".into(),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID".into(),
        _ => dotted(oid),
    }
}

fn dotted(oid: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut v: u64 = 0;
    for (i, b) in oid.iter().enumerate() {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() && i < 4 {
                let (a, rest) = if v < 80 {
                    (v / 40, v % 40)
                } else {
                    (2, v - 80)
                };
                parts.push(a.to_string());
                parts.push(rest.to_string());
            } else {
                parts.push(v.to_string());
            }
            v = 0;
        }
    }
    parts.join(".")
}

/// The (type, value) pairs of a Name's contents, in order.
pub fn attributes(name: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = name;
    while let Some((0x31, set, next)) = element(rest) {
        let mut s = set;
        while let Some((0x30, atv, n)) = element(s) {
            if let Some((0x06, oid, v)) = element(atv) {
                if let Some((_, value, _)) = element(v) {
                    out.push((attr_name(oid), String::from_utf8_lossy(value).into_owned()));
                }
            }
            s = n;
        }
        rest = next;
    }
    out
}

/// A Name as HAProxy's `ssl_c_s_dn`/`ssl_c_i_dn` print it: `/C=FR/O=Example/CN=name`.
pub fn dn_text(name: &[u8]) -> String {
    attributes(name)
        .into_iter()
        .map(|(k, v)| format!("/{k}={v}"))
        .collect()
}

/// The last common name of a Name.
pub fn common_name(name: &[u8]) -> Option<String> {
    attributes(name)
        .into_iter()
        .filter(|(k, _)| k == "CN")
        .map(|(_, v)| v)
        .next_back()
}

/// The serial number as HAProxy's `ssl_c_serial` (binary; its hex form is upper case).
pub fn serial_hex(serial: &[u8]) -> String {
    serial.iter().map(|b| format!("{b:02X}")).collect()
}

/// notBefore and notAfter as HAProxy's `ssl_c_notbefore`/`ssl_c_notafter` give them
/// (`ssl_sock_get_time`): a UTCTime as written (`YYMMDDhhmmssZ`, years before 2050), a
/// GeneralizedTime of the 2000s without its century; anything else is empty.
pub fn validity_raw(validity: &[u8]) -> Option<(String, String)> {
    let raw = |tag: u8, t: &[u8]| -> String {
        let ok = match tag {
            0x17 => t.len() >= 10 && t[0] < b'5',
            0x18 => t.len() >= 12 && t.starts_with(b"20"),
            _ => false,
        };
        if !ok {
            return String::new();
        }
        let t = if tag == 0x18 { &t[2..] } else { t };
        String::from_utf8_lossy(t).into_owned()
    };
    let (t1, a, rest) = element(validity)?;
    let (t2, b, _) = element(rest)?;
    Some((raw(t1, a), raw(t2, b)))
}

/// notBefore and notAfter as OpenSSL prints them (`Dec  5 02:38:50 2026 GMT`).
pub fn validity_text(validity: &[u8]) -> Option<(String, String)> {
    let (t1, a, rest) = element(validity)?;
    let (t2, b, _) = element(rest)?;
    Some((time_text(t1, a)?, time_text(t2, b)?))
}

/// A UTCTime (0x17, `YYMMDDHHMMSSZ`) or GeneralizedTime (0x18, `YYYYMMDDHHMMSSZ`).
pub(crate) fn time_text(tag: u8, t: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(t).ok()?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: u32 = s.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| rest.get(r).and_then(|x| x.parse::<u32>().ok());
    let month = num(0..2)?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let name = MONTHS.get(usize::try_from(month).ok()?.checked_sub(1)?)?;
    Some(format!(
        "{name} {:2} {:02}:{:02}:{:02} {year} GMT",
        num(2..4)?,
        num(4..6)?,
        num(6..8)?,
        num(8..10)?
    ))
}

/// The public key as HAProxy's `show ssl cert` names it: `RSA2048`, `EC256`, `EC384`...
pub fn key_algorithm(spki: &[u8]) -> String {
    let parsed = || -> Option<String> {
        let (0x30, alg, rest) = element(spki)? else {
            return None;
        };
        let (0x06, oid, params) = element(alg)? else {
            return None;
        };
        let (0x03, bits, _) = element(rest)? else {
            return None;
        };
        match oid {
            // rsaEncryption: the BIT STRING holds RSAPublicKey { modulus, exponent }.
            [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01] => {
                let (0x30, key, _) = element(bits.get(1..)?)? else {
                    return None;
                };
                let (0x02, n, _) = element(key)? else {
                    return None;
                };
                let n = match n.iter().position(|b| *b != 0) {
                    Some(i) => &n[i..],
                    None => return None,
                };
                let size = n.len() * 8 - n[0].leading_zeros() as usize;
                Some(format!("RSA{size}"))
            }
            // id-ecPublicKey with a named curve.
            [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01] => {
                let (0x06, curve, _) = element(params)? else {
                    return None;
                };
                let size = match curve {
                    [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07] => 256,
                    [0x2b, 0x81, 0x04, 0x00, 0x22] => 384,
                    [0x2b, 0x81, 0x04, 0x00, 0x23] => 521,
                    _ => return None,
                };
                Some(format!("EC{size}"))
            }
            _ => None,
        }
    };
    parsed().unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A DER Name: /C=FR/CN=a.example
    const NAME: &[u8] = &[
        0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'F', b'R', 0x31, 0x12,
        0x30, 0x10, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x09, b'a', b'.', b'e', b'x', b'a', b'm',
        b'p', b'l', b'e',
    ];

    #[test]
    fn names_print_as_haproxy_prints_them() {
        assert_eq!(dn_text(NAME), "/C=FR/CN=a.example");
        assert_eq!(common_name(NAME).as_deref(), Some("a.example"));
        assert_eq!(dotted(&[0x2b, 0x06, 0x01]), "1.3.6.1");
        assert_eq!(serial_hex(&[0x01, 0xab]), "01AB");
    }

    #[test]
    fn times_print_as_openssl_prints_them() {
        assert_eq!(
            time_text(0x17, b"261205023850Z").as_deref(),
            Some("Dec  5 02:38:50 2026 GMT")
        );
        assert_eq!(
            time_text(0x18, b"20510104023850Z").as_deref(),
            Some("Jan  4 02:38:50 2051 GMT")
        );
        assert_eq!(time_text(0x17, b"261305023850Z"), None);
        assert_eq!(time_text(0x17, b"26"), None);
        assert_eq!(key_algorithm(&[]), "unknown");
    }

    #[test]
    fn garbage_is_none_not_a_panic() {
        assert!(fields(&[]).is_none());
        assert!(fields(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(fields(&[0x30, 0x03, 0x30, 0x01]).is_none());
        for n in 0..NAME.len() {
            let _ = dn_text(&NAME[..n]);
        }
    }
}
