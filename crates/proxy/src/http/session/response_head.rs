//! Phase "read the response head" of the exchange: read the server's answer into `sbuf`
//! within `timeout server` until its head parses (the HTTP/1 codec, `h1`), telling apart a
//! connection closed before any byte (which may be replayed), a timeout and an invalid or
//! truncated head.

use super::Session;
use crate::backend::Backend;
use crate::connect::ServerStream;
use crate::http::body::{self, BodyError};
use crate::stream::ClientStream;
use std::time::Duration;

/// Why no response head was read.
pub(super) enum ResError {
    Timeout,
    /// Closed before a byte of the answer.
    Closed,
    /// Closed (or failed) within the head: the server's abort (`SH`), junk for `retry-on`.
    Cut,
    /// An answer that does not parse, or a head larger than the buffer: the proxy's refusal
    /// (`PH`).
    Invalid,
}

impl<C: ClientStream> Session<C> {
    pub(super) async fn read_response_head<S: ServerStream>(
        &mut self,
        server: &mut S,
        t: Option<Duration>,
        be: &Backend,
    ) -> Result<usize, ResError> {
        let limits = crate::http::h1::Limits {
            max_headers: self.fe.h1_req.max_headers,
            accept_invalid: be.options.h1.accept_invalid_response,
        };
        loop {
            if !self.bufs.sbuf.is_empty() {
                match self.bufs.res.parse_response_with(&self.bufs.sbuf, &limits) {
                    Ok(Some(n)) => return Ok(n),
                    Ok(None) if self.bufs.sbuf.len() >= self.fe.bufsize => {
                        return Err(ResError::Invalid)
                    }
                    Ok(None) => {}
                    Err(_) => return Err(ResError::Invalid),
                }
            }
            // `timeout server` on the session's armed timer (`alarm`), polled only when
            // the answer is not there at once.
            let read = body::read_some(server, &mut self.bufs.sbuf, self.fe.bufsize, None);
            let r = tokio::select! {
                biased;
                r = read => r,
                _ = self.alarm.after(t) => Err(BodyError::SrcTimeout),
            };
            match r {
                Ok(0) => {
                    return Err(if self.bufs.sbuf.is_empty() {
                        ResError::Closed
                    } else {
                        ResError::Cut
                    })
                }
                Ok(_) => {
                    if self.bufs.sbuf.len() < self.bufs.sbuf.capacity() {
                        // Short read: the next request's answer waits for readiness.
                        server.drained();
                    }
                }
                Err(BodyError::SrcTimeout) => return Err(ResError::Timeout),
                Err(_) => {
                    return Err(if self.bufs.sbuf.is_empty() {
                        ResError::Closed
                    } else {
                        ResError::Cut
                    })
                }
            }
        }
    }
}
