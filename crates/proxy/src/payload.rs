//! TCP content inspection's fetches, sans-IO: `req.len`, `req.payload(OFF,LEN)`,
//! `req.payload_lv(OFF,LEN[,OFF2])`, `wait_end` (and the `res.*` twins) answered from the
//! bytes one direction has received so far, and whether an answer may still change once more
//! arrive (HAProxy's `SMP_F_MAY_CHANGE`), which makes a rule wait (`tcp-request
//! inspect-delay`) instead of deciding. As HAProxy 2.6 in HTTP mode, the payload fetches
//! have no value there and `req.len` is the size of the request in HAProxy's internal form.

use fulcrum_sample::fetch::{Arg, Fetch};
use fulcrum_sample::Value;

/// The bytes one direction has received so far, as the fetches see them.
#[derive(Debug, Clone, Copy)]
pub struct Channel<'a> {
    /// The raw bytes (TCP mode); empty in HTTP mode.
    pub data: &'a [u8],
    /// `req.len`/`res.len`: `data.len()` in TCP mode, the HTX size in HTTP mode.
    pub len: usize,
    /// TCP mode: the payload fetches read `data`.
    pub raw: bool,
    /// No more waiting (HAProxy's `SMP_OPT_FINAL`): the inspect delay ran out (or there is
    /// none), the buffer is full or the peer closed its side.
    pub last: bool,
    /// The buffer size (`tune.bufsize`): a payload beyond it can never match.
    pub size: usize,
    /// TCP mode: the bytes are the start of an HTTP/1 request head not complete yet, and
    /// the buffer has room for more (HTTP fetches on them may change).
    pub http_partial: bool,
}

impl<'a> Channel<'a> {
    /// A TCP stream's bytes.
    pub fn raw(data: &'a [u8], last: bool, size: usize) -> Channel<'a> {
        Channel {
            data,
            len: data.len(),
            raw: true,
            last,
            size,
            http_partial: false,
        }
    }

    /// An HTTP request or response of HTX size `len`.
    pub fn http(len: usize, last: bool, size: usize) -> Channel<'a> {
        Channel {
            data: b"",
            len,
            raw: false,
            last,
            size,
            http_partial: false,
        }
    }
}

/// Whether `name` is answered here.
pub fn is_payload(name: &str) -> bool {
    matches!(
        name,
        "req.len"
            | "req_len"
            | "req.payload"
            | "payload"
            | "req.payload_lv"
            | "payload_lv"
            | "wait_end"
            | "res.len"
            | "res.payload"
            | "res.payload_lv"
    )
}

/// Whether fetch `name` reads an HTTP request head: in TCP mode it is answered from the raw
/// bytes parsed as one (`tcp_inspect`), and may change while that head is incomplete.
pub fn reads_http_head(name: &str) -> bool {
    matches!(
        name,
        "method"
            | "path"
            | "pathq"
            | "url"
            | "query"
            | "base"
            | "url_param"
            | "urlp"
            | "req.ver"
            | "req_ver"
            | "req.proto_http"
            | "req.hdr"
            | "hdr"
            | "req.fhdr"
            | "fhdr"
            | "req.hdr_cnt"
            | "hdr_cnt"
            | "req.hdr_ip"
            | "hdr_ip"
            | "req.fhdr_cnt"
            | "req.cook"
            | "cook"
            | "req.cook_cnt"
            | "cook_cnt"
            | "req.cook_val"
            | "cook_val"
    ) || name.starts_with("http_auth")
}

/// Whether fetch `name` reads an HTTP response (`status`, `res.hdr()`, ...): before the
/// answer has arrived, `tcp-response content` rules reading it wait.
pub fn reads_http_response(name: &str) -> bool {
    name == "status" || name == "shdr" || name.starts_with("scook") || name.starts_with("res.")
}

/// Whether an HTTP fetch `f` on raw bytes `c` may still change (an incomplete head that may
/// grow; HAProxy's `smp_prefetch_htx` in raw mode).
pub fn http_may_change(c: &Channel<'_>, name: &str) -> bool {
    c.raw && !c.last && c.http_partial && reads_http_head(name)
}

/// Whether `name` reads the response direction.
pub fn is_response(name: &str) -> bool {
    name.starts_with("res.")
}

fn int(f: &Fetch, i: usize) -> i64 {
    f.args.get(i).map_or(0, Arg::as_int)
}

/// What a fetch of `f` finds in `c`: its value or none, and whether that may change.
fn look(c: &Channel<'_>, f: &Fetch) -> (Option<Value>, bool) {
    let base =
        f.kw.name
            .trim_start_matches("req.")
            .trim_start_matches("res.");
    match base {
        "len" | "req_len" => (Some(Value::Sint(c.len as i64)), true),
        "wait_end" => (c.last.then_some(Value::Bool(true)), true),
        _ if !c.raw => (None, false),
        "payload" => payload(c, int(f, 0), int(f, 1)),
        "payload_lv" => payload_lv(c, f),
        _ => (None, false),
    }
}

/// `payload(OFF,LEN)`: LEN bytes at OFF; LEN 0: from OFF to the end of what is there.
fn payload(c: &Channel<'_>, off: i64, len: i64) -> (Option<Value>, bool) {
    let (Ok(off), Ok(len)) = (usize::try_from(off), usize::try_from(len)) else {
        return (None, false);
    };
    if len > c.size || off.saturating_add(len) > c.size {
        return (None, false); // will never match
    }
    if off + len > c.data.len() {
        return (None, true); // too short yet
    }
    let end = if len == 0 { c.data.len() } else { off + len };
    (Some(Value::Bin(c.data[off..end].to_vec())), len == 0)
}

/// `payload_lv(OFF1,LEN1[,OFF2])`: a block whose length is the LEN1-byte big-endian number
/// at OFF1; it starts right after that number, or at OFF2 (`+N`/`-N`: relative to there).
fn payload_lv(c: &Channel<'_>, f: &Fetch) -> (Option<Value>, bool) {
    let (Ok(off1), Ok(len1)) = (usize::try_from(int(f, 0)), usize::try_from(int(f, 1))) else {
        return (None, false);
    };
    let Some(n) = c.data.get(off1..off1.saturating_add(len1)) else {
        return (None, true);
    };
    let size = n
        .iter()
        .fold(0u64, |a, &b| a.wrapping_shl(8) | u64::from(b));
    let mut start = (off1 + len1) as i64;
    if let Some(Arg::Str(s)) = f.args.get(2) {
        let text = String::from_utf8_lossy(s);
        let Ok(v) = text.trim_start_matches('+').parse::<i64>() else {
            return (None, false);
        };
        start = if s.first().is_some_and(|b| *b == b'+' || *b == b'-') {
            start + v
        } else {
            v
        };
    }
    let (Ok(start), Ok(size)) = (usize::try_from(start), usize::try_from(size)) else {
        return (None, false);
    };
    if size == 0 || size > c.size || start.saturating_add(size) > c.size {
        return (None, false);
    }
    match c.data.get(start..start + size) {
        Some(b) => (Some(Value::Bin(b.to_vec())), false),
        None => (None, true),
    }
}

/// The value of payload fetch `f` (see [`is_payload`]) in `c`.
pub fn fetch(c: &Channel<'_>, f: &Fetch) -> Option<Value> {
    look(c, f).0
}

/// Whether the answer to `f` may change with more data while the rules can still wait.
pub fn may_change(c: &Channel<'_>, f: &Fetch) -> bool {
    !c.last && look(c, f).1
}

/// `req.ssl_*` on raw bytes: whether the ClientHello could still complete.
pub fn hello_may_change(c: &Channel<'_>) -> bool {
    !c.last && c.raw && crate::tls::hello::parse(c.data) == crate::tls::hello::Hello::Incomplete
}

/// The HTX size of a request head as HAProxy 2.6 counts it for `req.len` in HTTP mode: a
/// start-line descriptor, method, URI and version, each header's name and value, and the
/// end of headers. HAProxy's HTTP/1 parser takes `close`/`keep-alive` out of `Connection`
/// headers (one left empty is dropped): those bytes are not counted (measured: 54 for a
/// request with `Connection: close`, 69 with the header counted).
pub fn htx_request(m: &crate::http::message::Message) -> usize {
    const SL: usize = 20;
    const EOH: usize = 1;
    let fields: usize = m
        .fields
        .iter()
        .map(|f| htx_field(m.name(f), m.value(f)))
        .sum();
    SL + m.method().len() + m.target().len() + 5 + m.version.as_str().len() + fields + EOH
}

/// The `Connection` tokens HAProxy's HTTP/1 parser keeps (all but `close`/`keep-alive`);
/// none for another header.
pub fn connection_kept(name: &[u8], value: &[u8]) -> Option<Vec<Vec<u8>>> {
    if !name.eq_ignore_ascii_case(b"connection") {
        return None;
    }
    Some(
        value
            .split(|&b| b == b',')
            .map(crate::http::message::trim)
            .filter(|t| {
                !t.is_empty()
                    && !t.eq_ignore_ascii_case(b"close")
                    && !t.eq_ignore_ascii_case(b"keep-alive")
            })
            .map(<[u8]>::to_vec)
            .collect(),
    )
}

/// One header's HTX size (its name and value), as HAProxy's HTTP/1 parser keeps it: a
/// `Connection` header without its `close`/`keep-alive` tokens (the rest joined with ", "),
/// none when nothing is left.
fn htx_field(name: &[u8], value: &[u8]) -> usize {
    match connection_kept(name, value) {
        None => name.len() + value.len(),
        Some(kept) if kept.is_empty() => 0,
        Some(kept) => name.len() + kept.iter().map(Vec::len).sum::<usize>() + 2 * (kept.len() - 1),
    }
}

/// The HTX size of a response head (`res.len` in HTTP mode): the start-line descriptor,
/// version, 3-digit status and reason, each header's name and value (a server's
/// `Connection: close` is not counted, as in [`htx_request`]), the end of headers (the count
/// `%B` uses too, `http::log_bytes`).
pub fn htx_response(m: &crate::http::message::Message) -> usize {
    let fields: usize = m
        .fields
        .iter()
        .map(|f| htx_field(m.name(f), m.value(f)))
        .sum();
    20 + 5 + m.version.as_str().len() + 3 + m.reason().len() + fields + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, args: Vec<Arg>) -> Fetch {
        Fetch {
            kw: fulcrum_sample::fetch::lookup(name).expect("known fetch"),
            args,
        }
    }

    fn bin(b: &[u8]) -> Option<Value> {
        Some(Value::Bin(b.to_vec()))
    }

    #[test]
    fn payload_waits_until_its_bytes_are_there() {
        let p = f("req.payload", vec![Arg::Int(1), Arg::Int(3)]);
        let short = Channel::raw(b"ABC", false, 16384);
        assert_eq!(fetch(&short, &p), None);
        assert!(may_change(&short, &p));
        let full = Channel::raw(b"ABCDE", false, 16384);
        assert_eq!(fetch(&full, &p), bin(b"BCD"));
        assert!(!may_change(&full, &p), "a fixed block does not change");
        let last = Channel::raw(b"AB", true, 16384);
        assert!(!may_change(&last, &p), "no more waiting once final");
        // Beyond the buffer: never matches, nothing to wait for.
        let big = f("req.payload", vec![Arg::Int(16380), Arg::Int(10)]);
        assert!(!may_change(&short, &big));
        // Length 0: the rest, which may grow.
        let rest = f("req.payload", vec![Arg::Int(2), Arg::Int(0)]);
        assert_eq!(fetch(&full, &rest), bin(b"CDE"));
        assert!(may_change(&full, &rest));
    }

    #[test]
    fn payload_lv_reads_a_length_then_the_block() {
        // A 2-byte length (3) at offset 1, then "xyz".
        let data = b"\x07\x00\x03xyzTAIL";
        let c = Channel::raw(data, false, 16384);
        let lv = f("req.payload_lv", vec![Arg::Int(1), Arg::Int(2)]);
        assert_eq!(fetch(&c, &lv), bin(b"xyz"));
        let rel = f(
            "req.payload_lv",
            vec![Arg::Int(1), Arg::Int(2), Arg::Str(b"+1".to_vec())],
        );
        assert_eq!(fetch(&c, &rel), bin(b"yzT"));
        let abs = f(
            "req.payload_lv",
            vec![Arg::Int(1), Arg::Int(2), Arg::Str(b"0".to_vec())],
        );
        assert_eq!(fetch(&c, &abs), bin(b"\x07\x00\x03"));
        let short = Channel::raw(&data[..4], false, 16384);
        assert_eq!(fetch(&short, &lv), None);
        assert!(may_change(&short, &lv));
        let zero = Channel::raw(b"\x00\x00\x00", false, 16384);
        assert!(!may_change(&zero, &lv), "a zero length never matches");
    }

    #[test]
    fn len_and_wait_end() {
        let l = f("req.len", vec![]);
        let c = Channel::raw(b"abcd", false, 16384);
        assert_eq!(fetch(&c, &l), Some(Value::Sint(4)));
        assert!(may_change(&c, &l), "req.len may always grow");
        let w = f("wait_end", vec![]);
        assert_eq!(fetch(&c, &w), None);
        assert!(may_change(&c, &w));
        let last = Channel::raw(b"abcd", true, 16384);
        assert_eq!(fetch(&last, &w), Some(Value::Bool(true)));
        // HTTP mode: no payload, a length.
        let h = Channel::http(90, false, 16384);
        assert_eq!(fetch(&h, &l), Some(Value::Sint(90)));
        let p = f("req.payload", vec![Arg::Int(0), Arg::Int(1)]);
        assert_eq!(fetch(&h, &p), None);
        assert!(!may_change(&h, &p));
    }
}
