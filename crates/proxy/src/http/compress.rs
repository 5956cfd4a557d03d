//! HTTP response compression (`compression algo|type|offload`) as HAProxy 2.6 applies it.
//!
//! Request side: the algorithm is chosen from `Accept-Encoding` (highest q-value, the first
//! listed among equals; `*` takes the head of the configured list), the backend's settings
//! before the frontend's; old `Mozilla/4` agents get none; `offload` removes
//! `Accept-Encoding` so servers never compress. Response side: only an HTTP/1.1 answer to an
//! HTTP/1.1, non-HEAD request, status 200..203, with a non-empty body, no `Content-Encoding`,
//! no `Cache-Control: no-transform`, at most one valid `ETag` (made weak), a listed content
//! type (never `multipart`). Its `Content-Length` goes, the body is sent chunked with
//! `Content-Encoding` and `Vary: Accept-Encoding`. The encoder (flate2, at `tune.comp.maxlevel`,
//! default 1) is flushed at each read, so streaming answers keep streaming.

use super::body::{read_some, write_all, BodyError, Chunked, Framing};
use super::message::{trim, Message};
use crate::http::message::Version;
use bytes::{Buf, BytesMut};
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use fulcrum_config::model_extras::{CompAlgo, Compression};
use std::io::Write;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// The settings that apply: the backend's algorithms (or types) when it has any, else the
/// frontend's, as HAProxy gives the backend priority.
fn algos<'a>(be: Option<&'a Compression>, fe: Option<&'a Compression>) -> &'a [CompAlgo] {
    match (be, fe) {
        (Some(b), _) if !b.algos.is_empty() => &b.algos,
        (_, Some(f)) => &f.algos,
        _ => &[],
    }
}

fn types<'a>(be: Option<&'a Compression>, fe: Option<&'a Compression>) -> &'a [String] {
    match (be, fe) {
        (Some(b), _) if !b.types.is_empty() => &b.types,
        (_, Some(f)) => &f.types,
        _ => &[],
    }
}

/// `tune.comp.maxlevel` as it reached this proxy's settings (HAProxy's default 1).
pub fn level(be: Option<&Compression>, fe: Option<&Compression>) -> u32 {
    be.or(fe).and_then(|c| c.maxlevel).unwrap_or(1)
}

/// Old agents announcing "Mozilla/4" get no compression unless MSIE 6 SV1 or MSIE 7+.
fn agent_refuses(ua: &[u8]) -> bool {
    ua.len() >= 9
        && ua.starts_with(b"Mozilla/4")
        && (ua.len() < 31
            || &ua[25..30] != b"MSIE "
            || ua[30] < b'6'
            || (ua[30] == b'6' && (ua.len() < 54 || &ua[51..54] != b"SV1")))
}

/// A q-value in thousandths ("1", "0.5", "0.125"); malformed reads as far as it parses.
fn qvalue(v: &[u8]) -> u32 {
    let v = trim(v);
    match v.first() {
        Some(b'1') => 1000,
        Some(b'0') => {
            let mut q = 0;
            let mut scale = 100;
            for &c in v.iter().skip(2).take(3) {
                if !c.is_ascii_digit() || v.get(1) != Some(&b'.') {
                    break;
                }
                q += u32::from(c - b'0') * scale;
                scale /= 10;
            }
            q
        }
        _ => 0,
    }
}

fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Chooses the algorithm for this request (None: no compression), and with `offload`
/// removes `Accept-Encoding` from the request.
pub fn on_request(
    be: Option<&Compression>,
    fe: Option<&Compression>,
    req: &mut Message,
) -> Option<CompAlgo> {
    let list = algos(be, fe);
    if list.is_empty() || req.header(b"user-agent").is_some_and(agent_refuses) {
        return None;
    }
    let mut best: Option<CompAlgo> = None;
    let mut best_q = 0;
    for v in req.headers(b"accept-encoding") {
        for item in v.split(|&c| c == b',') {
            let item = trim(item);
            let toklen = item.iter().take_while(|&&c| is_token(c)).count();
            let (tok, params) = item.split_at(toklen);
            let q = params
                .split(|&c| c == b';')
                .map(trim)
                .find_map(|p| p.strip_prefix(b"q="))
                .map_or(1000, qvalue);
            if q <= best_q {
                continue;
            }
            let hit = list.iter().find(|a| {
                item.first() == Some(&b'*') || tok.eq_ignore_ascii_case(a.token().as_bytes())
            });
            if let Some(a) = hit {
                best = Some(*a);
                best_q = q;
            }
        }
    }
    if best.is_some() {
        if be.is_some_and(|c| c.offload) || fe.is_some_and(|c| c.offload) {
            req.remove(b"accept-encoding");
        }
        return best;
    }
    // identity needs no header from the client
    list.iter().copied().find(|a| *a == CompAlgo::Identity)
}

/// Whether this response is compressed with `algo`; if so its head is rewritten (no
/// `Content-Length`, chunked, `Content-Encoding`, `Vary`, weak `ETag`).
pub fn on_response(
    algo: CompAlgo,
    be: Option<&Compression>,
    fe: Option<&Compression>,
    req: &Message,
    res: &mut Message,
    framing: Framing,
) -> bool {
    // `maxcompcpuusage`: not while the process is busier than the limit (`cpu_usage.rs`)
    if req.version == Version::Http10
        || crate::cpu_usage::over_limit()
        || res.version == Version::Http10
        || req.is_head()
        || !(200..=203).contains(&res.status)
    {
        return false;
    }
    if !matches!(framing, Framing::Chunked | Framing::Length(_)) {
        return false;
    }
    if res.has_header(b"content-encoding") || res.has_token(b"cache-control", b"no-transform") {
        return false;
    }
    if res.headers(b"etag").count() > 1 {
        return false;
    }
    let etag = res.header(b"etag").map(<[u8]>::to_vec);
    let weak = match etag.as_deref().map(trim) {
        None => None,
        Some(e) if e.starts_with(b"W/\"") => None,
        Some(e) if e.starts_with(b"\"") => Some([b"W/".as_slice(), e].concat()),
        Some(_) => return false,
    };
    let wanted = types(be, fe);
    match res.header(b"content-type") {
        Some(ct) => {
            let ct = trim(ct);
            let starts = |p: &[u8]| ct.len() >= p.len() && ct[..p.len()].eq_ignore_ascii_case(p);
            if starts(b"multipart") {
                return false;
            }
            if !wanted.is_empty() && !wanted.iter().any(|t| starts(t.as_bytes())) {
                return false;
            }
        }
        None if !wanted.is_empty() => return false,
        None => {}
    }
    res.remove(b"content-length");
    if framing != Framing::Chunked {
        res.append(b"transfer-encoding", b"chunked");
    }
    // the same fields in the same order as HAProxy 2.6 (the ETag keeps its place)
    if let Some(w) = weak {
        if let Some(i) = res
            .fields
            .iter()
            .position(|f| res.name(f).eq_ignore_ascii_case(b"etag"))
        {
            res.set_value_at(i, &w);
        }
    }
    res.append(b"vary", b"Accept-Encoding");
    if algo != CompAlgo::Identity {
        res.append(b"content-encoding", algo.token().as_bytes());
    }
    true
}

/// A streaming compressor writing HTTP/1.1 chunks.
pub enum Encoder {
    Identity,
    Gzip(GzEncoder<Vec<u8>>),
    Deflate(ZlibEncoder<Vec<u8>>),
    RawDeflate(DeflateEncoder<Vec<u8>>),
}

impl Encoder {
    /// `level`: `tune.comp.maxlevel` (HAProxy's default 1).
    pub fn new(algo: CompAlgo, level: u32) -> Self {
        let level = flate2::Compression::new(level.clamp(1, 9));
        match algo {
            CompAlgo::Identity => Encoder::Identity,
            CompAlgo::Gzip => Encoder::Gzip(GzEncoder::new(Vec::new(), level)),
            CompAlgo::Deflate => Encoder::Deflate(ZlibEncoder::new(Vec::new(), level)),
            CompAlgo::RawDeflate => Encoder::RawDeflate(DeflateEncoder::new(Vec::new(), level)),
        }
    }

    /// Compresses `data` and flushes; the output so far, framed as one chunk, goes to `out`.
    /// Returns the encoded bytes (without the chunk framing).
    pub fn chunk(&mut self, data: &[u8], out: &mut Vec<u8>) -> std::io::Result<usize> {
        let piece = match self {
            Encoder::Identity => return Ok(put_chunk(data, out)),
            Encoder::Gzip(e) => {
                e.write_all(data)?;
                e.flush()?;
                std::mem::take(e.get_mut())
            }
            Encoder::Deflate(e) => {
                e.write_all(data)?;
                e.flush()?;
                std::mem::take(e.get_mut())
            }
            Encoder::RawDeflate(e) => {
                e.write_all(data)?;
                e.flush()?;
                std::mem::take(e.get_mut())
            }
        };
        Ok(put_chunk(&piece, out))
    }

    /// Ends the stream: its last bytes as a chunk, then the last chunk; returns the encoded
    /// bytes (without the chunk framing).
    pub fn finish(self, out: &mut Vec<u8>) -> std::io::Result<usize> {
        let tail = match self {
            Encoder::Identity => Vec::new(),
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Deflate(e) => e.finish()?,
            Encoder::RawDeflate(e) => e.finish()?,
        };
        let n = put_chunk(&tail, out);
        out.extend_from_slice(b"0\r\n\r\n");
        Ok(n)
    }
}

fn put_chunk(data: &[u8], out: &mut Vec<u8>) -> usize {
    if data.is_empty() {
        return 0;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    data.len()
}

/// Streams one body of `framing` from `src` (already-read bytes in `buf`) to `dst`,
/// compressed and chunked. Bytes after the body stay in `buf`; trailers of a chunked body
/// are not forwarded. Returns the body bytes read, the encoded bytes (HAProxy's `comp_out`),
/// and the bytes written to `dst`.
#[allow(clippy::too_many_arguments)]
pub async fn forward<S: AsyncRead + Unpin, D: AsyncWrite + Unpin>(
    mut enc: Encoder,
    framing: Framing,
    src: &mut S,
    buf: &mut BytesMut,
    dst: &mut D,
    bufsize: usize,
    src_timeout: Option<Duration>,
    dst_timeout: Option<Duration>,
) -> Result<(u64, u64, u64), BodyError> {
    let mut out = Vec::with_capacity(bufsize);
    let mut sent = 0u64;
    let mut read = 0u64;
    let mut packed = 0u64;
    let mut plain = Vec::new();
    let mut left = match framing {
        Framing::Length(n) => n,
        _ => 0,
    };
    let mut ch = Chunked::default();
    loop {
        plain.clear();
        let done = match framing {
            Framing::Length(_) => {
                let n = (buf.len() as u64).min(left) as usize;
                plain.extend_from_slice(&buf[..n]);
                buf.advance(n);
                left -= n as u64;
                left == 0
            }
            Framing::Chunked => {
                let n = ch
                    .advance_with(buf, |d| plain.extend_from_slice(d))
                    .map_err(|_| BodyError::Invalid)?;
                buf.advance(n);
                ch.done()
            }
            Framing::None | Framing::UntilClose => true,
        };
        out.clear();
        read += plain.len() as u64;
        if !plain.is_empty() {
            packed += enc
                .chunk(&plain, &mut out)
                .map_err(|_| BodyError::Invalid)? as u64;
        }
        if done {
            packed += enc.finish(&mut out).map_err(|_| BodyError::Invalid)? as u64;
            write_all(dst, &out, dst_timeout).await?;
            return Ok((read, packed, sent + out.len() as u64));
        }
        if !out.is_empty() {
            write_all(dst, &out, dst_timeout).await?;
            sent += out.len() as u64;
        }
        if read_some(src, buf, bufsize, src_timeout).await? == 0 {
            return Err(BodyError::SrcClosed);
        }
    }
}

/// Counts one compressed (or bypassed, `Identity`) answer in the `comp_*` columns of the
/// frontend's and backend's counters: bytes in, bytes out, one response.
pub fn count(counters: [&crate::counters::Counters; 2], bypass: bool, plain: u64, packed: u64) {
    use crate::counters::Ctr;
    let input = if bypass { Ctr::CompByp } else { Ctr::CompIn };
    for c in counters {
        c.add(input, plain);
        c.add(Ctr::CompOut, packed);
        c.inc(Ctr::CompRsp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn req(head: &str) -> Message {
        let mut m = Message::new();
        let _ = m.parse_request(head.as_bytes());
        m
    }

    fn res(head: &str) -> Message {
        let mut m = Message::new();
        let _ = m.parse_response(head.as_bytes());
        m
    }

    fn comp(algos: &[CompAlgo], types: &[&str], offload: bool) -> Compression {
        Compression {
            algos: algos.to_vec(),
            types: types.iter().map(|t| t.to_string()).collect(),
            offload,
            maxlevel: None,
        }
    }

    use CompAlgo::*;

    #[test]
    fn accept_encoding_negotiation() {
        // config list as HAProxy holds it for `algo gzip deflate`: deflate first
        let c = comp(&[Deflate, Gzip], &[], false);
        let pick = |ae: &str| {
            let mut r = req(&format!("GET / HTTP/1.1\r\nAccept-Encoding: {ae}\r\n\r\n"));
            on_request(Some(&c), None, &mut r)
        };
        assert_eq!(pick("gzip, deflate"), Some(Gzip));
        assert_eq!(pick("deflate, gzip"), Some(Deflate));
        assert_eq!(pick("gzip;q=0.5, deflate;q=0.8"), Some(Deflate));
        assert_eq!(pick("gzip;q=0, br"), None);
        assert_eq!(pick("*"), Some(Deflate));
        assert_eq!(pick("GZIP"), Some(Gzip));
        assert_eq!(pick("x-gzip"), None);
        let mut r = req("GET / HTTP/1.1\r\n\r\n");
        assert_eq!(on_request(Some(&c), None, &mut r), None);
    }

    #[test]
    fn backend_settings_win_and_offload_strips_the_header() {
        let fe = comp(&[Gzip], &[], true);
        let be = comp(&[Deflate], &[], false);
        let mut r = req("GET / HTTP/1.1\r\nAccept-Encoding: gzip, deflate\r\n\r\n");
        assert_eq!(on_request(Some(&be), Some(&fe), &mut r), Some(Deflate));
        assert!(!r.has_header(b"accept-encoding"));
        let mut r = req("GET / HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
        assert_eq!(on_request(None, Some(&fe), &mut r), Some(Gzip));
        assert!(!r.has_header(b"accept-encoding"));
    }

    #[test]
    fn old_mozilla_4_agents_get_nothing() {
        let c = comp(&[Gzip], &[], false);
        let mut r =
            req("GET / HTTP/1.1\r\nUser-Agent: Mozilla/4.0 (X11)\r\nAccept-Encoding: gzip\r\n\r\n");
        assert_eq!(on_request(Some(&c), None, &mut r), None);
        let mut r = req("GET / HTTP/1.1\r\nUser-Agent: Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)\r\nAccept-Encoding: gzip\r\n\r\n");
        assert_eq!(on_request(Some(&c), None, &mut r), Some(Gzip));
    }

    #[test]
    fn only_eligible_responses_are_rewritten() {
        let c = comp(&[Gzip], &["text/"], false);
        let get = req("GET / HTTP/1.1\r\n\r\n");
        let check = |head: &str, r: &Message, framing: Framing| {
            let mut m = res(head);
            on_response(Gzip, None, Some(&c), r, &mut m, framing).then_some(m)
        };
        let ok = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\n";
        let m = check(ok, &get, Framing::Length(5)).expect("compressed");
        assert!(!m.has_header(b"content-length"));
        assert_eq!(m.header(b"transfer-encoding"), Some(&b"chunked"[..]));
        assert_eq!(m.header(b"content-encoding"), Some(&b"gzip"[..]));
        assert_eq!(m.header(b"vary"), Some(&b"Accept-Encoding"[..]));
        assert_eq!(m.header(b"etag"), Some(&b"W/\"x\""[..]));
        let head = req("HEAD / HTTP/1.1\r\n\r\n");
        assert!(check(ok, &head, Framing::Length(5)).is_none());
        let old = req("GET / HTTP/1.0\r\n\r\n");
        assert!(check(ok, &old, Framing::Length(5)).is_none());
        for bad in [
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n",
            "HTTP/1.1 200 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: br\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nCache-Control: public, no-transform\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: \"a\"\r\nETag: \"b\"\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: bare\r\n\r\n",
        ] {
            assert!(check(bad, &get, Framing::Chunked).is_none(), "{bad}");
        }
        assert!(check(ok, &get, Framing::UntilClose).is_none());
        assert!(check(ok, &get, Framing::None).is_none());
    }

    fn dechunk(mut b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let nl = b.windows(2).position(|w| w == b"\r\n").expect("size line");
            let n = usize::from_str_radix(std::str::from_utf8(&b[..nl]).expect("utf8"), 16)
                .expect("hex");
            b = &b[nl + 2..];
            if n == 0 {
                assert_eq!(b, b"\r\n");
                return out;
            }
            out.extend_from_slice(&b[..n]);
            assert_eq!(&b[n..n + 2], b"\r\n");
            b = &b[n + 2..];
        }
    }

    #[test]
    fn every_algorithm_decodes_to_the_same_bytes() {
        let body: Vec<u8> = (0..50_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        for algo in [Identity, Gzip, Deflate, RawDeflate] {
            let mut enc = Encoder::new(algo, 1);
            let mut out = Vec::new();
            for piece in body.chunks(7000) {
                enc.chunk(piece, &mut out).expect("compress");
            }
            enc.finish(&mut out).expect("finish");
            let wire = dechunk(&out);
            let mut back = Vec::new();
            match algo {
                Identity => back = wire.clone(),
                Gzip => {
                    flate2::read::GzDecoder::new(&wire[..])
                        .read_to_end(&mut back)
                        .expect("gz");
                }
                Deflate => {
                    flate2::read::ZlibDecoder::new(&wire[..])
                        .read_to_end(&mut back)
                        .expect("zlib");
                }
                RawDeflate => {
                    flate2::read::DeflateDecoder::new(&wire[..])
                        .read_to_end(&mut back)
                        .expect("raw");
                }
            }
            assert_eq!(back, body, "{algo:?}");
            if algo != Identity {
                assert!(wire.len() < body.len() / 3, "{algo:?} compresses");
            }
        }
    }
}
