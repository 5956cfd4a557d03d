//! Header rewriting on the way through: hop-by-hop fields (RFC 9110 7.6.1), connection
//! management between the two sides, and `option forwardfor`.

use super::message::{eq_fold, Message, Version};
use crate::net::Cidr;
use fulcrum_config::model::{ForwardFor, HttpConnectionMode};
use std::net::IpAddr;

/// Fields that describe one connection, never forwarded (besides those `Connection` names).
const HOP_BY_HOP: &[&[u8]] = &[
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"te",
    b"upgrade",
    b"trailer",
];

/// Whether `name` is one of [`HOP_BY_HOP`]: by length and first letter, inline (most names
/// are not, and a call per field cost more than the test; `user-agent` is as long as
/// `connection`), then by name.
#[inline(always)]
fn is_hop(name: &[u8]) -> bool {
    let maybe = matches!(
        (name.len(), name.first().map(|b| b | 0x20)),
        (10, Some(b'c' | b'k')) | (16, Some(b'p')) | (2, Some(b't')) | (7, Some(b'u' | b't'))
    );
    maybe && is_hop_named(name)
}

/// [`is_hop`] of a name of a hop-by-hop name's length and first letter.
#[inline(never)]
fn is_hop_named(name: &[u8]) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|h| h.len() == name.len() && eq_fold(name, h))
}

/// `TE` naming `trailers` is kept as `te: trailers` alone, as HAProxy 2.6 forwards it (gRPC
/// servers require it); other `TE` fields go. Returns whether one was kept.
fn keep_te_trailers(m: &mut Message) -> bool {
    let mut kept = None;
    let mut others = Vec::new();
    for (i, f) in m.fields.iter().enumerate() {
        if !m.name(f).eq_ignore_ascii_case(b"te") {
            continue;
        }
        let trailers = m
            .value(f)
            .split(|&c| c == b',')
            .any(|t| super::message::trim(t).eq_ignore_ascii_case(b"trailers"));
        if trailers && kept.is_none() {
            kept = Some(i);
        } else {
            others.push(i);
        }
    }
    let Some(i) = kept else {
        return false;
    };
    m.set_value_at(i, b"trailers");
    m.remove_at(others);
    true
}

/// Whether a request asks to switch protocols (`Connection: upgrade` and an `Upgrade` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgrade {
    None,
    Requested,
}

/// Whether the request asks for an upgrade.
pub fn upgrade_requested(req: &Message) -> Upgrade {
    if req.has_token(b"connection", b"upgrade") && req.has_header(b"upgrade") {
        Upgrade::Requested
    } else {
        Upgrade::None
    }
}

/// Removes hop-by-hop fields. With `Upgrade::Requested` the `Upgrade` field survives for a
/// tunnel.
pub fn strip_hop_by_hop(m: &mut Message, upgrade: Upgrade) {
    // The fields `Connection` names are only removed with it: a head without any hop-by-hop
    // field (most requests) has nothing to strip, and one whose only hop-by-hop fields are
    // `Connection` naming no other field (a keep-alive server's `Connection: keep-alive`)
    // loses just those, found in the same pass.
    // (where the one such field is, or `usize::MAX` when there are several)
    let mut plain_connection = None;
    for (i, f) in m.fields.iter().enumerate() {
        let name = m.name(f);
        if !is_hop(name) {
            continue;
        }
        if !eq_fold(name, b"connection") || !names_no_field(m.value(f)) {
            return strip_all(m, upgrade);
        }
        plain_connection = Some(if plain_connection.is_none() {
            i
        } else {
            usize::MAX
        });
    }
    match plain_connection {
        None => {}
        Some(usize::MAX) => m.remove(b"connection"),
        Some(i) => {
            m.fields.remove(i);
        }
    }
}

/// [`strip_hop_by_hop`] for a head with other hop-by-hop fields, or a `Connection` naming
/// fields to remove.
fn strip_all(m: &mut Message, upgrade: Upgrade) {
    let keep_upgrade = upgrade == Upgrade::Requested;
    let mut named: Vec<Vec<u8>> = Vec::new();
    for v in m.headers(b"connection") {
        for t in v.split(|&c| c == b',') {
            let t = super::message::trim(t);
            if !t.is_empty()
                && !t.eq_ignore_ascii_case(b"close")
                && !t.eq_ignore_ascii_case(b"keep-alive")
                && !t.eq_ignore_ascii_case(b"upgrade")
            {
                named.push(t.to_ascii_lowercase());
            }
        }
    }
    let te_trailers = keep_te_trailers(m);
    // One pass over the fields (this runs for every request and response).
    m.retain(|name| {
        let hop = is_hop(name)
            && !(keep_upgrade && name.eq_ignore_ascii_case(b"upgrade"))
            && !(te_trailers && name.eq_ignore_ascii_case(b"te"));
        !hop && !named.iter().any(|n| name.eq_ignore_ascii_case(n))
    });
}

/// Whether a `Connection` value holds only the tokens that name no field to remove.
fn names_no_field(v: &[u8]) -> bool {
    v.split(|&c| c == b',').all(|t| {
        let t = super::message::trim(t);
        t.is_empty()
            || t.eq_ignore_ascii_case(b"close")
            || t.eq_ignore_ascii_case(b"keep-alive")
            || t.eq_ignore_ascii_case(b"upgrade")
    })
}

/// Whether the client asked to keep its connection open after this request.
pub fn client_wants_keep_alive(req: &Message) -> bool {
    if req.version == Version::Http10 {
        req.has_token(b"connection", b"keep-alive")
    } else {
        !req.has_token(b"connection", b"close")
    }
}

/// Whether the server lets us reuse its connection after this response.
pub fn server_allows_reuse(res: &Message) -> bool {
    if res.version == Version::Http10 {
        res.has_token(b"connection", b"keep-alive")
    } else {
        !res.has_token(b"connection", b"close")
    }
}

/// The connection mode in force: `httpclose` on either side wins, then `http-server-close`.
pub fn effective_mode(fe: HttpConnectionMode, be: HttpConnectionMode) -> HttpConnectionMode {
    use HttpConnectionMode::*;
    match (fe, be) {
        (Close, _) | (_, Close) => Close,
        (ServerClose, _) | (_, ServerClose) => ServerClose,
        _ => KeepAlive,
    }
}

/// Compiled `option forwardfor`.
pub struct ForwardForRt {
    header: Vec<u8>,
    except: Option<Cidr>,
    if_none: bool,
}

impl ForwardForRt {
    pub fn new(f: &ForwardFor) -> Self {
        ForwardForRt {
            header: f.header.clone().into_bytes(),
            except: f.except.as_deref().and_then(Cidr::parse),
            if_none: f.if_none,
        }
    }

    /// Appends `X-Forwarded-For: <client>` (HAProxy adds a new field, it does not merge).
    pub fn apply(&self, m: &mut Message, src: IpAddr) {
        if self.except.is_some_and(|n| n.contains(src)) {
            return;
        }
        if self.if_none && m.has_header(&self.header) {
            return;
        }
        let mut v = [0u8; 64];
        let len = {
            use std::io::Write;
            let mut cur = std::io::Cursor::new(&mut v[..]);
            let _ = write!(cur, "{src}");
            cur.position() as usize
        };
        m.append(&self.header, &v[..len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_names_in_any_case_and_only_them() {
        for h in HOP_BY_HOP {
            let upper = h.to_ascii_uppercase();
            assert!(
                is_hop(h) && is_hop(&upper),
                "{}",
                String::from_utf8_lossy(h)
            );
        }
        for n in [
            &b"user-agent"[..],
            b"X-Path-Len",
            b"connectio",
            b"connection2",
            b"tx",
            b"trailers",
            b"upgrades",
            b"",
            b"content-encoding",
            b"proxy-connectioN2",
        ] {
            assert!(!is_hop(n), "{}", String::from_utf8_lossy(n));
        }
    }

    #[test]
    fn strips_hop_by_hop_and_named_fields() {
        let mut m = Message::new();
        let _ = m.parse_request(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Foo\r\nFoo: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nBar: 2\r\n\r\n");
        strip_hop_by_hop(&mut m, Upgrade::None);
        let mut out = Vec::new();
        m.write_request(&mut out);
        assert_eq!(
            out,
            b"GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nBar: 2\r\n\r\n"
        );
    }

    #[test]
    fn a_connection_naming_no_field_goes_alone() {
        let mut m = Message::new();
        let _ = m.parse_response(
            b"HTTP/1.1 200 OK\r\nServer: n\r\nConnection: Keep-Alive\r\nClose: 1\r\nConnection: close, upgrade\r\nContent-Length: 0\r\n\r\n",
        );
        strip_hop_by_hop(&mut m, Upgrade::None);
        let mut out = Vec::new();
        m.write_response(&mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nServer: n\r\nClose: 1\r\nContent-Length: 0\r\n\r\n"
        );
        // a field it names, or another hop-by-hop field, takes the whole path
        let _ = m.parse_response(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nA: 1\r\n\r\n",
        );
        strip_hop_by_hop(&mut m, Upgrade::None);
        out.clear();
        m.write_response(&mut out);
        assert_eq!(out, b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n");
    }

    #[test]
    fn te_keeps_trailers_alone_as_haproxy() {
        let mut m = Message::new();
        let _ = m.parse_request(
            b"GET / HTTP/1.1\r\nTE: gzip\r\nA: 1\r\nTE: deflate, Trailers\r\nTE: trailers\r\n\r\n",
        );
        strip_hop_by_hop(&mut m, Upgrade::None);
        let mut out = Vec::new();
        m.write_request(&mut out);
        assert_eq!(out, b"GET / HTTP/1.1\r\nA: 1\r\nTE: trailers\r\n\r\n");
        let _ = m.parse_request(b"GET / HTTP/1.1\r\nTE: gzip\r\n\r\n");
        strip_hop_by_hop(&mut m, Upgrade::None);
        assert!(!m.has_header(b"te"));
    }

    #[test]
    fn forwardfor_options() {
        let mut m = Message::new();
        let _ = m.parse_request(b"GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n");
        let src: IpAddr = [10, 0, 0, 1].into();
        let f = |except: Option<&str>, if_none| {
            ForwardForRt::new(&ForwardFor {
                except: except.map(str::to_string),
                header: "X-Forwarded-For".into(),
                if_none,
            })
        };
        f(None, true).apply(&mut m, src);
        assert_eq!(m.headers(b"x-forwarded-for").count(), 1);
        f(Some("10.0.0.0/8"), false).apply(&mut m, src);
        assert_eq!(m.headers(b"x-forwarded-for").count(), 1);
        f(None, false).apply(&mut m, src);
        let all: Vec<&[u8]> = m.headers(b"x-forwarded-for").collect();
        assert_eq!(all, vec![&b"1.1.1.1"[..], &b"10.0.0.1"[..]]);
    }
}
