//! Phase "assign a server and connect": the farm picks a server (balance, queue, persistence
//! hints) and gives a connection: the client's own attached one, an idle pooled one as
//! `http-reuse` allows, or a new one (retries, redispatch); `option abortonclose` drops a
//! request whose client left meanwhile. A failure answers 503 (`Err(Next)`).
//!
//! The usual keep-alive request settles without waiting (a server picked at once, an idle
//! connection to it, or an HTTP/2 server's shared connection): [`Session::assign_now`], a
//! plain function; only the rest builds the waiting phase's future
//! ([`Session::assign_and_connect`]).

use super::*;
use crate::backend::Assigned;
use crate::farm::Settled;
use crate::http::session::Attached;

/// What [`Session::assign_now`] settled.
pub(in crate::http::session) enum Assign {
    /// A connection (idle, reused) to the assigned server.
    Ready(Assigned, ServerConn, Origin, Prior),
    /// The rest waits ([`Session::assign_and_connect`]): how far it got.
    Later(Later),
}

/// How far assigning got without waiting (small: it is held while the rest waits). The
/// client's attached connection, when the farm did not ask for it, is back in the session.
pub(in crate::http::session) enum Later {
    /// A server assigned, a connection to open (`Farm::open_for`); whether `reuse` was asked.
    Open(Assigned, bool),
    /// No connection: a `redir` answer, or no server.
    Failed(crate::farm::NoConnection),
    /// Nothing settled (a queue, a preferred server, `option abortonclose`): the farm's
    /// connect, waiting as it must.
    Connect,
}

/// The `reuse` the farm asks for an idle connection to a server: the client's attached one
/// (released when it is another server's), else the thread's idle pool as `http-reuse` allows.
fn reuser<'a>(
    attached: &'a mut Option<Attached>,
    prior: &'a mut Prior,
    reuse_mode: HttpReuse,
    turn: Turn,
) -> impl FnMut(&crate::server::ServerRt) -> Option<ServerConn> + 'a {
    move |srv| {
        if let Some(a) = attached.take() {
            if a.server.id == srv.id {
                *prior = Prior {
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
    }
}

/// The farm's hints from the request (balance keys, persistence, priority, SNI); the hashed
/// header's value is kept in `header_val`.
#[allow(clippy::too_many_arguments)]
fn hints_of<'a>(
    req: &'a crate::http::message::Message,
    be: &Backend,
    src: std::net::IpAddr,
    prefer: Option<usize>,
    persist: Persist,
    priority: Option<(i32, i32)>,
    header_val: &'a mut Option<Vec<u8>>,
    sni: &'a crate::farm::SniEval<'a>,
) -> Hints<'a> {
    *header_val = be
        .hash_header
        .as_ref()
        .and_then(|h| req.header(h))
        .map(<[u8]>::to_vec);
    Hints {
        src: Some(src),
        uri: req.uri(),
        header: header_val.as_deref(),
        prefer,
        force: persist == Persist::Force,
        sni: Some(sni),
        priority,
        redirect: be.has_redir() && matches!(req.method(), b"GET" | b"HEAD"),
    }
}

impl<C: ClientStream> Session<C> {
    /// Phase "assign a server and connect", as far as it goes without waiting: the usual
    /// keep-alive request ends here (its connection), with no future built.
    pub(in crate::http::session) fn assign_now(
        &mut self,
        be: &Arc<Backend>,
        rec: &mut Rec,
        src: std::net::IpAddr,
        prefer: Option<usize>,
        persist: Persist,
        turn: Turn,
    ) -> Assign {
        // `option abortonclose` waits for the client's close beside everything: no shortcut.
        if be.options.abortonclose {
            return Assign::Later(Later::Connect);
        }
        let mut attached = self.attached.take();
        let mut prior = Prior::default();
        let now = {
            let mut header_val = None;
            let client_tls = self.client.tls().cloned();
            let sni = crate::http::server_sni::evaluator(
                Some(&self.bufs.req),
                self.peer,
                self.local,
                client_tls.as_deref(),
            );
            let (req, priority) = (&self.bufs.req, rec.priority);
            let hints = hints_of(
                req,
                be,
                src,
                prefer,
                persist,
                priority,
                &mut header_val,
                &sni,
            );
            let mut reuse = reuser(&mut attached, &mut prior, be.options.http_reuse, turn);
            be.connect_now(&hints, &mut reuse)
        };
        match now {
            Some(Settled::Done(Ok((assigned, conn, origin)))) => {
                if let Some(a) = attached.take() {
                    a.release();
                }
                // Settled at once: no wait, no connect.
                rec.tw = Some(Duration::ZERO);
                rec.tc = Some(Duration::ZERO);
                rec.retries.add(assigned.retries);
                Assign::Ready(assigned, conn, origin, prior)
            }
            // (the farm did not take the attached connection: the rest may)
            now => {
                self.attached = attached;
                Assign::Later(match now {
                    Some(Settled::Open(a, tried)) => Later::Open(a, tried),
                    Some(Settled::Done(Err(e))) => Later::Failed(e),
                    Some(Settled::Done(Ok(_))) | None => Later::Connect,
                })
            }
        }
    }

    /// Phase "assign a server and connect" past [`Session::assign_now`]: a connection to
    /// open (or to wait for), a queue, or no server (the answer sent: `Err`).
    #[allow(clippy::too_many_arguments)]
    pub(in crate::http::session) async fn assign_and_connect(
        &mut self,
        be: &Arc<Backend>,
        rec: &mut Rec,
        src: std::net::IpAddr,
        prefer: Option<usize>,
        persist: Persist,
        turn: Turn,
        later: Later,
    ) -> Result<(Assigned, ServerConn, Origin, Prior), Next> {
        let mut header_val = None;
        let client_tls = self.client.tls().cloned();
        let sni = crate::http::server_sni::evaluator(
            Some(&self.bufs.req),
            self.peer,
            self.local,
            client_tls.as_deref(),
        );
        let (req, priority) = (&self.bufs.req, rec.priority);
        let hints = hints_of(
            req,
            be,
            src,
            prefer,
            persist,
            priority,
            &mut header_val,
            &sni,
        );
        let mut waited = Duration::ZERO;
        // When the slow path (queue, connect) began: a request settled at once waited 0.
        let mut t_conn = None;
        let mut attached_slot = self.attached.take();
        let mut prior = Prior::default();
        let mut reuse = reuser(&mut attached_slot, &mut prior, be.options.http_reuse, turn);
        // `option abortonclose`: a client that closes while its request waits in the queue or
        // for the connection drops the request (HAProxy's `CQ`/`CC`); otherwise a close is
        // taken as a half-close and the request goes on.
        if !matches!(later, Later::Failed(_)) {
            t_conn = Some(Instant::now());
        }
        let conn = match later {
            Later::Failed(e) => Some(Err(e)),
            Later::Open(a, tried) => {
                Some(be.open_for(a, &hints, self.local, &mut reuse, tried).await)
            }
            Later::Connect if be.options.abortonclose => {
                let connecting = be.connect(&hints, self.local, &mut reuse, &mut waited);
                tokio::select! {
                    c = connecting => Some(c),
                    _ = client_gone(self.client.peek_byte()) => None,
                }
            }
            Later::Connect => Some(
                be.connect(&hints, self.local, &mut reuse, &mut waited)
                    .await,
            ),
        };
        // The evaluator borrows the request, `reuse` the attached connection: done with them.
        drop(reuse);
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
