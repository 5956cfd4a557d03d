//! TLS words of `bind` and `server` lines and of `ssl-default-{bind,server}-options`: each
//! parsed into [`TlsOptions`]; what fulcrum cannot do is refused by name (never ignored where
//! a client would see the difference).

use super::line::Line;
use crate::tls::{TlsOptions, TlsVersion, Verify};

/// Which line the words are on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Bind,
    Server,
}

/// Parses the TLS option at word `i` of `line` into `o`; returns how many words it took, or
/// `Ok(None)` when word `i` is not a TLS option. Warnings go to `warn`.
pub fn option(
    line: &Line<'_>,
    i: usize,
    side: Side,
    o: &mut TlsOptions,
    warn: &mut Vec<String>,
) -> Result<Option<usize>, String> {
    let Some(opt) = line.arg(i) else {
        return Ok(None);
    };
    let value = |what: &str| line.need(i + 1, what);
    let taken = words(opt, side, o, warn, value)?;
    // file names are read under the line's `default-path` directory, `crt-base`, `ca-base`
    let paths = line.paths;
    let last = |list: &mut Vec<String>| {
        if let Some(l) = list.last_mut() {
            *l = paths.crt(l);
        }
    };
    match opt {
        _ if taken.is_none() => {}
        "crt" => last(&mut o.crt),
        "crt-list" => {
            last(&mut o.crt_list);
            o.list_base = paths.base.as_ref().map(|b| b.display().to_string());
        }
        "default-crt" => last(&mut o.default_crt),
        "ca-file" | "ca-verify-file" => o.ca_file = o.ca_file.take().map(|f| paths.ca(&f)),
        "crl-file" => o.crl_file = o.crl_file.take().map(|f| paths.ca(&f)),
        "tls-ticket-keys" => o.ticket_keys = o.ticket_keys.take().map(|f| paths.file(&f)),
        _ => {}
    }
    if taken.is_some() && o.span.is_none() {
        o.span = Some(line.span.clone());
    }
    Ok(taken)
}

/// Parses `ssl-default-bind-options` / `ssl-default-server-options` words.
pub fn default_options(line: &Line<'_>, side: Side, o: &mut TlsOptions) -> Result<(), String> {
    let mut i = 1;
    let mut warn = Vec::new();
    while let Some(opt) = line.arg(i) {
        match option(line, i, side, o, &mut warn)? {
            Some(n) => i += n,
            None => {
                return Err(format!(
                    "'{}' does not take '{opt}' (expected no-sslv3, no-tlsv10..no-tlsv13, ssl-min-ver, ssl-max-ver, no-tls-tickets, prefer-client-ciphers, ...)",
                    line.keyword()
                ))
            }
        }
    }
    if o.span.is_none() {
        o.span = Some(line.span.clone());
    }
    Ok(())
}

fn version(text: &str, opt: &str) -> Result<TlsVersion, String> {
    TlsVersion::parse(text).ok_or_else(|| {
        format!("'{opt}' expects SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3, found '{text}'")
    })
}

fn words<'a>(
    opt: &str,
    side: Side,
    o: &mut TlsOptions,
    warn: &mut Vec<String>,
    value: impl Fn(&str) -> Result<&'a str, String>,
) -> Result<Option<usize>, String> {
    let bind = side == Side::Bind;
    let no = |v| Ok::<_, String>(Some((v, 1usize)));
    let flag = match opt {
        "no-sslv3" => no(TlsVersion::Ssl3)?,
        "no-tlsv10" => no(TlsVersion::Tls10)?,
        "no-tlsv11" => no(TlsVersion::Tls11)?,
        "no-tlsv12" => no(TlsVersion::Tls12)?,
        "no-tlsv13" => no(TlsVersion::Tls13)?,
        _ => None,
    };
    if let Some((v, n)) = flag {
        o.no_versions.push(v);
        return Ok(Some(n));
    }
    let forced = match opt {
        "force-sslv3" => Some(TlsVersion::Ssl3),
        "force-tlsv10" => Some(TlsVersion::Tls10),
        "force-tlsv11" => Some(TlsVersion::Tls11),
        "force-tlsv12" => Some(TlsVersion::Tls12),
        "force-tlsv13" => Some(TlsVersion::Tls13),
        _ => None,
    };
    if let Some(v) = forced {
        o.force = Some(v);
        return Ok(Some(1));
    }
    let n = match opt {
        "crt" => {
            o.crt
                .push(value("a certificate file or directory")?.to_string());
            2
        }
        "crt-list" if bind => {
            o.crt_list
                .push(value("a certificate list file")?.to_string());
            2
        }
        "default-crt" if bind => {
            o.default_crt.push(value("a certificate file")?.to_string());
            2
        }
        "ca-file" | "ca-verify-file" => {
            o.ca_file = Some(value("a CA file")?.to_string());
            2
        }
        "crl-file" => {
            o.crl_file = Some(value("a CRL file")?.to_string());
            2
        }
        "verify" => {
            o.verify = Some(match value("none, optional or required")? {
                "none" => Verify::None,
                "optional" if bind => Verify::Optional,
                "required" => Verify::Required,
                other => {
                    let allowed = if bind {
                        "none, optional or required"
                    } else {
                        "none or required"
                    };
                    return Err(format!("'verify' expects {allowed}, found '{other}'"));
                }
            });
            2
        }
        "alpn" => {
            let list = value("a protocol list such as http/1.1")?;
            let protos: Vec<String> = list.split(',').map(str::to_string).collect();
            if let Some(p) = protos.iter().find(|p| p.is_empty() || p.len() > 255) {
                return Err(format!("'alpn {list}': invalid protocol name '{p}'"));
            }
            o.alpn = Some(protos);
            2
        }
        "npn" => return Err(
            "'npn' is not supported: NPN is obsolete and rustls does not implement it; use 'alpn'"
                .into(),
        ),
        "ciphers" => {
            o.ciphers = Some(value("an OpenSSL cipher list")?.to_string());
            2
        }
        "ciphersuites" => {
            o.ciphersuites = Some(value("a TLS 1.3 cipher suite list")?.to_string());
            2
        }
        "curves" | "ecdhe" => {
            o.curves = Some(value("a curve list such as X25519:P-256")?.to_string());
            2
        }
        "ssl-min-ver" => {
            o.min_ver = Some(version(value("a TLS version")?, opt)?);
            2
        }
        "ssl-max-ver" => {
            o.max_ver = Some(version(value("a TLS version")?, opt)?);
            2
        }
        "no-tls-tickets" => {
            o.no_tls_tickets = true;
            1
        }
        "strict-sni" if bind => {
            o.strict_sni = true;
            1
        }
        "prefer-client-ciphers" if bind => {
            o.prefer_client_ciphers = true;
            1
        }
        "no-ca-names" if bind => {
            warn.push("bind option 'no-ca-names' is ignored: fulcrum does not send CA names in its certificate request".into());
            1
        }
        "allow-0rtt" => {
            warn.push(format!("{} option 'allow-0rtt' is ignored: fulcrum does not accept or send TLS 1.3 early data (clients fall back to a full round trip)", if bind { "bind" } else { "server" }));
            1
        }
        "sni" if !bind => {
            o.sni = Some(
                value("a sample expression such as req.hdr(host) or str(example.com)")?.to_string(),
            );
            2
        }
        "verifyhost" if !bind => {
            o.verifyhost = Some(value("a host name")?.to_string());
            2
        }
        "tls-ticket-keys" if bind => {
            o.ticket_keys = Some(value("a file of ticket keys")?.to_string());
            2
        }
        "no-ssl-reuse" if !bind => {
            o.no_ssl_reuse = true;
            1
        }
        // The defaults, written to undo a `default-server` or `ssl-default-server-options`.
        "ssl-reuse" if !bind => {
            o.no_ssl_reuse = false;
            1
        }
        "tls-tickets" if !bind => {
            o.no_tls_tickets = false;
            1
        }
        "ca-ignore-err"
        | "crt-ignore-err"
        | "generate-certificates"
        | "ca-sign-file"
        | "ca-sign-pass"
        | "tls-ticket-keys"
        | "sigalgs"
        | "client-sigalgs"
        | "ssl-passphrase"
        | "ocsp-update"
        | "ssl-dh-param-file" => {
            return Err(format!(
                "{} option '{opt}' is not supported by fulcrum",
                if bind { "bind" } else { "server" }
            ))
        }
        _ => return Ok(None),
    };
    Ok(Some(n))
}

/// The `[options]` of one `crt-list` line: bind TLS options for that certificate only.
pub fn crt_list_options(words_in: &[String]) -> Result<TlsOptions, String> {
    let mut o = TlsOptions::default();
    let mut warn = Vec::new();
    let mut i = 0;
    while let Some(opt) = words_in.get(i) {
        if matches!(
            opt.as_str(),
            "crt" | "crt-list" | "strict-sni" | "default-crt" | "tls-ticket-keys"
        ) {
            return Err(format!("'{opt}' is not allowed in a crt-list line"));
        }
        let value = |what: &str| {
            words_in
                .get(i + 1)
                .map(String::as_str)
                .ok_or_else(|| format!("'{opt}' expects {what}"))
        };
        match words(opt, Side::Bind, &mut o, &mut warn, value)? {
            Some(n) => i += n,
            None => return Err(format!("unknown crt-list option '{opt}'")),
        }
    }
    Ok(o)
}
