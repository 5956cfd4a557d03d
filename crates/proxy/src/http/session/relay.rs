//! Phase "relay the response body", shared by both server exchanges (an HTTP/1 server's
//! bytes, an HTTP/2 server's DATA frames, each an `AsyncRead`): compressed (`compression`),
//! teed into the cache (`cache-store`), or forwarded as it is; a failure on either side ends
//! the connection with its termination state.

use super::exchange::{Exchange, Step};
use super::{Next, Rec, Session};
use crate::http::body::{self, BodyError, Framing};
use crate::http::body_splice::Splicing;
use crate::http::compress;
use crate::stream::ClientStream;
use crate::termination::Termination;
use tokio::io::AsyncRead;

/// Buffers (`tune.bufsize`, a TLS record each by default) read at a time from the server while
/// relaying a body to an HTTP/1 client over TLS ([`Session::body_read_size`]).
const TLS_RECORDS_PER_READ: usize = 4;

impl<C: ClientStream> Session<C> {
    /// Relays the body after the head was sent; `cached_body`: what `cache-store` already
    /// copied from the first bytes (sent with the head). Not an `async fn`: its future is
    /// [`Self::relay_body_with`]'s, not one holding that one and the arguments beside it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn relay_body<'a, 'x, S: AsyncRead + Unpin>(
        &'a mut self,
        x: &'a Exchange<'x>,
        rec: &'a mut Rec,
        encoder: Option<Box<compress::Encoder>>,
        res_framing: Framing,
        server: &'a mut S,
        cache_store: Option<Box<crate::http::cache_flow::Pending>>,
        cached_body: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<(), Step>> + use<'a, 'x, C, S> {
        let (enc, cache) = (encoder, cache_store);
        let with = (enc, cache, cached_body, None);
        self.relay_body_with(x, rec, res_framing, server, with)
    }

    /// How many bytes of a body forwarded as it is are read from the server at a time: a
    /// buffer (`tune.bufsize`), or [`TLS_RECORDS_PER_READ`] of them for an HTTP/1 client over
    /// TLS. Each write to a TLS client is records encrypted into buffers of their own and a
    /// `writev`: a 100 KB answer read a buffer at a time took ~8.4 reads and ~6.5 `writev`s
    /// (as HAProxy's 16 KB buffers do), four buffers at a time ~4.0 and ~2.6, and the proxy's
    /// CPU per answer 0.88x (bench/tls/run.sh `keepalive-100k`). A plain client's bodies are
    /// spliced or copied a buffer at a time (larger reads measured slower there).
    fn body_read_size(&self) -> usize {
        if !C::H2 && self.client.tls().is_some() {
            self.fe.bufsize.saturating_mul(TLS_RECORDS_PER_READ)
        } else {
            self.fe.bufsize
        }
    }

    /// [`Self::relay_body`], splicing a body forwarded as it is where `splicing` allows.
    #[allow(clippy::type_complexity)]
    pub(super) async fn relay_body_with<S: AsyncRead + Unpin>(
        &mut self,
        x: &Exchange<'_>,
        rec: &mut Rec,
        res_framing: Framing,
        server: &mut S,
        (encoder, cache_store, mut cached_body, splicing): (
            Option<Box<compress::Encoder>>,
            Option<Box<crate::http::cache_flow::Pending>>,
            Vec<u8>,
            Option<Splicing<S, C>>,
        ),
    ) -> Result<(), Step> {
        let fe = self.fe.clone();
        let be = x.be;
        let srv_timeout = x.env.timeouts.server(be.timeouts.server);
        let cli_timeout = fe.timeouts.client;
        let relayed = match encoder {
            Some(enc) => {
                let bypass = matches!(*enc, compress::Encoder::Identity);
                let r = compress::forward(
                    *enc,
                    res_framing,
                    &mut *server,
                    &mut self.bufs.sbuf,
                    &mut self.client,
                    fe.bufsize,
                    srv_timeout,
                    cli_timeout,
                )
                .await;
                if let Ok((plain, packed, _)) = r {
                    compress::count([&fe.counters, &be.counters], bypass, plain, packed);
                }
                r.map(|(_, _, sent)| (sent, sent)).map_err(|e| (e, 0))
            }
            None if cache_store.is_some() => {
                let limit = cache_store.as_ref().map_or(0, |p| p.body_limit());
                let mut tee = crate::http::cache_flow::Tee {
                    inner: &mut self.client,
                    copy: (cached_body.len() <= limit).then(|| std::mem::take(&mut cached_body)),
                    limit,
                };
                let mut sent = 0;
                let r = body::forward_spliced(
                    res_framing,
                    &mut *server,
                    &mut self.bufs.sbuf,
                    &mut tee,
                    fe.bufsize,
                    (srv_timeout, cli_timeout),
                    None,
                    &mut sent,
                )
                .await;
                if let (Ok(_), Some(copy), Some(p)) = (&r, tee.copy, cache_store) {
                    p.finish(copy);
                }
                r.map(|htx| (sent, htx)).map_err(|e| (e, sent))
            }
            None => {
                let mut sent = 0;
                let read = self.body_read_size();
                let r = body::forward_spliced(
                    res_framing,
                    &mut *server,
                    &mut self.bufs.sbuf,
                    &mut self.client,
                    read,
                    (srv_timeout, cli_timeout),
                    splicing,
                    &mut sent,
                )
                .await
                .map(|htx| (sent, htx))
                .map_err(|e| (e, sent));
                if read > fe.bufsize
                    && self.bufs.sbuf.is_empty()
                    && self.bufs.sbuf.capacity() > fe.bufsize
                {
                    // Grown for this body: the buffer set goes back to the thread's pool, and
                    // a later answer's head must be read into `tune.bufsize` (a plain
                    // client's session splices the body left after it).
                    self.bufs.sbuf = bytes::BytesMut::new();
                }
                r
            }
        };
        match relayed {
            Ok((n, htx)) => {
                rec.bytes += n;
                // `%B` counts a chunked body without its framing (HAProxy's HTX size).
                rec.log_adjust += htx as i64 - n as i64;
            }
            // What the client got before the failure is counted (`%B`, `bout`), as HAProxy.
            Err((BodyError::DstFailed | BodyError::DstTimeout, sent)) => {
                rec.bytes += sent;
                rec.term = Termination::CLIENT_DATA;
                return Err(Step::Done(Next::Close));
            }
            Err((_, sent)) => {
                rec.bytes += sent;
                rec.term = Termination::SERVER_DATA;
                return Err(Step::Done(Next::Close));
            }
        }
        Ok(())
    }
}
