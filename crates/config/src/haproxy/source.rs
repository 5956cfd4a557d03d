//! `source ADDR[:PORT] [usesrc ...] [interface NAME]`, in a proxy or on a `server` line: the
//! local address connections to servers (and their health checks) are bound to.
//!
//! Plain `source ADDR[:PORT]` runs. `usesrc` (transparent proxying: connecting from the
//! client's address) and `interface` (binding to a device) are refused with an error: ignoring
//! them would send traffic from another address or another way than the file says.

use super::line::{number, Line};
use std::net::{IpAddr, SocketAddr};

/// Reads the `source` words from word `i` (the address) on; returns the address and how many
/// words it takes (one: `usesrc` and `interface` are refused). `server_line`: a server's `source` (HAProxy allows a port range there).
pub fn parse(line: &Line<'_>, i: usize, server_line: bool) -> Result<(SocketAddr, usize), String> {
    let text = line.address(
        i,
        "<addr>[:<port>], and optionally 'usesrc' <addr>, and 'interface' <name>",
    )?;
    let addr = address(&text, server_line)?;
    match line.arg(i + 1) {
        None => {}
        Some("usesrc") => {
            let what = line.need(
                i + 2,
                "an address, 'client', 'clientip' or 'hdr_ip(NAME)' after 'usesrc'",
            )?;
            return Err(format!(
                "'source ... usesrc {what}' (transparent proxying: connecting from the client's address) is not supported by fulcrum yet"
            ));
        }
        Some("interface") => {
            let name = line.need(i + 2, "an interface name after 'interface'")?;
            return Err(format!("'source ... interface {name}' (binding to a network device) is not supported by fulcrum yet"));
        }
        // On a server line the next word is the next server option.
        Some(_) if server_line => {}
        Some(other) => {
            return Err(format!(
            "'source' only supports optional keywords 'interface' and 'usesrc', found '{other}'"
        ))
        }
    }
    Ok((addr, 1))
}

/// `[ipv4@|ipv6@|tcp@|tcp4@|tcp6@]ADDR[:PORT]` or `[ADDR]:PORT`; a missing port (or 0) lets the system choose.
pub fn address(text: &str, server_line: bool) -> Result<SocketAddr, String> {
    let (family, rest) = super::line::ip_family(text);
    if rest.contains('@') || rest.starts_with('/') {
        return Err(format!("'source {text}': a source address must be an IPv4 or IPv6 address (with an optional port)"));
    }
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let (h, p) = r
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in source address '{text}'"))?;
        (h, p.strip_prefix(':'))
    } else {
        // The port is after the last colon (as HAProxy reads `::1:80`), unless what is before
        // it is no address while the whole is one (`::1`, `fe80::1`).
        match rest.rsplit_once(':') {
            Some((h, _)) if h.parse::<IpAddr>().is_err() && rest.parse::<IpAddr>().is_ok() => {
                (rest, None)
            }
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    let ip: IpAddr = match host {
        "" | "*" if family == Some(6) => IpAddr::from([0u16; 8]),
        "" | "*" => IpAddr::from([0u8; 4]),
        h => h.parse().map_err(|_| {
            format!("'source {text}': invalid address '{h}' (expected an IPv4 or IPv6 address)")
        })?,
    };
    if (family == Some(4) && ip.is_ipv6()) || (family == Some(6) && ip.is_ipv4()) {
        return Err(format!(
            "'source {text}': address '{host}' does not match its family prefix"
        ));
    }
    let port = match port {
        None | Some("") => 0,
        Some(p) => {
            if let Some((lo, hi)) = p.split_once('-') {
                if !server_line {
                    return Err(format!(
                        "'source {text}': port range not permitted here (only on a server line)"
                    ));
                }
                let (lo, hi): (u16, u16) = (number(lo, "source port")?, number(hi, "source port")?);
                if lo == 0 || hi < lo {
                    return Err(format!("'source {text}': invalid port range '{p}'"));
                }
                return Err(format!("'source {text}': a source port range is not supported by fulcrum yet (write one port, or none)"));
            }
            number::<u16>(p, &format!("port in source address '{text}'"))?
        }
    };
    Ok(SocketAddr::new(ip, port))
}
