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

impl<C: ClientStream> Session<C> {
    /// Relays the body after the head was sent; `cached_body`: what `cache-store` already
    /// copied from the first bytes (sent with the head).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn relay_body<S: AsyncRead + Unpin>(
        &mut self,
        x: &Exchange<'_>,
        rec: &mut Rec,
        encoder: Option<compress::Encoder>,
        res_framing: Framing,
        server: &mut S,
        cache_store: Option<crate::http::cache_flow::Pending>,
        cached_body: Vec<u8>,
    ) -> Result<(), Step> {
        let (enc, cache) = (encoder, cache_store);
        let with = (enc, cache, cached_body, None);
        self.relay_body_with(x, rec, res_framing, server, with)
            .await
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
            Option<compress::Encoder>,
            Option<crate::http::cache_flow::Pending>,
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
                let bypass = matches!(enc, compress::Encoder::Identity);
                let r = compress::forward(
                    enc,
                    res_framing,
                    &mut *server,
                    &mut self.sbuf,
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
                    &mut self.sbuf,
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
                body::forward_spliced(
                    res_framing,
                    &mut *server,
                    &mut self.sbuf,
                    &mut self.client,
                    fe.bufsize,
                    (srv_timeout, cli_timeout),
                    splicing,
                    &mut sent,
                )
                .await
                .map(|htx| (sent, htx))
                .map_err(|e| (e, sent))
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
