//! Where a stream is — its frontend, the backend it was routed to, the server it was given — as
//! the sample language's `fe_name fe_id be_name be_id srv_name srv_id` read it. As HAProxy,
//! before routing the backend is the frontend itself, and a server's id is its number in its
//! backend (from 1). [`Place`] is a fixed view (log lines, TCP sessions); [`Located`] follows a
//! request while its backend and server are decided (the HTTP rules' environment).

use crate::backend::Backend;
use crate::http::sample_env::Where;
use crate::server::ServerRt;
use crate::state::Frontend;
use fulcrum_sample::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// A stream's frontend, backend and server, as known now.
pub struct Place<'a> {
    pub fe: &'a Frontend,
    pub be: Option<&'a Backend>,
    pub srv: Option<&'a ServerRt>,
}

impl Where for Place<'_> {
    fn fetch(&self, name: &str) -> Option<Value> {
        let srv = self.be.zip(self.srv).and_then(|(be, srv)| {
            let i = be.servers.iter().position(|s| std::ptr::eq(&**s, srv))?;
            Some((srv.name.as_str(), be.policy.server_id(i)))
        });
        answer(name, self.fe, self.be, srv)
    }
}

/// A request's place while it goes: the frontend from the start, the backend once routed
/// ([`Located::route`]), the server whose answer is being handled (`Where::at_server`).
pub struct Located<'a> {
    fe: &'a Frontend,
    be: OnceLock<Arc<Backend>>,
    srv: AtomicUsize,
}

impl<'a> Located<'a> {
    pub fn new(fe: &'a Frontend) -> Located<'a> {
        Located {
            fe,
            be: OnceLock::new(),
            srv: AtomicUsize::new(usize::MAX),
        }
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

    fn fetch(&self, name: &str) -> Option<Value> {
        let be = self.be.get().map(|b| &**b);
        let i = self.srv.load(Ordering::Relaxed);
        let srv = be
            .and_then(|b| b.servers.get(i).map(|s| (s, b.policy.server_id(i))))
            .map(|(s, id)| (s.name.as_str(), id));
        answer(name, self.fe, be, srv)
    }
}

fn answer(
    name: &str,
    fe: &Frontend,
    be: Option<&Backend>,
    srv: Option<(&str, u64)>,
) -> Option<Value> {
    let (be_name, be_id) = be.map_or((fe.name.as_str(), fe.id), |b| (b.name.as_str(), b.id));
    let text = |s: &str| Some(Value::Str(s.as_bytes().to_vec()));
    match name {
        "fe_name" => text(&fe.name),
        "fe_id" => Some(Value::Sint(i64::from(fe.id))),
        "be_name" => text(be_name),
        "be_id" => Some(Value::Sint(i64::from(be_id))),
        "srv_name" => text(srv?.0),
        "srv_id" => Some(Value::Sint(i64::try_from(srv?.1).unwrap_or(i64::MAX))),
        _ => None,
    }
}
