//! `unique-id-format` / `unique-id-header`: the id made once per request from the format
//! (connection variables `%ci %cp %fi %fp %Ts %rt %pid`, written in hexadecimal after
//! `%{+X}o` as HAProxy does, and `%[...]` samples), read by the `unique-id` fetch and `%ID`
//! in logs, and sent to the server in the header.

use super::sample_env::HttpEnv;
use fulcrum_sample::logformat::{Format, Node};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

enum Part {
    Var(&'static str, bool),
    Other(Format),
}

/// A compiled `unique-id-format` and the header it is sent in.
pub struct UniqueId {
    parts: Vec<Part>,
    pub header: Option<Vec<u8>>,
}

impl std::fmt::Debug for UniqueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UniqueId({} parts)", self.parts.len())
    }
}

impl UniqueId {
    /// `None` without a `unique-id-format` (HAProxy then makes no id and sends no header).
    pub fn compile(u: &fulcrum_config::model_extras::UniqueId) -> Result<Option<UniqueId>, String> {
        let Some(text) = &u.format else {
            return Ok(None);
        };
        // blanks as in log lines: the manual's `%{+X}o\ %ci:...` makes no leading space
        let f = fulcrum_sample::compile_format(text)
            .map_err(|e| format!("unique-id-format '{text}': column {}: {}", e.col, e.msg))?
            .blanks_once(|_| false);
        let parts = f
            .nodes
            .into_iter()
            .map(|n| match n {
                Node::Var(name, flags) => Part::Var(name, flags.hex),
                other => Part::Other(Format { nodes: vec![other] }),
            })
            .collect();
        Ok(Some(UniqueId {
            parts,
            header: u.header.clone().map(String::into_bytes),
        }))
    }

    /// The id of a new request from `peer` to `local`; `rt`: its `%rt`.
    pub fn make(&self, env: &HttpEnv<'_>, peer: SocketAddr, local: SocketAddr, rt: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        for p in &self.parts {
            match p {
                Part::Var(name, hex) => var(&mut out, name, *hex, peer, local, rt),
                // haproxy 2.6.12 parses the format as an HTTP value: a missing sample is
                // empty and control bytes are `%XX` (the id may be sent as a header)
                Part::Other(f) => f.render_value(env, &mut |_, _| false, &mut out),
            }
        }
        out
    }
}

fn var(out: &mut Vec<u8>, name: &str, hex: bool, peer: SocketAddr, local: SocketAddr, rt: u64) {
    let ip = |out: &mut Vec<u8>, a: IpAddr| {
        let a = crate::net::canonical(a);
        if hex {
            match a {
                IpAddr::V4(v) => v.octets().iter().for_each(|b| {
                    let _ = write!(out, "{b:02X}");
                }),
                IpAddr::V6(v) => v.octets().iter().for_each(|b| {
                    let _ = write!(out, "{b:02X}");
                }),
            }
        } else {
            let _ = write!(out, "{a}");
        }
    };
    let num = |out: &mut Vec<u8>, n: u64| {
        let _ = if hex {
            write!(out, "{n:04X}")
        } else {
            write!(out, "{n}")
        };
    };
    match name {
        "ci" => ip(out, peer.ip()),
        "fi" => ip(out, local.ip()),
        "cp" => num(out, u64::from(peer.port())),
        "fp" => num(out, u64::from(local.port())),
        "Ts" => num(
            out,
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        ),
        "rt" => num(out, rt),
        "pid" => num(out, u64::from(std::process::id())),
        // `%o` only carries flags for what follows.
        _ => {}
    }
}
