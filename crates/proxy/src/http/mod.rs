//! HTTP mode: the protocol-neutral message head (`message`), the HTTP/1 codec at the edge
//! (`h1`, `body`), rules, the responses the proxy makes itself (`response`, `errors`), and the session that forwards requests as a
//! sequence of named phases (see `session.rs`).

pub mod body;
pub mod body_param;
pub mod body_splice;
pub mod bufs;
pub mod cache;
pub mod cache_flow;
pub mod cache_policy;
pub mod cache_vary;
pub mod capture;
pub mod checkcache;
pub mod compress;
pub mod error_reply;
pub mod errors;
pub mod h1;
pub mod h1_case;
mod h1_fast;
pub mod h1_relax;
pub mod h2;
pub mod hdr_names;
pub mod headers;
pub mod log_bytes;
pub mod message;
pub mod monitor;
pub mod originalto;
pub mod persist;
pub mod policy;
pub mod response;
pub mod rewrite;
pub mod rules;
pub mod sample_env;
pub mod send_name;
pub mod server_rules;
pub mod server_sni;
pub mod session;
pub mod set_addr;
pub mod ssl_client;
pub mod unique_id;
pub mod userlist;
pub mod validate;
