//! Where a stream is — its frontend, the backend it was routed to, the server it was given, the
//! client and server connections — as the sample language reads it: `fe_name fe_id be_name
//! be_id srv_name srv_id`, the servers of a backend (`nbsrv srv_is_up connslots`, of the
//! current backend or of one named), `thread`, the client connection's facts (`so_*`, `fc_*`:
//! `front`) and the server connection's (`bc_*`, and its TLS handshake's `ssl_bc*`). As HAProxy, before routing the backend is
//! the frontend itself, and a server's id is its number in its backend (from 1). [`Place`] is a
//! fixed view (log lines, TCP sessions); [`Located`] follows a request while its backend,
//! server and server connection are decided (the HTTP rules' environment).

use crate::backend::Backend;
use crate::front::ConnFacts;
use crate::http::sample_env::Where;
use crate::server::{H2Mode, ServerRt};
use crate::state::Frontend;
use crate::stream::TlsInfo;
use fulcrum_sample::fetch::Fetch;
use fulcrum_sample::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A stream's frontend, backend and server, as known now.
pub struct Place<'a> {
    pub fe: &'a Frontend,
    pub be: Option<&'a Backend>,
    pub srv: Option<&'a ServerRt>,
    /// The client connection's facts, when the configuration reads them.
    pub conn: Option<&'a ConnFacts>,
    /// The stream's rule state: its variables, for log lines (`%[var(txn.x)]`).
    pub vars: Option<&'a crate::track::Tracking>,
    /// The server connection's local address (`%bi`/`%bp`, `bc_src`), when known.
    pub bc_src: Option<SocketAddr>,
    /// What the server connection's TLS handshake settled (`ssl_bc*`), on `server ... ssl`.
    pub bc_tls: Option<&'a TlsInfo>,
    /// The stream's position in its backend's queue (`%bq`; 0: it did not wait).
    pub bq: u32,
    /// The server connection is closed (a TCP session's last log line): its own fetches
    /// (`bc_src`, `bc_src_port`, `bc_http_major`) have no value then, as in HAProxy 2.6.
    pub bc_gone: bool,
    /// Not the connection's first request (`http_first_req` false in a log line).
    pub not_first: bool,
}

impl<'a> Place<'a> {
    /// A stream in frontend `fe`, not routed yet.
    pub fn at(fe: &'a Frontend) -> Place<'a> {
        Place {
            fe,
            be: None,
            srv: None,
            conn: None,
            vars: None,
            bc_src: None,
            bc_tls: None,
            bq: 0,
            bc_gone: false,
            not_first: false,
        }
    }
}

impl Where for Place<'_> {
    fn fetch(&self, f: &Fetch) -> Option<Value> {
        if f.kw.name == "http_first_req" {
            return Some(Value::Bool(!self.not_first));
        }
        let srv = self.be.zip(self.srv).and_then(|(be, srv)| {
            let i = be.servers.iter().position(|s| std::ptr::eq(&**s, srv))?;
            Some((srv, i))
        });
        if self.bc_gone && matches!(f.kw.name, "bc_src" | "bc_src_port" | "bc_http_major") {
            return None;
        }
        if f.kw.name.starts_with("ssl_bc") {
            return ssl_bc(f.kw.name, self.bc_tls);
        }
        let here = Here {
            fe: self.fe,
            be: self.be,
            srv,
            conn: self.conn,
            bc_src: self.bc_src,
        };
        here.answer(f)
    }

    fn conns(&self) -> (Option<u64>, Option<u64>) {
        live(self.be, self.srv)
    }

    fn names(&self) -> (Option<&str>, Option<(&str, Option<SocketAddr>)>) {
        (
            self.be.map(|b| b.name.as_str()),
            self.srv.map(|s| (s.name.as_str(), s.fixed_addr())),
        )
    }

    fn queue_pos(&self) -> u32 {
        self.bq
    }

    fn var(&self, scope: fulcrum_sample::Scope, name: &fulcrum_sample::VarName) -> Option<Value> {
        self.vars?.var(scope, name)
    }
}

/// A request's place while it goes: the frontend from the start, the backend once routed
/// ([`Located::route`]), the server whose answer is being handled (`Where::at_server`).
pub struct Located<'a> {
    fe: &'a Frontend,
    conn: Option<&'a ConnFacts>,
    be: OnceLock<Arc<Backend>>,
    srv: AtomicUsize,
    bc_src: Mutex<Option<SocketAddr>>,
    bc_tls: Mutex<Option<Arc<TlsInfo>>>,
    /// Whether `bc_src` or `bc_tls` was ever set: until then, setting them to nothing (a
    /// server connection without TLS, a source the log does not ask for: most requests)
    /// takes no lock.
    bc_set: AtomicBool,
    /// Not the connection's first request (`http_first_req` false), as HAProxy's
    /// `TX_NOT_FIRST`: set for an HTTP/1 connection's later requests, never on HTTP/2.
    not_first: bool,
}

impl<'a> Located<'a> {
    pub fn new(fe: &'a Frontend) -> Located<'a> {
        Located {
            fe,
            conn: None,
            be: OnceLock::new(),
            srv: AtomicUsize::new(usize::MAX),
            bc_src: Mutex::new(None),
            bc_tls: Mutex::new(None),
            bc_set: AtomicBool::new(false),
            not_first: false,
        }
    }

    /// The same place, for a request that is not its connection's first.
    pub fn not_first(mut self, not_first: bool) -> Located<'a> {
        self.not_first = not_first;
        self
    }

    /// The same place, knowing the client connection's facts.
    pub fn with_conn(mut self, conn: Option<&'a ConnFacts>) -> Located<'a> {
        self.conn = conn;
        self
    }

    /// The request was routed to `be` (once: a request has one backend).
    pub fn route(&self, be: &Arc<Backend>) {
        let _ = self.be.set(be.clone());
    }
}

impl Where for Located<'_> {
    fn at_server(&self, index: usize) {
        self.srv.store(index, Ordering::Relaxed);
    }

    fn at_source(&self, src: Option<SocketAddr>) {
        if src.is_none() && !self.bc_set.load(Ordering::Relaxed) {
            return;
        }
        self.bc_set.store(true, Ordering::Relaxed);
        if let Ok(mut g) = self.bc_src.lock() {
            *g = src;
        }
    }

    fn at_server_tls(&self, tls: Option<&Arc<TlsInfo>>) {
        if tls.is_none() && !self.bc_set.load(Ordering::Relaxed) {
            return;
        }
        self.bc_set.store(true, Ordering::Relaxed);
        if let Ok(mut g) = self.bc_tls.lock() {
            *g = tls.cloned();
        }
    }

    fn fetch(&self, f: &Fetch) -> Option<Value> {
        if f.kw.name == "http_first_req" {
            return Some(Value::Bool(!self.not_first));
        }
        let be = self.be.get().map(|b| &**b);
        let i = self.srv.load(Ordering::Relaxed);
        let srv = be.and_then(|b| b.servers.get(i)).map(|s| (&**s, i));
        if f.kw.name.starts_with("ssl_bc") {
            let tls = self.bc_tls.lock().ok().and_then(|g| g.clone());
            return ssl_bc(f.kw.name, tls.as_deref());
        }
        let here = Here {
            fe: self.fe,
            be,
            srv,
            conn: self.conn,
            bc_src: self.bc_src.lock().ok().and_then(|g| *g),
        };
        here.answer(f)
    }

    fn names(&self) -> (Option<&str>, Option<(&str, Option<SocketAddr>)>) {
        let be = self.be.get().map(|b| &**b);
        let srv = be.and_then(|b| b.servers.get(self.srv.load(Ordering::Relaxed)));
        (
            be.map(|b| b.name.as_str()),
            srv.map(|s| (s.name.as_str(), s.fixed_addr())),
        )
    }

    fn conns(&self) -> (Option<u64>, Option<u64>) {
        let be = self.be.get().map(|b| &**b);
        let i = self.srv.load(Ordering::Relaxed);
        live(be, be.and_then(|b| b.servers.get(i)).map(|s| &**s))
    }
}

/// `%bc` and `%sc`: the sessions the backend (those waiting in its queue too, as HAProxy's
/// `beconn`) and the server have now.
fn live(be: Option<&Backend>, srv: Option<&ServerRt>) -> (Option<u64>, Option<u64>) {
    (
        be.map(|b| b.counters.current() + b.queued() as u64),
        srv.map(|s| u64::from(s.served())),
    )
}

/// `ssl_bc*`: what the server connection's TLS handshake settled, as HAProxy 2.6 answers
/// them: `ssl_bc` is false on a plain server connection (and before one), the others have
/// no value there.
fn ssl_bc(name: &str, tls: Option<&TlsInfo>) -> Option<Value> {
    let s = |v: &str| Some(Value::Str(v.as_bytes().to_vec()));
    match name {
        "ssl_bc" => Some(Value::Bool(tls.is_some())),
        "ssl_bc_protocol" => s(tls?.version),
        "ssl_bc_cipher" => s(tls?.cipher),
        "ssl_bc_alpn" => s(tls?.alpn.as_deref()?),
        // rustls's suites use their whole key: the algorithm's size is the size used.
        "ssl_bc_use_keysize" | "ssl_bc_alg_keysize" => Some(Value::Sint(i64::from(tls?.bits))),
        "ssl_bc_is_resumed" => Some(Value::Bool(tls?.resumed)),
        // The handshake succeeded (a failed one is no server connection).
        "ssl_bc_err" => tls.map(|_| Value::Sint(0)),
        _ => None,
    }
}

/// One view of a stream's place.
struct Here<'a> {
    fe: &'a Frontend,
    be: Option<&'a Backend>,
    srv: Option<(&'a ServerRt, usize)>,
    conn: Option<&'a ConnFacts>,
    bc_src: Option<SocketAddr>,
}

impl Here<'_> {
    fn answer(&self, f: &Fetch) -> Option<Value> {
        let name = f.kw.name;
        let (be_name, be_id) = self.be.map_or((self.fe.name.as_str(), self.fe.id), |b| {
            (b.name.as_str(), b.id)
        });
        let text = |s: &str| Some(Value::Str(s.as_bytes().to_vec()));
        let int = |n: i64| Some(Value::Sint(n));
        match name {
            "fe_name" => text(&self.fe.name),
            "fe_id" => int(i64::from(self.fe.id)),
            "be_name" => text(be_name),
            "be_id" => int(i64::from(be_id)),
            "srv_name" => text(&self.srv?.0.name),
            "srv_id" => {
                int(i64::try_from(self.be?.policy.server_id(self.srv?.1)).unwrap_or(i64::MAX))
            }
            "thread" => int(crate::front::thread()),
            "nbsrv" => int(nbsrv(self.backend(f.args.first())?)),
            "connslots" => int(connslots(self.backend(f.args.first())?)),
            // HAProxy's `beconn` (queued sessions too) and `totpend`.
            "be_conn" => {
                let be = self.backend(f.args.first())?;
                int(be.counters.current() as i64 + be.queued() as i64)
            }
            "queue" => int(self.backend(f.args.first())?.queued() as i64),
            // The queue per usable server (rounded up), twice the queue without one.
            "avg_queue" => {
                let be = self.backend(f.args.first())?;
                let (q, n) = (be.queued() as i64, nbsrv(be));
                int(if n > 0 { (q + n - 1) / n } else { q * 2 })
            }
            "srv_is_up" => {
                let s = self.server(f)?;
                Some(Value::Bool(
                    s.is_up() && s.admin() != crate::server::AdminState::Maint && !s.is_stopping(),
                ))
            }
            "srv_conn" => int(i64::from(self.server(f)?.served())),
            // a server's own queue: requests a persistence sent to it while full (`maxqueue`)
            "srv_queue" => int(i64::from(self.server(f)?.limits.waiting())),
            "bc_src" | "bc_src_port" => {
                let a = self.bc_src?;
                Some(if name == "bc_src" {
                    ip(a)
                } else {
                    Value::Sint(i64::from(a.port()))
                })
            }
            "bc_dst" | "bc_dst_port" => {
                let a = self.srv?.0.fixed_addr()?;
                Some(if name == "bc_dst" {
                    ip(a)
                } else {
                    Value::Sint(i64::from(a.port()))
                })
            }
            // A server connection was made (the request reached a server): no error on it.
            "bc_err" => self.srv.map(|_| Value::Sint(0)),
            "bc_http_major" => {
                let s = self.srv?.0;
                int(if s.h2_mode() == H2Mode::Always { 2 } else { 1 })
            }
            // HAProxy's text for a connection without error (a session's client connection
            // has none: a failed one is an error log line, `log_error`).
            "fc_err_str" => text("Success"),
            "bc_err_str" => self.srv.and_then(|_| text("Success")),
            n if crate::front::FETCHES.contains(&n) => self.conn?.fetch(f),
            _ => None,
        }
    }

    /// The server named by the fetch's `[B/]S` argument.
    fn server(&self, f: &Fetch) -> Option<&ServerRt> {
        let arg = std::str::from_utf8(f.args.first()?.as_bytes()).ok()?;
        let (be, srv) = match arg.split_once('/') {
            Some((b, s)) => (self.fe.backends.get(b).map(|b| &**b)?, s),
            None => (self.backend(None)?, arg),
        };
        be.servers.iter().find(|x| x.name == srv).map(|s| &**s)
    }

    /// The backend named by `arg`, or the stream's current one (the frontend's own when it is
    /// also a backend, before routing).
    fn backend(&self, arg: Option<&fulcrum_sample::fetch::Arg>) -> Option<&Backend> {
        match arg.map(|a| a.as_bytes()).filter(|a| !a.is_empty()) {
            Some(name) => {
                let name = std::str::from_utf8(name).ok()?;
                self.fe.backends.get(name).map(|b| &**b)
            }
            None => self
                .be
                .or_else(|| self.fe.backends.get(&self.fe.name).map(|b| &**b)),
        }
    }
}

fn ip(a: SocketAddr) -> Value {
    match crate::net::canonical(a.ip()) {
        std::net::IpAddr::V4(v) => Value::Ipv4(v),
        std::net::IpAddr::V6(v) => Value::Ipv6(v),
    }
}

/// HAProxy's `be_usable_srv`: the usable active servers; without any, 1 when a backup is
/// usable (the first one takes the traffic), or every usable backup with `option allbackups`.
fn nbsrv(be: &Backend) -> i64 {
    let usable = |backup: bool| {
        be.servers
            .iter()
            // the `dispatch` address is no server to haproxy (fulcrum runs it as one)
            .filter(|s| s.backup == backup && s.balanceable())
            .filter(|s| s.name != fulcrum_config::model_keywords::DISPATCH_SERVER)
            .count() as i64
    };
    match (usable(false), usable(true)) {
        (0, 0) => 0,
        (0, b) if be.options.allbackups => b,
        (0, _) => 1,
        (a, _) => a,
    }
}

/// HAProxy's `connslots`: the free connection and queue slots of the servers that are not
/// stopped, or -1 when one of them has no `maxconn` or no `maxqueue`.
fn connslots(be: &Backend) -> i64 {
    let mut slots = 0i64;
    for s in be.servers.iter().filter(|s| !s.stopped()) {
        let (Some(maxconn), Some(maxqueue)) = (s.maxconn, s.limits.maxqueue()) else {
            return -1;
        };
        slots += i64::from(maxconn) - i64::from(s.served()) + i64::from(maxqueue)
            - i64::from(s.limits.waiting());
    }
    slots
}
