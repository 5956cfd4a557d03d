//! The client codec's edge for answers the proxy makes itself: a neutral
//! [`Response`](crate::http::response::Response) (an error page, `return`, a redirect, an
//! applet's page, a cache hit) is written as HTTP/1 by the H1 codec, or sent by the HTTP/2
//! edge as a HEADERS frame from its head (`send_head`) and DATA frames for its body; the same
//! for interim answers (`100 Continue`, the proxy's or the server's). No HTTP/1 bytes are
//! made for an HTTP/2 client, and none are parsed back.

use super::Session;
use crate::http::body;
use crate::http::response::{Close, Part, Response};
use crate::stream::ClientStream;

/// What an answer cost: the bytes counted as sent (its HTTP/1 size, whatever the codec, as
/// the counters have always counted it) and its size as HAProxy's `%B` counts it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sent {
    pub(super) wire: u64,
    pub(super) log: u64,
    /// The status sent (`http-after-response set-status` may have changed it): logged.
    pub(super) status: u16,
}

impl Sent {
    /// `%B` minus the bytes sent (the log line's adjustment, `Rec::log_adjust`).
    pub(super) fn log_adjust(self) -> i64 {
        self.log as i64 - self.wire as i64
    }
}

impl<C: ClientStream> Session<C> {
    /// Sends `resp` to the client through its codec: the head, then the body unless the
    /// request is HEAD (HAProxy sends a reply's head only then). `close`: the HTTP/1 codec
    /// announces the end of the connection. `Err` when the client is gone; the figures
    /// either way.
    pub(super) async fn send_answer(
        &mut self,
        resp: &Response,
        close: Close,
        part: Part,
        be: Option<&crate::backend::Backend>,
    ) -> Result<Sent, Sent> {
        let after = self.after_local_answer(resp, be);
        let resp = after.as_ref().unwrap_or(resp);
        let sent = Sent {
            wire: resp.h1_len(close, part),
            log: crate::http::log_bytes::head(&resp.head) + resp.body_len(part),
            status: resp.status(),
        };
        let t = self.fe.timeouts.client;
        if let Some(edge) = super::h2_edge(&mut self.client) {
            if edge.send_answer_head(resp).is_err() {
                return Err(sent);
            }
            if part == Part::Whole && !resp.body.is_empty() {
                // A body sent as it is (a known length): handed over without a copy.
                let out = edge.body_out();
                if out.takes_raw() {
                    let body = resp.body.clone();
                    return match crate::http::h2::frames::send_all(out, body, t).await {
                        Ok(()) => Ok(sent),
                        Err(_) => Err(sent),
                    };
                }
                return match body::write_all(&mut self.client, &resp.body, t).await {
                    Ok(()) => Ok(sent),
                    Err(_) => Err(sent),
                };
            }
            return Ok(sent);
        }
        let mut out = std::mem::take(&mut self.bufs.out);
        out.clear();
        resp.write_h1_cased(close, part, client_case(&self.fe), &mut out);
        let r = body::write_all(&mut self.client, &out, t).await;
        self.bufs.out = out;
        r.map(|_| sent).map_err(|_| sent)
    }

    /// Sends the relayed response head in `self.bufs.res` through the client's codec: on HTTP/2 the
    /// edge's HEADERS frame, on HTTP/1 the bytes already written in `self.bufs.out` (with whatever
    /// body bytes followed them). `false` when the client is gone.
    pub(super) async fn send_response_head(&mut self, t: Option<std::time::Duration>) -> bool {
        self.send_response_head_of(t, false).await
    }

    /// [`Self::send_response_head`]; `last`: `out` is the whole answer and the connection is
    /// shut down right after it. On a plain TCP client it is then sent with MSG_MORE: the
    /// `shutdown`'s FIN joins it in one segment instead of following in one of its own (one
    /// loopback packet and its handling less per closed connection; `tunnel.rs` does the same
    /// for a `mode tcp` server's last bytes).
    pub(super) async fn send_response_head_of(
        &mut self,
        t: Option<std::time::Duration>,
        last: bool,
    ) -> bool {
        if let Some(edge) = super::h2_edge(&mut self.client) {
            if edge.send_head(&self.bufs.res).is_err() {
                return false;
            }
            // The head is queued in its HEADERS frame: no bytes follow it here (a write of
            // nothing and a flush were a future and two polls of the stream per answer).
            if self.bufs.out.is_empty() {
                return true;
            }
        } else {
            // With the other sessions' sends of this turn (runtime_turn.rs).
            crate::runtime_turn::after_ready_tasks().await;
        }
        let mut sent = 0;
        if last {
            if let Some(s) = self.client.plain_tcp() {
                let out = &self.bufs.out[..];
                let more = s.try_io(tokio::io::Interest::WRITABLE, || {
                    let flags = libc::MSG_NOSIGNAL | libc::MSG_MORE;
                    socket2::SockRef::from(s).send_with_flags(out, flags)
                });
                match more {
                    Ok(n) if n == out.len() => return true,
                    Ok(n) => sent = n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return false,
                }
            }
        }
        match write_at_once(self.client.plain_tcp(), &self.bufs.out[sent..]) {
            Ok(n) if sent + n == self.bufs.out.len() => true,
            Ok(n) => body::write_all(&mut self.client, &self.bufs.out[sent + n..], t)
                .await
                .is_ok(),
            Err(()) => false,
        }
    }

    /// Which part of an answer to this request goes out: its head only for HEAD.
    pub(super) fn answer_part(&self) -> Part {
        if self.bufs.req.is_head() {
            Part::HeadOnly
        } else {
            Part::Whole
        }
    }

    /// Sends the interim answer in `self.bufs.res` (a server's `1xx`) to the client: written as
    /// HTTP/1, or an informational HEADERS frame on HTTP/2. `false` when the client is gone.
    pub(super) async fn relay_interim(&mut self) -> bool {
        if let Some(edge) = super::h2_edge(&mut self.client) {
            return edge.send_interim(&self.bufs.res).is_ok();
        }
        self.bufs.scratch.clear();
        let case = client_case(&self.fe);
        self.bufs
            .res
            .write_response_cased(&[], case, &mut self.bufs.scratch);
        body::write_all(
            &mut self.client,
            &self.bufs.scratch,
            self.fe.timeouts.client,
        )
        .await
        .is_ok()
    }

    /// The proxy's own `100 Continue` (it waits for the body itself).
    pub(super) async fn send_continue(&mut self) {
        let resp = Response::new(100, b"Continue");
        if let Some(edge) = super::h2_edge(&mut self.client) {
            let _ = edge.send_interim(&resp.head);
            return;
        }
        let _ = self
            .send_answer(&resp, Close::Silent, Part::Whole, None)
            .await;
    }
}

/// The `h1-case-adjust` names to write toward a frontend's HTTP/1 clients
/// (`option h1-case-adjust-bogus-client`).
pub(super) fn client_case(fe: &crate::state::Frontend) -> Option<&crate::http::h1_case::CaseMap> {
    fe.options.h1.case_adjust_client.then_some(&fe.h1_case)
}

/// How many bytes of `data` a plain TCP socket (`tcp`) takes at once: the `send` a
/// `write_all` future would make, without the future, its flush and their polls (~250
/// instructions a head). 0 for another stream or a socket that would block (the caller's
/// `write_all` waits); `Err` when the socket failed.
pub(super) fn write_at_once(tcp: Option<&tokio::net::TcpStream>, data: &[u8]) -> Result<usize, ()> {
    let Some(s) = tcp else { return Ok(0) };
    match s.try_write(data) {
        Ok(n) => Ok(n),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
        Err(_) => Err(()),
    }
}
