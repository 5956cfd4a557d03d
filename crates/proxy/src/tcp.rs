//! TCP mode (`mode tcp`) sessions, as named phases: accept → route (`use_backend` on layer-4
//! ACLs, `route`) → persistence (`stick on src`) → assign a server and connect (retries,
//! redispatch: the farm) → opening (client bytes kept until the server's first byte, replayed
//! on another server when it resets before answering: `opening`) → exchange (the byte `tunnel`) → count and log (`record`,
//! `logline`). The routing, the termination states, the persistence calls and the log line
//! are the ones the HTTP session uses.

use crate::backend::{Backend, Hints};
use crate::buf_pool::Lent;
use crate::connect::ServerConn;
use crate::farm::Retries;
use crate::observe::ServerEvent;
use crate::opening::Opening;
use crate::server::ServerRt;
use crate::state::Frontend;
use crate::stream::ClientStream;
use crate::switch_mode::Upgrade;
use crate::termination::Termination;
use crate::tunnel::{Side, Tunnel, TunnelEnd};
use exchange::Exchange;
use session::Session;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod exchange;
mod session;
#[cfg(test)]
mod size_tests;

/// What the log line of a TCP session says.
struct Done<'a> {
    backend: Option<&'a Backend>,
    server: Option<&'a ServerRt>,
    queue: Option<Duration>,
    connect: Option<Duration>,
    bytes: u64,
    /// Bytes read from the client (`%U`).
    bytes_in: u64,
    term: Termination,
    /// `%rc`: the connection retries, and whether the session was redispatched.
    retries: Retries,
}

/// A connection a `tcp-request content` rule ended (logged `PR--`, as HAProxy), after
/// `inspected` client bytes.
fn rejected(backend: Option<&Backend>, inspected: u64) -> Done<'_> {
    Done {
        backend,
        server: None,
        queue: None,
        connect: None,
        bytes: 0,
        bytes_in: inspected,
        term: Termination::PROXY_REQUEST,
        retries: Retries::default(),
    }
}

/// Serves one `mode tcp` connection; a stream its content rules made HTTP (`switch-mode
/// http`) is handed back for the HTTP session (`switch_mode`).
///
/// The phases before the exchange run in a box of their own, freed once the server answered:
/// their state (inspection, connect and retries, opening, response rules: some KB) is not
/// part of the future an established session holds for as long as it lives, idle most of
/// the time (memory per idle connection: `size_tests`). One allocation per connection.
pub fn serve<C: ClientStream>(
    fe: Arc<Frontend>,
    client: C,
    (peer, local): (SocketAddr, SocketAddr),
    handshake: std::time::Duration,
    track: Option<Arc<crate::track::Tracking>>,
) -> impl std::future::Future<Output = Option<Upgrade<C>>> {
    // Boxed here, not in the block: an `async fn`'s arguments stay in its future for as long
    // as it lives; the block holds the box's pointer. Built in place: `Box::pin(future)`
    // makes the future (~4.4 KB) on the stack and then copies all of it into the box.
    let setup = Box::write(
        Box::new_uninit(),
        setup(fe, client, (peer, local), handshake, track),
    );
    let setup = Box::into_pin(setup);
    async move {
        // Bound before its await: a `match` on the boxed call would keep the `Step`
        // temporary's room beside the exchange's.
        let x = match setup.await {
            Step::Over(up) => return up,
            Step::Exchange(x) => x,
        };
        x.run().await
    }
}

/// Where the phases before the exchange leave a session. (Returned once, and its exchange
/// moved into the session's future at once: a box would be one more allocation.)
#[allow(clippy::large_enum_variant)]
enum Step<C> {
    /// It ended (logged), or its stream was made HTTP (`switch_mode`).
    Over(Option<Upgrade<C>>),
    /// Connected to a server that answered (or to which the opening committed): the byte
    /// exchange is next.
    Exchange(Exchange<C>),
}

/// Accept → route → persistence → connect → opening → response rules: the session up to its
/// exchange (`serve`).
async fn setup<C: ClientStream>(
    fe: Arc<Frontend>,
    mut client: C,
    (peer, local): (SocketAddr, SocketAddr),
    handshake: std::time::Duration,
    track: Option<Arc<crate::track::Tracking>>,
) -> Step<C> {
    let counted = crate::counters::SessionGuard::start(&fe.counters);
    let tls = client.tls().cloned();
    let ses = Session::new(fe, (peer, local), handshake, tls, track);
    let fe = &ses.fe;
    let track = &ses.track;
    let moved = &ses.moved;
    // The client connection's facts (`so_*`, `fc_*`), when the configuration reads them.
    let facts = track.as_deref().and_then(|t| t.conn());
    // Logs the session's end (nothing is handed over).
    let log = |d: Done<'_>| -> Step<C> {
        ses.log_end(&d);
        Step::Over(None)
    };
    // Phase: inspect: `tcp-request content` rules (`tcp_inspect`), waiting within
    // `tcp-request inspect-delay` while one reads data that has not arrived; a routing that
    // reads the ClientHello waits for it too when no content rule does.
    let counters = fe.counters(track.as_deref(), fe.own_table.as_ref());
    let tls_info = client.tls().cloned();
    let at_fe = crate::place::Place {
        conn: facts,
        ..crate::place::Place::at(fe)
    };
    // The log line's facts for rule values that read them (`%t %b %s %Tw`...: `rule_facts`).
    let rule_facts = fulcrum_sample::logformat::rule_facts_read().then(|| {
        let waits = crate::logline::Waits {
            idle: Duration::ZERO,
            handshake: ses.handshake,
        };
        crate::rule_facts::RuleFacts::new(
            fe.mode,
            &fe.name,
            &fe.conns,
            fe.log.as_ref(),
            ses.accept_wall,
            waits,
            ses.rt,
        )
        .with_tls(tls_info.as_deref())
    });
    let lf = rule_facts
        .as_ref()
        .map(|f| f as &dyn crate::http::sample_env::LogFacts);
    let rules_wait = crate::tcp_rules::inspects(&fe.tcp_content);
    let waits = rules_wait || fe.inspect_hello.is_some();
    let delay = fe.inspect_delay.filter(|_| waits);
    let mut ins = crate::tcp_inspect::Inspect::new(delay, fe.head_limit, fe.bufsize);
    let verdict = loop {
        let seen = crate::http::sample_env::Situation::new(peer, local)
            .with_counters(counters)
            .with_tls(tls_info.as_deref())
            .with_req_data(ins.channel())
            .with_facts(lf)
            .at(Some(&at_fe));
        let ctx = seen.view(ins.request(), None);
        let hello_wait = !rules_wait
            && fe.inspect_hello.is_some()
            && crate::payload::hello_may_change(&ins.channel());
        // Entries tracked per request: a stream made HTTP releases them as its first
        // request ends (HAProxy's stream ends there); a TCP session keeps them to its end.
        match crate::tcp_rules::decide(&fe.tcp_content, &ctx, true, moved) {
            Some(v) if !hello_wait || v != crate::tcp_rules::Verdict::Accept => break v,
            _ => ins.more(&mut client).await,
        }
    };
    moved.sock.apply(&client);
    moved.captures_into(ses.samples.as_ref());
    if crate::tcp_rules::ends(verdict, &client) {
        return log(rejected(None, ins.kept.len() as u64));
    }
    // The stream made HTTP: the client, what inspection read, the session's count, what the
    // content rules left for the first request (they do not run again for it).
    let upgrade = |client, kept, counted, captures| Upgrade {
        client,
        kept,
        addrs: moved.get(peer, local),
        counted,
        accepted: ses.accepted.into(),
        handshake: ses.handshake,
        inspected: crate::switch_mode::Inspected {
            captures,
            priority: moved.priority(),
            level: moved.level(),
        },
        h2: moved.switch_h2.load(Ordering::Relaxed),
    };
    if moved.switch_http.load(Ordering::Relaxed) {
        // `switch-mode http`: HTTP from here, the bytes read so far first (`switch_mode`).
        return Step::Over(Some(upgrade(client, ins.kept, counted, ses.samples)));
    }
    // Phase: route (`use_backend` on what the inspection read).
    let (now_peer, now_local) = moved.get(peer, local);
    let seen = crate::http::sample_env::Situation::new(now_peer, now_local)
        .with_counters(counters)
        .with_tls(tls_info.as_deref())
        .with_req_data(ins.final_channel())
        .with_facts(lf)
        .at(Some(&at_fe));
    let ctx = seen.view(ins.request(), None);
    let Some(be) = crate::route::backend_for(fe, &ctx) else {
        return log(Done {
            backend: None,
            server: None,
            queue: None,
            connect: None,
            bytes: 0,
            bytes_in: ins.kept.len() as u64,
            term: crate::backend::NoServer::Unavailable.termination(),
            retries: Retries::default(),
        });
    };
    if be.mode == fulcrum_config::model::Mode::Http {
        // A `mode http` backend: the stream is HTTP from here (HAProxy 2.6's implicit
        // upgrade); the HTTP session routes each request again and runs the rules.
        return Step::Over(Some(upgrade(client, ins.kept, counted, ses.samples)));
    }
    // Phase: the backend's `tcp-request content` rules, within its own inspect delay.
    if let Some(rules) = fe.backend_tcp_content.get(&be.name) {
        let counters = fe.counters(track.as_deref(), fe.tables.get(&be.name));
        let wait = crate::tcp_rules::inspects(rules);
        ins.again(
            fe.backend_inspect_delay
                .get(&be.name)
                .copied()
                .filter(|_| wait),
        );
        let verdict = loop {
            let at_be = crate::place::Place {
                be: Some(&be),
                conn: facts,
                ..crate::place::Place::at(fe)
            };
            let seen = crate::http::sample_env::Situation::new(peer, local)
                .with_counters(counters)
                .with_tls(tls_info.as_deref())
                .with_req_data(ins.channel())
                .with_facts(lf)
                .at(Some(&at_be));
            let ctx = seen.view(ins.request(), None);
            match crate::tcp_rules::decide(rules, &ctx, false, moved) {
                Some(v) => break v,
                None => ins.more(&mut client).await,
            }
        };
        moved.sock.apply(&client);
        moved.captures_into(ses.samples.as_ref());
        if crate::tcp_rules::ends(verdict, &client) {
            return log(rejected(Some(be.as_ref()), ins.kept.len() as u64));
        }
    }
    // The addresses the content rules left, from here on.
    let (peer, local) = moved.get(peer, local);
    let src = crate::net::canonical(peer.ip());
    // Phase: persistence: a client stuck to a usable server goes back to it (`stick on src`,
    // then the sample-keyed rules: conditions, `table T`, other samples).
    let view = crate::tcp_stick::View {
        fe,
        be: &be,
        track: track.as_deref(),
        addrs: (peer, local),
        tls: tls_info.as_deref(),
    };
    let mut prefer = be.stuck_server(src);
    let (stuck, stick_keys) = view.request(&ins, prefer.is_some());
    prefer = prefer.or(stuck);
    // `sni EXPR` on a server: the connection's addresses and TLS handshake (no request).
    let sni = crate::http::server_sni::evaluator(None, peer, local, tls_info.as_deref());
    let hints = Hints {
        priority: moved.priority(),
        src: Some(src),
        uri: b"",
        header: None,
        prefer,
        force: false,
        sni: Some(&sni),
        redirect: false,
    };
    // Phase: assign a server and connect.
    let mut waited = Duration::ZERO;
    let t_connect = Instant::now();
    let mut conn = be.connect(&hints, local, |_| None, &mut waited).await;
    let mut tc = t_connect.elapsed().saturating_sub(waited);
    let (idle, idle_end) = idle_limit(fe, &be);
    // Phase: opening, until the server's first byte: a server that resets before answering
    // is replaced and the client's bytes replayed (bounded: one per retry, at least one).
    let mut kept = ins.kept;
    let mut replays = be.retries.max(1);
    // `%rc`: the retries of every connection the session made (a replay's too).
    let mut retries = Retries::default();
    // `%bi %bp`, `bc_src`: asked of the socket (`getsockname`) only when something reads it.
    let sd = fe.log.as_ref().and_then(|l| l.sd.as_ref());
    let wants_source = crate::log_format::writes_source(fe.log_format.as_ref(), sd);
    // The server's first bytes, read by the opening when no `tcp-response content` rule
    // inspects them (they are forwarded first); peeked at and left in the socket otherwise.
    let read_first = !fe.backend_tcp_response.contains_key(&be.name);
    // From the thread's pool when bytes come; back there once forwarded (`tunnel`).
    let mut first = Lent::default();
    let (assigned, mut server, sent) = loop {
        let (assigned, mut server, _) = match conn {
            Ok(v) => {
                ses.queue_pos.store(v.0.queue_pos, Ordering::Relaxed);
                retries.add(v.0.retries);
                v
            }
            Err(crate::farm::NoConnection {
                why: e,
                server: srv,
                retries: more,
            }) => {
                retries.add(more);
                // No server at all: `Tw` -1, as haproxy 2.6 (the session never queued).
                let none = srv.is_none() && matches!(e, crate::farm::NoServer::Unavailable);
                return log(Done {
                    backend: Some(&be),
                    server: srv.as_deref(),
                    queue: (!none).then_some(waited),
                    connect: None,
                    bytes: 0,
                    bytes_in: kept.len() as u64,
                    term: e.termination(),
                    retries,
                });
            }
        };
        let cap = fe.bufsize;
        let addrs = (!C::UNIX).then_some((peer, local));
        let pre = crate::proxy_protocol::for_server(assigned.server().send_proxy, addrs);
        let sending = (&pre[..], kept);
        let into = read_first.then_some(&mut *first);
        let o = match &mut server {
            ServerConn::Tcp(s) => {
                crate::opening::open(&mut client, s, sending, cap, idle, into).await
            }
            ServerConn::Unix(s) => {
                crate::opening::open(&mut client, s, sending, cap, idle, into).await
            }
            ServerConn::Tls(s) => {
                crate::opening::open(&mut client, &mut **s, sending, cap, idle, into).await
            }
            // Never here: `mode tcp` servers are not spoken to in HTTP/2 (`H2Mode::Never`).
            ServerConn::H2(_) => Opening::Idle { sent: 0 },
        };
        if wants_source {
            if let Ok(mut s) = ses.source.lock() {
                *s = server.local_addr();
            }
        }
        let (failed, bytes_in) = match o {
            Opening::Committed { sent } => break (assigned, server, sent),
            Opening::Idle { sent } => (idle_end, sent),
            Opening::ClientFailed { sent } => (TunnelEnd::Error(Side::Client).termination(), sent),
            Opening::Replay(k) => {
                be.observe(
                    assigned.server(),
                    ServerEvent::ConnectFailed { timeout: false },
                );
                if replays > 0 {
                    replays -= 1;
                    kept = k;
                    let t = Instant::now();
                    let avoid = Some(assigned.index);
                    drop(assigned);
                    conn = be
                        .connect_avoiding(&hints, local, avoid, |_| None, &mut waited)
                        .await;
                    tc += t.elapsed();
                    continue;
                }
                (TunnelEnd::Error(Side::Server).termination(), k.len() as u64)
            }
        };
        return log(Done {
            backend: Some(&be),
            server: Some(assigned.server()),
            queue: Some(waited),
            connect: Some(tc),
            bytes: 0,
            bytes_in,
            term: failed,
            retries,
        });
    };
    if be.policy.sticks(assigned.index) {
        be.remember_server(src, assigned.index);
    }
    crate::http::persist::stick_store(&be, &stick_keys, assigned.index);
    if fe.options.log.logasap {
        ses.log_asap(&Done {
            backend: Some(&be),
            server: Some(assigned.server()),
            queue: Some(waited),
            connect: Some(tc),
            bytes: 0,
            bytes_in: sent,
            term: Termination::NORMAL,
            retries,
        });
    }
    // Phase: the backend's `tcp-response content` rules on the server's first bytes. Their
    // `set-log-level` leaves a TCP session's line as it is (haproxy 2.6, measured): what
    // they set goes nowhere.
    let response_moved = crate::tcp_rules::Moved::default();
    let mut shown = bytes::BytesMut::new();
    if let Some(r) = fe.backend_tcp_response.get(&be.name) {
        let counters = fe.counters(track.as_deref(), fe.tables.get(&be.name));
        let at_srv = crate::place::Place {
            be: Some(&be),
            srv: Some(assigned.server()),
            conn: facts,
            bc_src: ses.source(),
            ..crate::place::Place::at(fe)
        };
        if let Some(f) = lf {
            f.response(crate::http::sample_env::ResponseFacts {
                queue: Some(waited),
                connect: Some(tc),
                source: ses.source(),
                queue_pos: ses.queue_pos.load(Ordering::Relaxed),
                ..Default::default()
            });
        }
        let seen = crate::http::sample_env::Situation::new(peer, local)
            .with_counters(counters)
            .with_tls(tls_info.as_deref())
            .with_facts(lf)
            .at(Some(&at_srv));
        let base = seen.view(None, None);
        let sizes = (fe.head_limit, fe.bufsize);
        let (v, kept) = match &mut server {
            ServerConn::Tcp(s) => {
                crate::tcp_inspect::response(s, &r.rules, r.delay, sizes, (&base, &response_moved))
                    .await
            }
            ServerConn::Unix(s) => {
                crate::tcp_inspect::response(s, &r.rules, r.delay, sizes, (&base, &response_moved))
                    .await
            }
            ServerConn::Tls(s) => {
                crate::tcp_inspect::response(
                    &mut **s,
                    &r.rules,
                    r.delay,
                    sizes,
                    (&base, &response_moved),
                )
                .await
            }
            // Never in `mode tcp` (HTTP/2 servers are for HTTP mode only): the tunnel below
            // ends it as a server error.
            ServerConn::H2(_) => (crate::tcp_rules::ResVerdict::Accept, bytes::BytesMut::new()),
        };
        shown = kept;
        // `set-mark`/`set-tos` (`sockopt`)
        response_moved.sock.apply(&client);
        let end = match v {
            crate::tcp_rules::ResVerdict::Accept => None,
            // Nothing reaches the client (HAProxy logs `PD`).
            crate::tcp_rules::ResVerdict::Reject => Some((
                Termination::new(
                    crate::termination::Cause::Proxy,
                    crate::termination::Phase::Data,
                ),
                0,
            )),
            // Nothing reaches the client, the socket is silenced first; HAProxy logs `PR`
            // with the bytes read from the server.
            crate::tcp_rules::ResVerdict::SilentDrop => {
                crate::tcp_rules::ends(crate::tcp_rules::Verdict::SilentDrop, &client);
                Some((Termination::PROXY_REQUEST, shown.len() as u64))
            }
            // What was received reaches the client, then both sides close.
            crate::tcp_rules::ResVerdict::Close => {
                use tokio::io::AsyncWriteExt;
                let _ = client.write_all(&shown).await;
                let _ = client.shutdown().await;
                Some((Termination::NORMAL, shown.len() as u64))
            }
        };
        if let Some((term, bytes)) = end {
            let srv = assigned.server().clone();
            drop(assigned);
            return log(Done {
                backend: Some(&be),
                server: Some(&srv),
                queue: Some(waited),
                connect: Some(tc),
                bytes,
                bytes_in: sent,
                term,
                retries,
            });
        }
    }
    // Phase: `stick store-response` on the bytes the response rules read.
    view.response(&shown, assigned.index);
    // No response rule ran when `first` holds bytes (`read_first`): `shown` is empty.
    let shown = if first.is_empty() {
        Lent::from(shown)
    } else {
        first
    };
    // Phase: exchange (`exchange`), in the caller's small future.
    let tunnel = Tunnel {
        idle,
        client_fin: fe.timeouts.client_fin,
        server_fin: be.timeouts.server_fin,
        splice: crate::splice::modes(
            &fe.options.splice,
            &be.options.splice,
            crate::splice::TUNNEL_DEFAULT,
        ),
    };
    Step::Exchange(Exchange {
        ses,
        counted,
        client,
        server,
        assigned,
        be,
        tunnel,
        shown,
        sent,
        waited,
        tc,
        retries,
        idle_end,
    })
}

/// How long a TCP session may stay silent (`timeout tunnel`, else the shorter of `timeout
/// client` and `timeout server`) and how it ends past that, as haproxy 2.6 logs it
/// (measured: `tcplog_errors_haproxy.rs`): on the server's side (`sD`) when `timeout server`
/// is the shorter and no `timeout tunnel` is set, else on the client's (`cD`). (With equal
/// timeouts haproxy's choice depends on which timer its scheduler sees first when the client
/// spoke after the connection: `cD` or `sD` from run to run; `cD` when it did not.)
fn idle_limit(fe: &Frontend, be: &Backend) -> (Option<Duration>, Termination) {
    let (client, server) = (fe.timeouts.client, be.timeouts.server);
    let (limit, server_first) = match (be.timeouts.tunnel, client, server) {
        (Some(t), _, _) => (Some(t), false),
        (None, Some(c), Some(s)) => (Some(c.min(s)), s < c),
        (None, c, None) => (c, false),
        (None, None, s) => (s, true),
    };
    let end = if server_first {
        Termination::new(
            crate::termination::Cause::ServerTimeout,
            crate::termination::Phase::Data,
        )
    } else {
        TunnelEnd::Timeout.termination()
    };
    (limit, end)
}
