//! `option http-restrict-req-hdr-names delete|reject`: request headers whose name has a
//! character other than a letter, a digit or `-` (such as `_`, which some servers read as
//! `-`) are removed, or the request is refused (403). Run after the proxy's `http-request`
//! rules, as HAProxy 2.6 (the rules still see the header).

use crate::http::message::Message;
use fulcrum_config::model_keywords::HdrNamePolicy;

/// Applies `policy` to `req`; true when the request is to be refused.
pub fn restrict(policy: HdrNamePolicy, req: &mut Message) -> bool {
    let clean = |n: &[u8]| n.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
    match policy {
        HdrNamePolicy::Preserve => false,
        HdrNamePolicy::Delete => {
            req.retain(clean);
            false
        }
        HdrNamePolicy::Reject => req.fields.iter().any(|f| !clean(req.name(f))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_other_characters_go() {
        let mut m = Message::new();
        m.append(b"Host", b"a");
        m.append(b"x_y", b"1");
        m.append(b"X.Z", b"2");
        m.append(b"X-Ok-9", b"3");
        assert!(restrict(HdrNamePolicy::Reject, &mut m));
        assert!(!restrict(HdrNamePolicy::Preserve, &mut m));
        assert_eq!(m.fields.len(), 4);
        assert!(!restrict(HdrNamePolicy::Delete, &mut m));
        let names: Vec<&[u8]> = m.fields.iter().map(|f| m.name(f)).collect();
        assert_eq!(names, [&b"Host"[..], b"X-Ok-9"]);
        assert!(!restrict(HdrNamePolicy::Reject, &mut m));
    }
}
