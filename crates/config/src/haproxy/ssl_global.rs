//! TLS keywords of the `global` section: `crt-base`, `ca-base`, `ssl-default-bind-*`,
//! `ssl-default-server-*`, `ssl-server-verify` and `tune.ssl.*`.

use super::line::{number, time, Line};
use super::ssl::{self, Side};
use crate::diagnostics::Diagnostics;
use crate::tls::{GlobalTls, Verify};

const KEYWORDS: &[&str] = &[
    "crt-base",
    "ca-base",
    "ssl-default-bind-ciphers",
    "ssl-default-bind-ciphersuites",
    "ssl-default-bind-options",
    "ssl-default-bind-curves",
    "ssl-default-server-ciphers",
    "ssl-default-server-ciphersuites",
    "ssl-default-server-options",
    "ssl-default-server-curves",
    "ssl-server-verify",
    "tune.ssl.cachesize",
    "tune.ssl.lifetime",
    "tune.ssl.maxrecord",
    "tune.ssl.force-private-cache",
    "tune.ssl.capture-buffer-size",
    "tune.ssl.capture-cipherlist-size",
    "tune.ssl.ssl-ctx-cache-size",
    "tune.ssl.ocsp-update.maxdelay",
    "tune.ssl.ocsp-update.mindelay",
    "tune.ssl.keylog",
    "tune.ssl.hard-maxrecord",
];

pub fn is_keyword(kw: &str) -> bool {
    KEYWORDS.contains(&kw)
}

pub fn apply(t: &mut GlobalTls, line: &Line<'_>, diags: &mut Diagnostics) -> Result<(), String> {
    let kw = line.keyword();
    let one = |what: &str| -> Result<String, String> {
        let v = line.need(1, what)?;
        line.no_more(2)?;
        Ok(v.to_string())
    };
    match kw {
        // relative to the line's `default-path` directory (HAProxy reads the files under
        // them while it parses, in that directory)
        "crt-base" => t.crt_base = Some(line.paths.file(&one("a directory")?)),
        "ca-base" => t.ca_base = Some(line.paths.file(&one("a directory")?)),
        "ssl-default-bind-ciphers" => t.default_bind.ciphers = Some(one("a cipher list")?),
        "ssl-default-bind-ciphersuites" => {
            t.default_bind.ciphersuites = Some(one("a cipher suite list")?)
        }
        "ssl-default-bind-curves" => t.default_bind.curves = Some(one("a curve list")?),
        "ssl-default-server-ciphers" => t.default_server.ciphers = Some(one("a cipher list")?),
        "ssl-default-server-ciphersuites" => {
            t.default_server.ciphersuites = Some(one("a cipher suite list")?)
        }
        "ssl-default-server-curves" => t.default_server.curves = Some(one("a curve list")?),
        "ssl-default-bind-options" => {
            ssl::default_options(line, Side::Bind, &mut t.default_bind)?;
        }
        "ssl-default-server-options" => {
            ssl::default_options(line, Side::Server, &mut t.default_server)?;
        }
        "ssl-server-verify" => {
            t.server_verify = Some(match one("none or required")?.as_str() {
                "none" => Verify::None,
                "required" => Verify::Required,
                other => {
                    return Err(format!(
                        "'ssl-server-verify' expects none or required, found '{other}'"
                    ))
                }
            })
        }
        "tune.ssl.cachesize" => {
            t.cachesize = Some(number(&one("a number of sessions")?, "tune.ssl.cachesize")?)
        }
        "tune.ssl.lifetime" => {
            t.lifetime = Some(time(&one("a time such as 300s")?, "tune.ssl.lifetime")?);
        }
        // Record sizing and capture buffers: rustls sizes records itself (16 KB plaintext,
        // as OpenSSL's default); no client sees a difference in what is sent or accepted.
        "tune.ssl.maxrecord"
        | "tune.ssl.hard-maxrecord"
        | "tune.ssl.ssl-ctx-cache-size"
        | "tune.ssl.capture-buffer-size"
        | "tune.ssl.capture-cipherlist-size" => {
            one("a value")?;
            diags.warning(
                &line.span,
                format!(
                    "'{kw}' is ignored: fulcrum's TLS (rustls) sizes its records and caches itself"
                ),
            );
        }
        "tune.ssl.force-private-cache" => {
            line.no_more(1)?;
            diags.warning(&line.span, "'tune.ssl.force-private-cache' is ignored: each fulcrum process has one session cache shared by its threads");
        }
        _ => {
            return Err(format!("global keyword '{kw}' is not supported by fulcrum"));
        }
    }
    Ok(())
}
