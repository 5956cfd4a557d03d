//! A backend at run time: its server farm (`farm`: servers, balancing, queue, connect with
//! retries and redispatch, persistence hooks, history) with the backend's HTTP policy beside
//! it (`http::policy`: rules, error pages, forwardfor, cookie persistence, stats page).
//!
//! The farm is generic over the policy it carries, so the farm never imports HTTP and a
//! request pays no indirection to reach either half.

use crate::http::policy::HttpPolicy;

pub use crate::farm::{ConnectFailure, FarmParts, Hints, NoServer, Origin};

/// A backend or the backend side of a `listen`.
pub type Backend = crate::farm::Farm<HttpPolicy>;

/// A server of a [`Backend`] assigned to a request.
pub type Assigned = crate::farm::Assigned<HttpPolicy>;
