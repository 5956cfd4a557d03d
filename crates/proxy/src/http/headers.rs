//! Header rewriting on the way through: hop-by-hop fields (RFC 9110 7.6.1), connection
//! management between the two sides, and `option forwardfor`.

use super::message::{eq_fold, Message, Version};
use crate::net::Cidr;
use fulcrum_config::model::{ForwardFor, HttpConnectionMode};
use std::net::IpAddr;

/// Fields that describe one connection, never forwarded (besides those `Connection` names):
/// what [`hop`] tells apart (the tests check it against this list).
#[cfg_attr(not(test), allow(dead_code))]
const HOP_BY_HOP: &[&[u8]] = &[
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"te",
    b"upgrade",
    b"trailer",
];

/// Which of [`HOP_BY_HOP`] a field name is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hop {
    Connection,
    Upgrade,
    /// `keep-alive`, `proxy-connection`, `te`, `trailer`.
    Other,
}

/// Which of [`HOP_BY_HOP`] `name` is: by length and first letter, inline (most names are
/// none, and a call per field cost more than the test; `user-agent` is as long as
/// `connection`), then by the one name it may be.
#[inline(always)]
fn hop(name: &[u8]) -> Option<Hop> {
    let (kind, hop): (Hop, &[u8]) = match (name.len(), name.first().map(|b| b | 0x20)) {
        (10, Some(b'c')) => (Hop::Connection, b"connection"),
        (10, Some(b'k')) => (Hop::Other, b"keep-alive"),
        (16, Some(b'p')) => (Hop::Other, b"proxy-connection"),
        (2, Some(b't')) => (Hop::Other, b"te"),
        (7, Some(b'u')) => (Hop::Upgrade, b"upgrade"),
        (7, Some(b't')) => (Hop::Other, b"trailer"),
        _ => return None,
    };
    eq_fold(name, hop).then_some(kind)
}

/// Whether `name` is one of [`HOP_BY_HOP`].
#[inline(always)]
fn is_hop(name: &[u8]) -> bool {
    hop(name).is_some()
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

/// What one pass over a head's fields found of its connection management (the request's
/// keep-alive, upgrade and hop-by-hop fields were three scans): its `Connection` tokens,
/// whether it has an `Upgrade` field, and what [`strip`] has to remove.
#[derive(Debug, Clone, Copy)]
pub struct Hops {
    close: bool,
    keep_alive: bool,
    upgrade_token: bool,
    upgrade_field: bool,
    strip: Strip,
}

/// What stripping a head's hop-by-hop fields takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strip {
    /// No hop-by-hop field (most requests).
    Nothing,
    /// One `Connection` field naming no other field (a keep-alive server's `Connection:
    /// keep-alive`): at this place.
    One(usize),
    /// Several such `Connection` fields, and no other hop-by-hop field.
    Connections,
    /// Other hop-by-hop fields, or a `Connection` naming fields to remove ([`strip_all`]).
    All,
}

/// One pass over `m`'s fields: [`Hops`].
pub fn hops(m: &Message) -> Hops {
    let mut h = Hops {
        close: false,
        keep_alive: false,
        upgrade_token: false,
        upgrade_field: false,
        strip: Strip::Nothing,
    };
    for (i, f) in m.fields.iter().enumerate() {
        // (names and tokens folded a word at a time: std's `eq_ignore_ascii_case` is a step
        // per byte, ~190 instructions for `connection`)
        match hop(m.name(f)) {
            None => continue,
            Some(Hop::Connection) => {}
            Some(other) => {
                h.upgrade_field |= other == Hop::Upgrade;
                h.strip = Strip::All;
                continue;
            }
        }
        // The fields `Connection` names are only removed with it.
        let mut names_field = false;
        for t in m.value(f).split(|&c| c == b',') {
            let t = super::message::trim(t);
            if eq_fold(t, b"close") {
                h.close = true;
            } else if eq_fold(t, b"keep-alive") {
                h.keep_alive = true;
            } else if eq_fold(t, b"upgrade") {
                h.upgrade_token = true;
            } else {
                names_field |= !t.is_empty();
            }
        }
        h.strip = match h.strip {
            _ if names_field => Strip::All,
            Strip::Nothing => Strip::One(i),
            Strip::One(_) => Strip::Connections,
            s => s,
        };
    }
    h
}

impl Hops {
    /// Whether the request asks for an upgrade (`Connection: upgrade` and an `Upgrade` field).
    pub fn upgrade(&self) -> Upgrade {
        if self.upgrade_token && self.upgrade_field {
            Upgrade::Requested
        } else {
            Upgrade::None
        }
    }

    /// Whether the head's sender keeps its connection open after it (HTTP/1.0:
    /// `Connection: keep-alive`; later versions: no `Connection: close`).
    pub fn keep_alive(&self, version: Version) -> bool {
        if version == Version::Http10 {
            self.keep_alive
        } else {
            !self.close
        }
    }
}

/// Removes hop-by-hop fields. With `Upgrade::Requested` the `Upgrade` field survives for a
/// tunnel.
pub fn strip_hop_by_hop(m: &mut Message, upgrade: Upgrade) {
    let h = hops(m);
    strip(m, &h, upgrade);
}

/// [`strip_hop_by_hop`] with the head's [`hops`] found already (nothing changed since).
pub fn strip(m: &mut Message, h: &Hops, upgrade: Upgrade) {
    // A head without any hop-by-hop field (most requests) has nothing to strip, and one whose
    // only hop-by-hop fields are `Connection` naming no other field loses just those.
    match h.strip {
        Strip::Nothing => {}
        Strip::One(i) => {
            m.fields.remove(i);
        }
        Strip::Connections => m.remove(b"connection"),
        Strip::All => strip_all(m, upgrade),
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

/// Whether the client asked to keep its connection open after this request.
pub fn client_wants_keep_alive(req: &Message) -> bool {
    if req.version == Version::Http10 {
        req.has_token(b"connection", b"keep-alive")
    } else {
        !req.has_token(b"connection", b"close")
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
    fn one_pass_finds_keep_alive_upgrade_and_what_to_strip() {
        let mut m = Message::new();
        let h = |m: &mut Message, head: &[u8]| {
            let _ = m.parse_request(head);
            hops(m)
        };
        let plain = h(&mut m, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(plain.keep_alive(Version::Http11) && !plain.keep_alive(Version::Http10));
        assert_eq!(
            (plain.upgrade(), plain.strip),
            (Upgrade::None, Strip::Nothing)
        );
        let close = h(
            &mut m,
            b"GET / HTTP/1.1\r\nA: 1\r\nconnection: Close\r\n\r\n",
        );
        assert!(!close.keep_alive(Version::Http11));
        assert_eq!(close.strip, Strip::One(1));
        let ka = h(
            &mut m,
            b"GET / HTTP/1.0\r\nConnection: x-y, keep-alive\r\nX-Y: 1\r\n\r\n",
        );
        assert!(ka.keep_alive(Version::Http10));
        assert_eq!(ka.strip, Strip::All, "a field named by Connection goes too");
        let two = h(
            &mut m,
            b"GET / HTTP/1.1\r\nConnection: close\r\nB: 1\r\nConnection: upgrade\r\n\r\n",
        );
        assert_eq!(
            (two.upgrade(), two.strip),
            (Upgrade::None, Strip::Connections)
        );
        let up = h(
            &mut m,
            b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        );
        assert_eq!((up.upgrade(), up.strip), (Upgrade::Requested, Strip::All));
        strip(&mut m, &up, Upgrade::Requested);
        let mut out = Vec::new();
        m.write_request(&mut out);
        assert_eq!(out, b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
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
