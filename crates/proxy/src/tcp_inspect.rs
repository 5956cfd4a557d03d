//! The content-inspection phase of a TCP session (`tcp-request inspect-delay` with
//! `tcp-request content` rules reading `req.len`, `req.payload*`, a ClientHello,
//! `wait_end`): the client's first bytes are read and kept, and the rules run again, from
//! the first, each time more arrive, until one decides, the delay runs out, the buffer is
//! full (`tune.bufsize - tune.maxrewrite`) or the client closes its side; then a last time on
//! what there is (HAProxy's `SMP_OPT_FINAL`). The kept bytes go to the server first (the
//! opening writes them before relaying). Without an inspect delay the rules run once, on
//! what has arrived, as HAProxy's do.
//!
//! HTTP fetches on these raw bytes (`req.hdr()`, `path`, `method`, `req.proto_http`/`HTTP`...
//! in a `mode tcp` proxy): as HAProxy 2.6's `smp_prefetch_htx` in raw mode, the kept bytes are
//! parsed as an HTTP/1 request head; while the head is incomplete and the buffer not full the
//! fetches have no value yet and may change (the rules wait), an invalid head has none.

use crate::http::message::Message;
use crate::payload::Channel;
use crate::stream::ClientStream;
use bytes::BytesMut;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

/// The client's bytes read during inspection, and whether waiting is over.
#[derive(Debug)]
pub struct Inspect {
    pub kept: BytesMut,
    /// No more waiting: delay over (or none), buffer full, or the client closed.
    pub last: bool,
    /// The client closed its side (or failed): nothing more will come.
    ended: bool,
    deadline: Option<Instant>,
    limit: usize,
    size: usize,
    /// The kept bytes parsed as an HTTP/1 request head.
    http: RawHttp,
}

/// What the kept bytes are as an HTTP/1 request head.
#[derive(Debug)]
enum RawHttp {
    /// A start of one, not complete yet.
    Partial,
    /// Not a request head.
    Invalid,
    Complete(Box<Message>),
}

/// Parses `bytes` as a request head the way the HTTP session does (with the forms HAProxy
/// tolerates made parseable first).
fn parse_http(bytes: &[u8]) -> RawHttp {
    use crate::http::h1::ParseError;
    let mut m = Message::new();
    let r = match m.parse_request(bytes) {
        Err(ParseError::Invalid) => match crate::http::validate::normalize(bytes) {
            Ok(Some(copy)) => m.parse_request(&copy),
            _ => return RawHttp::Invalid,
        },
        r => r,
    };
    match r {
        Ok(Some(_)) => RawHttp::Complete(Box::new(m)),
        Ok(None) => RawHttp::Partial,
        Err(_) => RawHttp::Invalid,
    }
}

impl Inspect {
    /// Inspection for up to `delay` (none: rules decide on what is there), keeping at most
    /// `limit` bytes of a `size`-byte buffer.
    pub fn new(delay: Option<Duration>, limit: usize, size: usize) -> Inspect {
        Inspect {
            kept: BytesMut::new(),
            last: delay.is_none(),
            ended: false,
            deadline: delay.map(|d| Instant::now() + d),
            limit: limit.max(1),
            size,
            http: RawHttp::Partial,
        }
    }

    /// The kept bytes as an HTTP/1 request, once they hold a complete, valid head.
    pub fn request(&self) -> Option<&Message> {
        match &self.http {
            RawHttp::Complete(m) => Some(m),
            _ => None,
        }
    }

    /// A further phase (a backend's `tcp-request content` rules) on the same bytes, with
    /// its own delay.
    pub fn again(&mut self, delay: Option<Duration>) {
        let full = self.kept.len() >= self.limit;
        self.deadline = delay.map(|d| Instant::now() + d);
        self.last = delay.is_none() || full || self.ended;
    }

    /// The bytes as the fetches see them.
    pub fn channel(&self) -> Channel<'_> {
        let mut c = Channel::raw(&self.kept, self.last, self.size);
        c.http_partial = matches!(self.http, RawHttp::Partial) && self.kept.len() < self.limit;
        c
    }

    /// The bytes as `use_backend` sees them (after the inspect phase: final).
    pub fn final_channel(&self) -> Channel<'_> {
        Channel::raw(&self.kept, true, self.size)
    }

    /// Waits for more client bytes; sets [`Inspect::last`] when no more will be waited for.
    pub async fn more<C: ClientStream>(&mut self, client: &mut C) {
        let Some(deadline) = self.deadline else {
            self.last = true;
            return;
        };
        let room = self.limit.saturating_sub(self.kept.len());
        if room == 0 {
            self.last = true;
            return;
        }
        let mut chunk = vec![0u8; room.min(16_384)];
        match tokio::time::timeout_at(deadline, client.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.kept.extend_from_slice(&chunk[..n]);
                self.http = parse_http(&self.kept);
                if self.kept.len() >= self.limit {
                    self.last = true;
                }
            }
            Ok(_) => {
                self.ended = true;
                self.last = true;
            }
            // Out of time: decide on what there is.
            Err(_) => self.last = true,
        }
    }
}

/// `tcp-response content` rules on the server's first bytes (HAProxy's response
/// inspection): the bytes are read and kept while a rule waits on them (`res.len`,
/// `res.payload*`, within `tcp-response inspect-delay`); what the rules decide, and the
/// bytes to hand to the client. `base`: the session's view without the response bytes;
/// `moved`: the session's, for a `set-log-level`.
pub async fn response<S: ClientStream>(
    server: &mut S,
    rules: &[crate::tcp_rules::Rule],
    delay: Option<Duration>,
    (limit, size): (usize, usize),
    (base, moved): (&crate::acl::Ctx<'_>, &crate::tcp_rules::Moved),
) -> (crate::tcp_rules::ResVerdict, BytesMut) {
    let mut ins = Inspect::new(delay, limit, size);
    if delay.is_some() && crate::tcp_rules::inspects(rules) {
        // The server has sent its first byte (the opening saw it): start from that.
        ins.more(server).await;
    }
    loop {
        let seen = crate::http::sample_env::Situation {
            res_data: Some(ins.channel()),
            ..*base.situation()
        };
        let ctx = seen.view(base.req, base.res);
        if let Some(v) = crate::tcp_rules::decide_response(rules, &ctx, moved) {
            return (v, ins.kept);
        }
        ins.more(server).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes_as_an_http_head() {
        assert!(matches!(
            parse_http(b"GET / HTTP/1.1\r\nHo"),
            RawHttp::Partial
        ));
        assert!(matches!(parse_http(b"SSH-2.0-x\r\n"), RawHttp::Invalid));
        let RawHttp::Complete(m) = parse_http(b"GET /p HTTP/1.1\r\nHost: a\r\n\r\nrest") else {
            panic!("complete head");
        };
        assert_eq!((m.method(), m.path()), (&b"GET"[..], &b"/p"[..]));
        // A partial head may change only while the buffer has room and waiting goes on.
        let mut ins = Inspect::new(Some(Duration::from_secs(1)), 8, 16);
        ins.kept.extend_from_slice(b"GET / H");
        ins.http = parse_http(&ins.kept);
        assert!(ins.channel().http_partial && ins.request().is_none());
        ins.kept.extend_from_slice(b"T");
        assert!(!ins.channel().http_partial, "buffer full");
    }
}
