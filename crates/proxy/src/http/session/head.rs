//! Phase "read head" of an HTTP request: wait for the client (without a buffer while idle),
//! read and parse the request head within `timeout http-request` (the first request, from
//! the accept) or `timeout http-keep-alive` (later ones), and tell apart an idle close, a
//! timeout, a head too large and an invalid one.

use super::{HeadError, Received, Session, Turn};
use crate::http::body;
use crate::http::h1::ParseError;
use crate::http::validate::{self, Refused};
use crate::stream::ClientStream;
use tokio::io::AsyncReadExt;

impl<C: ClientStream> Session<C> {
    /// Parses the head in `cbuf`, with the forms HAProxy tolerates made parseable first
    /// (`validate::normalize`), then HAProxy's checks of the result (`validate::request`).
    fn parse_head(&mut self) -> Result<Option<usize>, HeadError> {
        let limits = self.fe.h1_req;
        let r = match self.bufs.req.parse_request_with(&self.bufs.cbuf, &limits) {
            Err(ParseError::Invalid) => match validate::normalize(&self.bufs.cbuf) {
                Err(Refused(status)) => return Err(HeadError::Refused(status)),
                Ok(Some(copy)) => self.bufs.req.parse_request_with(&copy, &limits),
                Ok(None) => return Err(HeadError::Invalid),
            },
            r => r,
        };
        match r {
            Ok(Some(n)) => match validate::request(&self.bufs.req, limits.accept_invalid) {
                // An invalid Content-Length, a coding other than `chunked` last, `chunked`
                // twice: refused with the head, before any rule, as HAProxy's H1 parser.
                Ok(()) if !crate::http::body::request_framing_valid(&self.bufs.req) => {
                    Err(HeadError::Refused(400))
                }
                Ok(()) => Ok(Some(n)),
                Err(Refused(status)) => Err(HeadError::Refused(status)),
            },
            Ok(None) => Ok(None),
            Err(_) => Err(HeadError::Invalid),
        }
    }

    /// Reads one request head into `self.bufs.req`; returns its length in `cbuf`. `now`: the
    /// caller's clock reading (`clock::monotonic_ns`), just taken (the wait starts from it:
    /// no second reading). `arrived`: set to when the first byte of the head came, if it was
    /// not here already.
    pub(super) async fn read_head(
        &mut self,
        turn: Turn,
        now: u64,
        arrived: &mut Option<u64>,
    ) -> Result<usize, HeadError> {
        let first = turn == Turn::First;
        let fe = &*self.fe;
        let req_timeout = fe.timeouts.http_request.or(fe.timeouts.client);
        let idle_timeout = if first {
            req_timeout
        } else {
            fe.timeouts.http_keep_alive.or(req_timeout)
        };
        // A resumed connection (`park`) keeps the deadline its wait began with.
        let from = if first {
            0
        } else {
            self.wait_from.take().unwrap_or(now)
        };
        let start = if first {
            self.started
        } else {
            tokio::time::Instant::from_std(crate::clock::instant_of(from))
        };
        // (read again after a wake with nothing to read)
        let mut now = Some(now);
        let (limit, bufsize) = (fe.head_limit, fe.bufsize);
        loop {
            if !self.bufs.cbuf.is_empty() {
                match self.parse_head() {
                    Ok(Some(n)) if n <= limit => return Ok(n),
                    Ok(Some(_)) => return Err(HeadError::TooLarge),
                    Ok(None) if self.bufs.cbuf.len() >= limit => return Err(HeadError::TooLarge),
                    Ok(None) => {}
                    Err(e) => return Err(e),
                }
            }
            let empty = self.bufs.cbuf.is_empty();
            let deadline = if empty { idle_timeout } else { req_timeout }.map(|d| start + d);
            if empty && self.bufs.cbuf.capacity() == 0 {
                // No buffers (an idle connection holds none): wait for readiness, then take a
                // set from the thread's pool and read; a wake with nothing to read gives it
                // back and waits again.
                // Quiet for `PARK_AFTER` between requests: parked without its task (`park`).
                let park_at = (C::PARK && !first)
                    .then(|| {
                        let now = now.take().unwrap_or_else(crate::clock::monotonic_ns);
                        crate::park::park_at(now)
                    })
                    .filter(|p| deadline.is_none_or(|d| *p < d));
                let ready = self.client.ready();
                let stop = self.stop.changed();
                tokio::select! {
                    // (in order: no random pick per poll, ~50 instructions)
                    biased;
                    r = ready => { if !matches!(r, Ok(n) if n > 0) { return Err(HeadError::Idle); } }
                    _ = stop, if !first => return Err(HeadError::Idle),
                    _ = self.alarm.until(park_at.or(deadline)) => return Err(if park_at.is_some() {
                        // The resumed session's wait (deadlines, `%Ti`) began here.
                        self.wait_from = Some(from);
                        HeadError::Park(deadline)
                    } else if first {
                        HeadError::Timeout(Received::Nothing)
                    } else {
                        HeadError::Idle
                    }),
                }
                self.acquire_bufs();
                match self.client.try_read_buf(&mut self.bufs.cbuf) {
                    // This stream reads asynchronously below (`ready` was exact).
                    None => {}
                    // A short read: the end-of-request check reads nothing more.
                    Some(Ok(n)) if n > 0 => {
                        *arrived = Some(crate::clock::monotonic_ns());
                        drained_if_short(&self.client, &self.bufs.cbuf)
                    }
                    Some(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        self.release_bufs()
                    }
                    Some(_) if first => return Err(HeadError::Aborted(Received::Nothing)),
                    Some(_) => return Err(HeadError::Idle),
                }
                continue;
            }
            if empty {
                // Between requests: one read, interrupted by a stop or the keep-alive timeout
                // (`read_buf` is cancel-safe: nothing is lost when another branch wins).
                let read = self.client.read_buf(&mut self.bufs.cbuf);
                let stop = self.stop.changed();
                tokio::select! {
                    // (in order: no random pick per poll, ~50 instructions)
                    biased;
                    r = read => match r {
                        Ok(0) | Err(_) if first => return Err(HeadError::Aborted(Received::Nothing)),
                        Ok(0) | Err(_) => return Err(HeadError::Idle),
                        Ok(_) => {
                            *arrived = Some(crate::clock::monotonic_ns());
                            continue
                        }
                    },
                    _ = stop, if !first => return Err(HeadError::Idle),
                    _ = self.alarm.until(deadline) => return Err(if first { HeadError::Timeout(Received::Nothing) } else { HeadError::Idle }),
                }
            }
            let read = body::read_some(&mut self.client, &mut self.bufs.cbuf, bufsize, None);
            tokio::select! {
                // (in order: no random pick per poll, ~50 instructions)
                biased;
                r = read => match r {
                    Ok(0) | Err(_) => return Err(HeadError::Aborted(Received::Part)),
                    Ok(_) => {}
                },
                _ = self.alarm.until(deadline) => return Err(HeadError::Timeout(Received::Part)),
            }
        }
    }
}

/// Tells `client` a read into `buf` came back short (see `ClientStream::drained`).
pub(super) fn drained_if_short<C: ClientStream>(client: &C, buf: &bytes::BytesMut) {
    if buf.len() < buf.capacity() {
        client.drained();
    }
}
