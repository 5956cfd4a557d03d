//! One transaction's use of the cache: `http-request cache-use` (compute the key, look up,
//! prepare the answer of a hit: stored head + `Age`, the body unless HEAD or `304`) and
//! `http-response cache-store` (decide, snapshot the head, drop the `Age` it came with; the
//! head is taken again once every `http-response` rule has run, [`CacheTxn::final_head`],
//! as HAProxy stores the head it forwards, before `http-after-response`); the exchange then
//! copies the body as it relays it ([`Tee`]) and [`Pending::finish`] stores the object. HAProxy 2.6's order of checks (`src/cache.c`).

use super::cache::{Cache, Object};
use super::cache_policy::{self as policy, Flags};
use super::cache_vary as vary;
use super::message::Message;
use super::response::Response;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;

/// The current time in seconds since the epoch (HAProxy's `date.tv_sec`).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A response the exchange stores once its body has been relayed.
#[derive(Debug)]
pub struct Pending {
    pub cache: Arc<Cache>,
    key: Vec<u8>,
    object: Object,
}

impl Pending {
    /// The most body bytes the object may have (`max-object-size` minus its head).
    pub fn body_limit(&self) -> usize {
        (self.cache.limits.max_object as usize).saturating_sub(self.object.head_len)
    }

    /// Stores the object with the body relayed to the client.
    pub fn finish(mut self, body: Vec<u8>) -> bool {
        self.object.body = body;
        self.cache.insert(self.key, self.object)
    }
}

#[derive(Debug, Default)]
struct State {
    /// Lookups and hits not yet counted on a proxy.
    lookups: u64,
    hits: u64,
    key: Option<Vec<u8>>,
    flags: Option<Flags>,
    hit: Option<Response>,
    pending: Option<Pending>,
}

/// The cache state of one request (interior mutability: the rules see the environment by
/// shared reference). Empty, and without allocation, for requests that use no cache.
#[derive(Debug, Default)]
pub struct CacheTxn(Mutex<Option<Box<State>>>);

impl CacheTxn {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(g.get_or_insert_with(Default::default))
    }

    /// `http-request cache-use`: computes the key (for every method: a successful unsafe
    /// request invalidates the object), and looks up HTTP/1.1 GET and HEAD requests.
    pub fn use_cache(&self, cache: &Arc<Cache>, req: &Message, now: i64) {
        let flags = policy::request(req);
        let Some(key) = policy::key(req) else {
            self.with(|s| s.flags = Some(flags));
            return;
        };
        let hit = if flags.ignore {
            None
        } else {
            cache
                .get_varied(&key, now, |sig| vary::request_key(req, sig))
                .map(|o| answer(&o, req, now))
        };
        self.with(|s| {
            s.flags = Some(flags);
            s.key = Some(key);
            if !flags.ignore {
                s.lookups += 1;
            }
            if hit.is_some() {
                s.hits += 1;
                s.hit = hit;
            }
        });
    }

    /// The lookups and hits since the last call (`cache_lookups`, `cache_hits` of the proxy
    /// whose rules just ran).
    pub fn take_counts(&self) -> (u64, u64) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.as_mut()
            .map(|s| (std::mem::take(&mut s.lookups), std::mem::take(&mut s.hits)))
            .unwrap_or((0, 0))
    }

    /// The answer of a `cache-use` hit, if any (taken once).
    pub fn take_hit(&self) -> Option<Response> {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.as_mut()?.hit.take()
    }

    /// `http-response cache-store`: decides whether `res` is stored and snapshots its head
    /// (removing the `Age` field it came with, as HAProxy); unsafe methods answered 2xx/3xx
    /// invalidate the object.
    pub fn store(&self, cache: &Arc<Cache>, req: &Message, res: &mut Message, now: i64) {
        let (key, flags) = self.with(|s| (s.key.clone(), s.flags));
        let (Some(flags), true) = (flags, policy::is_11(req)) else {
            return;
        };
        if req.method() != b"GET" {
            if (200..400).contains(&res.status) && policy::unsafe_method(req.method()) {
                if let Some(k) = &key {
                    cache.invalidate(k);
                }
            }
            return;
        }
        let Some(key) = key else { return };
        if res.status != 200 {
            return;
        }
        let head_len = head_size(res);
        let length = res
            .header(b"content-length")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if length.is_some_and(|n| head_len as u64 + n > cache.limits.max_object) {
            return;
        }
        // `process-vary on`: Vary names only accept-encoding and referer (else not stored)
        let signature = match (cache.limits.process_vary, vary::signature(res)) {
            (true, Some(sig)) => sig,
            (false, Some(0)) => 0,
            _ => return,
        };
        let request = match signature {
            0 => [0; 8],
            sig => match vary::request_key(req, sig) {
                Some(k) => k,
                None => return,
            },
        };
        if !policy::storable(flags, res) {
            return;
        }
        cache.replace(&key, signature, &request, now);
        let (keep, own) = policy::lifetime(res, i64::from(cache.limits.max_age), now);
        let mut age = 0;
        if let Some(v) = res.header(b"age") {
            match std::str::from_utf8(v)
                .ok()
                .and_then(|t| t.trim().parse::<i64>().ok())
            {
                Some(a) if a > 0 && a <= own => age = a,
                _ => return,
            }
            res.remove(b"age");
        }
        let secondary = match signature {
            0 => [0; 8],
            _ => match vary::stored_key(res, request) {
                Some(k) => k,
                None => return,
            },
        };
        let (head, head_len) = snapshot(res);
        let object = Object {
            head,
            head_len,
            body: Vec::new(),
            etag: res.header(b"etag").map(<[u8]>::to_vec),
            last_modified: policy::last_modified(res, now),
            stored: now,
            age,
            expire: now + keep,
            signature,
            secondary,
        };
        self.with(|s| {
            s.pending = Some(Pending {
                cache: cache.clone(),
                key,
                object,
            })
        });
    }

    /// The head a pending store keeps: `res` as the `http-response` rules of the backend and
    /// the frontend left it (HAProxy 2.6's cache stores what it forwards: a hit carries the
    /// frontend's `http-response` changes too, not the `http-after-response` ones).
    pub fn final_head(&self, res: &Message) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = g.as_mut().and_then(|s| s.pending.as_mut()) {
            let (head, head_len) = snapshot(res);
            p.object.head = head;
            p.object.head_len = head_len;
        }
    }

    /// The response `cache-store` decided to store, if any (taken once).
    pub fn take_pending(&self) -> Option<Box<Pending>> {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.as_mut()?.pending.take().map(Box::new)
    }
}

/// Adds the lookups and hits of the rules that just ran to their proxy's counters.
pub fn count(txn: &CacheTxn, counters: &crate::counters::Counters) {
    let (lookups, hits) = txn.take_counts();
    if lookups > 0 {
        counters.add(crate::counters::Ctr::CacheLookups, lookups);
    }
    if hits > 0 {
        counters.add(crate::counters::Ctr::CacheHits, hits);
    }
}

/// Fields that describe a connection: not part of a stored object.
fn connection_field(name: &[u8]) -> bool {
    [
        &b"connection"[..],
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"upgrade",
        b"trailer",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

fn head_size(res: &Message) -> usize {
    let fields: usize = res
        .fields
        .iter()
        .map(|f| res.name(f).len() + res.value(f).len() + 4)
        .sum();
    16 + res.reason().len() + fields
}

/// The response's head as stored: version, status, reason and fields without the
/// connection's own (a server's HTTP/1.0 answer is served as HTTP/1.0 on a hit, as HAProxy
/// 2.6 serves its stored start line), and its size written as HTTP/1 without the blank line.
fn snapshot(res: &Message) -> (Message, usize) {
    let mut head = Message::default();
    head.set_status(res.status.min(999), res.reason(), res.version);
    let mut size = 15 + res.reason().len();
    for f in &res.fields {
        if connection_field(res.name(f)) {
            continue;
        }
        head.append(res.name(f), res.value(f));
        size += res.name(f).len() + res.value(f).len() + 4;
    }
    (head, size)
}

/// What a hit sends: the stored head (status `304 Not Modified` for a matching conditional
/// request), `age`, and the body unless the request is HEAD or the answer `304`.
fn answer(o: &Object, req: &Message, now: i64) -> Response {
    let not_modified = policy::not_modified(req, o.etag.as_deref(), o.last_modified);
    let mut r = if not_modified {
        Response::new(304, b"Not Modified")
    } else {
        // The stored status line's version too (`snapshot`).
        let mut r = Response::new(o.head.status, o.head.reason());
        r.head
            .set_status(o.head.status, o.head.reason(), o.head.version);
        r
    };
    for f in &o.head.fields {
        r.head.append(o.head.name(f), o.head.value(f));
    }
    let r = r.field(b"age", o.age_at(now).to_string().as_bytes());
    if !not_modified && req.method() != b"HEAD" {
        r.body(o.body.clone())
    } else {
        r
    }
}

/// A writer that copies what it writes (up to `limit` bytes; past it, the copy is dropped
/// and the object is not stored).
pub struct Tee<'a, W> {
    pub inner: &'a mut W,
    pub copy: Option<Vec<u8>>,
    pub limit: usize,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Tee<'_, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut *this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            let over = this.copy.as_ref().is_some_and(|c| c.len() + n > this.limit);
            if over {
                this.copy = None;
            } else if let Some(c) = this.copy.as_mut() {
                c.extend_from_slice(&buf[..n]);
            }
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::cache::Limits;

    fn msg_req(text: &str) -> Message {
        let mut m = Message::new();
        assert!(matches!(m.parse_request(text.as_bytes()), Ok(Some(_))));
        m
    }

    fn msg_res(text: &str) -> Message {
        let mut m = Message::new();
        assert!(matches!(m.parse_response(text.as_bytes()), Ok(Some(_))));
        m
    }

    fn cache() -> Arc<Cache> {
        Arc::new(Cache::new(
            "t",
            Limits {
                total: 1 << 20,
                max_object: 4096,
                max_age: 240,
                process_vary: false,
                max_secondary: 10,
            },
        ))
    }

    /// One exchange through the transaction API: the answer of a hit, or what was stored.
    fn exchange(c: &Arc<Cache>, req: &str, res: &str, body: &[u8], now: i64) -> Option<Vec<u8>> {
        let t = CacheTxn::default();
        let req = msg_req(req);
        t.use_cache(c, &req, now);
        if let Some(hit) = t.take_hit() {
            let mut out = Vec::new();
            hit.write_h1(
                crate::http::response::Close::Silent,
                crate::http::response::Part::Whole,
                &mut out,
            );
            return Some(out);
        }
        let mut res = msg_res(res);
        t.store(c, &req, &mut res, now);
        if let Some(p) = t.take_pending() {
            p.finish(body.to_vec());
        }
        None
    }

    const GET: &str = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    const OK60: &str = "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nConnection: keep-alive\r\nAge: 10\r\nContent-Length: 5\r\n\r\n";

    #[test]
    fn miss_then_hit_with_age_and_without_connection_fields() {
        let c = cache();
        assert!(exchange(&c, GET, OK60, b"hello", 1000).is_none());
        let hit = exchange(&c, GET, OK60, b"other", 1003).expect("a hit");
        let text = String::from_utf8(hit).expect("utf-8");
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(!text.to_ascii_lowercase().contains("connection"), "{text}");
        assert!(text.ends_with("age: 13\r\n\r\nhello"), "{text}");
        // HEAD: the head only
        let head = exchange(&c, "HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n", OK60, b"", 1003)
            .expect("HEAD is served from the cache");
        assert!(head.ends_with(b"\r\n\r\n"));
        // another host is another object
        assert!(exchange(&c, "GET /a HTTP/1.1\r\nHost: o\r\n\r\n", OK60, b"", 1003).is_none());
    }

    #[test]
    fn conditional_hit_is_304_without_body() {
        let c = cache();
        let res = "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: 2\r\n\r\n";
        exchange(&c, GET, res, b"hi", 0);
        let r = exchange(
            &c,
            "GET /a HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"v1\"\r\n\r\n",
            res,
            b"",
            1,
        )
        .expect("hit");
        let text = String::from_utf8(r).expect("utf-8");
        assert!(text.starts_with("HTTP/1.1 304 Not Modified\r\n"), "{text}");
        assert!(text.ends_with("age: 1\r\n\r\n"), "{text}");
    }

    #[test]
    fn unsafe_method_invalidates() {
        let c = cache();
        exchange(&c, GET, OK60, b"hello", 0);
        exchange(
            &c,
            "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
            OK60,
            b"",
            1,
        );
        assert!(
            exchange(&c, GET, OK60, b"hello", 2).is_none(),
            "invalidated by the POST"
        );
    }

    #[test]
    fn stale_age_oversized_and_http10_are_not_stored() {
        let c = cache();
        let old =
            "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nAge: 100\r\nContent-Length: 1\r\n\r\n";
        exchange(&c, GET, old, b"x", 0);
        assert!(
            exchange(&c, GET, OK60, b"hello", 1).is_none(),
            "Age > max-age: not stored"
        );
        let big = "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 6000\r\n\r\n";
        let c2 = cache();
        exchange(&c2, GET, big, &[0; 6000], 0);
        assert_eq!(c2.available_blocks(), 1024);
        let c3 = cache();
        exchange(&c3, "GET /a HTTP/1.0\r\nHost: h\r\n\r\n", OK60, b"hello", 0);
        assert_eq!(c3.available_blocks(), 1024);
    }

    #[test]
    fn tee_copies_up_to_its_limit() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            use tokio::io::AsyncWriteExt;
            let mut sink = Vec::new();
            let mut t = Tee {
                inner: &mut sink,
                copy: Some(Vec::new()),
                limit: 8,
            };
            t.write_all(b"12345").await.expect("write");
            assert_eq!(t.copy.as_deref(), Some(&b"12345"[..]));
            t.write_all(b"6789").await.expect("write");
            assert!(t.copy.is_none(), "over the limit: nothing stored");
            assert_eq!(sink, b"123456789");
        });
    }
}
