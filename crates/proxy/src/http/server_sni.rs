//! A server's `sni EXPR` evaluated for the request that opens a connection (HAProxy evaluates
//! it on the stream at connect time): on the request head when there is one (HTTP), the
//! connection's addresses and the client's TLS handshake (`sni ssl_fc_sni`, `sni
//! req.hdr(host)`, `sni str(x),concat(...)`). An empty value sends no SNI.

use crate::http::message::Message;
use crate::http::sample_env::Situation;
use crate::stream::TlsInfo;
use std::net::SocketAddr;

/// The evaluator the farm calls with a server's expression (see `farm::Hints::sni`).
pub fn evaluator<'a>(
    req: Option<&'a Message>,
    peer: SocketAddr,
    local: SocketAddr,
    tls: Option<&'a TlsInfo>,
) -> impl Fn(&fulcrum_sample::expr::Expr) -> Option<String> + Send + Sync + 'a {
    move |expr| {
        let x = Situation::new(peer, local).with_tls(tls);
        let value = expr.eval(&x.view(req, None))?.to_bytes();
        (!value.is_empty()).then(|| String::from_utf8_lossy(&value).into_owned())
    }
}
