//! HAProxy's (OpenSSL's) names for protocol versions, cipher suites and curves, mapped to
//! what rustls offers: `ciphers`, `ciphersuites`, `curves`, `ssl-min-ver`/`ssl-max-ver`,
//! `no-tlsvNN`, `force-tlsvNN`. What rustls lacks is an error that names it (a client that
//! needs it would be refused), never dropped in silence. Pure: configuration in, provider out.

use fulcrum_config::tls::{TlsOptions, TlsVersion};
use rustls::crypto::aws_lc_rs::{cipher_suite as cs, default_provider, kx_group};
use rustls::crypto::CryptoProvider;
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};
use std::sync::Arc;

/// rustls's suites with OpenSSL's name and the OpenSSL aliases that select them.
fn table() -> [(&'static str, SupportedCipherSuite, &'static [&'static str]); 9] {
    const E: &[&str] = &["ECDHE", "EECDH", "kEECDH", "kECDHE", "ECDSA", "aECDSA"];
    const R: &[&str] = &["ECDHE", "EECDH", "kEECDH", "kECDHE", "RSA", "aRSA"];
    [
        ("TLS_AES_128_GCM_SHA256", cs::TLS13_AES_128_GCM_SHA256, &[]),
        ("TLS_AES_256_GCM_SHA384", cs::TLS13_AES_256_GCM_SHA384, &[]),
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            &[],
        ),
        (
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            E,
        ),
        (
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            E,
        ),
        (
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            E,
        ),
        (
            "ECDHE-RSA-AES128-GCM-SHA256",
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            R,
        ),
        (
            "ECDHE-RSA-AES256-GCM-SHA384",
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            R,
        ),
        (
            "ECDHE-RSA-CHACHA20-POLY1305",
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            R,
        ),
    ]
}

/// OpenSSL's name of a negotiated suite (`ssl_fc_cipher`, `%sslc`).
pub fn openssl_name(s: SupportedCipherSuite) -> &'static str {
    table()
        .into_iter()
        .find(|(_, t, _)| t.suite() == s.suite())
        .map_or("UNKNOWN", |(n, _, _)| n)
}

/// Secret key bits of a suite's cipher.
pub fn bits(s: SupportedCipherSuite) -> u32 {
    let n = openssl_name(s);
    if n.contains("AES128") || n.contains("AES_128") {
        128
    } else {
        256
    }
}

/// Whether suite `name` (OpenSSL's) carries every tag of `item` (`ECDHE+AESGCM`).
fn has_tags(name: &str, tags: &[&str], item: &str) -> bool {
    item.split('+').all(|t| match t {
        "ALL" | "DEFAULT" | "HIGH" | "TLSv1.2" | "SSLv3" | "COMPLEMENTOFDEFAULT" => true,
        "AESGCM" => name.contains("GCM"),
        "AES" => name.contains("AES"),
        "AES128" => name.contains("AES128"),
        "AES256" => name.contains("AES256"),
        "CHACHA20" => name.contains("CHACHA20"),
        "SHA256" => name.ends_with("SHA256"),
        "SHA384" => name.ends_with("SHA384"),
        t => tags.contains(&t),
    })
}

/// Aliases that select none of rustls's suites (weak or absent families): excluding them is
/// a no-op, naming them alone selects nothing.
const EMPTY_ALIASES: &[&str] = &[
    "aNULL",
    "eNULL",
    "NULL",
    "MD5",
    "RC4",
    "DES",
    "3DES",
    "EXP",
    "EXPORT",
    "LOW",
    "MEDIUM",
    "PSK",
    "SRP",
    "DSS",
    "aDSS",
    "CAMELLIA",
    "SEED",
    "IDEA",
    "kRSA",
    "DHE",
    "EDH",
    "kEDH",
    "kDHE",
    "SHA1",
    "SHA",
    "CBC",
    "ADH",
    "AECDH",
    "RC2",
    "aPSK",
    "kPSK",
    "ARIA",
    "CCM",
    "CCM8",
    "AESCCM",
    "AESCCM8",
    "kDHEPSK",
    "kECDHEPSK",
    "kRSAPSK",
    "GOST",
    "aGOST",
    "kGOST",
    "SSLv2",
    "TLSv1",
    "TLSv1.0",
];

fn is_alias(item: &str) -> bool {
    item.split('+').all(|t| {
        EMPTY_ALIASES.contains(&t)
            || matches!(
                t,
                "ALL"
                    | "DEFAULT"
                    | "HIGH"
                    | "COMPLEMENTOFDEFAULT"
                    | "AESGCM"
                    | "AES"
                    | "AES128"
                    | "AES256"
                    | "CHACHA20"
                    | "SHA256"
                    | "SHA384"
                    | "ECDHE"
                    | "EECDH"
                    | "kEECDH"
                    | "kECDHE"
                    | "ECDSA"
                    | "aECDSA"
                    | "RSA"
                    | "aRSA"
                    | "TLSv1.2"
                    | "SSLv3"
            )
    })
}

/// An OpenSSL cipher string (`ciphers`, TLS ≤ 1.2) as rustls TLS 1.2 suites, in order.
pub fn tls12_suites(list: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    let all: Vec<_> = table()
        .into_iter()
        .filter(|(_, s, _)| s.tls13().is_none())
        .collect();
    let mut out: Vec<&'static str> = Vec::new();
    let mut banned: Vec<&'static str> = Vec::new();
    let mut lacking = Vec::new();
    for item in list.split([':', ',', ' ']).filter(|i| !i.is_empty()) {
        if item.starts_with('@') {
            continue; // @STRENGTH, @SECLEVEL=N: ordering/level hints.
        }
        let (op, name) = match item.as_bytes()[0] {
            b'!' | b'-' | b'+' => (item.as_bytes()[0], &item[1..]),
            _ => (b' ', item),
        };
        let matching: Vec<&'static str> = match all.iter().find(|(n, _, _)| *n == name) {
            Some((n, _, _)) => vec![*n],
            None if is_alias(name) => all
                .iter()
                .filter(|(n, _, tags)| {
                    has_tags(n, tags, name) && !name.split('+').any(|t| EMPTY_ALIASES.contains(&t))
                })
                .map(|(n, _, _)| *n)
                .collect(),
            None => {
                if op == b' ' {
                    lacking.push(name.to_string());
                }
                continue;
            }
        };
        match op {
            b'!' => {
                out.retain(|n| !matching.contains(n));
                banned.extend(matching);
            }
            b'-' => out.retain(|n| !matching.contains(n)),
            b'+' => {
                let (moved, kept): (Vec<_>, Vec<_>) =
                    out.iter().partition(|n| matching.contains(n));
                out = kept.into_iter().chain(moved).collect();
            }
            _ => {
                for n in matching {
                    if !out.contains(&n) && !banned.contains(&n) {
                        out.push(n);
                    }
                }
            }
        }
    }
    if !lacking.is_empty() {
        return Err(format!(
            "cipher(s) {} not available: fulcrum's TLS (rustls) offers only {} for TLS 1.2; remove them from the list",
            lacking.join(", "),
            all.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(out
        .into_iter()
        .filter_map(|n| all.iter().find(|(a, _, _)| *a == n).map(|(_, s, _)| *s))
        .collect())
}

/// A `ciphersuites` list (TLS 1.3, `:`-separated IANA names) as rustls suites, in order.
pub fn tls13_suites(list: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    let mut out = Vec::new();
    for name in list.split(':').filter(|n| !n.is_empty()) {
        match table().into_iter().find(|(n, s, _)| *n == name && s.tls13().is_some()) {
            Some((_, s, _)) => out.push(s),
            None => {
                return Err(format!(
                    "TLS 1.3 cipher suite '{name}' not available: fulcrum's TLS (rustls) offers TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256"
                ))
            }
        }
    }
    Ok(out)
}

/// The protocol versions a line allows (HAProxy's default minimum is TLSv1.2).
pub fn versions(o: &TlsOptions) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let all = [
        TlsVersion::Ssl3,
        TlsVersion::Tls10,
        TlsVersion::Tls11,
        TlsVersion::Tls12,
        TlsVersion::Tls13,
    ];
    let wanted: Vec<TlsVersion> = match o.force {
        Some(v) => vec![v],
        None => {
            let min = o.min_ver.unwrap_or(TlsVersion::Tls12);
            let max = o.max_ver.unwrap_or(TlsVersion::Tls13);
            all.into_iter()
                .filter(|v| *v >= min && *v <= max && !o.no_versions.contains(v))
                .collect()
        }
    };
    if let Some(old) = wanted.iter().find(|v| **v < TlsVersion::Tls12) {
        return Err(format!(
            "{} is not available: fulcrum's TLS (rustls) speaks TLSv1.2 and TLSv1.3 only (set 'ssl-min-ver TLSv1.2')",
            old.name()
        ));
    }
    let out: Vec<_> = wanted
        .iter()
        .map(|v| match v {
            TlsVersion::Tls13 => &rustls::version::TLS13,
            _ => &rustls::version::TLS12,
        })
        .collect();
    if out.is_empty() {
        return Err("these options leave no TLS version to speak".into());
    }
    Ok(out)
}

/// The crypto provider for a line: its suites (ordered) and key exchange groups.
pub fn provider(o: &TlsOptions) -> Result<Arc<CryptoProvider>, String> {
    let mut p = default_provider();
    // The groups haproxy 2.6's OpenSSL 3.0 agrees on by default (and ring's provider offered):
    // no ML-KEM hybrid, which aws-lc's provider would add.
    p.kx_groups = vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1];
    let t12 = match &o.ciphers {
        Some(l) => tls12_suites(l)?,
        None => p
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| s.tls13().is_none())
            .collect(),
    };
    let t13 = match &o.ciphersuites {
        Some(l) => tls13_suites(l)?,
        None => p
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| s.tls13().is_some())
            .collect(),
    };
    if let Some(curves) = &o.curves {
        let mut groups = Vec::new();
        for c in curves.split(':').filter(|c| !c.is_empty()) {
            groups.push(match c {
                "X25519" | "x25519" => kx_group::X25519,
                "P-256" | "prime256v1" | "secp256r1" => kx_group::SECP256R1,
                "P-384" | "secp384r1" => kx_group::SECP384R1,
                other => return Err(format!("curve '{other}' not available: fulcrum's TLS (rustls) offers X25519, P-256 (prime256v1) and P-384 (secp384r1)")),
            });
        }
        p.kx_groups = groups;
    }
    p.cipher_suites = t13.into_iter().chain(t12).collect();
    if p.cipher_suites.is_empty() {
        return Err("the cipher lists leave no cipher suite".into());
    }
    Ok(Arc::new(p))
}

/// Options of a line over the global defaults (`ssl-default-bind-*` / `ssl-default-server-*`).
pub fn merged(line: &TlsOptions, defaults: &TlsOptions) -> TlsOptions {
    let versions_written = line.min_ver.is_some()
        || line.max_ver.is_some()
        || line.force.is_some()
        || !line.no_versions.is_empty();
    let d = defaults.clone();
    TlsOptions {
        ciphers: line.ciphers.clone().or(d.ciphers),
        ciphersuites: line.ciphersuites.clone().or(d.ciphersuites),
        curves: line.curves.clone().or(d.curves),
        min_ver: if versions_written {
            line.min_ver
        } else {
            d.min_ver
        },
        max_ver: if versions_written {
            line.max_ver
        } else {
            d.max_ver
        },
        force: if versions_written {
            line.force
        } else {
            d.force
        },
        no_versions: if versions_written {
            line.no_versions.clone()
        } else {
            d.no_versions
        },
        no_tls_tickets: line.no_tls_tickets || d.no_tls_tickets,
        prefer_client_ciphers: line.prefer_client_ciphers || d.prefer_client_ciphers,
        strict_sni: line.strict_sni || d.strict_sni,
        ..line.clone()
    }
}

/// A crt-list line's options over its bind line's (already over the global defaults): what
/// the line writes wins, the rest is the bind's, as HAProxy inherits each setting.
pub fn line_over(line: &TlsOptions, bind: &TlsOptions) -> TlsOptions {
    let mut o = merged(line, bind);
    o.ca_file = line.ca_file.clone().or_else(|| bind.ca_file.clone());
    o.crl_file = line.crl_file.clone().or_else(|| bind.crl_file.clone());
    o.verify = line.verify.or(bind.verify);
    o.alpn = line.alpn.clone().or_else(|| bind.alpn.clone());
    o.ticket_keys = line
        .ticket_keys
        .clone()
        .or_else(|| bind.ticket_keys.clone());
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crt_list_line_keeps_what_it_does_not_write() {
        let bind = TlsOptions {
            alpn: Some(vec!["h2".into(), "http/1.1".into()]),
            ca_file: Some("ca.pem".into()),
            verify: Some(fulcrum_config::tls::Verify::Required),
            ..TlsOptions::default()
        };
        let line = TlsOptions {
            min_ver: Some(fulcrum_config::tls::TlsVersion::Tls13),
            ..TlsOptions::default()
        };
        let o = line_over(&line, &bind);
        assert_eq!(o.alpn, bind.alpn);
        assert_eq!(o.ca_file, bind.ca_file);
        assert_eq!(o.verify, bind.verify);
        assert_eq!(o.min_ver, line.min_ver);
        let line = TlsOptions {
            alpn: Some(vec!["http/1.1".into()]),
            verify: Some(fulcrum_config::tls::Verify::None),
            ..TlsOptions::default()
        };
        let o = line_over(&line, &bind);
        assert_eq!(o.alpn, line.alpn);
        assert_eq!(o.verify, line.verify);
    }

    fn names(v: &[SupportedCipherSuite]) -> Vec<&'static str> {
        v.iter().map(|s| openssl_name(*s)).collect()
    }

    #[test]
    fn openssl_cipher_strings_map_to_rustls_suites() {
        let v = tls12_suites("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256")
            .unwrap_or_default();
        assert_eq!(
            names(&v),
            [
                "ECDHE-RSA-AES256-GCM-SHA384",
                "ECDHE-ECDSA-AES128-GCM-SHA256"
            ]
        );
        let v = tls12_suites("ECDHE+AESGCM:!aNULL:!MD5").unwrap_or_default();
        assert_eq!(v.len(), 4);
        let v = tls12_suites("HIGH:!RSA").unwrap_or_default();
        assert!(
            names(&v).iter().all(|n| n.contains("ECDSA")),
            "{:?}",
            names(&v)
        );
        let e = tls12_suites("ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256")
            .err()
            .unwrap_or_default();
        assert!(e.contains("DHE-RSA-AES128-GCM-SHA256 not available"), "{e}");
        assert!(tls13_suites("TLS_AES_128_CCM_SHA256").is_err());
        assert_eq!(
            tls13_suites("TLS_AES_256_GCM_SHA384").map(|v| v.len()),
            Ok(1)
        );
    }

    #[test]
    fn versions_follow_haproxy_defaults_and_refuse_what_rustls_lacks() {
        let o = TlsOptions::default();
        assert_eq!(versions(&o).map(|v| v.len()), Ok(2));
        let o = TlsOptions {
            min_ver: Some(TlsVersion::Tls13),
            ..Default::default()
        };
        assert_eq!(versions(&o).map(|v| v.len()), Ok(1));
        let o = TlsOptions {
            min_ver: Some(TlsVersion::Tls10),
            ..Default::default()
        };
        assert!(versions(&o)
            .err()
            .unwrap_or_default()
            .contains("TLSv1.0 is not available"));
        let o = TlsOptions {
            no_versions: vec![TlsVersion::Tls12, TlsVersion::Tls13],
            ..Default::default()
        };
        assert!(versions(&o).is_err());
        let o = TlsOptions {
            force: Some(TlsVersion::Tls12),
            ..Default::default()
        };
        assert_eq!(versions(&o).map(|v| v.len()), Ok(1));
    }
}
