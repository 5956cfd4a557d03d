//! `peers` and `resolvers` sections. `peers NAME` is run (stick-table replication between
//! fulcrum nodes, see the `fulcrum-peers` crate): `peer NAME IP:PORT`, and 2.x's
//! `bind IP:PORT` + `server NAME [IP:PORT]`, and `table NAME ...` (a stick table named
//! `NAME/TABLE`, as a proxy's `stick-table`); every other keyword of the section is refused
//! at FILE:LINE. `resolvers` is not run (server names are resolved once at start): its
//! addresses are still checked as a `server`'s are, so a typo or an undefined environment
//! variable is reported at `fulcrum check`.

use super::line::Line;
use super::server;
use crate::diagnostics::Diagnostics;
use crate::model::{Peer, Peers};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The warning given once per `resolvers` section.
pub fn resolvers_not_run(name: &str) -> String {
    format!(
        "section 'resolvers {name}' is not run by fulcrum yet (server names are resolved once at start); its addresses are checked, the rest is ignored"
    )
}

/// A line of a `resolvers` section.
pub fn resolvers_keyword(line: &Line<'_>, diags: &mut Diagnostics) {
    if line.keyword() == "nameserver" {
        let r = line
            .need(1, "a nameserver name")
            .and_then(|_| line.address(2, "an address such as 10.0.0.53:53"))
            .and_then(|a| nameserver_address(&a));
        if let Err(msg) = r {
            diags.error(&line.span, msg);
        }
    }
}

/// `peers NAME`: a new section (None when the line is unusable, already reported).
pub fn open(line: &Line<'_>, diags: &mut Diagnostics) -> Option<Peers> {
    let Some(name) = line.arg(1) else {
        diags.error(&line.span, "'peers' needs a name (expected 'peers NAME')");
        return None;
    };
    if let Err(msg) = line.no_more(2) {
        diags.error(&line.span, msg);
    }
    Some(Peers {
        span: line.span.clone(),
        name: name.to_string(),
        bind: None,
        peers: Vec::new(),
        tables: Vec::new(),
    })
}

/// A line of a `peers` section.
pub fn keyword(p: &mut Peers, line: &Line<'_>, diags: &mut Diagnostics) {
    if let Err(msg) = peers_line(p, line) {
        diags.error(&line.span, msg);
    }
}

fn peers_line(p: &mut Peers, line: &Line<'_>) -> Result<(), String> {
    match line.keyword() {
        kw @ ("peer" | "server") => {
            let name = line.need(1, "a peer name")?;
            let address = match line.arg(2) {
                Some(_) => Some(socket_address(
                    &line.address(2, "an address such as 10.0.0.2:10000")?,
                    "peer address",
                )?),
                None if kw == "server" => None,
                None => return Err(format!("'peer {name}' expects an address such as 10.0.0.2:10000 (the local peer's too: it listens there)")),
            };
            if let Some(extra) = line.arg(3) {
                return Err(format!("'{kw} {name}': option '{extra}' is not run by fulcrum's peers (no TLS, no shards): only '{kw} NAME IP:PORT' is"));
            }
            if let Some(first) = p.peers.iter().find(|q| q.name == name) {
                return Err(format!(
                    "peer '{name}' is already defined in peers '{}' (at {})",
                    p.name, first.span
                ));
            }
            p.peers.push(Peer {
                span: line.span.clone(),
                name: name.to_string(),
                address,
            });
        }
        "bind" => {
            let a = socket_address(
                &line.address(1, "an address such as 10.0.0.1:10000")?,
                "peers bind address",
            )?;
            if let Some(extra) = line.arg(2) {
                return Err(format!("'bind': option '{extra}' is not run by fulcrum's peers (no TLS): only 'bind IP:PORT' is"));
            }
            if p.bind.is_some() {
                return Err(format!(
                    "peers '{}' has a second 'bind' (fulcrum listens on one address per section)",
                    p.name
                ));
            }
            p.bind = Some(a);
        }
        "table" => {
            // `table NAME <stick-table options>`: the table `SECTION/NAME`, replicated here.
            let name = line.need(1, "a table name")?;
            let full = format!("{}/{name}", p.name);
            if p.tables.iter().any(|(n, _)| *n == full) {
                return Err(format!("peers '{}': table '{name}' is defined twice", p.name));
            }
            let words: Vec<String> = std::iter::once("stick-table".to_string())
                .chain(line.words.iter().skip(2).cloned())
                .collect();
            let as_table = Line {
                words: &words,
                span: line.span.clone(),
                undefined: &[],
                env: line.env,
                paths: line.paths,
            };
            let mut t = super::rules::stick_table(&as_table)?;
            if t.peers.is_some() {
                return Err(format!(
                    "table '{name}': 'peers' is not allowed in a peers section's table (it is replicated by its own section)"
                ));
            }
            t.peers = Some(p.name.clone());
            p.tables.push((full, t));
        }
        "disabled" | "enabled" | "enable" | "default-bind" | "default-server" | "log"
        | "shards" => {
            return Err(format!(
                "'{}' in a peers section is not run by fulcrum (supported: 'peer NAME IP:PORT', 'bind IP:PORT', 'server NAME [IP:PORT]', 'table NAME ...')",
                line.keyword()
            ))
        }
        other => {
            return Err(format!(
                "unknown keyword '{other}' in peers section '{}' (expected 'peer', 'bind' or 'server')",
                p.name
            ))
        }
    }
    Ok(())
}

/// `IP:PORT`, `[IPv6]:PORT` or `:PORT` (every address): peers run over TCP to an IP.
fn socket_address(text: &str, what: &str) -> Result<SocketAddr, String> {
    let rest = ["ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"]
        .iter()
        .find_map(|p| text.strip_prefix(p))
        .unwrap_or(text);
    if let Some(port) = rest.strip_prefix(':') {
        if let Ok(port) = port.parse::<u16>() {
            return Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
        }
    }
    if let Ok(a) = rest.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Some((ip, port)) = rest.rsplit_once(':') {
        if let (Ok(ip), Ok(port)) = (ip.parse::<IpAddr>(), port.parse::<u16>()) {
            return Ok(SocketAddr::new(ip, port));
        }
    }
    Err(format!(
        "{what} '{text}': fulcrum's peers take an IP address and a port (such as 10.0.0.2:10000); host names, UNIX sockets and port ranges are not supported"
    ))
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
