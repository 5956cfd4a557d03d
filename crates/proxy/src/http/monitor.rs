//! `monitor-uri PATH` and `monitor fail if|unless COND`: a frontend answers requests for its
//! monitor URI itself, before its `http-request` rules, as HAProxy 2.6 does: `200` (the
//! proxy's page for 200, `errorfile 200` applies) or `503` when a `monitor fail` condition
//! holds; the connection stays open; the request is counted as intercepted and not logged.

use super::message::Message;
use crate::acl::{self, Cond, Ctx};
use fulcrum_config::model::Proxy;

#[derive(Debug)]
pub struct Monitor {
    uri: Vec<u8>,
    fail: Vec<Cond>,
}

impl Monitor {
    /// The proxy's monitor, if it has a `monitor-uri`.
    pub fn compile(p: &Proxy) -> Result<Option<Monitor>, acl::AclError> {
        let Some(uri) = &p.monitor_uri else {
            return Ok(None);
        };
        let fail = p
            .monitor_fail
            .iter()
            .map(|m| acl::compile_condition(&m.condition, &p.acls))
            .collect::<Result<_, _>>()?;
        Ok(Some(Monitor {
            uri: uri.clone().into_bytes(),
            fail,
        }))
    }

    /// Whether the request is for the monitor URI (the whole target, as HAProxy compares it).
    pub fn matches(&self, req: &Message) -> bool {
        // An HTTP/2 request's target is built absolute from its pseudo-headers (HAProxy's
        // normalized URI): its path is what is compared then, as haproxy 2.6 does.
        let uri = if req.version == super::message::Version::Http2 {
            req.uri()
        } else {
            req.target()
        };
        uri == self.uri.as_slice()
    }

    /// The status to answer: 503 when a `monitor fail` condition holds, else 200.
    pub fn status(&self, ctx: &Ctx<'_>) -> u16 {
        if self.fail.iter().any(|c| c.eval(ctx)) {
            503
        } else {
            200
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(text: &str) -> Proxy {
        let l = fulcrum_config::load_sources(&[fulcrum_config::Source { name: "t", text }]);
        assert!(
            l.is_ok(),
            "{:?}",
            l.diagnostics.errors().collect::<Vec<_>>()
        );
        l.config.proxies[0].clone()
    }

    fn req(text: &str) -> Message {
        let mut m = Message::new();
        assert!(matches!(m.parse_request(text.as_bytes()), Ok(Some(_))));
        m
    }

    #[test]
    fn answers_200_unless_a_fail_condition_holds() {
        let p = proxy(
            "frontend f\n mode http\n bind :80\n monitor-uri /up\n\
             monitor fail if { req.hdr(x-down) -m found }\n monitor fail unless { src 10.0.0.0/8 }\n",
        );
        let m = Monitor::compile(&p).expect("compiles").expect("a monitor");
        let up = req("GET /up HTTP/1.1\r\nHost: h\r\n\r\n");
        assert!(m.matches(&up));
        assert!(!m.matches(&req("GET /up?x HTTP/1.1\r\nHost: h\r\n\r\n")));
        assert!(!m.matches(&req("GET /upx HTTP/1.1\r\nHost: h\r\n\r\n")));
        let inside: std::net::SocketAddr = ([10, 1, 2, 3], 5000).into();
        let outside: std::net::SocketAddr = ([192, 0, 2, 1], 5000).into();
        let status = |src, r: &Message| {
            m.status(&crate::http::sample_env::Situation::new(src, src).view(Some(r), None))
        };
        assert_eq!(status(inside, &up), 200);
        assert_eq!(status(outside, &up), 503, "unless: fails outside 10/8");
        let down = req("GET /up HTTP/1.1\r\nHost: h\r\nX-Down: 1\r\n\r\n");
        assert_eq!(status(inside, &down), 503);
        assert!(Monitor::compile(&proxy("frontend f\n bind :80\n"))
            .expect("compiles")
            .is_none());
    }
}
