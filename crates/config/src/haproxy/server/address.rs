//! A server line's address as HAProxy reads it: `IP[:PORT]`, `[IPv6]:PORT`, a name, port
//! offsets (`+N`/`-N`), and the socket forms `unix@`/`uxst@`/`/path`, `abns@`, `sockpair@`.

use super::super::line::number_in;
use crate::model::{ServerAddress, ServerPort, UnixAddress};
use std::net::IpAddr;

/// `HOST[:PORT]`, `[IPv6]:PORT`, `HOST:+N`/`HOST:-N` (the port is after the last colon), with
/// an optional `ipv4@`/`ipv6@`/`tcp@`/`tcp4@`/`tcp6@` prefix; or a unix stream socket: `unix@PATH`, `/PATH`, `abns@NAME`.
pub fn parse_address(written: &str) -> Result<ServerAddress, String> {
    let unix = if let Some(path) = written
        .strip_prefix("unix@")
        .or_else(|| written.strip_prefix("uxst@"))
    {
        if path.is_empty() {
            return Err(format!(
                "missing path in server address '{written}' (expected unix@/PATH)"
            ));
        }
        Some(UnixAddress::Path(path.to_string()))
    } else if written.starts_with('/') {
        Some(UnixAddress::Path(written.to_string()))
    } else if let Some(name) = written.strip_prefix("abns@") {
        if name.is_empty() {
            return Err(format!(
                "missing name in server address '{written}' (expected abns@NAME)"
            ));
        }
        Some(UnixAddress::Abns(name.to_string()))
    } else {
        None
    };
    if let Some(unix) = unix {
        return Ok(ServerAddress {
            host: written.to_string(),
            ip: None,
            port: ServerPort::Unset,
            unix: Some(unix),
        });
    }
    let (family, text) = super::super::line::ip_family(written);
    if text.starts_with("sockpair@") {
        return Err(format!("server address '{written}': passing connections over a socket pair (sockpair@) is not supported by fulcrum yet"));
    }
    if let Some((prefix, _)) = text.split_once('@') {
        return Err(format!(
            "server address '{written}': address family '{prefix}@' cannot reach a server (expected HOST:PORT, ipv4@, ipv6@, tcp@, unix@PATH, /PATH or abns@NAME)"
        ));
    }
    let (host, port) = if let Some(r) = text.strip_prefix('[') {
        let (h, p) = r
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in address '{text}'"))?;
        (h, p.strip_prefix(':'))
    } else if let Ok(ip) = text.parse::<IpAddr>() {
        // A bare IPv4 address, or an IPv6 one that cannot be split into address and port.
        if ip.is_ipv4()
            || text
                .rsplit_once(':')
                .map(|(h, _)| h.parse::<IpAddr>().is_err())
                .unwrap_or(true)
        {
            (text, None)
        } else {
            let (h, p) = text.rsplit_once(':').unwrap_or((text, ""));
            (h, Some(p))
        }
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    // `*:PORT`, `:PORT`, `*`: no address, as `0.0.0.0` (`::` under `ipv6@`): the connection
    // goes to the address the client connected to (HAProxy's server without an address).
    let host = match host {
        "" | "*" if family == Some(6) => "::",
        "" | "*" => "0.0.0.0",
        h => h,
    };
    let port = match port {
        // HAProxy: port 0 is no port (the client's destination port, SRV_F_MAPPORTS)
        None | Some("") | Some("0") => ServerPort::Unset,
        Some(p) if p.starts_with('+') || p.starts_with('-') => {
            let n: i32 = p
                .parse()
                .map_err(|_| format!("invalid port offset '{p}' in '{text}'"))?;
            ServerPort::Offset(n)
        }
        Some(p) => {
            let n = number_in(p, &format!("port in '{text}'"), 1, 65535).map_err(|_| {
                format!("invalid port '{p}' in server address '{text}' (expected 1 to 65535)")
            })?;
            ServerPort::Fixed(n as u16)
        }
    };
    let ip = host.parse::<IpAddr>().ok();
    if ip.is_some_and(|ip| {
        (family == Some(4) && ip.is_ipv6()) || (family == Some(6) && ip.is_ipv4())
    }) {
        return Err(format!(
            "server address '{written}': address '{host}' does not match its family prefix"
        ));
    }
    if ip.is_none()
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err(format!("invalid host '{host}' in server address '{text}' (expected an IP address or a DNS name)"));
    }
    Ok(ServerAddress {
        host: host.to_string(),
        ip,
        port,
        unix: None,
    })
}
