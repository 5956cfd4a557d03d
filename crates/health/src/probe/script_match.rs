//! The protocol matchers of check scripts that read a structure rather than a pattern
//! (MySQL packets, an LDAP bindResponse, an SPOP AGENT-HELLO), and `ssl-hello-chk`'s hello.

use crate::probe::script::{Expect, Matcher, Message, Verdict};
use crate::probe::script_judge::render;
use crate::status::CheckStatus;

/// The protocol matchers that read a structure rather than a pattern.
pub(crate) fn custom(e: &Expect, buf: &[u8], closed: bool) -> Option<Verdict> {
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
pub(crate) fn spop_agent_hello(step: u32, buf: &[u8], closed: bool) -> Verdict {
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
