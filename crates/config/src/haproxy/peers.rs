//! `peers` and `resolvers` sections: fulcrum does not run them yet (no stick-table
//! replication, no DNS resolution at run time: server names are resolved once at start).
//! Their addresses are still checked as a `bind`'s or a `server`'s are, so a typo or an
//! undefined environment variable is reported at `fulcrum check`, not found on the day the
//! section starts to run.

use super::line::Line;
use super::{bind, server};
use crate::diagnostics::Diagnostics;

/// Which of the two sections a line is in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Peers,
    Resolvers,
}

/// The warning given once per section.
pub fn not_run(kind: Kind, name: &str) -> String {
    match kind {
        Kind::Peers => format!(
            "section 'peers {name}' is not run by fulcrum yet (no stick-table replication between peers); its addresses are checked, the rest is ignored"
        ),
        Kind::Resolvers => format!(
            "section 'resolvers {name}' is not run by fulcrum yet (server names are resolved once at start); its addresses are checked, the rest is ignored"
        ),
    }
}

pub fn keyword(kind: Kind, line: &Line<'_>, diags: &mut Diagnostics) {
    if let Err(msg) = check(kind, line, diags) {
        diags.error(&line.span, msg);
    }
}

fn check(kind: Kind, line: &Line<'_>, diags: &mut Diagnostics) -> Result<(), String> {
    match (kind, line.keyword()) {
        (Kind::Peers, "peer" | "server") => {
            line.need(1, "a peer name")?;
            if line.arg(2).is_some() {
                peer_address(&line.address(2, "an address such as 10.0.0.2:10000")?)?;
            }
        }
        (Kind::Peers, "bind") => {
            bind::parse(line, diags)?;
        }
        (Kind::Resolvers, "nameserver") => {
            line.need(1, "a nameserver name")?;
            nameserver_address(&line.address(2, "an address such as 10.0.0.53:53")?)?;
        }
        _ => {}
    }
    Ok(())
}

/// A peer's address: as a server's (IP or name, `ipv4@`/`ipv6@`, `unix@`, `/PATH`, `abns@`),
/// with a single port.
fn peer_address(text: &str) -> Result<(), String> {
    let a = server::parse_address(text).map_err(|e| e.replace("server address", "peer address"))?;
    if matches!(a.port, crate::model::ServerPort::Offset(_)) {
        return Err(format!(
            "peer address '{text}': a port offset is not permitted here (expected HOST:PORT)"
        ));
    }
    Ok(())
}

/// `[udp@|tcp@|ipv4@|ipv6@]ADDR:PORT`: a nameserver is reached over IP with a port.
fn nameserver_address(text: &str) -> Result<(), String> {
    let rest = ["udp@", "udp4@", "udp6@", "tcp@", "tcp4@", "tcp6@"]
        .iter()
        .find_map(|p| text.strip_prefix(p))
        .unwrap_or(text);
    if rest.starts_with('/') || rest.starts_with("unix@") || rest.starts_with("abns@") {
        return Err(format!(
            "nameserver address '{text}': a nameserver is reached over IP (expected ADDRESS:PORT)"
        ));
    }
    let a = server::parse_address(rest)
        .map_err(|e| e.replace("server address", "nameserver address"))?;
    match a.port {
        crate::model::ServerPort::Fixed(_) => Ok(()),
        _ => Err(format!("nameserver address '{text}': missing port (expected ADDRESS:PORT such as 10.0.0.53:53)")),
    }
}
