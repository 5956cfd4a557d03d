//! The one engine of HAProxy's tcp-check family, pure part: a check is a script of steps
//! (connect, send, expect) that one driver (`script_run`) runs in order. `tcp-check` rule
//! sequences are scripts as written; `redis-check`, `smtpchk`, `pgsql-check`, `mysql-check` and
//! `ldap-check` are pre-built scripts of the same steps (`protocols`), as HAProxy builds them.
//!
//! This file judges: an expect step against the bytes received so far (wait for more, pass,
//! or fail with HAProxy's status and info), the success of a whole script, and the info of a
//! connect error or a timeout with the step number ("at step 2 of tcp-check (expect string
//! 'PONG')"). Steps are numbered as HAProxy numbers its rules: every written line counts,
//! comments included; an implicit first connect is step 0 ("initial connection step").

use crate::probe::expect::Re;
use crate::status::{CheckOutcome, CheckStatus};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

/// Whether the script is a user's `tcp-check` sequence or a built-in protocol check: HAProxy
/// words their messages differently (protocol checks report only what the server said).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    TcpCheck,
    Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub flavor: Flavor,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// HAProxy's step number (1-based; 0 for the implicit first connect).
    pub number: u32,
    pub action: Action,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Connect(Connect),
    Send(Vec<u8>),
    /// An `http-check send` request under `http-check send-state`: the
    /// `x-haproxy-server-state` header goes in at byte `state_at` (after the written headers).
    SendHttp {
        request: Vec<u8>,
        state_at: usize,
    },
    /// `option ssl-hello-chk`'s SSLv3 client hello, with the current time in it as HAProxy's.
    SendSslHello,
    Expect(Expect),
    /// `http-check expect` (and `option httpchk`'s default): one complete HTTP response.
    ExpectHttp(crate::probe::expect::Expect),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connect {
    pub port: Option<u16>,
    pub addr: Option<IpAddr>,
    /// A PROXY protocol header goes first (`send-proxy`, or the server's `check-send-proxy`
    /// on the default connect).
    pub send_proxy: bool,
    /// Close cleanly with a FIN (`linger`); without it a check ends with a single RST, as
    /// HAProxy's (no TIME_WAIT left behind).
    pub linger: bool,
    /// Inserted because the rules did not start with a connect.
    pub implicit: bool,
    /// TLS after the connect (`connect ssl`, or the server's `check-ssl` on the default one).
    pub tls: Option<TlsSettings>,
}

/// How a check's TLS handshake goes: SNI, ALPN, and the CA that verifies the server's
/// certificate (None: `verify none`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub ca_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    String(Vec<u8>),
    Rstring(Re),
    Binary(Vec<u8>),
    /// A regex over the upper-case hex dump of the bytes, as HAProxy matches `rbinary`.
    Rbinary(Re),
    /// MySQL: a complete packet that is not an error packet (`offset` skips earlier packets).
    MysqlPacket {
        after_first: bool,
    },
    /// LDAP: a bindResponse with resultCode 0.
    LdapBindResponse,
    /// SPOP: an AGENT-HELLO frame (`option spop-check`).
    SpopAgentHello,
}

/// Where a message comes from: fixed text, or a slice of what the server sent (HAProxy's
/// `%[res.payload(FROM,0),ltrim(' '),cut_crlf]` forms of its protocol checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    /// The received bytes from `from`, leading spaces trimmed when `ltrim`, cut at the first
    /// CR or LF when `cut_crlf`, and at the first NUL (a C string).
    Payload {
        from: usize,
        ltrim: bool,
        cut_crlf: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub negate: bool,
    pub matcher: Matcher,
    pub min_recv: Option<usize>,
    pub ok_status: CheckStatus,
    pub error_status: CheckStatus,
    pub tout_status: CheckStatus,
    pub on_success: Option<Message>,
    pub on_error: Option<Message>,
    /// `status-code` of HAProxy's smtpchk: the code is the first three bytes received.
    pub code_from_payload: bool,
}

impl Expect {
    /// `tcp-check expect` defaults: L7OK / L7RSP / L7TOUT, no messages.
    pub fn new(negate: bool, matcher: Matcher) -> Expect {
        Expect {
            negate,
            matcher,
            min_recv: None,
            ok_status: CheckStatus::L7Ok,
            error_status: CheckStatus::L7Response,
            tout_status: CheckStatus::L7Timeout,
            on_success: None,
            on_error: None,
            code_from_payload: false,
        }
    }
}

/// What an expect step says about the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not decided: read more (unless the server closed, then [`evaluate`] decides).
    Wait,
    /// Go on with the next step; `code`/`info` are kept in case this is the last step.
    Pass { code: Option<u16>, info: String },
    Fail {
        status: CheckStatus,
        code: Option<u16>,
        info: String,
    },
}

/// Judges `step` (an expect) on `buf`; `closed` when the server will send nothing more.
pub fn evaluate(flavor: Flavor, step: &Step, e: &Expect, buf: &[u8], closed: bool) -> Verdict {
    if matches!(e.matcher, Matcher::SpopAgentHello) {
        return spop_agent_hello(step.number, buf, closed);
    }
    if let Some(v) = custom(e, buf, closed) {
        return v;
    }
    if e.min_recv.is_some_and(|m| buf.len() < m) && !closed {
        return Verdict::Wait;
    }
    let matched = match &e.matcher {
        Matcher::String(p) | Matcher::Binary(p) => {
            p.is_empty() || buf.windows(p.len()).any(|w| w == p.as_slice())
        }
        Matcher::Rstring(re) => re.is_match(buf),
        Matcher::Rbinary(re) => re.is_match(hex_upper(buf).as_bytes()),
        Matcher::MysqlPacket { .. } | Matcher::LdapBindResponse | Matcher::SpopAgentHello => false,
    };
    // Without min-recv, a mismatch waits for more data until the server closes.
    if !matched && !closed && e.min_recv.is_none() {
        return Verdict::Wait;
    }
    let code = e.code_from_payload.then(|| payload_code(buf)).flatten();
    if matched != e.negate {
        let info = match &e.on_success {
            Some(m) => render(m, buf),
            None if flavor == Flavor::TcpCheck => step
                .comment
                .clone()
                .unwrap_or_else(|| "(tcp-check)".to_string()),
            None => String::new(),
        };
        return Verdict::Pass { code, info };
    }
    let info = match &e.on_error {
        Some(m) => render(m, buf),
        None if flavor == Flavor::TcpCheck => {
            let mut s = if matched {
                "TCPCHK matched unwanted content".to_string()
            } else {
                "TCPCHK did not match content".to_string()
            };
            match &e.matcher {
                Matcher::String(p) => {
                    let _ = write!(s, " '{}'", String::from_utf8_lossy(p));
                }
                Matcher::Binary(p) => {
                    let _ = write!(s, " (binary) '{}'", hex_upper(p));
                }
                _ => s.push_str(" (regex)"),
            }
            let _ = write!(s, " at step {}", step.number);
            if let Some(c) = &step.comment {
                let _ = write!(s, " comment: '{c}'");
            }
            s
        }
        None => String::new(),
    };
    Verdict::Fail {
        status: e.error_status,
        code,
        info,
    }
}

/// The outcome when every step passed: decided by the last step, as HAProxy does.
pub fn success(
    flavor: Flavor,
    last: Option<&Step>,
    pass: Option<(Option<u16>, String)>,
    elapsed: Duration,
) -> CheckOutcome {
    let with_info = |o: CheckOutcome, info: String| {
        if info.is_empty() {
            o
        } else {
            o.with_info(info)
        }
    };
    match last.map(|s| &s.action) {
        Some(Action::Expect(e)) => {
            let (code, info) = pass.unwrap_or_default();
            let mut o = CheckOutcome::new(e.ok_status, elapsed);
            // HAProxy prints `code: N` for the statuses past layer 6 only (not L6OK, L4OK)
            if matches!(
                e.ok_status,
                CheckStatus::L7Ok | CheckStatus::L7OkConditional | CheckStatus::L7Status
            ) {
                o = o.with_code(code.unwrap_or(0));
            }
            with_info(o, info)
        }
        Some(Action::ExpectHttp(_)) => {
            let (code, _) = pass.unwrap_or_default();
            CheckOutcome::new(CheckStatus::L7Ok, elapsed).with_code(code.unwrap_or(0))
        }
        Some(Action::Connect(c)) => {
            let status = if c.tls.is_some() {
                CheckStatus::L6Ok
            } else {
                CheckStatus::L4Ok
            };
            let o = CheckOutcome::new(status, elapsed);
            if c.implicit {
                o
            } else {
                o.with_info("(tcp-check)")
            }
        }
        _ if flavor == Flavor::TcpCheck => CheckOutcome::new(CheckStatus::L7Ok, elapsed)
            .with_code(0)
            .with_info("(tcp-check)"),
        _ => CheckOutcome::new(CheckStatus::L7Ok, elapsed).with_code(0),
    }
}

/// The words HAProxy appends to a connect error or a timeout in a `tcp-check` sequence:
/// " at step 2 of tcp-check (expect string 'PONG')" (protocol checks add nothing).
pub fn where_info(flavor: Flavor, step: &Step) -> String {
    if flavor != Flavor::TcpCheck {
        return String::new();
    }
    if step.number == 0 {
        return " at initial connection step of tcp-check".to_string();
    }
    let mut s = format!(" at step {} of tcp-check", step.number);
    match &step.action {
        Action::Connect(c) => match c.port {
            Some(p) => {
                let _ = write!(s, " (connect port {p})");
            }
            None => s.push_str(" (connect)"),
        },
        Action::Send(_) | Action::SendHttp { .. } | Action::SendSslHello => s.push_str(" (send)"),
        Action::ExpectHttp(_) => s.push_str(" (expect)"),
        Action::Expect(e) => match &e.matcher {
            Matcher::String(p) => {
                let _ = write!(s, " (expect string '{}')", String::from_utf8_lossy(p));
            }
            Matcher::Binary(p) => {
                let _ = write!(s, " (expect binary '{}')", hex_upper(p));
            }
            Matcher::Rstring(_) | Matcher::Rbinary(_) => s.push_str(" (expect regex)"),
            _ => s.push_str(" (expect custom function)"),
        },
    }
    if let Some(c) = &step.comment {
        let _ = write!(s, " comment: '{c}'");
    }
    s
}

fn render(m: &Message, buf: &[u8]) -> String {
    match m {
        Message::Text(t) => t.clone(),
        Message::Payload {
            from,
            ltrim,
            cut_crlf,
        } => {
            let mut b = buf.get(*from..).unwrap_or_default();
            if *ltrim {
                while let [b' ', rest @ ..] = b {
                    b = rest;
                }
            }
            let mut end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
            if *cut_crlf {
                end = b[..end]
                    .iter()
                    .position(|c| *c == b'\r' || *c == b'\n')
                    .unwrap_or(end);
            }
            String::from_utf8_lossy(&b[..end]).into_owned()
        }
    }
}

fn payload_code(buf: &[u8]) -> Option<u16> {
    std::str::from_utf8(buf.get(..3)?).ok()?.parse().ok()
}

pub fn hex_upper(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02X}");
            s
        })
}

/// The protocol matchers that read a structure rather than a pattern.
fn custom(e: &Expect, buf: &[u8], closed: bool) -> Option<Verdict> {
    match e.matcher {
        Matcher::MysqlPacket { after_first } => Some(mysql_packet(e, buf, closed, after_first)),
        Matcher::LdapBindResponse => Some(ldap_bind_response(e, buf)),
        Matcher::SpopAgentHello => None, // judged by `evaluate` (it needs the step)
        _ => None,
    }
}

/// A MySQL packet: 3 bytes little-endian length, 1 byte sequence, payload. An error packet
/// (first payload byte 0xFF) fails with L7STS, the error number as code and the message as
/// info; the initial handshake passes with the server version as info.
fn mysql_packet(e: &Expect, buf: &[u8], closed: bool, after_first: bool) -> Verdict {
    let truncated = |closed| {
        if closed {
            Verdict::Fail {
                status: CheckStatus::L7Response,
                code: None,
                info: String::new(),
            }
        } else {
            Verdict::Wait
        }
    };
    let packet_len = |at: usize| -> Option<usize> {
        let h = buf.get(at..at + 4)?;
        Some(usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16)
    };
    let mut offset = 0;
    if after_first {
        let Some(len) = packet_len(0) else {
            return truncated(closed);
        };
        offset = len + 4;
    }
    let Some(len) = packet_len(offset) else {
        return truncated(closed);
    };
    if buf.len() < offset + 4 + len {
        return truncated(closed);
    }
    if buf.get(offset + 4) == Some(&0xff) {
        let code = buf
            .get(offset + 5..offset + 7)
            .map(|c| u16::from(c[0]) | u16::from(c[1]) << 8);
        let info = render(
            &Message::Payload {
                from: offset + 7,
                ltrim: false,
                cut_crlf: false,
            },
            &buf[..offset + 4 + len],
        );
        return Verdict::Fail {
            status: CheckStatus::L7Status,
            code,
            info,
        };
    }
    let info = render(
        &Message::Payload {
            from: 5,
            ltrim: false,
            cut_crlf: false,
        },
        buf,
    );
    let _ = e;
    Verdict::Pass { code: None, info }
}

/// `option spop-check`: the whole frame (or what came before the close), judged as HAProxy.
fn spop_agent_hello(step: u32, buf: &[u8], closed: bool) -> Verdict {
    if !closed && (buf.len() < 4 || !crate::probe::spop::complete(buf)) {
        return Verdict::Wait;
    }
    if buf.is_empty() {
        return Verdict::Fail {
            status: CheckStatus::L7Response,
            code: None,
            info: format!("TCPCHK got an empty response at step {step}"),
        };
    }
    match crate::probe::spop::judge(buf) {
        Ok(()) => Verdict::Pass {
            code: None,
            info: "SPOA server is ok".into(),
        },
        Err(reason) => Verdict::Fail {
            status: CheckStatus::L7Response,
            code: None,
            info: reason.into(),
        },
    }
}

/// An LDAPv3 bindResponse (RFC 4511 4.2.2): messageID 1, protocolOp 0x61, resultCode 0.
fn ldap_bind_response(e: &Expect, buf: &[u8]) -> Verdict {
    let _ = e;
    let not_ldap = || Verdict::Fail {
        status: CheckStatus::L7Response,
        code: None,
        info: "Not LDAPv3 protocol".into(),
    };
    let long_len = |b: u8| {
        if b & 0x80 != 0 {
            usize::from(b & 0x7f)
        } else {
            0
        }
    };
    let Some(&b1) = buf.get(1) else {
        return not_ldap();
    };
    let mut skip = long_len(b1);
    if buf.get(2 + skip..6 + skip) != Some(&[0x02, 0x01, 0x01, 0x61][..]) {
        return not_ldap();
    }
    let Some(&b) = buf.get(skip + 6) else {
        return not_ldap();
    };
    skip += long_len(b);
    if buf.get(7 + skip..9 + skip) != Some(&[0x0a, 0x01][..]) {
        return not_ldap();
    }
    match buf.get(9 + skip) {
        Some(0) => Verdict::Pass {
            code: None,
            info: "Success".into(),
        },
        Some(&code) => Verdict::Fail {
            status: CheckStatus::L7Status,
            code: Some(u16::from(code)),
            info: "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9".into(),
        },
        None => not_ldap(),
    }
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;

/// HAProxy 2.6's `ssl-hello-chk` packet: an SSLv3 ClientHello record whose random starts with
/// the current Unix time (big-endian) followed by "HAPROXYSSLCHK\nHAPROXYSSLCHK\n", an empty
/// session id, HAProxy's 39 cipher suites and null compression (captured from haproxy 2.6).
pub fn ssl_hello(unix_time: u32) -> Vec<u8> {
    let mut p = vec![
        0x16, 0x03, 0x00, 0x00, 0x79, 0x01, 0x00, 0x00, 0x75, 0x03, 0x00,
    ];
    p.extend_from_slice(&unix_time.to_be_bytes());
    p.extend_from_slice(b"HAPROXYSSLCHK\nHAPROXYSSLCHK\n");
    p.push(0x00);
    p.extend_from_slice(&[0x00, 0x4e]);
    for suite in (0x01u16..=0x1b).chain(0x2f..=0x3a) {
        p.extend_from_slice(&suite.to_be_bytes());
    }
    p.extend_from_slice(&[0x01, 0x00]);
    p
}
