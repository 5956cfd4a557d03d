//! `bind ADDR:PORT[-PORT][,ADDR:PORT...] [options]`: addresses and options of a listener.
//!
//! Address forms as HAProxy 2.6 writes them: `[ipv4@|ipv6@|tcp@|tcp4@|tcp6@]ADDR:PORT`, `unix@PATH`, `uxst@PATH`
//! or a plain `/PATH` (unix stream socket), `abns@NAME` (Linux abstract namespace), `fd@N`
//! (an inherited listening socket) and `sockpair@N` (connections passed as file descriptors).
//! Datagram and QUIC families (`udp@`, `quic4@`, ...) are refused: a bind serves streams.

use super::line::{number, Line};
use super::ssl;
use crate::diagnostics::Diagnostics;
use crate::model::{Bind, BindAddress};
use std::net::IpAddr;

/// Bind options fulcrum reads but does not act on (yet), with how many values each takes.
const IGNORED: &[(&str, usize)] = &[
    ("process", 1),
    ("thread", 1),
    ("tfo", 0),
    ("level", 1),
    ("backlog", 1),
    ("nice", 1),
    ("severity-output", 1),
    ("expose-fd", 1),
    ("tcp-ut", 1),
    ("shards", 1),
    ("quic-force-retry", 0),
];

pub fn parse(line: &Line<'_>, diags: &mut Diagnostics) -> Result<Vec<Bind>, String> {
    let spec = line.address(1, "an address such as ':80' or '10.0.0.1:443'")?;
    let mut binds = Vec::new();
    for part in spec.split(',') {
        let (address, port_first, port_last) = parse_address(part)?;
        binds.push(Bind {
            span: line.span.clone(),
            address,
            port_first,
            port_last,
            transparent: false,
            freebind: false,
            v4v6: false,
            v6only: false,
            ssl: false,
            tls: Default::default(),
            proto_h2: false,
            name: None,
            accept_proxy: false,
            netscaler_cip: None,
            mode: None,
            uid: None,
            user: None,
            gid: None,
            group: None,
            id: None,
            limits: Default::default(),
        });
    }
    let mut i = 2;
    let mut tls_options: Vec<&str> = Vec::new();
    let mut tls_warnings = Vec::new();
    while let Some(opt) = line.arg(i) {
        let mut consumed = 1;
        for b in binds.iter_mut() {
            match opt {
                "transparent" => b.transparent = true,
                "freebind" => b.freebind = true,
                "v4v6" => b.v4v6 = true,
                "v6only" => b.v6only = true,
                "ssl" => b.ssl = true,
                "accept-proxy" => b.accept_proxy = true,
                "accept-netscaler-cip" => {
                    // HAProxy 2.6: `atol` into a 32-bit unsigned, 0 refused (-5 is
                    // 4294967291, 4294967297 is 1, `12x` is 12)
                    let v = line.need(i + 1, "a magic number")?;
                    let n = super::rules::conn::atol(v) as u32;
                    if n == 0 {
                        return Err(format!(
                            "'accept-netscaler-cip' : invalid value 0 ('{v}'), must be >= 0"
                        ));
                    }
                    b.netscaler_cip = Some(n);
                    consumed = 2;
                }
                "proto" => {
                    b.proto_h2 = match line.need(i + 1, "a protocol: h2 or h1")? {
                        "h2" => true,
                        "h1" => false,
                        p => {
                            return Err(format!(
                                "bind option 'proto' expects h2 or h1, found '{p}'"
                            ))
                        }
                    };
                    consumed = 2;
                }
                "name" => {
                    b.name = Some(line.need(i + 1, "a name")?.to_string());
                    consumed = 2;
                }
                "mode" => {
                    let m = line.need(i + 1, "an octal mode such as 660")?;
                    b.mode = Some(u32::from_str_radix(m, 8).map_err(|_| {
                        format!(
                            "bind option 'mode' expects an octal number such as 660, found '{m}'"
                        )
                    })?);
                    consumed = 2;
                }
                "uid" => {
                    b.uid = Some(number(line.need(i + 1, "a numeric user id")?, "uid")?);
                    consumed = 2;
                }
                "gid" => {
                    b.gid = Some(number(line.need(i + 1, "a numeric group id")?, "gid")?);
                    consumed = 2;
                }
                "user" => {
                    b.user = Some(line.need(i + 1, "a user name")?.to_string());
                    consumed = 2;
                }
                "group" => {
                    b.group = Some(line.need(i + 1, "a group name")?.to_string());
                    consumed = 2;
                }
                "defer-accept" => b.limits.defer_accept = true,
                "maxconn" => {
                    let n: u32 = number(line.need(i + 1, "a number of connections")?, "maxconn")?;
                    b.limits.maxconn = Some(n).filter(|n| *n > 0);
                    consumed = 2;
                }
                "mss" => {
                    // HAProxy: negative, the default MSS lowered by that much
                    let v = line.need(i + 1, "a maximum segment size")?;
                    let n: i32 = number(v.trim_start_matches('-'), "mss")?;
                    b.limits.mss = Some(if v.starts_with('-') { -n } else { n });
                    consumed = 2;
                }
                "interface" => {
                    b.limits.interface = Some(line.need(i + 1, "an interface name")?.to_string());
                    consumed = 2;
                }
                "namespace" => {
                    return Err("bind option 'namespace' (listening in another network namespace) is not run by fulcrum; run fulcrum inside that namespace instead".into())
                }
                "id" => {
                    let id: u32 = number(line.need(i + 1, "a listener id")?, "id")?;
                    if id == 0 {
                        return Err("bind option 'id' must be a positive number".into());
                    }
                    b.id = Some(id);
                    consumed = 2;
                }
                _ => {
                    if let Some((_, n)) = IGNORED.iter().find(|(k, _)| *k == opt) {
                        for k in 1..=*n {
                            line.need(i + k, &format!("a value after '{opt}'"))?;
                        }
                        consumed = 1 + n;
                    } else if let Some(n) =
                        ssl::option(line, i, ssl::Side::Bind, &mut b.tls, &mut tls_warnings)?
                    {
                        consumed = n;
                        tls_options.push(opt);
                    } else {
                        return Err(format!(
                            "unknown bind option '{opt}' (expected transparent, freebind, v4v6, v6only, ssl, crt, alpn, name, accept-proxy, ...)"
                        ));
                    }
                }
            }
        }
        if IGNORED.iter().any(|(k, _)| *k == opt) {
            diags.warning(
                &line.span,
                format!("bind option '{opt}' is not supported by fulcrum yet and is ignored"),
            );
        }
        i += consumed;
    }
    tls_warnings.dedup();
    for w in tls_warnings {
        diags.warning(&line.span, w);
    }
    if binds.iter().any(|b| b.ssl) {
        if binds
            .iter()
            .any(|b| b.tls.crt.is_empty() && b.tls.crt_list.is_empty())
        {
            return Err(
                "'ssl' on a bind needs a certificate: add 'crt FILE|DIR' or 'crt-list FILE'".into(),
            );
        }
    } else if let Some(opt) = tls_options.first() {
        diags.warning(
            &line.span,
            format!("bind option '{opt}' only applies with 'ssl'; ignored"),
        );
    }
    let file_options = ["mode", "uid", "gid", "user", "group"];
    if let Some(opt) = file_options
        .iter()
        .find(|o| line.args_from(2).iter().any(|a| a == *o))
    {
        if !binds
            .iter()
            .all(|b| matches!(b.address, BindAddress::Unix(_)))
        {
            diags.warning(&line.span, format!("bind option '{opt}' only applies to unix socket paths; ignored on this address"));
        }
    }
    if binds.iter().any(|b| b.v4v6 && b.v6only) {
        return Err("'v4v6' and 'v6only' contradict each other".into());
    }
    Ok(binds)
}

/// One address of a bind line: `[ipv4@|ipv6@]ADDR:PORT[-PORT]`, `:PORT`, `*:PORT`, `[v6]:PORT`,
/// `unix@PATH`, `uxst@PATH`, `/PATH`, `abns@NAME`, `fd@N` or `sockpair@N`.
pub fn parse_address(text: &str) -> Result<(BindAddress, u16, u16), String> {
    if let Some(path) = text
        .strip_prefix("unix@")
        .or_else(|| text.strip_prefix("uxst@"))
    {
        if path.is_empty() {
            return Err(format!("missing path in '{text}'"));
        }
        return Ok((BindAddress::Unix(path.to_string()), 0, 0));
    }
    if text.starts_with('/') {
        return Ok((BindAddress::Unix(text.to_string()), 0, 0));
    }
    if let Some(name) = text.strip_prefix("abns@") {
        if name.is_empty() {
            return Err(format!("missing name in '{text}' (expected abns@NAME)"));
        }
        return Ok((BindAddress::Abns(name.to_string()), 0, 0));
    }
    if let Some(n) = text.strip_prefix("fd@") {
        return Ok((BindAddress::Fd(fd_number(n, text)?), 0, 0));
    }
    if let Some(n) = text.strip_prefix("sockpair@") {
        return Ok((BindAddress::Sockpair(fd_number(n, text)?), 0, 0));
    }
    for prefix in ["udp@", "udp4@", "udp6@", "uxdg@", "quic4@", "quic6@"] {
        if text.starts_with(prefix) {
            return Err(format!(
                "address family '{prefix}' in '{text}' is a datagram or QUIC address; a bind needs a stream address (IP:PORT, unix@, abns@, fd@, sockpair@)"
            ));
        }
    }
    let (family, rest) = super::line::ip_family(text);
    let (host, ports) = if let Some(r) = rest.strip_prefix('[') {
        let (h, p) = r
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in address '{text}'"))?;
        (h, p.strip_prefix(':').unwrap_or(p))
    } else {
        rest.rsplit_once(':').ok_or_else(|| {
            format!("missing port in bind address '{text}' (expected ADDRESS:PORT such as ':80')")
        })?
    };
    let (first, last) = parse_port_range(ports, text)?;
    let address = match host {
        "" | "*" => {
            if family == Some(6) {
                BindAddress::AnyV6
            } else {
                BindAddress::AnyV4
            }
        }
        "::" => BindAddress::AnyV6,
        h => {
            let ip: IpAddr = h.parse().map_err(|_| {
                format!("invalid address '{h}' in '{text}' (expected an IPv4 or IPv6 address, '*' or nothing)")
            })?;
            if (family == Some(4) && ip.is_ipv6()) || (family == Some(6) && ip.is_ipv4()) {
                return Err(format!(
                    "address '{h}' does not match its family prefix in '{text}'"
                ));
            }
            if ip.is_unspecified() {
                if ip.is_ipv4() {
                    BindAddress::AnyV4
                } else {
                    BindAddress::AnyV6
                }
            } else {
                BindAddress::Ip(ip)
            }
        }
    };
    Ok((address, first, last))
}

/// The `N` of `fd@N` / `sockpair@N`.
pub fn fd_number(n: &str, text: &str) -> Result<i32, String> {
    n.parse::<i32>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| format!("invalid file descriptor '{n}' in '{text}' (expected fd@NUMBER, e.g. fd@3 or fd@${{LISTEN_FD}})"))
}

fn parse_port_range(ports: &str, text: &str) -> Result<(u16, u16), String> {
    if ports.is_empty() {
        return Err(format!(
            "missing port in bind address '{text}' (expected ADDRESS:PORT such as ':80')"
        ));
    }
    let (a, b) = match ports.split_once('-') {
        Some((a, b)) => (a, b),
        None => (ports, ports),
    };
    let first: u32 = number(a, &format!("port in '{text}'"))?;
    let last: u32 = number(b, &format!("port in '{text}'"))?;
    if first == 0 || first > 65535 || last == 0 || last > 65535 {
        return Err(format!(
            "invalid port in '{text}': ports must be between 1 and 65535"
        ));
    }
    if last < first {
        return Err(format!(
            "invalid port range in '{text}': {first} is above {last}"
        ));
    }
    Ok((first as u16, last as u16))
}
