//! A real server's checker blocks: `HTTP_GET SSL_GET TCP_CHECK SMTP_CHECK DNS_CHECK UDP_CHECK
//! PING_CHECK MISC_CHECK FILE_CHECK`, with keepalived 2.2's options and defaults
//! (keepalived.conf(5)): connect_timeout 5s; retry 1 (3 for DNS_CHECK, 0 for MISC_CHECK);
//! delay_before_retry 3s for HTTP_GET/SSL_GET, the delay_loop for DNS_CHECK, 1s otherwise.
//! `BFD_CHECK` is refused by name (fulcrum has no BFD).

use super::args;
use super::lexer::Stmt;
use super::real_server::CheckDefaults;
use crate::diagnostics::Diagnostics;
use crate::model::{CheckAddrOpts, CheckConn, CheckUrl, Checker, HttpProtocol};
use std::time::Duration;

/// The checker keywords of a real_server block.
pub const KINDS: &[&str] = &[
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
];

const CONN_KNOWN: &[&str] = &[
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_port",
    "connect_timeout",
    "retry",
    "nb_get_retry",
    "delay_before_retry",
];
const CHECK_UNSUPPORTED: &[&str] = &[
    "bind_if",
    "fwmark",
    "alpha",
    "warmup",
    "delay_loop",
    "log_all_failures",
    "user",
];
/// Reads one checker block (`kind` is one of [`KINDS`] or `BFD_CHECK`). SMTP_CHECK's
/// deprecated `host { connect_ip ... }` blocks become one SMTP_CHECK each (what keepalived's
/// own deprecation message advises; the real server needs every host to answer either way).
pub fn parse(
    stmt: &Stmt,
    parent: &CheckDefaults,
    delay_loop: Duration,
    d: &mut Diagnostics,
) -> Vec<Checker> {
    let kind = stmt.keyword();
    if kind == "BFD_CHECK" {
        d.error(
            stmt.span(),
            "BFD_CHECK is not supported: fulcrum has no BFD; use PING_CHECK or TCP_CHECK",
        );
        return Vec::new();
    }
    let Some(body) = stmt.block.as_ref().map(|b| &b.stmts) else {
        return one(stmt, parent, delay_loop, d).into_iter().collect();
    };
    let hosts: Vec<&Stmt> = body.iter().filter(|s| s.keyword() == "host").collect();
    if kind != "SMTP_CHECK" || hosts.is_empty() {
        return one(stmt, parent, delay_loop, d).into_iter().collect();
    }
    let outer: Vec<Stmt> = body
        .iter()
        .filter(|s| s.keyword() != "host")
        .cloned()
        .collect();
    let mut out = Vec::new();
    for h in hosts {
        d.warning(
            h.span(),
            "the SMTP_CHECK 'host' block is deprecated (keepalived says so too): run as one more SMTP_CHECK",
        );
        let mut stmts = outer.clone();
        if let Some(b) = &h.block {
            stmts.extend(b.stmts.iter().cloned());
        }
        let mut one_host = stmt.clone();
        if let Some(b) = &mut one_host.block {
            b.stmts = stmts;
        }
        if let Some(c) = one(&one_host, parent, delay_loop, d) {
            out.push(c);
        }
    }
    out
}

fn one(
    stmt: &Stmt,
    parent: &CheckDefaults,
    delay_loop: Duration,
    d: &mut Diagnostics,
) -> Option<Checker> {
    let kind = stmt.keyword();
    args::flag(
        &Stmt {
            words: stmt.words.clone(),
            block: None,
        },
        d,
    );
    let body = args::block(stmt, d)?;
    let span = stmt.span().clone();
    let mut own = CheckDefaults::default();
    let mut addr = CheckAddrOpts::default();
    let mut connect_port = None;
    let mut c = Specific::default();
    let is_misc = kind == "MISC_CHECK";
    let is_file = kind == "FILE_CHECK";
    for kw in body {
        let key = kw.keyword();
        if CONN_KNOWN.contains(&key) && (is_misc || is_file) {
            d.error(kw.span(), format!("'{key}' does not apply to {kind}"));
            continue;
        }
        match key {
            "connect_timeout" | "retry" | "delay_before_retry" => own.apply(kw, d),
            "nb_get_retry" => {
                d.warning(
                    kw.span(),
                    "'nb_get_retry' is deprecated; it is the old name of 'retry' (accepted)",
                );
                own.apply(kw, d);
            }
            "connect_port" => {
                connect_port =
                    args::one(kw, d).and_then(|w| args::port(w, "connect_port", false, d));
            }
            "bind_port" => {
                addr.bind_port =
                    args::one(kw, d).and_then(|w| args::port(w, "bind_port", false, d));
            }
            "connect_ip" => addr.connect_ip = args::one(kw, d).and_then(|w| args::ip(w, key, d)),
            "bindto" => addr.bindto = args::one(kw, d).and_then(|w| args::ip(w, key, d)),
            _ => {
                if !c.keyword(kind, kw, d) {
                    let known: Vec<&str> = CONN_KNOWN
                        .iter()
                        .chain(specific_known(kind))
                        .copied()
                        .collect();
                    args::unknown(kw, kind, &known, CHECK_UNSUPPORTED, d);
                }
            }
        }
    }
    let retry_default = match kind {
        "DNS_CHECK" => 3,
        _ => 1,
    };
    let delay_default = match kind {
        "HTTP_GET" | "SSL_GET" => Duration::from_secs(3),
        "DNS_CHECK" => delay_loop,
        _ => Duration::from_secs(1),
    };
    let conn = CheckConn {
        addr,
        connect_port,
        connect_timeout: own
            .connect_timeout
            .or(parent.connect_timeout)
            .unwrap_or(Duration::from_secs(5)),
        retry: own.retry.or(parent.retry).unwrap_or(retry_default),
        delay_before_retry: own
            .delay_before_retry
            .or(parent.delay_before_retry)
            .unwrap_or(delay_default),
    };
    c.finish(kind, span, conn, parent, d)
}

fn specific_known(kind: &str) -> &'static [&'static str] {
    match kind {
        "HTTP_GET" => &[
            "url",
            "http_protocol",
            "virtualhost",
            "fast_recovery",
            "enable_sni",
        ],
        "SSL_GET" => &[
            "url",
            "http_protocol",
            "virtualhost",
            "fast_recovery",
            "enable_sni",
        ],
        "SMTP_CHECK" => &["helo_name"],
        "DNS_CHECK" => &["type", "name"],
        "UDP_CHECK" => &[
            "payload",
            "require_reply",
            "min_reply_length",
            "max_reply_length",
        ],
        "MISC_CHECK" => &["misc_path", "misc_timeout", "misc_dynamic"],
        "FILE_CHECK" => &["track_file", "weight"],
        _ => &[],
    }
}

/// What each kind reads besides the connection options.
#[derive(Default)]
struct Specific {
    urls: Vec<CheckUrl>,
    http_protocol: HttpProtocol,
    virtualhost: Option<String>,
    enable_sni: bool,
    helo_name: Option<String>,
    dns_type: Option<u16>,
    dns_name: Option<String>,
    payload: Option<Vec<u8>>,
    require_reply: bool,
    reply: Vec<(u8, u8)>,
    min_reply_length: Option<u16>,
    max_reply_length: Option<u16>,
    misc_path: Option<String>,
    misc_timeout: Option<Duration>,
    misc_dynamic: bool,
    track_file: Option<String>,
    file_weight: Option<(i32, bool)>,
}

impl Specific {
    /// Reads `kw` when it is one of `kind`'s own keywords.
    fn keyword(&mut self, kind: &str, kw: &Stmt, d: &mut Diagnostics) -> bool {
        if !specific_known(kind).contains(&kw.keyword()) {
            return false;
        }
        match kw.keyword() {
            "url" => {
                if let Some(u) = super::check_url::parse(kw, d) {
                    self.urls.push(u);
                }
            }
            "http_protocol" => {
                if let Some(w) = args::one(kw, d) {
                    match w.text.as_str() {
                        "1.0" => self.http_protocol = HttpProtocol::Http10,
                        "1.0C" | "1.0c" => self.http_protocol = HttpProtocol::Http10Close,
                        "1.1" => self.http_protocol = HttpProtocol::Http11,
                        other => d.error(
                            &w.span,
                            format!("http_protocol expects 1.0, 1.0C or 1.1, found '{other}'"),
                        ),
                    }
                }
            }
            "virtualhost" => self.virtualhost = args::one(kw, d).map(|w| w.text.clone()),
            // Every url is checked in each round already: fast_recovery is what fulcrum does.
            "fast_recovery" => {
                args::opt_bool(kw, d);
            }
            "enable_sni" => self.enable_sni = args::opt_bool(kw, d),
            "helo_name" => self.helo_name = args::one(kw, d).map(|w| w.text.clone()),
            "type" => {
                if let Some(w) = args::one(kw, d) {
                    match dns_type(&w.text) {
                        Some(t) => self.dns_type = Some(t),
                        None => d.error(
                            &w.span,
                            format!(
                                "DNS_CHECK type expects A, NS, CNAME, SOA, MX, TXT or AAAA, found '{}'",
                                w.text
                            ),
                        ),
                    }
                }
            }
            "name" => self.dns_name = args::one(kw, d).map(|w| w.text.clone()),
            "payload" => {
                args::no_block(kw, d);
                match hex_words(kw, false) {
                    Ok(bytes) if !bytes.is_empty() => {
                        self.payload = Some(bytes.into_iter().map(|(v, _)| v).collect())
                    }
                    Ok(_) => d.error(
                        kw.span(),
                        "UDP_CHECK payload expects hex digits, found nothing",
                    ),
                    Err(m) => d.error(kw.span(), m),
                }
            }
            "require_reply" => {
                args::no_block(kw, d);
                self.require_reply = true;
                match hex_words(kw, true) {
                    Ok(bytes) => self.reply = bytes,
                    Err(m) => d.error(kw.span(), m),
                }
            }
            "min_reply_length" | "max_reply_length" => {
                if let Some(v) = args::one(kw, d)
                    .and_then(|w| args::u32_in(w, kw.keyword(), 0, u32::from(u16::MAX), d))
                {
                    let v = u16::try_from(v).unwrap_or(u16::MAX);
                    if kw.keyword() == "min_reply_length" {
                        self.min_reply_length = Some(v);
                    } else {
                        self.max_reply_length = Some(v);
                    }
                }
            }
            "misc_path" => self.misc_path = args::command(kw, d),
            "misc_timeout" => {
                self.misc_timeout =
                    args::one(kw, d).and_then(|w| args::seconds(w, "misc_timeout", d));
            }
            "misc_dynamic" => self.misc_dynamic = args::opt_bool(kw, d),
            "track_file" => self.track_file = args::one(kw, d).map(|w| w.text.clone()),
            "weight" => self.file_weight = track_weight(kw, d),
            _ => return false,
        }
        true
    }

    fn finish(
        self,
        kind: &str,
        span: crate::diagnostics::Span,
        conn: CheckConn,
        parent: &CheckDefaults,
        d: &mut Diagnostics,
    ) -> Option<Checker> {
        match kind {
            "HTTP_GET" | "SSL_GET" => {
                if self.urls.is_empty() {
                    d.error(
                        &span,
                        format!("{kind} has no 'url {{ path ... }}': expected at least one"),
                    );
                }
                if self.enable_sni && kind == "HTTP_GET" {
                    d.warning(
                        &span,
                        "'enable_sni' applies to SSL_GET only: ignored here (as keepalived)",
                    );
                }
                Some(Checker::HttpGet {
                    span,
                    ssl: kind == "SSL_GET",
                    urls: self.urls,
                    connect_timeout: conn.connect_timeout,
                    connect_port: conn.connect_port,
                    retry: conn.retry,
                    delay_before_retry: conn.delay_before_retry,
                    addr: conn.addr,
                    http_protocol: self.http_protocol,
                    virtualhost: self.virtualhost.or_else(|| parent.virtualhost.clone()),
                    enable_sni: self.enable_sni,
                })
            }
            "TCP_CHECK" => Some(Checker::TcpCheck {
                span,
                connect_timeout: conn.connect_timeout,
                connect_port: conn.connect_port,
                retry: conn.retry,
                delay_before_retry: conn.delay_before_retry,
                addr: conn.addr,
            }),
            "SMTP_CHECK" => Some(Checker::SmtpCheck {
                span,
                conn,
                helo_name: self
                    .helo_name
                    .unwrap_or_else(|| "smtpchecker.keepalived.org".to_string()),
            }),
            "DNS_CHECK" => Some(Checker::DnsCheck {
                span,
                conn,
                query_type: self.dns_type.unwrap_or(6),
                name: self.dns_name.unwrap_or_else(|| ".".to_string()),
            }),
            "UDP_CHECK" => {
                let min = self.min_reply_length.unwrap_or(0);
                let max = self.max_reply_length.unwrap_or(255);
                if min > max {
                    d.error(
                        &span,
                        format!("UDP_CHECK min_reply_length {min} > max_reply_length {max}: the check would always fail"),
                    );
                }
                Some(Checker::UdpCheck {
                    span,
                    conn,
                    payload: self.payload,
                    require_reply: self.require_reply,
                    reply: self.reply,
                    min_reply_length: min,
                    max_reply_length: max,
                })
            }
            "PING_CHECK" => Some(Checker::PingCheck { span, conn }),
            "FILE_CHECK" => match self.track_file {
                Some(track_file) => Some(Checker::FileCheck {
                    span,
                    track_file,
                    weight: self.file_weight,
                }),
                None => {
                    d.error(&span, "FILE_CHECK has no 'track_file NAME'");
                    None
                }
            },
            _ => match self.misc_path {
                Some(misc_path) => Some(Checker::MiscCheck {
                    span,
                    misc_path,
                    misc_timeout: self.misc_timeout,
                    misc_dynamic: self.misc_dynamic,
                }),
                None => {
                    d.error(
                        &span,
                        "MISC_CHECK has no 'misc_path': expected the script to run",
                    );
                    None
                }
            },
        }
    }
}

/// `weight W [reverse|noreverse]` of a FILE_CHECK or track_file.
pub fn track_weight(kw: &Stmt, d: &mut Diagnostics) -> Option<(i32, bool)> {
    args::no_block(kw, d);
    let words = kw.args();
    let Some(w) = words.first() else {
        d.error(kw.span(), "'weight' expects a number, found nothing");
        return None;
    };
    let v = args::int_in(w, "weight", -2_147_483_647, 2_147_483_647, d)?;
    let reverse = match words.get(1).map(|w| w.text.as_str()) {
        None | Some("noreverse") => false,
        Some("reverse") => true,
        Some(other) => {
            d.error(
                kw.span(),
                format!("weight takes 'reverse' or 'noreverse' after the number, found '{other}'"),
            );
            return None;
        }
    };
    i32::try_from(v).ok().map(|v| (v, reverse))
}

fn dns_type(text: &str) -> Option<u16> {
    Some(match text.to_ascii_uppercase().as_str() {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "SOA" => 6,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        _ => return None,
    })
}

/// keepalived's free-form hex string: words of hex digits read two at a time, an odd last
/// digit making a byte of its own (`Ab12f 3` is AB 12 0F 03). With `masks`, an `x` digit
/// matches anything: each byte comes with the mask of its compared bits.
pub fn hex_words(kw: &Stmt, masks: bool) -> Result<Vec<(u8, u8)>, String> {
    let mut out = Vec::new();
    for w in kw.args() {
        let digits: Vec<char> = w.text.chars().collect();
        for pair in digits.chunks(2) {
            let mut value = 0u8;
            let mut mask = 0u8;
            for ch in pair {
                let (v, m) = match ch.to_digit(16) {
                    Some(v) => (v as u8, 0xf),
                    None if masks && (*ch == 'x' || *ch == 'X') => (0, 0),
                    None => {
                        return Err(format!(
                            "'{}' expects hex digits{}, found '{}'",
                            kw.keyword(),
                            if masks { " (or x)" } else { "" },
                            w.text
                        ))
                    }
                };
                value = (value << 4) | v;
                mask = (mask << 4) | m;
            }
            out.push((value, mask));
        }
    }
    Ok(out)
}
