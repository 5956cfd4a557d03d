//! What HAProxy's CA-file and CRL-file entries show of their contents, computed as OpenSSL
//! does it, pure and bounds-checked (malformed input gives `None` or is skipped, never a
//! panic):
//! - the order of an `X509_STORE`'s objects ([`store_order`]): each add looks the store up
//!   (which sorts it by the subject's, or a CRL's issuer's, canonical name: shorter first,
//!   then bytewise) and then appends, so the objects show sorted but for the last one added;
//!   an object already there is not added twice;
//! - a name's canonical form (`X509_NAME_cmp`: string values as lower-case UTF-8 with
//!   blanks trimmed and collapsed, each RDN re-encoded as a SET);
//! - a CRL as `show ssl crl-file` prints it ([`crl_detail`]: version, signature algorithm,
//!   issuer, updates, revoked serials and dates).

use super::der::{self, element};
use std::fmt::Write;

/// DER of one TLV with `tag` around `content`.
fn tlv(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
}

/// A string value as OpenSSL canonicalizes it (`asn1_string_canon`), or None when its type
/// is not one of the canonicalized string types (kept as it is).
fn canon_value(tag: u8, v: &[u8]) -> Option<Vec<u8>> {
    let text: String = match tag {
        // UTF8String, PrintableString, IA5String, VisibleString
        0x0c | 0x13 | 0x16 | 0x1a => String::from_utf8_lossy(v).into_owned(),
        // T61String: OpenSSL reads it as Latin-1
        0x14 => v.iter().map(|b| char::from(*b)).collect(),
        // BMPString (UCS-2)
        0x1e => char::decode_utf16(v.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])))
            .map(|c| c.unwrap_or('\u{fffd}'))
            .collect(),
        // UniversalString (UCS-4)
        0x1c => v
            .chunks_exact(4)
            .map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).unwrap_or('\u{fffd}')
            })
            .collect(),
        _ => return None,
    };
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let bytes = text.as_bytes();
    let start = bytes.iter().position(|b| !space(*b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !space(*b))
        .map_or(start, |e| e + 1);
    let mut out = Vec::with_capacity(end - start);
    let mut i = start;
    while i < end {
        if space(bytes[i]) {
            out.push(b' ');
            while i < end && space(bytes[i]) {
                i += 1;
            }
        } else {
            out.push(bytes[i].to_ascii_lowercase());
            i += 1;
        }
    }
    Some(out)
}

/// A Name's (contents of its SEQUENCE) canonical encoding, as `X509_NAME_cmp` compares it.
pub fn canonical_name(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = name;
    while let Some((0x31, set, next)) = element(rest) {
        let mut entries: Vec<Vec<u8>> = Vec::new();
        let mut s = set;
        while let Some((0x30, atv, n)) = element(s) {
            if let Some((0x06, oid, v)) = element(atv) {
                if let Some((tag, value, _)) = element(v) {
                    let mut e = Vec::new();
                    tlv(0x06, oid, &mut e);
                    match canon_value(tag, value) {
                        Some(c) => tlv(0x0c, &c, &mut e),
                        None => tlv(tag, value, &mut e),
                    }
                    let mut seq = Vec::new();
                    tlv(0x30, &e, &mut seq);
                    entries.push(seq);
                }
            }
            s = n;
        }
        // DER sorts a SET OF by its elements' encodings.
        entries.sort();
        tlv(0x31, &entries.concat(), &mut out);
        rest = next;
    }
    out
}

/// A store object's sort key: its type (1 certificate, 2 CRL) and canonical name.
pub type Key = (u8, Vec<u8>);

/// `x509_object_cmp`: certificates before CRLs, then `X509_NAME_cmp` on the canonical names
/// (the shorter first, then bytewise).
fn name_order(a: &Key, b: &Key) -> std::cmp::Ordering {
    a.0.cmp(&b.0)
        .then_with(|| a.1.len().cmp(&b.1.len()))
        .then_with(|| a.1.cmp(&b.1))
}

/// A store object's sort key: (1, canonical subject) for a certificate, (2, canonical
/// issuer) for a CRL.
pub fn object_key(der: &[u8]) -> Key {
    if let Some(f) = der::fields(der) {
        return (1, canonical_name(f.subject));
    }
    match crl_fields(der) {
        Some(f) => (2, canonical_name(f.issuer)),
        None => (3, Vec::new()),
    }
}

/// The order an `X509_STORE` shows `items` (DER certificates and CRLs, in the order they
/// were added) in; exact duplicates are dropped.
pub fn store_order(items: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out: Vec<(Key, Vec<u8>)> = Vec::new();
    for item in items {
        // The lookup before each add sorts what is there (stable here; OpenSSL's qsort
        // leaves equal names in no set order), and finds a duplicate.
        out.sort_by(|a, b| name_order(&a.0, &b.0));
        if out.iter().any(|(_, d)| *d == item) {
            continue;
        }
        out.push((object_key(&item), item));
    }
    out.into_iter().map(|(_, d)| d).collect()
}

/// A DER time: its tag (UTCTime, GeneralizedTime) and contents.
type Time<'a> = (u8, &'a [u8]);

/// The parts of a CRL that `show ssl crl-file` prints.
struct CrlFields<'a> {
    version: i64,
    issuer: &'a [u8],
    this_update: Time<'a>,
    next_update: Option<Time<'a>>,
    /// (serial, revocation date) of each revoked certificate.
    revoked: Vec<(&'a [u8], Time<'a>)>,
    /// The outer signatureAlgorithm's OID.
    sig_alg: &'a [u8],
}

fn crl_fields(crl: &[u8]) -> Option<CrlFields<'_>> {
    let (0x30, list, _) = element(crl)? else {
        return None;
    };
    let (0x30, tbs, after_tbs) = element(list)? else {
        return None;
    };
    let (0x30, alg, _) = element(after_tbs)? else {
        return None;
    };
    let (0x06, sig_alg, _) = element(alg)? else {
        return None;
    };
    let mut rest = tbs;
    let mut version = 0;
    if let Some((0x02, v, r)) = element(rest) {
        version = v.iter().fold(0i64, |a, b| (a << 8) | i64::from(*b));
        rest = r;
    }
    let (0x30, _, r) = element(rest)? else {
        return None;
    };
    let (0x30, issuer, r) = element(r)? else {
        return None;
    };
    let (t, this, mut r) = element(r)?;
    let this_update = (t, this);
    let mut next_update = None;
    if let Some((t @ (0x17 | 0x18), next, r2)) = element(r) {
        next_update = Some((t, next));
        r = r2;
    }
    let mut revoked = Vec::new();
    if let Some((0x30, list, _)) = element(r) {
        let mut l = list;
        while let Some((0x30, entry, n)) = element(l) {
            if let Some((0x02, serial, e)) = element(entry) {
                if let Some((t, date, _)) = element(e) {
                    revoked.push((serial, (t, date)));
                }
            }
            l = n;
        }
    }
    Some(CrlFields {
        version,
        issuer,
        this_update,
        next_update,
        revoked,
        sig_alg,
    })
}

/// Whether `der` reads as a CRL.
pub fn is_crl(der: &[u8]) -> bool {
    der::fields(der).is_none() && crl_fields(der).is_some()
}

/// OpenSSL's long name of a signature algorithm (`OBJ_nid2ln`).
fn sig_alg_long_name(oid: &[u8]) -> String {
    const RSA: [u8; 8] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    let name = match oid {
        [r @ .., last] if r == RSA => match last {
            0x04 => "md5WithRSAEncryption",
            0x05 => "sha1WithRSAEncryption",
            0x0a => "rsassaPss",
            0x0b => "sha256WithRSAEncryption",
            0x0c => "sha384WithRSAEncryption",
            0x0d => "sha512WithRSAEncryption",
            0x0e => "sha224WithRSAEncryption",
            _ => return der::sig_alg_name(oid),
        },
        _ => return der::sig_alg_name(oid),
    };
    name.into()
}

/// `i2a_ASN1_INTEGER`: upper-case hex of the value's bytes (no sign padding; `00` for zero).
fn integer_hex(v: &[u8]) -> String {
    let trimmed = match v {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => v,
    };
    if trimmed.is_empty() {
        return "00".into();
    }
    der::serial_hex(trimmed)
}

/// HAProxy 2.6's `show_crl_detail` of one CRL.
pub fn crl_detail(crl: &[u8], out: &mut String) {
    let Some(f) = crl_fields(crl) else {
        return;
    };
    let _ = writeln!(out, "Version {}", f.version + 1);
    let _ = writeln!(out, "Signature Algorithm: {}", sig_alg_long_name(f.sig_alg));
    let _ = writeln!(out, "Issuer: {}", der::dn_text(f.issuer));
    let time = |(t, v): (u8, &[u8])| der::time_text(t, v);
    let Some(last) = time(f.this_update) else {
        out.push_str("Last Update: ");
        return;
    };
    let _ = writeln!(out, "Last Update: {last}");
    out.push_str("Next Update: ");
    let Some(next) = f.next_update.and_then(time) else {
        return;
    };
    let _ = writeln!(out, "{next}");
    if f.revoked.is_empty() {
        out.push_str("No Revoked Certificates.\n");
    } else {
        out.push_str("Revoked Certificates:\n");
    }
    for (serial, date) in f.revoked {
        let _ = write!(
            out,
            "    Serial Number: {}\n        Revocation Date: ",
            integer_hex(serial)
        );
        match time(date) {
            Some(d) => {
                let _ = writeln!(out, "{d}");
            }
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(cn: &[u8], tag: u8) -> Vec<u8> {
        let mut atv = Vec::new();
        tlv(0x06, &[0x55, 0x04, 0x03], &mut atv);
        tlv(tag, cn, &mut atv);
        let mut seq = Vec::new();
        tlv(0x30, &atv, &mut seq);
        let mut set = Vec::new();
        tlv(0x31, &seq, &mut set);
        set
    }

    #[test]
    fn names_compare_case_and_blank_insensitively() {
        assert_eq!(
            canonical_name(&name(b"  Test   CA ", 0x13)),
            canonical_name(&name(b"test ca", 0x0c))
        );
        assert_ne!(
            canonical_name(&name(b"a", 0x0c)),
            canonical_name(&name(b"b", 0x0c))
        );
        // not a string type: kept as it is
        assert_eq!(canonical_name(&name(&[1, 2], 0x04)), name(&[1, 2], 0x04));
        assert!(
            canonical_name(b"\x31\xff").is_empty(),
            "garbage reads as no name"
        );
    }

    #[test]
    fn a_store_shows_sorted_but_for_the_last_added() {
        let cert = |cn: &[u8]| {
            // A minimal Certificate: SEQUENCE { TBS { [0]{v3}, serial, sigalg, issuer,
            // validity, subject, spki } }: enough for `der::fields`.
            let mut tbs = Vec::new();
            tlv(0xa0, &[0x02, 0x01, 0x02], &mut tbs);
            tlv(0x02, &[0x01], &mut tbs);
            tlv(0x30, &[0x06, 0x01, 0x2a], &mut tbs);
            tbs.extend(wrap(&name(b"ca", 0x0c)));
            tlv(0x30, &[], &mut tbs);
            tbs.extend(wrap(&name(cn, 0x0c)));
            tlv(0x30, &[], &mut tbs);
            let mut t = Vec::new();
            tlv(0x30, &tbs, &mut t);
            let mut c = Vec::new();
            tlv(0x30, &t, &mut c);
            c
        };
        let (long, zz, b) = (cert(b"long"), cert(b"zz"), cert(b"b"));
        assert_eq!(object_key(&zz).0, 1, "reads as a certificate");
        let items = vec![long.clone(), zz.clone(), zz.clone(), b.clone()];
        assert_eq!(store_order(items), vec![zz, long, b]);
    }

    fn wrap(n: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        tlv(0x30, n, &mut out);
        out
    }

    #[test]
    fn integers_print_as_openssl_prints_them() {
        assert_eq!(integer_hex(&[0x00, 0x80]), "80");
        assert_eq!(integer_hex(&[0x00]), "00");
        assert_eq!(integer_hex(&[0x7f, 0x01]), "7F01");
    }

    #[test]
    fn garbage_is_no_crl() {
        assert!(!is_crl(b"\x30\x03\x02\x01\x01"));
        let mut out = String::new();
        crl_detail(b"\x30\x80", &mut out);
        assert!(out.is_empty());
    }
}
