//! Proxy keywords beyond the core model: `compression`, `option originalto`, `dispatch`,
//! `retry-on`; the global `zero-warning`, `mworker-max-reloads` and the refused `lua-load`.
//!
//! Each function parses one keyword line into `model_extras` types, as HAProxy 2.6 reads it.

use super::line::Line;
use crate::model::{Global, Proxy, ProxyOptions, ServerPort};
use crate::model_extras::{CompAlgo, Compression, OriginalTo};

/// `compression algo ALGO...` | `compression type MIME...` | `compression offload`.
pub fn compression(o: &mut ProxyOptions, line: &Line<'_>) -> Result<(), String> {
    let what = line.need(1, "'algo', 'type' or 'offload'")?;
    let c = o.compression.get_or_insert_with(Compression::default);
    match what {
        "algo" => {
            let names = line.args_from(2);
            if names.is_empty() {
                return Err("'compression algo' expects <algorithm>".into());
            }
            for n in names {
                let a = CompAlgo::parse(n).ok_or_else(|| {
                    format!(
                        "'compression algo': '{n}' is not a supported algorithm \
                         (expected identity, deflate, raw-deflate or gzip)"
                    )
                })?;
                // HAProxy puts each new algorithm in front of the list.
                c.algos.insert(0, a);
            }
        }
        "type" => {
            let types = line.args_from(2);
            if types.is_empty() {
                return Err("'compression type' expects <type>".into());
            }
            c.types.extend(types.iter().map(|t| t.to_string()));
        }
        "offload" => {
            line.no_more(2)?;
            c.offload = true;
        }
        other => {
            return Err(format!(
                "'compression' expects 'algo', 'type' or 'offload', found '{other}'"
            ))
        }
    }
    Ok(())
}

/// `option originalto [except NETWORK] [header NAME]` (args after the option's name).
pub fn originalto(
    o: &mut ProxyOptions,
    line: &Line<'_>,
    base: usize,
    enable: bool,
) -> Result<(), String> {
    if !enable {
        o.originalto = None;
        return Ok(());
    }
    let mut ot = OriginalTo {
        except: None,
        header: "X-Original-To".into(),
    };
    let mut i = base + 1;
    while let Some(arg) = line.arg(i) {
        match arg {
            "except" => {
                let net = line.need(i + 1, "a network such as 10.0.0.0/8")?;
                if !ip_network(net) {
                    return Err(format!(
                        "'option originalto except' expects a network such as 10.0.0.0/8 or 2001:db8::/32, found '{net}'"
                    ));
                }
                ot.except = Some(net.to_string());
                i += 2;
            }
            "header" => {
                ot.header = line.need(i + 1, "a header name")?.to_string();
                i += 2;
            }
            other => {
                return Err(format!(
                    "'option originalto' expects 'except' or 'header', found '{other}'"
                ))
            }
        }
    }
    o.originalto = Some(ot);
    Ok(())
}

/// The statuses HAProxy 2.6's `retry-on` accepts.
const RETRY_STATUSES: &[u16] = &[401, 403, 404, 408, 425, 500, 501, 502, 503, 504];

/// `retry-on none | KEYWORD...`: what is retried, replacing what a defaults section said (as
/// HAProxy: not cumulative). `0rtt-rejected` is accepted and never met (fulcrum sends no
/// early data to servers).
pub fn retry_on(o: &mut ProxyOptions, line: &Line<'_>) -> Result<(), String> {
    let words = line.args_from(1);
    if words.is_empty() {
        return Err(
            "'retry-on' expects a list of keywords such as 'conn-failure' or 'none'".into(),
        );
    }
    let mut none = false;
    let mut r = crate::model::RetryOn::default();
    for w in words {
        match w.as_str() {
            "none" if words.len() == 1 => none = true,
            "none" => return Err("'retry-on': 'none' must be the only keyword".into()),
            "conn-failure" | "0rtt-rejected" => {}
            "empty-response" => r.empty_response = true,
            "junk-response" => r.junk_response = true,
            "response-timeout" => r.response_timeout = true,
            "all-retryable-errors" => {
                r.empty_response = true;
                r.junk_response = true;
                r.response_timeout = true;
                r.statuses.extend([500, 502, 503, 504]);
            }
            k => match k.parse::<u16>() {
                Ok(code) if RETRY_STATUSES.contains(&code) => r.statuses.push(code),
                _ => return Err(format!("'retry-on': unknown keyword '{k}'")),
            },
        }
    }
    r.statuses.sort_unstable();
    r.statuses.dedup();
    o.retry_on_none = none;
    o.retry_on = r;
    Ok(())
}

/// Global keywords: `zero-warning`, `mworker-max-reloads`, `lua-load*` (`default-path` is the
/// parser's own: `paths.rs`).
pub fn global_keyword(g: &mut Global, line: &Line<'_>) -> Result<(), String> {
    match line.keyword() {
        "zero-warning" => {
            line.no_more(1)?;
            g.zero_warning = Some(line.span.clone());
        }
        "mworker-max-reloads" => {
            let n = line.need(1, "a number of reloads")?;
            g.keywords.mworker_max_reloads =
                Some(super::line::number::<u32>(n, "mworker-max-reloads")?);
            line.no_more(2)?;
        }
        kw => {
            return Err(format!(
                "'{kw}' is refused: fulcrum does not run Lua, so the actions, fetches, converters and services the script would register do not exist"
            ))
        }
    }
    Ok(())
}

/// A `dispatch` address whose host is `*`, empty or `0.0.0.0`/`::` (refused: fulcrum runs
/// client-destination servers, not such a dispatch; never run as a connection to the local host).
fn refuse_client_destination(written: &str) -> Result<(), String> {
    let (_, text) = super::line::ip_family(written);
    let host = if let Some(r) = text.strip_prefix('[') {
        r.split(']').next().unwrap_or("")
    } else if text.parse::<std::net::IpAddr>().is_ok() {
        text
    } else {
        text.rsplit_once(':').map_or(text, |(h, _)| h)
    };
    if host.is_empty()
        || host == "*"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified())
    {
        return Err(format!(
            "'dispatch {written}': a dispatch to the address the client connected to is not supported by fulcrum (write the address, or use 'server NAME {written}')"
        ));
    }
    Ok(())
}

pub use crate::model_keywords::DISPATCH_SERVER;

/// `dispatch ADDR:PORT`: the backend sends every connection that persistence (a cookie,
/// `use-server`, `stick`) does not send to one of its servers to that address. Run as one
/// server named `<NOSRV>` (the name HAProxy logs), never health-checked, placed after the
/// servers by [`settle_dispatch`].
pub fn dispatch(p: &mut Proxy, line: &Line<'_>) -> Result<(), String> {
    let written = line.address(1, "an address such as 10.0.0.1:80")?;
    line.no_more(2)?;
    refuse_client_destination(&written)?;
    let address = super::server::parse_address(&written)?;
    if address.unix.is_some() || !matches!(address.port, ServerPort::Fixed(_)) {
        return Err(format!(
            "'dispatch': missing port specification in '{written}' (expected ADDR:PORT)"
        ));
    }
    let mut s = super::server::default_server();
    s.name = DISPATCH_SERVER.to_string();
    s.span = line.span.clone();
    s.address = address;
    p.servers.retain(|s| s.name != DISPATCH_SERVER);
    p.servers.push(s);
    Ok(())
}

/// Once a backend is read: with a `balance` line (its own or its `defaults`'), HAProxy 2.6
/// ignores `dispatch` and warns; otherwise the dispatch goes after the servers (their ids stay
/// the numbers HAProxy gives them) and the farm balances over it alone.
pub fn settle_dispatch(proxies: &mut [Proxy], diags: &mut crate::diagnostics::Diagnostics) {
    for p in proxies {
        let Some(at) = p.servers.iter().position(|s| s.name == DISPATCH_SERVER) else {
            continue;
        };
        let dispatch = p.servers.remove(at);
        if p.options.keywords.balance_set {
            diags.warning(
                &dispatch.span,
                format!(
                    "dispatch address of {} '{}' will be ignored in balance mode.",
                    p.kind.keyword(),
                    p.name
                ),
            );
        } else {
            p.servers.push(dispatch);
        }
    }
}

/// `ADDR`, `ADDR/BITS` or `ADDR/DOTTED-MASK` (IPv4), `ADDR[/BITS]` (IPv6): HAProxy's `except`
/// networks.
fn ip_network(s: &str) -> bool {
    if let Some((a, m)) = s.split_once('/') {
        if a.parse::<std::net::Ipv6Addr>().is_ok() {
            return m.parse::<u8>().is_ok_and(|b| b <= 128);
        }
    } else if s.parse::<std::net::Ipv6Addr>().is_ok() {
        return true;
    }
    let (a, m) = s.split_once('/').unwrap_or((s, "32"));
    a.parse::<std::net::Ipv4Addr>().is_ok()
        && (m.parse::<u8>().is_ok_and(|b| b <= 32) || m.parse::<std::net::Ipv4Addr>().is_ok())
}

#[cfg(test)]
#[path = "extras_tests.rs"]
mod tests;
