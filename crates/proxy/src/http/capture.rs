//! `capture request|response header NAME len N`: the header's last value, cut to N bytes,
//! written in the log line as HAProxy does (`{v1|v2}` blocks of `option httplog`, `%hr`/`%hs`
//! of `log-format`), with `"`, `#`, `{`, `|`, `}` and non-printable bytes as `#XX`.

use super::message::Message;
use fulcrum_config::model::Capture;

/// A frontend's captures, by side.
#[derive(Debug, Default)]
pub struct Captures {
    req: Vec<(Vec<u8>, usize)>,
    res: Vec<(Vec<u8>, usize)>,
}

impl Captures {
    pub fn new(list: &[Capture]) -> Captures {
        let mut c = Captures::default();
        for cap in list {
            let spec = (cap.name.to_ascii_lowercase().into_bytes(), cap.len);
            if cap.response {
                c.res.push(spec);
            } else {
                c.req.push(spec);
            }
        }
        c
    }

    pub fn is_empty(&self) -> bool {
        self.req.is_empty() && self.res.is_empty()
    }

    /// The `{...}` block of one side (`response`), or `None` when that side captures nothing.
    pub fn block(&self, m: Option<&Message>, response: bool) -> Option<String> {
        let specs = if response { &self.res } else { &self.req };
        if specs.is_empty() {
            return None;
        }
        let mut out = String::from("{");
        for (i, (name, len)) in specs.iter().enumerate() {
            if i > 0 {
                out.push('|');
            }
            if let Some(v) = m.and_then(|m| m.headers(name).last()) {
                encode(&v[..v.len().min(*len)], &mut out);
            }
        }
        out.push('}');
        Some(out)
    }

    /// `%hrl`/`%hsl`: the side's captures separated by spaces, `-` for an empty one; `None`
    /// when that side captures nothing.
    pub fn list(&self, m: Option<&Message>, response: bool) -> Option<String> {
        let specs = if response { &self.res } else { &self.req };
        if specs.is_empty() {
            return None;
        }
        let mut out = String::new();
        for (i, (name, len)) in specs.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            match m.and_then(|m| m.headers(name).last()) {
                Some(v) if !v.is_empty() => encode(&v[..v.len().min(*len)], &mut out),
                _ => out.push('-'),
            }
        }
        Some(out)
    }

    /// What `option httplog` writes after the queue field: ` {req}` and ` {res}` for the
    /// sides that capture.
    pub fn httplog(&self, req: Option<&Message>, res: Option<&Message>) -> String {
        let mut out = String::new();
        for b in [self.block(req, false), self.block(res, true)]
            .into_iter()
            .flatten()
        {
            out.push(' ');
            out.push_str(&b);
        }
        out
    }
}

fn encode(v: &[u8], out: &mut String) {
    for &b in v {
        if !(32..127).contains(&b) || matches!(b, b'"' | b'#' | b'{' | b'|' | b'}') {
            out.push_str(&format!("#{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_as_haproxy_writes_them() {
        let caps = Captures::new(&[
            Capture {
                response: false,
                name: "Host".into(),
                len: 5,
            },
            Capture {
                response: false,
                name: "X-A".into(),
                len: 20,
            },
        ]);
        let mut m = Message::new();
        let _ = m
            .parse_request(b"GET / HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nX-A: a|b\"c\r\n\r\n");
        assert_eq!(caps.httplog(Some(&m), None), " {examp|a#7Cb#22c}");
        assert_eq!(caps.block(None, true), None);
    }
}
