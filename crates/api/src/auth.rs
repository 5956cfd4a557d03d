//! Who is calling: `noauth` (the project from `X-Project-Id`, admin without one), a static
//! admin token (`X-Auth-Token`), or a Keystone token validated against the configured Keystone
//! (`keystone.rs`) and cached for 60 s.

use crate::ops::{err, ApiError, Caller};
use crate::Handle;
use axum::http::HeaderMap;
use fulcrum_config::model::ApiAuth;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Keystone tokens already validated: token → (caller, when).
#[derive(Default)]
pub struct TokenCache {
    inner: std::sync::Mutex<HashMap<String, (Caller, Instant)>>,
}

pub async fn caller(shared: &Handle, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let project = header("x-project-id").or_else(|| header("x-tenant-id"));
    match &shared.auth {
        ApiAuth::NoAuth => Ok(Caller {
            admin: project.is_none(),
            project: project.unwrap_or_else(|| "default".into()),
        }),
        ApiAuth::Token(secret) => match header("x-auth-token") {
            Some(t) if &t == secret => Ok(Caller {
                admin: true,
                project: project.unwrap_or_else(|| "admin".into()),
            }),
            _ => Err(err(
                401,
                "The request you have made requires authentication.",
            )),
        },
        ApiAuth::Keystone(url) => {
            let Some(token) = header("x-auth-token") else {
                return Err(err(
                    401,
                    "The request you have made requires authentication.",
                ));
            };
            if let Ok(g) = shared.keystone.inner.lock() {
                if let Some((c, at)) = g.get(&token) {
                    if at.elapsed() < Duration::from_secs(60) {
                        return Ok(c.clone());
                    }
                }
            }
            let c = crate::keystone::validate(url, &token, shared.keystone_ca.as_deref())
                .await
                .map_err(|m| {
                    tracing::warn!("keystone: {m}");
                    err(401, "The request you have made requires authentication.")
                })?;
            if let Ok(mut g) = shared.keystone.inner.lock() {
                g.insert(token, (c.clone(), Instant::now()));
            }
            Ok(c)
        }
    }
}
