//! A server's `redir PREFIX`: a GET or HEAD request balanced to it is answered `302 Found`
//! with `Location: PREFIX` + the request's path and query, instead of being sent (HAProxy
//! 2.6's `http_perform_server_redirect`: same three header fields, logged `LC` with the
//! server's name). The farm returns the server without connecting (`NoServer::Redirect`).

use super::local::Drained;
use super::{Next, Rec, Session};
use crate::http::body;
use crate::stream::ClientStream;

impl<C: ClientStream> Session<C> {
    pub(super) async fn server_redirect(
        &mut self,
        srv: &crate::server::ServerRt,
        rec: &mut Rec,
    ) -> Next {
        let prefix = srv.limits.redir().unwrap_or_default();
        let mut location = Vec::with_capacity(prefix.len() + self.bufs.req.uri().len());
        location.extend_from_slice(prefix.as_bytes());
        location.extend_from_slice(self.bufs.req.uri());
        let resp = crate::http::response::Response::new(302, b"Found")
            .field(b"cache-control", b"no-cache")
            .field(b"content-length", b"0")
            .field(b"location", &location);
        rec.status = 302;
        rec.term = crate::termination::Termination::new(
            crate::termination::Cause::Local,
            crate::termination::Phase::Connect,
        );
        self.count_status(rec);
        let drained = Drained::of(body::request_framing(&mut self.bufs.req).ok());
        self.send_local(rec, Some(&resp), drained).await
    }
}
