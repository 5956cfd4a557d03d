//! HAProxy's cookie persistence (`cookie NAME insert|rewrite|prefix [indirect] [nocache]
//! [postonly] [preserve] [httponly] [secure] [domain D]* [maxidle T] [maxlife T]`), pure.
//!
//! Request phase ([`CookiePersist::on_request`]): find the first cookie NAME in the Cookie
//! headers that names a usable server (`option persist` also accepts a DOWN one); say which
//! server, and edit the headers sent to the server: `insert indirect` removes NAME entirely,
//! `prefix` strips `SERVER~`. With `maxidle`/`maxlife`, dates after `|` are checked; an idle
//! or too old cookie (or one dated more than 24 h ahead) is ignored as if absent.
//!
//! Response phase ([`CookiePersist::on_response`]): the server's own Set-Cookie NAME is left
//! alone with `preserve`, removed in insert mode (and on direct hits with `indirect`),
//! rewritten to the server's value in rewrite mode, prefixed in prefix mode; then in insert
//! mode `Set-Cookie: NAME=VALUE; path=/[; domain=D][; HttpOnly][; Secure]` is added unless the
//! client came with a valid cookie (and its dates need no refresh), or `postonly` and the
//! request was not a POST. With `nocache`, an inserted cookie on a cacheable response adds
//! `Cache-control: private`. Every case here was compared with haproxy 2.6 (see the tests).

use super::cache::response_cacheable;
use super::cookie_date;
use super::{HeaderEdit, Headers};
use fulcrum_config::model::{CookieMethod, CookiePersistence};

/// What the request phase needs to know about a backend server.
#[derive(Debug, Clone, Copy)]
pub struct CookieServer<'a> {
    /// The server's `cookie VALUE`, if any.
    pub cookie: Option<&'a str>,
    /// UP and not in maintenance.
    pub usable: bool,
}

/// HAProxy's TX_CK_* verdict on the request cookie (shown in logs as the cookie flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieState {
    /// No persistence cookie in the request (`-`).
    None,
    /// Named a usable server (`V`).
    Valid,
    /// Named a DOWN server (`D`); with `option persist` the server is used anyway.
    Down,
    /// Named no server (`I`).
    Invalid,
    /// Idle for longer than `maxidle` or dated in the future (`E`).
    Expired,
    /// Older than `maxlife` (`O`).
    Old,
}

/// The request-phase decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieRequest {
    /// Index of the server the cookie selects (go there directly, no balancing).
    pub server: Option<usize>,
    pub state: CookieState,
    /// Dates carried by the cookie, in seconds (multiples of 4).
    pub last_date: Option<u64>,
    pub first_date: Option<u64>,
    /// Edits of the request headers before forwarding.
    pub edits: Vec<HeaderEdit>,
    /// `ignore-persist` held: the cookie chose no server and none is inserted.
    pub ignored: bool,
}

/// What the response phase needs to know about the exchange.
#[derive(Debug, Clone, Copy)]
pub struct CookieResponse<'a> {
    /// The request method.
    pub method: &'a [u8],
    pub status: u16,
    /// The `cookie` value of the server that answered (None: the server has none).
    pub server_cookie: Option<&'a str>,
    /// The server was chosen by the client's cookie (HAProxy's SF_DIRECT); false after a
    /// redispatch.
    pub direct: bool,
}

/// A backend's cookie configuration plus `option persist`.
#[derive(Debug, Clone)]
pub struct CookiePersist {
    pub cfg: CookiePersistence,
    /// `option persist`: a cookie naming a DOWN server still sends the request there.
    pub persist: bool,
}

/// Header names as HAProxy writes them (it lowercases them on HTTP/1 output).
pub const SET_COOKIE: &str = "Set-Cookie";
pub const CACHE_CONTROL: &str = "Cache-control";

impl CookiePersist {
    pub fn new(cfg: CookiePersistence, persist: bool) -> Self {
        CookiePersist { cfg, persist }
    }

    /// The backend's `cookie` line with its `option persist`, if it has one.
    pub fn from_proxy(p: &fulcrum_config::model::Proxy) -> Option<Self> {
        p.cookie
            .clone()
            .map(|c| CookiePersist::new(c, p.options.persist))
    }

    fn dated(&self) -> bool {
        self.cfg.maxidle.is_some() || self.cfg.maxlife.is_some()
    }

    pub fn on_request(
        &self,
        now: u64,
        headers: &Headers<'_>,
        servers: &[CookieServer<'_>],
    ) -> CookieRequest {
        let mut out = CookieRequest {
            server: None,
            state: CookieState::None,
            last_date: None,
            first_date: None,
            edits: Vec::new(),
            ignored: false,
        };
        let name = self.cfg.name.as_bytes();
        for (index, (hname, hvalue)) in headers.iter().enumerate() {
            if !hname.eq_ignore_ascii_case(b"cookie") {
                continue;
            }
            let mut kept: Vec<Vec<u8>> = Vec::new();
            let mut changed = false;
            for part in hvalue.split(|&b| b == b';') {
                let part = part.trim_ascii();
                if part.is_empty() {
                    continue;
                }
                let (cname, cvalue) = match part.iter().position(|&b| b == b'=') {
                    Some(eq) => (part[..eq].trim_ascii(), part[eq + 1..].trim_ascii()),
                    None => (part, &b""[..]),
                };
                if cname != name {
                    kept.push(part.to_vec());
                    continue;
                }
                let forwarded = self.request_cookie(now, cvalue, servers, &mut out);
                match forwarded {
                    Some(v) if v.as_slice() == cvalue => kept.push(part.to_vec()),
                    Some(v) => {
                        let mut p = cname.to_vec();
                        p.push(b'=');
                        p.extend_from_slice(&v);
                        kept.push(p);
                        changed = true;
                    }
                    None => changed = true,
                }
            }
            if changed {
                if kept.is_empty() {
                    out.edits.push(HeaderEdit::Remove { index });
                } else {
                    let value = kept
                        .iter()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect::<Vec<_>>()
                        .join("; ");
                    out.edits.push(HeaderEdit::Replace { index, value });
                }
            }
        }
        out
    }

    /// Handles one occurrence of the persistence cookie; returns the value to forward
    /// (None: remove the cookie from the request).
    fn request_cookie(
        &self,
        now: u64,
        value: &[u8],
        servers: &[CookieServer<'_>],
        out: &mut CookieRequest,
    ) -> Option<Vec<u8>> {
        let prefix = self.cfg.method == CookieMethod::Prefix;
        let delim_char = if prefix { b'~' } else { b'|' };
        let delim = if prefix || self.dated() {
            value.iter().position(|&b| b == delim_char)
        } else {
            None
        };
        let mut id = &value[..delim.unwrap_or(value.len())];
        if out.server.is_none() {
            if let (Some(d), false) = (delim, prefix) {
                let mut dates = value[d + 1..].split(|&b| b == b'|');
                out.last_date = dates.next().and_then(cookie_date::decode);
                out.first_date = dates.next().and_then(cookie_date::decode);
            }
            let too_far_ahead = |date: u64| date > now + 86400;
            let old = match (self.cfg.maxlife, out.first_date) {
                (Some(maxlife), Some(first)) => {
                    now.saturating_sub(first) > maxlife.as_secs() || too_far_ahead(first)
                }
                _ => false,
            };
            let expired = match (self.cfg.maxidle, out.last_date) {
                (Some(maxidle), Some(last)) => {
                    now.saturating_sub(last) > maxidle.as_secs() || too_far_ahead(last)
                }
                _ => false,
            };
            if old || expired {
                out.state = if old {
                    CookieState::Old
                } else {
                    CookieState::Expired
                };
                out.first_date = None;
                out.last_date = None;
                id = b""; // as if absent
            }
            if !id.is_empty() {
                let mut seen_down = false;
                for (i, s) in servers.iter().enumerate() {
                    if s.cookie.map(str::as_bytes) != Some(id) {
                        continue;
                    }
                    if s.usable || self.persist {
                        out.server = Some(i);
                        out.state = if s.usable {
                            CookieState::Valid
                        } else {
                            CookieState::Down
                        };
                        break;
                    }
                    seen_down = true;
                }
                if out.server.is_none() {
                    out.state = if seen_down {
                        CookieState::Down
                    } else {
                        CookieState::Invalid
                    };
                }
            } else if !(old || expired) {
                out.state = CookieState::Invalid;
            }
        }
        if prefix {
            return Some(match delim {
                Some(d) => value[d + 1..].to_vec(),
                None => value.to_vec(),
            });
        }
        if self.cfg.method == CookieMethod::Insert && self.cfg.indirect {
            return None;
        }
        Some(value.to_vec())
    }

    /// Response edits: the server's Set-Cookie headers, the inserted cookie, Cache-control.
    pub fn on_response(
        &self,
        now: u64,
        req: &CookieRequest,
        resp: &CookieResponse<'_>,
        headers: &Headers<'_>,
    ) -> Vec<HeaderEdit> {
        let mut edits = Vec::new();
        let insert = self.cfg.method == CookieMethod::Insert;
        let mut found = false;
        for (index, (hname, hvalue)) in headers.iter().enumerate() {
            if !hname.eq_ignore_ascii_case(b"set-cookie") {
                continue;
            }
            let Some(eq) = hvalue.iter().position(|&b| b == b'=') else {
                continue;
            };
            if hvalue[..eq].trim_ascii() != self.cfg.name.as_bytes() {
                continue;
            }
            found = true;
            let value_end = hvalue[eq + 1..]
                .iter()
                .position(|&b| b == b';')
                .map_or(hvalue.len(), |p| eq + 1 + p);
            let rebuild = |new_value: &str| {
                let mut v = String::from_utf8_lossy(&hvalue[..eq + 1]).into_owned();
                v.push_str(new_value);
                v.push_str(&String::from_utf8_lossy(&hvalue[value_end..]));
                v
            };
            if self.cfg.preserve {
                continue;
            }
            if insert || (resp.direct && self.cfg.indirect) {
                edits.push(HeaderEdit::Remove { index });
            } else if let Some(sc) = resp.server_cookie {
                match self.cfg.method {
                    CookieMethod::Rewrite => edits.push(HeaderEdit::Replace {
                        index,
                        value: rebuild(sc),
                    }),
                    CookieMethod::Prefix => {
                        let old = String::from_utf8_lossy(&hvalue[eq + 1..value_end]).into_owned();
                        edits.push(HeaderEdit::Replace {
                            index,
                            value: rebuild(&format!("{sc}~{}", old.trim())),
                        });
                    }
                    CookieMethod::Insert => {}
                }
            }
        }
        if !insert || (found && self.cfg.preserve) || req.ignored {
            return edits;
        }
        if self.cfg.postonly && resp.method != b"POST" {
            return edits;
        }
        let maxidle = self.cfg.maxidle.is_some();
        let maxlife = self.cfg.maxlife.is_some();
        let refresh_last = (maxidle || req.last_date.is_some())
            && match req.last_date {
                None => true,
                Some(d) => d < now,
            };
        let set_first = maxlife && req.first_date.is_none();
        let drop_first = !maxlife && req.first_date.is_some();
        if resp.direct && !refresh_last && !set_first && !drop_first {
            return edits;
        }
        let mut value = match resp.server_cookie {
            None => format!(
                "{}=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/",
                self.cfg.name
            ),
            Some(sc) => {
                let mut v = format!("{}={sc}", self.cfg.name);
                if maxidle || maxlife {
                    v.push('|');
                    v.push_str(&cookie_date::encode_now(now));
                    if maxlife {
                        v.push('|');
                        match req.first_date {
                            Some(first) => v.push_str(&cookie_date::encode_date(first)),
                            None => v.push_str(&cookie_date::encode_now(now)),
                        }
                    }
                }
                v.push_str("; path=/");
                v
            }
        };
        for d in &self.cfg.domains {
            value.push_str("; domain=");
            value.push_str(d);
        }
        if self.cfg.httponly {
            value.push_str("; HttpOnly");
        }
        if self.cfg.secure {
            value.push_str("; Secure");
        }
        edits.push(HeaderEdit::Append {
            name: SET_COOKIE,
            value,
        });
        if self.cfg.nocache && response_cacheable(resp.method, resp.status, headers) {
            edits.push(HeaderEdit::Append {
                name: CACHE_CONTROL,
                value: "private".into(),
            });
        }
        edits
    }
}

#[cfg(test)]
#[path = "cookie_tests.rs"]
mod tests;
