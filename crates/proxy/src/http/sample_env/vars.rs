//! The `%` variables of rule values and log lines that read the exchange (`%ci %cp %fi %fp
//! %ST %HM %HU %HP %HPO %HQ %HV %r %sslv %sslc`), written as HAProxy 2.6 writes them.

use super::HttpEnv;
use fulcrum_sample::logformat::EXCHANGE_VARS;

impl HttpEnv<'_> {
    /// Writes a `%` variable of rule values and log lines; false when it has no value here.
    /// The request line's parts are written as HAProxy 2.6 writes them in both: `"`, `#`
    /// and bytes outside 32..127 as `#XX` (its `url_encode_map`; measured with
    /// `option accept-invalid-http-request`, which lets such bytes in).
    pub fn var_into(&self, name: &str, out: &mut Vec<u8>) -> bool {
        if !EXCHANGE_VARS.contains(&name) {
            let f = fulcrum_sample::logformat::Flags::default();
            return self.facts.and_then(|x| x.var(self, name, f, out)).is_some();
        }
        let start = out.len();
        // `tune.http.logurilen`: a request line longer than the capture (`log_uri.rs`)
        let cut = match (self.req, name) {
            (Some(r), "r" | "HM" | "HU" | "HP" | "HPO" | "HQ" | "HV") => {
                crate::log_uri::cut(name, r.method(), r.target(), r.version.as_str())
            }
            _ => None,
        };
        let written = match cut {
            Some(part) => {
                out.extend_from_slice(&part);
                true
            }
            None => self.var_raw(name, out),
        };
        if written && matches!(name, "r" | "HM" | "HU" | "HP" | "HPO" | "HQ" | "HV") {
            url_encode(out, start);
        }
        written
    }

    /// A `%` variable of a rule value with its flags: the exchange's own ones
    /// ([`HttpEnv::var_into`]), the others from the stream's log facts (`%{+X}Ts`
    /// hexadecimal, numbers unquoted under `+Q`, as in log lines).
    pub fn var_flagged(
        &self,
        name: &str,
        flags: fulcrum_sample::logformat::Flags,
        out: &mut Vec<u8>,
    ) -> Option<fulcrum_sample::logformat::Written> {
        use fulcrum_sample::logformat::{Written, UNQUOTED};
        // `+X` writes addresses and ports in hexadecimal: the log line's writer.
        if EXCHANGE_VARS.contains(&name) && !flags.hex {
            if !self.var_into(name, out) {
                return None;
            }
            // Numbers and ports stay unquoted under `+Q`, as in log lines.
            return Some(if flags.quote && UNQUOTED.contains(&name) {
                Written::Formatted
            } else {
                Written::Value
            });
        }
        self.facts?.var(self, name, flags, out)
    }

    fn var_raw(&self, name: &str, out: &mut Vec<u8>) -> bool {
        use std::io::Write;
        let req = self.req;
        match name {
            "ci" => write!(out, "{}", crate::net::canonical(self.src.ip())).is_ok(),
            "cp" => int(out, self.src.port()),
            "fi" => write!(out, "{}", crate::net::canonical(self.dst.ip())).is_ok(),
            "fp" => int(out, self.dst.port()),
            // before a response: haproxy's txn status, -1
            "ST" => match self.res {
                Some(r) => int(out, r.status),
                None => write!(out, "-1").is_ok(),
            },
            "HM" => req.is_some_and(|r| {
                out.extend_from_slice(r.method());
                true
            }),
            // The request target as received (an absolute URI whole, as HAProxy 2.6).
            "HU" => req.is_some_and(|r| {
                out.extend_from_slice(r.target());
                true
            }),
            "HP" => req.is_some_and(|r| {
                let t = r.target();
                out.extend_from_slice(t.split(|&b| b == b'?').next().unwrap_or(t));
                true
            }),
            // The path alone: an absolute URI's scheme and authority dropped.
            "HPO" => req.is_some_and(|r| {
                out.extend_from_slice(r.path());
                true
            }),
            "HQ" => req.is_some_and(|r| {
                if let Some(q) = r.query() {
                    out.push(b'?');
                    out.extend_from_slice(q);
                }
                true
            }),
            "HV" => req.is_some_and(|r| write!(out, "HTTP/{}", r.version.as_str()).is_ok()),
            // TLS version and cipher; nothing on a plain connection (`-` in logs).
            "sslv" => self.tls.is_some_and(|t| {
                out.extend_from_slice(t.version.as_bytes());
                true
            }),
            "sslc" => self.tls.is_some_and(|t| {
                out.extend_from_slice(t.cipher.as_bytes());
                true
            }),
            "r" => req.is_some_and(|r| {
                out.extend_from_slice(r.method());
                out.push(b' ');
                out.extend_from_slice(r.target());
                out.extend_from_slice(b" HTTP/");
                out.extend_from_slice(r.version.as_str().as_bytes());
                true
            }),
            _ => false,
        }
    }
}

/// An integer in decimal (`value_text::write_int`), as the other writers' result.
fn int<I: itoa::Integer>(out: &mut Vec<u8>, n: I) -> bool {
    fulcrum_sample::value_text::write_int(out, n);
    true
}

/// `out[start..]` with `"`, `#` and bytes outside 32..127 as `#XX`.
pub(super) fn url_encode(out: &mut Vec<u8>, start: usize) {
    let bad = |b: &u8| matches!(b, b'"' | b'#') || !(32..127).contains(b);
    if !out[start..].iter().any(bad) {
        return;
    }
    let raw = out.split_off(start);
    for b in raw {
        if bad(&b) {
            out.extend_from_slice(format!("#{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
}
