//! TCP mode (`mode tcp`) sessions, as named phases: accept → route (`use_backend` on layer-4
//! ACLs, `route`) → persistence (`stick on src`) → assign a server and connect (retries,
//! redispatch: the farm) → opening (client bytes kept until the server's first byte, replayed
//! on another server when it resets before answering: `opening`) → exchange (the byte `tunnel`) → count and log (`record`,
//! `logline`). The routing, the termination states, the persistence calls and the log line
//! are the ones the HTTP session uses.

use crate::acl::Ctx;
use crate::backend::{Backend, Hints};
use crate::connect::ServerConn;
use crate::logline::{Entry, Format, Timers};
use crate::observe::ServerEvent;
use crate::opening::Opening;
use crate::server::ServerRt;
use crate::state::Frontend;
use crate::stream::ClientStream;
use crate::termination::Termination;
use crate::tunnel::{tunnel, Side, Tunnel, TunnelEnd};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

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
    retries: u32,
}

/// A connection a `tcp-request content` rule ended (logged `PR--`, as HAProxy).
fn rejected(backend: Option<&Backend>) -> Done<'_> {
    Done {
        backend,
        server: None,
        queue: None,
        connect: None,
        bytes: 0,
        bytes_in: 0,
        term: Termination::PROXY_REQUEST,
        retries: 0,
    }
}

/// Serves one `mode tcp` connection.
pub async fn serve<C: ClientStream>(
    fe: Arc<Frontend>,
    mut client: C,
    peer: SocketAddr,
    local: SocketAddr,
    track: Option<Arc<crate::track::Tracking>>,
) {
    let _counted = crate::counters::SessionGuard::start(&fe.counters);
    let accepted = Instant::now();
    let accept_wall = SystemTime::now();
    let src = crate::net::canonical(peer.ip());
    // Phase: inspect (TLS passthrough routing on the ClientHello, within inspect-delay).
    let hello = match fe.inspect_hello {
        Some(delay) => Some(crate::tls::inspect::read(&mut client, delay).await),
        None => None,
    };
    // Phase: route.
    let counters = fe.counters(track.as_deref(), fe.own_table.as_ref());
    let ctx = Ctx::new(peer, local, None, None)
        .with_counters(counters)
        .with_tls(client.tls().map(|t| &**t))
        .with_hello(hello.as_ref());
    let tls = client.tls().is_some();
    let log = |d: Done<'_>| log_tcp(&fe, (peer, local, tls), accept_wall, accepted.elapsed(), &d);
    // Phase: `tcp-request content` rules (the frontend's, then the backend's once routed).
    if crate::tcp_rules::content(&fe.tcp_content, &ctx, &client, false) {
        return log(rejected(None));
    }
    let Some(be) = crate::route::backend_for(&fe, &ctx) else {
        return log(Done {
            backend: None,
            server: None,
            queue: None,
            connect: None,
            bytes: 0,
            bytes_in: 0,
            term: crate::backend::NoServer::Unavailable.termination(),
            retries: 0,
        });
    };
    if let Some(rules) = fe.backend_tcp_content.get(&be.name) {
        let counters = fe.counters(track.as_deref(), fe.tables.get(&be.name));
        let ctx = Ctx::new(peer, local, None, None).with_counters(counters);
        if crate::tcp_rules::content(rules, &ctx, &client, false) {
            return log(rejected(Some(be.as_ref())));
        }
    }
    // Phase: persistence: a client stuck to a usable server goes back to it.
    let hints = Hints {
        src: Some(src),
        uri: b"",
        header: None,
        prefer: be.stuck_server(src),
    };
    // Phase: assign a server and connect.
    let mut waited = Duration::ZERO;
    let t_connect = Instant::now();
    let mut conn = be
        .connect(&hints, local.port(), |_| None, &mut waited)
        .await;
    let mut tc = t_connect.elapsed().saturating_sub(waited);
    let idle = be
        .timeouts
        .tunnel
        .or_else(|| match (fe.timeouts.client, be.timeouts.server) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        });
    // Phase: opening, until the server's first byte: a server that resets before answering
    // is replaced and the client's bytes replayed (bounded: one per retry, at least one).
    let mut kept = bytes::BytesMut::new();
    let mut replays = be.retries.max(1);
    let (assigned, mut server, sent) = loop {
        let (assigned, mut server, _) = match conn {
            Ok(v) => v,
            Err((e, srv)) => {
                return log(Done {
                    backend: Some(&be),
                    server: srv.as_deref(),
                    queue: Some(waited),
                    connect: None,
                    bytes: 0,
                    bytes_in: 0,
                    term: e.termination(),
                    retries: 0,
                });
            }
        };
        let cap = fe.bufsize;
        let addrs = (!C::UNIX).then_some((peer, local));
        let pre = crate::proxy_protocol::for_server(assigned.server().send_proxy, addrs);
        let o = match &mut server {
            ServerConn::Tcp(s) => crate::opening::open(&mut client, s, &pre, kept, cap, idle).await,
            ServerConn::Unix(s) => {
                crate::opening::open(&mut client, s, &pre, kept, cap, idle).await
            }
            ServerConn::Tls(s) => {
                crate::opening::open(&mut client, &mut **s, &pre, kept, cap, idle).await
            }
            // Never here: `mode tcp` servers are not spoken to in HTTP/2 (`H2Mode::Never`).
            ServerConn::H2(_) => Opening::Idle,
        };
        let failed = match o {
            Opening::Committed { sent } => break (assigned, server, sent),
            Opening::Idle => TunnelEnd::Timeout.termination(),
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
                        .connect_avoiding(&hints, local.port(), avoid, |_| None, &mut waited)
                        .await;
                    tc += t.elapsed();
                    continue;
                }
                TunnelEnd::Error(Side::Server).termination()
            }
        };
        return log(Done {
            backend: Some(&be),
            server: Some(assigned.server()),
            queue: Some(waited),
            connect: Some(tc),
            bytes: 0,
            bytes_in: 0,
            term: failed,
            retries: 0,
        });
    };
    be.remember_server(src, assigned.index);
    // Phase: exchange.
    let t = Tunnel {
        idle,
        client_fin: fe.timeouts.client_fin,
        server_fin: be.timeouts.server_fin,
    };
    // Compiled once per kind of server connection (TCP, unix).
    let (up, down, end) = match &mut server {
        ServerConn::Tcp(s) => tunnel(&mut client, b"", s, b"", &t).await,
        ServerConn::Unix(s) => tunnel(&mut client, b"", s, b"", &t).await,
        ServerConn::Tls(s) => tunnel(&mut client, b"", &mut **s, b"", &t).await,
        ServerConn::H2(_) => (0, 0, TunnelEnd::Error(Side::Server)),
    };
    let up = up + sent;
    if let Some(t) = &track {
        t.bytes(up, down);
    }
    let term = end.termination();
    // Phase: count and log.
    let srv = assigned.server().clone();
    crate::record::tcp(
        &fe.counters,
        Some(&be.counters),
        Some(&srv.counters),
        up,
        down,
        term,
        Some(waited),
        Some(tc),
        accepted.elapsed(),
    );
    drop(assigned);
    log(Done {
        backend: Some(&be),
        server: Some(&srv),
        queue: Some(waited),
        connect: Some(tc),
        bytes: down,
        bytes_in: up,
        term,
        retries: 0,
    });
}

fn log_tcp(
    fe: &Frontend,
    (peer, local, tls): (SocketAddr, SocketAddr, bool),
    accept: SystemTime,
    total: Duration,
    d: &Done<'_>,
) {
    let Some(log) = &fe.log else { return };
    if fe.options.dontlognull && d.bytes == 0 && d.term == Termination::NORMAL {
        return;
    }
    let entry = Entry {
        mode: fe.mode,
        frontend: &fe.name,
        tls,
        peer,
        local,
        accept,
        backend: d.backend.map(|b| b.name.as_str()),
        server: d.server.map(|s| s.name.as_str()),
        timers: Timers {
            request: None,
            queue: d.queue,
            connect: d.connect,
            response: None,
            total,
        },
        status: 0,
        bytes: d.bytes,
        term: d.term,
        cookie: *b"--",
        active: crate::counters::active_connections(),
        frontend_conns: fe.conns.load(Ordering::Relaxed),
        retries: d.retries,
        captures: "",
        bytes_in: d.bytes_in,
        unique_id: None,
        samples: &[],
        server_addr: d.server.and_then(|s| s.fixed_addr()),
    };
    match &fe.log_format {
        Some(f) => log.send(&crate::log_format::render(
            f,
            &entry,
            None,
            None,
            &fe.captures,
        )),
        None => log.send(&entry.line(Format::of(fe.mode, &fe.options), || None)),
    }
}
