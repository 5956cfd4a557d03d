//! The sample-keyed stick rules of a TCP session (`stick on|match|store-* PATTERN [table T]
//! [if COND]` in a `mode tcp` backend): the request phase on the bytes content inspection
//! kept, and `store-response` on the server's bytes the `tcp-response content` rules read,
//! each with the session's view (addresses, counters, TLS, where the stream is).

use crate::backend::Backend;
use crate::http::persist::Stores;
use crate::state::Frontend;
use crate::stream::TlsInfo;
use crate::tcp_inspect::Inspect;
use crate::track::Tracking;
use std::net::SocketAddr;

/// The session's view of a stream in `be` (on server `srv` once known).
pub struct View<'a> {
    pub fe: &'a Frontend,
    pub be: &'a Backend,
    pub track: Option<&'a Tracking>,
    pub addrs: (SocketAddr, SocketAddr),
    pub tls: Option<&'a TlsInfo>,
}

impl View<'_> {
    /// The request phase: the usable server a rule sticks the client to, and the keys to
    /// store once the server is known (none without sample-keyed rules). `assigned`: `stick
    /// on src` already chose.
    pub fn request(&self, ins: &Inspect, assigned: bool) -> (Option<usize>, Stores) {
        if self.be.policy.stick_sample.is_none() {
            return (None, Vec::new());
        }
        let counters = self
            .fe
            .counters(self.track, self.fe.tables.get(&self.be.name));
        let at_be = crate::place::Place {
            be: Some(self.be),
            srv: None,
            ..crate::place::Place::at(self.fe)
        };
        let seen = crate::http::sample_env::Situation::new(self.addrs.0, self.addrs.1)
            .with_counters(counters)
            .with_tls(self.tls)
            .with_req_data(ins.channel())
            .at(Some(&at_be));
        let ctx = seen.view(ins.request(), None);
        crate::http::persist::stick_request(self.be, &ctx, assigned)
    }

    /// `stick store-response` on `bytes`, the server's first bytes the response rules read
    /// (HAProxy runs its store rules after the response analysers); `index`: the server.
    pub fn response(&self, bytes: &[u8], index: usize) {
        if !self
            .be
            .policy
            .stick_sample
            .as_ref()
            .is_some_and(|s| s.has_response_rules())
        {
            return;
        }
        let counters = self
            .fe
            .counters(self.track, self.fe.tables.get(&self.be.name));
        let srv = self.be.servers.get(index).map(|s| &**s);
        let at_srv = crate::place::Place {
            be: Some(self.be),
            srv,
            ..crate::place::Place::at(self.fe)
        };
        let mut seen = crate::http::sample_env::Situation::new(self.addrs.0, self.addrs.1)
            .with_counters(counters)
            .with_tls(self.tls)
            .at(Some(&at_srv));
        seen.res_data = Some(crate::payload::Channel {
            data: bytes,
            len: bytes.len(),
            raw: true,
            last: true,
            size: self.fe.bufsize,
            http_partial: false,
        });
        let ctx = seen.view(None, None);
        crate::http::persist::stick_response(self.be, &ctx, index);
    }
}
