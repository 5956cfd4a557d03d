//! `option originalto`: the address the client connected to, added to the request as
//! `X-Original-To` (or the configured header), as HAProxy 2.6(.12) does: IPv4 and IPv6
//! destinations (an IPv4-mapped one written as IPv4), none when the destination is in the frontend's or the backend's `except` network, the
//! backend's header name before the frontend's.

use super::message::Message;
use crate::net::Cidr;
use fulcrum_config::model_extras::OriginalTo;
use std::net::IpAddr;

/// Adds the header when the frontend or the backend asks for it.
pub fn apply(be: Option<&OriginalTo>, fe: Option<&OriginalTo>, m: &mut Message, dst: IpAddr) {
    let Some(name) = be.or(fe).map(|o| o.header.as_bytes()) else {
        return;
    };
    let dst = crate::net::canonical(dst);
    let excepted = [be, fe].into_iter().flatten().any(|o| {
        o.except
            .as_deref()
            .and_then(Cidr::parse)
            .is_some_and(|n| n.contains(dst))
    });
    if !excepted {
        m.append(name, dst.to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ot(except: Option<&str>, header: &str) -> OriginalTo {
        OriginalTo {
            except: except.map(str::to_string),
            header: header.into(),
        }
    }

    #[test]
    fn header_name_except_and_family() {
        let req = || {
            let mut m = Message::new();
            let _ = m.parse_request(b"GET / HTTP/1.1\r\n\r\n");
            m
        };
        let dst: IpAddr = [10, 1, 2, 3].into();
        let mut m = req();
        apply(None, Some(&ot(None, "X-Original-To")), &mut m, dst);
        assert_eq!(m.header(b"x-original-to"), Some(&b"10.1.2.3"[..]));
        let mut m = req();
        apply(
            Some(&ot(None, "X-Be")),
            Some(&ot(None, "X-Fe")),
            &mut m,
            dst,
        );
        assert_eq!(m.header(b"x-be"), Some(&b"10.1.2.3"[..]));
        assert!(!m.has_header(b"x-fe"));
        let mut m = req();
        apply(
            Some(&ot(None, "X-Be")),
            Some(&ot(Some("10.0.0.0/8"), "X-Fe")),
            &mut m,
            dst,
        );
        assert!(!m.has_header(b"x-be"));
        let mut m = req();
        apply(
            None,
            Some(&ot(None, "X-Original-To")),
            &mut m,
            "::2".parse().unwrap_or(dst),
        );
        assert_eq!(m.header(b"x-original-to"), Some(&b"::2"[..]));
        let mut m = req();
        apply(
            None,
            Some(&ot(Some("2001:db8:1f89::/48"), "X-Original-To")),
            &mut m,
            "2001:db8:1f89::1".parse().unwrap_or(dst),
        );
        assert!(!m.has_header(b"x-original-to"));
        let mut m = req();
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap_or(dst);
        apply(None, Some(&ot(None, "X-Original-To")), &mut m, mapped);
        assert_eq!(m.header(b"x-original-to"), Some(&b"10.1.2.3"[..]));
    }
}
