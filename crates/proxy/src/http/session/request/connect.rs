//! Phase "assign a server and connect": the farm picks a server (balance, queue, persistence
//! hints) and gives a connection: the client's own attached one, an idle pooled one as
//! `http-reuse` allows, or a new one (retries, redispatch); `option abortonclose` drops a
//! request whose client left meanwhile. A failure answers 503 (`Err(Next)`).

use super::*;
use crate::backend::Assigned;
use crate::farm::Settled;

impl<C: ClientStream> Session<C> {
    pub(in crate::http::session) async fn assign_and_connect(
        &mut self,
        be: &Arc<Backend>,
        rec: &mut Rec,
        src: std::net::IpAddr,
        prefer: Option<usize>,
        persist: Persist,
        turn: Turn,
    ) -> Result<(Assigned, ServerConn, Origin, Prior), Next> {
        let header_val;
        let client_tls = self.client.tls().cloned();
        let sni = crate::http::server_sni::evaluator(
            Some(&self.bufs.req),
            self.peer,
            self.local,
            client_tls.as_deref(),
        );
        let hints = {
            header_val = be
                .hash_header
                .as_ref()
                .and_then(|h| self.bufs.req.header(h))
                .map(<[u8]>::to_vec);
            Hints {
                src: Some(src),
                uri: self.bufs.req.uri(),
                header: header_val.as_deref(),
                prefer,
                force: persist == Persist::Force,
                sni: Some(&sni),
                priority: rec.priority,
                redirect: be.has_redir() && matches!(self.bufs.req.method(), b"GET" | b"HEAD"),
            }
        };
        let mut attached_slot = self.attached.take();
        let mut waited = Duration::ZERO;
        // When the slow path (queue, connect) began: a request settled at once waited 0.
        let mut t_conn = None;
        let reuse_mode = be.options.http_reuse;
        // What the reused connection, if any, brings along (its requests, its privacy).
        let mut prior = Prior::default();
        let mut reuse = |srv: &crate::server::ServerRt| {
            if let Some(a) = attached_slot.take() {
                if a.server.id == srv.id {
                    prior = Prior {
                        uses: a.uses,
                        private: a.private,
                        prefer_last: a.prefer_last,
                    };
                    return Some(a.stream);
                }
                a.release();
            }
            // `http-reuse`: `safe` never puts a connection's first request on another
            // client's idle server connection (`aggressive` only on one proven by
            // several requests, `always` on any); later requests may ride any.
            let want = match (reuse_mode, turn) {
                (HttpReuse::Never, _) => return None,
                (HttpReuse::Safe, Turn::First) => return None,
                (HttpReuse::Aggressive, Turn::First) => pool::Want::Proven,
                (HttpReuse::Always, _) | (_, Turn::Later) => pool::Want::Any,
            };
            let (conn, uses) = pool::take_with(srv.id, want)?;
            prior.uses = uses;
            Some(conn)
        };
        // The usual keep-alive request settles without waiting (a server picked at once, an
        // idle connection to it): no connect future is built.
        let now = if be.options.abortonclose {
            None
        } else {
            be.connect_now(&hints, &mut reuse)
        };
        // `option abortonclose`: a client that closes while its request waits in the queue or
        // for the connection drops the request (HAProxy's `CQ`/`CC`); otherwise a close is
        // taken as a half-close and the request goes on.
        if !matches!(now, Some(Settled::Done(_))) {
            t_conn = Some(Instant::now());
        }
        let conn = match now {
            Some(Settled::Done(r)) => Some(r),
            Some(Settled::Open(a, tried)) => {
                Some(be.open_for(a, &hints, self.local, &mut reuse, tried).await)
            }
            None if be.options.abortonclose => {
                let connecting = be.connect(&hints, self.local, &mut reuse, &mut waited);
                tokio::select! {
                    c = connecting => Some(c),
                    _ = client_gone(self.client.peek_byte()) => None,
                }
            }
            None => Some(
                be.connect(&hints, self.local, &mut reuse, &mut waited)
                    .await,
            ),
        };
        // The evaluator borrows the request: done with it.
        drop(sni);
        let Some(conn) = conn else {
            let phase = if be.queued() > 0 {
                crate::termination::Phase::Queue
            } else {
                crate::termination::Phase::Connect
            };
            rec.term = Termination::new(crate::termination::Cause::Client, phase);
            rec.tw = Some(t_conn.map_or(Duration::ZERO, |t| t.elapsed()));
            return Err(Next::Close);
        };
        if let Some(a) = attached_slot.take() {
            a.release();
        }
        rec.tw = Some(waited);
        let (assigned, server_conn, origin) = match conn {
            Ok(v) => v,
            Err(crate::farm::NoConnection {
                why: crate::farm::NoServer::Redirect,
                server: Some(srv),
                ..
            }) => {
                rec.server = Some(srv.clone());
                return Err(self.server_redirect(&srv, rec).await);
            }
            Err(crate::farm::NoConnection {
                why: e,
                server: srv,
                retries,
            }) => {
                // No server to wait for (none in the backend, none up): HAProxy 2.6 logs
                // `Tw` -1, the request never reached a queue.
                if srv.is_none() && matches!(e, crate::farm::NoServer::Unavailable) {
                    rec.tw = None;
                }
                rec.retries.add(retries);
                if let Some(s) = srv {
                    rec.server = Some(s);
                }
                // HAProxy keeps the client connection after a 503 for want of a server
                // (none, or none that accepted): measured with haproxy 2.6.
                return Err(self
                    .send_error(
                        503,
                        rec,
                        e.termination(),
                        &be.policy.errors,
                        AfterError::KeepIfClean,
                    )
                    .await);
            }
        };
        rec.tc = Some(t_conn.map_or(Duration::ZERO, |t| t.elapsed().saturating_sub(waited)));
        rec.retries.add(assigned.retries);
        Ok((assigned, server_conn, origin, prior))
    }
}
