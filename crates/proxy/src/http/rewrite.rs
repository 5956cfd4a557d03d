//! Request-line and header rewrites of `http-request`/`http-response` rules: `set-method`,
//! `set-path`, `set-pathq`, `set-query`, `set-uri`, `replace-path`, `replace-pathq`,
//! `replace-uri`, `replace-header`, `replace-value`, `set-status`, `del-header -m`. As
//! HAProxy, a `replace-*` whose regex matches replaces the whole part by the rendered format,
//! `\N` standing for the regex's groups.

use super::message::Message;
use fulcrum_config::model::LinePart;
use regex::bytes::Regex;

/// Where the path starts and ends in a target (origin or absolute form), and where the
/// query starts (after `?`), if any.
fn bounds(target: &[u8]) -> (usize, usize, Option<usize>) {
    let start = if target.first() == Some(&b'/') {
        0
    } else if let Some(p) = target.windows(3).position(|w| w == b"://") {
        target[p + 3..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(target.len(), |i| p + 3 + i)
    } else {
        0
    };
    match target[start..].iter().position(|&b| b == b'?') {
        Some(q) => (start, start + q, Some(start + q + 1)),
        None => (start, target.len(), None),
    }
}

/// The current value of `part`.
pub fn part(m: &Message, part: LinePart) -> Vec<u8> {
    let t = m.target();
    let (start, end, q) = bounds(t);
    match part {
        LinePart::Method => m.method().to_vec(),
        LinePart::Path => t[start..end].to_vec(),
        LinePart::Pathq => t[start..].to_vec(),
        LinePart::Query => q.map_or(Vec::new(), |q| t[q..].to_vec()),
        LinePart::Uri => t.to_vec(),
    }
}

/// Sets `part` to `v`.
pub fn set(m: &mut Message, part: LinePart, v: &[u8]) {
    if part == LinePart::Method {
        m.set_method(v);
        return;
    }
    let t = m.target().to_vec();
    let (start, end, q) = bounds(&t);
    let mut out = Vec::with_capacity(t.len() + v.len());
    match part {
        LinePart::Path => {
            out.extend_from_slice(&t[..start]);
            out.extend_from_slice(v);
            out.extend_from_slice(&t[end..]);
        }
        LinePart::Pathq => {
            out.extend_from_slice(&t[..start]);
            out.extend_from_slice(v);
        }
        LinePart::Query => {
            out.extend_from_slice(&t[..end]);
            if !v.is_empty() || q.is_some() {
                out.push(b'?');
            }
            out.extend_from_slice(v);
        }
        LinePart::Uri | LinePart::Method => out.extend_from_slice(v),
    }
    m.set_target(&out);
}

/// `fmt` with `\N` replaced by the groups of `re` matching `subject`; `None`: no match.
pub fn expand(re: &Regex, subject: &[u8], fmt: &[u8]) -> Option<Vec<u8>> {
    let caps = re.captures(subject)?;
    let mut out = Vec::with_capacity(fmt.len() + subject.len());
    let mut i = 0;
    while i < fmt.len() {
        if fmt[i] == b'\\' && fmt.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let g = usize::from(fmt[i + 1] - b'0');
            out.extend_from_slice(caps.get(g).map_or(&b""[..], |c| c.as_bytes()));
            i += 2;
        } else {
            out.push(fmt[i]);
            i += 1;
        }
    }
    Some(out)
}

/// `replace-header` (`each`: `replace-value`, comma-separated values one by one).
pub fn replace_header(m: &mut Message, name: &[u8], re: &Regex, fmt: &[u8], each: bool) {
    for i in 0..m.fields.len() {
        let f = m.fields[i];
        if !m.get(f.name).eq_ignore_ascii_case(name) {
            continue;
        }
        let value = m.get(f.value).to_vec();
        let new = if each {
            let mut changed = false;
            let parts: Vec<Vec<u8>> = value
                .split(|&b| b == b',')
                .map(|p| {
                    // A replaced value loses the blanks around it, as HAProxy's.
                    match expand(re, super::message::trim(p), fmt) {
                        Some(n) => {
                            changed = true;
                            n
                        }
                        None => p.to_vec(),
                    }
                })
                .collect();
            changed.then(|| parts.join(&b","[..]))
        } else {
            expand(re, &value, fmt)
        };
        if let Some(n) = new {
            m.set_value_at(i, &n);
        }
    }
}

/// `del-header NAME -m beg|end|sub|reg`.
pub fn del_header_match(m: &mut Message, name: &[u8], method: &str, re: Option<&Regex>) {
    let lname = name.to_ascii_lowercase();
    m.retain(|n| {
        let n = n.to_ascii_lowercase();
        let hit = match method {
            "beg" => n.starts_with(&lname),
            "end" => n.ends_with(&lname),
            "sub" => lname.is_empty() || n.windows(lname.len()).any(|w| w == lname.as_slice()),
            "reg" => re.is_some_and(|r| r.is_match(&n)),
            _ => n == lname,
        };
        !hit
    });
}

/// `set-status CODE [reason TEXT]`.
pub fn set_status(m: &mut Message, status: u16, reason: Option<&[u8]>) {
    m.status = status;
    let text = reason.unwrap_or(super::errors::reason(status).as_bytes());
    m.set_reason(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(raw: &[u8]) -> Message {
        let mut m = Message::new();
        let _ = m.parse_request(raw);
        m
    }

    #[test]
    fn line_parts() {
        let mut m = req(b"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(part(&m, LinePart::Path), b"/a/b");
        assert_eq!(part(&m, LinePart::Query), b"x=1");
        set(&mut m, LinePart::Path, b"/new");
        assert_eq!(m.target(), b"/new?x=1");
        set(&mut m, LinePart::Query, b"y=2");
        assert_eq!(m.target(), b"/new?y=2");
        set(&mut m, LinePart::Pathq, b"/p");
        assert_eq!(m.target(), b"/p");
        set(&mut m, LinePart::Method, b"POST");
        assert_eq!(m.method(), b"POST");
        assert_eq!(m.header(b"host"), Some(&b"h"[..]), "headers untouched");
        let mut a = req(b"GET http://h:80/x?q HTTP/1.1\r\n\r\n");
        set(&mut a, LinePart::Path, b"/y");
        assert_eq!(a.target(), b"http://h:80/y?q");
    }

    #[test]
    fn replacements() {
        let re = Regex::new("^/api/(.*)").expect("re");
        assert_eq!(
            expand(&re, b"/api/v1", b"/v2/\\1"),
            Some(b"/v2/v1".to_vec())
        );
        assert_eq!(expand(&re, b"/web", b"x"), None);
        let mut m = req(b"GET / HTTP/1.1\r\nX-L: a, bb, a\r\nX-H: keep\r\n\r\n");
        let a = Regex::new("^a$").expect("re");
        replace_header(&mut m, b"x-l", &a, b"z", true);
        assert_eq!(m.header(b"x-l"), Some(&b"z, bb,z"[..]));
        let k = Regex::new("ee").expect("re");
        replace_header(&mut m, b"x-h", &k, b"[\\0]", false);
        assert_eq!(m.header(b"x-h"), Some(&b"[ee]"[..]));
        del_header_match(&mut m, b"x-", "beg", None);
        assert!(m.header(b"x-l").is_none() && m.header(b"x-h").is_none());
    }
}
