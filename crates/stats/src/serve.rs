//! Answering a proxy's `stats uri`: matching the request, `stats auth` (401 with HAProxy's
//! Basic realm), the page's options in the URI (`;csv`, `;json`, `;norefresh`, `;up`,
//! `;st=`), `stats scope`, and the page's admin POST (`stats admin if|unless COND`).
//!
//! Pure: the HTTP session hands over the parsed request (and a POST's body) and writes the
//! bytes returned. The proxies shown are those of the configuration generation the stats
//! proxy belongs to (`fulcrum_proxy::state::Proxies`, held weakly so a generation is freed when it retires).

use crate::services::Process;
use crate::snapshot::{self, StatRow};
use fulcrum_config::model::Proxy;
use fulcrum_proxy::acl::{self, Cond};
use fulcrum_proxy::applet::{Answer, Applet, AppletRequest};
use fulcrum_proxy::http::message::Message;
use fulcrum_proxy::state::Proxies;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The rows of every proxy of a generation still alive.
fn rows_of(p: &Proxies) -> Vec<StatRow> {
    let fes = p.frontends();
    let bes = p.backends();
    snapshot::rows(
        fes.iter().map(|f| f.as_ref()),
        bes.iter().map(|b| b.as_ref()),
    )
}

/// A proxy's compiled `stats` lines.
pub struct StatsRt {
    /// The proxy that carries the `stats` lines (`stats scope .` means this one).
    pub proxy: String,
    /// `stats uri`, HAProxy's default `/haproxy?stats`.
    pub uri: String,
    /// `stats realm`, default "HAProxy Statistics".
    pub realm: String,
    /// `stats auth USER:PASS` lines (none: no authentication).
    pub auth: Vec<(String, String)>,
    pub refresh: Option<Duration>,
    /// `stats admin if|unless COND`: when true, the page offers and accepts server actions.
    pub admin: Option<Cond>,
    pub hide_version: bool,
    pub show_legends: bool,
    /// `stats scope`: the proxies shown (empty: all).
    pub scope: Vec<String>,
    proxies: Arc<OnceLock<Proxies>>,
    process: Arc<Process>,
}

impl StatsRt {
    /// Compiles `p`'s `stats` lines; `None` when stats are not enabled there.
    pub fn build(
        p: &Proxy,
        proxies: &Arc<OnceLock<Proxies>>,
        process: &Arc<Process>,
    ) -> Result<Option<Arc<StatsRt>>, String> {
        let Some(st) = p.stats.as_ref().filter(|s| s.enabled) else {
            return Ok(None);
        };
        let admin = match &st.admin {
            Some(c) => {
                Some(acl::compile_condition(c, &p.acls).map_err(|e| format!("stats admin: {e}"))?)
            }
            None => None,
        };
        Ok(Some(Arc::new(StatsRt {
            proxy: p.name.clone(),
            uri: st
                .uri
                .clone()
                .unwrap_or_else(|| "/haproxy?stats".to_string()),
            realm: st
                .realm
                .clone()
                .unwrap_or_else(|| "HAProxy Statistics".to_string()),
            auth: st.auth.clone(),
            refresh: st.refresh,
            admin,
            hide_version: st.hide_version,
            show_legends: st.show_legends,
            scope: st
                .scope
                .iter()
                .map(|s| if s == "." { p.name.clone() } else { s.clone() })
                .collect(),
            proxies: proxies.clone(),
            process: process.clone(),
        })))
    }

    /// The rows this page shows (`stats scope` applied).
    pub fn rows(&self) -> Vec<StatRow> {
        let mut rows = self.proxies.get().map(rows_of).unwrap_or_default();
        if !self.scope.is_empty() {
            rows.retain(|r| self.scope.iter().any(|s| s == &r.pxname));
        }
        rows
    }

    pub fn proxies(&self) -> Option<&Proxies> {
        self.proxies.get()
    }
}

/// What a stats request asked for, from the URI after the `stats uri` prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub csv: bool,
    pub json: bool,
    pub norefresh: bool,
    pub up: bool,
    pub st: Option<String>,
}

/// Parses `;csv;norefresh;up;st=DONE` (unknown options are ignored, as HAProxy does).
pub fn options(rest: &str) -> Options {
    let mut o = Options::default();
    for part in rest.split(';') {
        match part {
            "csv" => o.csv = true,
            "json" => o.json = true,
            "norefresh" => o.norefresh = true,
            "up" => o.up = true,
            p => {
                if let Some(st) = p.strip_prefix("st=") {
                    o.st = Some(
                        st.chars()
                            .filter(char::is_ascii_alphanumeric)
                            .take(8)
                            .collect(),
                    );
                }
            }
        }
    }
    o
}

fn b64_val(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Standard base64 (RFC 4648) decoding; `None` on anything malformed.
pub fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let s: Vec<u8> = s
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let trimmed = s
        .strip_suffix(b"==")
        .or_else(|| s.strip_suffix(b"="))
        .unwrap_or(&s);
    if s.len() & 3 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in trimmed {
        acc = (acc << 6) | b64_val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn response(
    status: u16,
    reason: &str,
    headers: &[(&str, String)],
    body: &[u8],
    head_only: bool,
) -> Answer {
    let mut r = Answer::new(status, reason.as_bytes())
        .field(b"content-length", body.len().to_string().as_bytes());
    for (n, v) in headers {
        r = r.field(n.as_bytes(), v.as_bytes());
    }
    if head_only {
        r
    } else {
        r.body(body.to_vec())
    }
}

impl StatsRt {
    /// Whether `uri` is for this stats page (HAProxy: the request URI starts with `stats uri`).
    pub fn matches(&self, uri: &[u8]) -> bool {
        uri.starts_with(self.uri.as_bytes())
    }

    /// Whether `authorization` (the header's value) carries one of the `stats auth` pairs.
    pub fn authorized(&self, authorization: Option<&[u8]>) -> bool {
        if self.auth.is_empty() {
            return true;
        }
        let Some(v) = authorization else { return false };
        let v = fulcrum_proxy::http::message::trim(v);
        let Some(b64) = v
            .get(..6)
            .filter(|p| p.eq_ignore_ascii_case(b"basic "))
            .map(|_| &v[6..])
        else {
            return false;
        };
        let Some(decoded) = base64_decode(b64) else {
            return false;
        };
        self.auth.iter().any(|(u, p)| {
            let mut want = Vec::with_capacity(u.len() + p.len() + 1);
            want.extend_from_slice(u.as_bytes());
            want.push(b':');
            want.extend_from_slice(p.as_bytes());
            want == decoded
        })
    }

    /// Answers a request for this stats page; `admin_allowed`: `stats admin` held for it.
    pub fn answer_page(&self, req: &AppletRequest<'_>, admin_allowed: bool) -> Answer {
        let head_only = req.method == b"HEAD";
        if !self.authorized(req.head.header(b"authorization")) {
            let body = b"<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n";
            let realm = self.realm.replace('"', "'");
            return response(
                401,
                "Unauthorized",
                &[
                    ("cache-control", "no-cache".into()),
                    ("content-type", "text/html".into()),
                    ("www-authenticate", format!("Basic realm=\"{realm}\"")),
                ],
                body,
                head_only,
            );
        }
        let rest =
            String::from_utf8_lossy(&req.uri[self.uri.len().min(req.uri.len())..]).into_owned();
        let opts = options(&rest);
        if req.method == b"POST" {
            let outcome = if !admin_allowed {
                super::admin::Outcome::Denied
            } else if req.body.len() > 64 * 1024 {
                super::admin::Outcome::Excess
            } else {
                let form = super::admin::parse(req.body);
                let mut backends = self
                    .proxies
                    .get()
                    .map(Proxies::backends)
                    .unwrap_or_default();
                if !self.scope.is_empty() {
                    backends.retain(|b| self.scope.contains(&b.name));
                }
                super::admin::apply(&form, &backends)
            };
            // HAProxy answers the POST with a redirect to the page showing the outcome.
            let mut loc = self.uri.clone();
            if opts.norefresh {
                loc.push_str(";norefresh");
            }
            if opts.up {
                loc.push_str(";up");
            }
            loc.push_str(";st=");
            loc.push_str(outcome.code());
            return response(
                303,
                "See Other",
                &[("cache-control", "no-cache".into()), ("location", loc)],
                b"",
                head_only,
            );
        }
        if req.method != b"GET" && !head_only {
            let body = b"<html><body><h1>405 Method Not Allowed</h1>\nOnly GET, HEAD and POST are allowed here.\n</body></html>\n";
            return response(
                405,
                "Method Not Allowed",
                &[
                    ("content-type", "text/html".into()),
                    ("allow", "GET, HEAD, POST".into()),
                ],
                body,
                head_only,
            );
        }
        let mut rows = self.rows();
        if !self.show_legends {
            // HAProxy shows addresses, cookies and algorithms only with `stats show-legends`.
            for r in &mut rows {
                r.addr = None;
                r.cookie = None;
                r.algo = None;
            }
        }
        if opts.up && (opts.csv || opts.json) {
            // `;up` hides servers that are not UP in every form, as HAProxy.
            rows.retain(|r| r.kind != snapshot::RowKind::Server || r.is_up());
        }
        if opts.csv {
            let body = super::csv::render(&rows);
            return response(
                200,
                "OK",
                &[
                    ("cache-control", "no-cache".into()),
                    ("content-type", "text/plain".into()),
                ],
                body.as_bytes(),
                head_only,
            );
        }
        if opts.json {
            let body = super::json::render(&rows);
            return response(
                200,
                "OK",
                &[
                    ("cache-control", "no-cache".into()),
                    ("content-type", "application/json".into()),
                ],
                body.as_bytes(),
                head_only,
            );
        }
        let refresh = self
            .refresh
            .filter(|_| !opts.norefresh)
            .map(|d| d.as_secs().max(1));
        let lvs = self.process.source().map(|s| s.lvs()).unwrap_or_default();
        let page = super::page::render(
            &rows,
            &super::page::PageOpts {
                uri: &self.uri,
                refresh,
                admin: admin_allowed,
                hide_version: self.hide_version,
                show_legends: self.show_legends,
                up_only: opts.up,
                status: opts.st.as_deref(),
                uptime: self.process.uptime().as_secs(),
                pid: std::process::id(),
                lvs: &lvs,
            },
        );
        let mut headers = vec![
            ("cache-control", "no-cache".to_string()),
            ("content-type", "text/html".to_string()),
        ];
        if let Some(s) = refresh {
            headers.push(("refresh", s.to_string()));
        }
        response(200, "OK", &headers, page.as_bytes(), head_only)
    }
}

/// The stats page as an applet: called for requests under its `stats uri`.
impl Applet for StatsRt {
    fn name(&self) -> &str {
        "stats"
    }
    fn log_name(&self) -> &'static str {
        "<STATS>"
    }
    fn matches(&self, req: &Message) -> bool {
        StatsRt::matches(self, req.uri())
    }
    fn wants_body(&self) -> bool {
        true
    }
    fn answer(&self, req: &AppletRequest<'_>) -> Answer {
        let admin_allowed = self.admin.as_ref().is_some_and(|c| c.eval(req.ctx));
        self.answer_page(req, admin_allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_options() {
        assert_eq!(
            options(";csv;norefresh"),
            Options {
                csv: true,
                norefresh: true,
                ..Options::default()
            }
        );
        assert_eq!(
            options(";up;st=DONE"),
            Options {
                up: true,
                st: Some("DONE".into()),
                ..Options::default()
            }
        );
        assert_eq!(options(";st=<x>").st.as_deref(), Some("x"));
        assert!(options(";json").json);
    }

    #[test]
    fn base64() {
        assert_eq!(
            base64_decode(b"YWRtaW46c2VjcmV0").as_deref(),
            Some(&b"admin:secret"[..])
        );
        assert_eq!(base64_decode(b"YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode(b"YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(base64_decode(b"Y"), None);
        assert_eq!(base64_decode(b"Y!=="), None);
    }
}
