//! `capture request|response header NAME len N`: the header's last value, cut to N bytes,
//! written in the log line as HAProxy does (`{v1|v2}` blocks of `option httplog`, `%hr`/`%hs`
//! of `log-format`), with `"`, `#`, `{`, `|`, `}` and non-printable bytes as `#XX`.
//! A slot of an `http-request capture SAMPLE len N` rule, or one of `declare capture
//! request|response len N` filled by `http-request|http-response capture SAMPLE id N`,
//! holds the value the rule took (per request, in [`Samples`]). A `capture SAMPLE id N`
//! rule naming a header slot overwrites it too, as HAProxy 2.6 (it captures the headers
//! before its rules run): the rule's value, once taken, is the slot's.

use super::message::Message;
use fulcrum_config::model::Capture;

/// The values `http-request|http-response capture` rules took for one request: the request
/// slots, then the response slots.
#[derive(Debug)]
pub struct Samples {
    slots: std::sync::Mutex<Vec<Option<Vec<u8>>>>,
    /// Where the response slots start.
    res_at: usize,
}

impl Samples {
    /// Slot `i` of a side takes `v` (nothing when there is no such slot).
    pub fn set(&self, response: bool, i: usize, v: Vec<u8>) {
        let at = if response { self.res_at + i } else { i };
        if let Ok(mut g) = self.slots.lock() {
            if let Some(s) = g.get_mut(at) {
                *s = Some(v);
            }
        }
    }

    pub fn lock(&self) -> std::sync::LockResult<std::sync::MutexGuard<'_, Vec<Option<Vec<u8>>>>> {
        self.slots.lock()
    }
}

/// A frontend's captures, by side.
#[derive(Debug, Default)]
pub struct Captures {
    req: Vec<Slot>,
    res: Vec<Slot>,
    /// Slots rules fill (`http-request|http-response capture`).
    samples: usize,
    /// `capture cookie NAME len N`: (NAME, N).
    cookie: Option<(Vec<u8>, usize)>,
}

/// One capture slot.
#[derive(Debug)]
struct Slot {
    /// The header it captures (lower-case), or empty for a slot only rules fill.
    name: Vec<u8>,
    len: usize,
    /// Whether a rule fills it: a rule's value, once taken, replaces the header's (as
    /// HAProxy, which captures the headers before its rules run).
    rules: bool,
}

impl Captures {
    pub fn new(list: &[Capture]) -> Captures {
        let mut c = Captures::default();
        for cap in list {
            let spec = Slot {
                name: cap.name.to_ascii_lowercase().into_bytes(),
                len: cap.len,
                rules: cap.sample || cap.name.is_empty(),
            };
            if spec.rules {
                c.samples += 1;
            }
            if cap.response {
                c.res.push(spec);
            } else {
                c.req.push(spec);
            }
        }
        c
    }

    /// The same captures with `capture cookie NAME len N`'s (NAME, N).
    pub fn with_cookie(mut self, cookie: Option<&(String, usize)>) -> Captures {
        self.cookie = cookie.map(|(n, l)| (n.clone().into_bytes(), *l));
        self
    }

    /// `%CC` (request, `Cookie`) / `%CS` (response, `Set-Cookie`): the first cookie whose
    /// name starts with the captured name, as `name=value` cut to the capture's length (as
    /// HAProxy 2.6: a `Set-Cookie`'s attributes are not part of it); `None`: no such cookie.
    pub fn cookie<'m>(&self, m: Option<&'m Message>, response: bool) -> Option<&'m [u8]> {
        let (name, len) = self.cookie.as_ref()?;
        let m = m?;
        let field: &[u8] = if response { b"set-cookie" } else { b"cookie" };
        for v in m.headers(field) {
            let pairs: Vec<&[u8]> = if response {
                v.split(|&b| b == b';').take(1).collect()
            } else {
                v.split(|&b| b == b';' || b == b',').collect()
            };
            for pair in pairs {
                let pair = pair.trim_ascii();
                let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                    continue;
                };
                if pair[..eq].trim_ascii_end().starts_with(name) {
                    return Some(&pair[..pair.len().min(*len)]);
                }
            }
        }
        None
    }

    /// `capture.req.hdr(N)` / `capture.res.hdr(N)`: slot `i` of a side, as captured (not
    /// encoded); `None` for a slot that does not exist or took nothing.
    pub fn slot<'a>(
        &'a self,
        response: bool,
        i: usize,
        m: Option<&'a Message>,
        samples: &'a [Option<Vec<u8>>],
    ) -> Option<&'a [u8]> {
        let specs = if response { &self.res } else { &self.req };
        if i >= specs.len() {
            return None;
        }
        self.value(response, i, m, samples)
    }

    pub fn is_empty(&self) -> bool {
        self.req.is_empty() && self.res.is_empty()
    }

    /// Whether `http-request|http-response capture` rules fill some slots.
    pub fn has_samples(&self) -> bool {
        self.samples > 0
    }

    /// A request's empty rule slots.
    pub fn new_samples(&self) -> Samples {
        Samples {
            slots: std::sync::Mutex::new(vec![None; self.req.len() + self.res.len()]),
            res_at: self.req.len(),
        }
    }

    /// Slot `i`'s value: the value a rule took for it, else the header's last value.
    fn value<'a>(
        &'a self,
        response: bool,
        i: usize,
        m: Option<&'a Message>,
        samples: &'a [Option<Vec<u8>>],
    ) -> Option<&'a [u8]> {
        let (specs, at) = if response {
            (&self.res, self.req.len() + i)
        } else {
            (&self.req, i)
        };
        let slot = &specs[i];
        let taken = slot
            .rules
            .then(|| samples.get(at).and_then(|v| v.as_deref()))
            .flatten();
        let v: &[u8] = match taken {
            Some(v) => v,
            None if slot.name.is_empty() => return None,
            None => m?.headers(&slot.name).last()?,
        };
        Some(&v[..v.len().min(slot.len)])
    }

    /// The `{...}` block of one side (`response`), or `None` when that side captures nothing.
    pub fn block(&self, m: Option<&Message>, response: bool) -> Option<String> {
        self.block_with(m, &[], response)
    }

    /// [`Captures::block`] with the request's rule slots.
    pub fn block_with(
        &self,
        m: Option<&Message>,
        samples: &[Option<Vec<u8>>],
        response: bool,
    ) -> Option<String> {
        let specs = if response { &self.res } else { &self.req };
        if specs.is_empty() {
            return None;
        }
        let mut out = String::from("{");
        for i in 0..specs.len() {
            if i > 0 {
                out.push('|');
            }
            if let Some(v) = self.value(response, i, m, samples) {
                encode(v, &mut out);
            }
        }
        out.push('}');
        Some(out)
    }

    /// `%hrl`/`%hsl`: the side's captures separated by spaces, `-` for an empty one (with
    /// `quote`, `%{+Q}hrl`: each one quoted, `""` for an empty one); `None` when that side
    /// captures nothing.
    pub fn list(
        &self,
        m: Option<&Message>,
        samples: &[Option<Vec<u8>>],
        response: bool,
        quote: bool,
    ) -> Option<String> {
        let specs = if response { &self.res } else { &self.req };
        if specs.is_empty() {
            return None;
        }
        let mut out = String::new();
        for i in 0..specs.len() {
            if i > 0 {
                out.push(' ');
            }
            if quote {
                out.push('"');
            }
            match self.value(response, i, m, samples) {
                Some(v) if !v.is_empty() => encode(v, &mut out),
                _ if quote => {}
                _ => out.push('-'),
            }
            if quote {
                out.push('"');
            }
        }
        Some(out)
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
                sample: false,
            },
            Capture {
                response: false,
                name: "X-A".into(),
                len: 20,
                sample: false,
            },
        ]);
        let mut m = Message::new();
        let _ = m
            .parse_request(b"GET / HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nX-A: a|b\"c\r\n\r\n");
        assert_eq!(
            caps.block_with(Some(&m), &[], false).as_deref(),
            Some("{examp|a#7Cb#22c}")
        );
        assert_eq!(
            caps.list(Some(&m), &[], false, true).as_deref(),
            Some("\"examp\" \"a#7Cb#22c\"")
        );
        assert_eq!(caps.block(None, true), None);
        assert_eq!(caps.slot(false, 0, Some(&m), &[]), Some(&b"examp"[..]));
        assert_eq!(caps.slot(false, 1, Some(&m), &[]), Some(&b"a|b\"c"[..]));
        assert_eq!(caps.slot(false, 2, Some(&m), &[]), None);
    }

    #[test]
    fn a_rule_value_replaces_a_header_capture() {
        let caps = Captures::new(&[
            Capture {
                response: false,
                name: "Host".into(),
                len: 4,
                sample: true,
            },
            Capture {
                response: false,
                name: "X-A".into(),
                len: 4,
                sample: false,
            },
        ]);
        assert!(caps.has_samples());
        let mut m = Message::new();
        let _ = m.parse_request(b"GET / HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\n\r\n");
        let samples = caps.new_samples();
        // No value taken yet: the header's.
        let none = samples.lock().map(|g| g.clone()).unwrap_or_default();
        assert_eq!(caps.slot(false, 0, Some(&m), &none), Some(&b"exam"[..]));
        samples.set(false, 0, b"Mozilla".to_vec());
        samples.set(false, 1, b"zz".to_vec());
        let taken = samples.lock().map(|g| g.clone()).unwrap_or_default();
        assert_eq!(caps.slot(false, 0, Some(&m), &taken), Some(&b"Mozi"[..]));
        // A slot no rule names keeps its header.
        assert_eq!(caps.slot(false, 1, Some(&m), &taken), Some(&b"1"[..]));
        samples.set(false, 0, Vec::new());
        let empty = samples.lock().map(|g| g.clone()).unwrap_or_default();
        assert_eq!(
            caps.block_with(Some(&m), &empty, false).as_deref(),
            Some("{|1}")
        );
    }

    #[test]
    fn cookies_as_haproxy_captures_them() {
        let caps = Captures::new(&[]).with_cookie(Some(&("SRV".to_string(), 8)));
        let mut req = Message::new();
        let _ = req.parse_request(b"GET / HTTP/1.1\r\nCookie: a=1; SRVID=abcdef; SRV=x\r\n\r\n");
        assert_eq!(caps.cookie(Some(&req), false), Some(&b"SRVID=ab"[..]));
        let mut res = Message::new();
        let _ = res.parse_response(
            b"HTTP/1.1 200 OK\r\nSet-Cookie: b=2\r\nSet-Cookie: SRV=z; path=/\r\n\r\n",
        );
        assert_eq!(caps.cookie(Some(&res), true), Some(&b"SRV=z"[..]));
        assert_eq!(Captures::new(&[]).cookie(Some(&res), true), None);
    }
}
