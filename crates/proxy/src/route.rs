//! Routing, shared by the HTTP and TCP sessions: the backend a frontend sends a request or a
//! connection to — the first `use_backend` whose condition holds, else `default_backend`
//! (a `listen` is its own default). `None`: no backend (503 in HTTP, a closed connection in
//! TCP).

use crate::acl::Ctx;
use crate::backend::Backend;
use crate::state::{Frontend, Route};
use std::sync::Arc;

pub fn backend_for(fe: &Frontend, ctx: &Ctx<'_>) -> Option<Arc<Backend>> {
    for (cond, route) in &fe.use_backends {
        if !cond.eval(ctx) {
            continue;
        }
        match route {
            Route::Backend(b) => return Some(b.clone()),
            Route::Named(fmt, backends) => {
                // The name as a header value would render it, lent (a map's value under the
                // map's read lock: nothing copied per request).
                let mut found = None;
                fmt.lend(ctx, &mut |name| {
                    found = std::str::from_utf8(name)
                        .ok()
                        .and_then(|n| backends.get(n).cloned());
                });
                // An unknown name ends the `use_backend` rules (HAProxy's `break`).
                return found.or_else(|| fe.default_backend.clone());
            }
        }
    }
    fe.default_backend.clone()
}
