//! Routing, shared by the HTTP and TCP sessions: the backend a frontend sends a request or a
//! connection to — the first `use_backend` whose condition holds, else `default_backend`
//! (a `listen` is its own default). `None`: no backend (503 in HTTP, a closed connection in
//! TCP).

use crate::acl::Ctx;
use crate::backend::Backend;
use crate::state::Frontend;
use std::sync::Arc;

pub fn backend_for(fe: &Frontend, ctx: &Ctx<'_>) -> Option<Arc<Backend>> {
    fe.use_backends
        .iter()
        .find(|(c, _)| c.eval(ctx))
        .map(|(_, b)| b.clone())
        .or_else(|| fe.default_backend.clone())
}
