//! Address lists inside a vrrp_instance: `virtual_ipaddress`, `virtual_ipaddress_excluded`
//! (`ADDR[/PREFIX] [brd B] [dev X] [label L] [scope S] ...`) and `unicast_peer` (`ADDR [min_ttl N]
//! [max_ttl N]`). One address per line as keepalived writes them; several on one line are read too.

use super::args;
use super::lexer::{Stmt, Word};
use crate::diagnostics::{Diagnostics, Span};
use crate::model::VirtualIp;
use std::net::IpAddr;

/// `ip address add` options keepalived accepts that fulcrum does not apply yet: (word, takes a value).
const UNSUPPORTED_OPTS: &[(&str, bool)] = &[
    ("use_vmac", false),
    ("peer", true),
    ("home", false),
    ("-nodad", false),
    ("nodad", false),
    ("mngtmpaddr", false),
    ("noprefixroute", false),
    ("autojoin", false),
    ("no_track", false),
    ("preferred_lft", true),
    ("track_group", true),
];
const SCOPES: &[&str] = &["site", "link", "host", "nowhere", "global"];

/// `ADDR` or `ADDR/PREFIX`; None when the word is not an address at all.
fn address(word: &Word) -> Option<Result<(IpAddr, u8), String>> {
    let (addr, prefix) = match word.text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (word.text.as_str(), None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max: u8 = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                return Some(Err(format!(
                    "prefix length of '{}' must be 0..{max}, found '{p}'",
                    word.text
                )))
            }
        },
    };
    Some(Ok((ip, prefix)))
}

fn value<'a>(
    words: &mut impl Iterator<Item = &'a Word>,
    opt: &Word,
    what: &str,
    d: &mut Diagnostics,
) -> Option<&'a Word> {
    let v = words.next();
    if v.is_none() {
        d.error(
            &opt.span,
            format!(
                "'{}' in virtual_ipaddress expects {what}, found nothing",
                opt.text
            ),
        );
    }
    v
}

pub fn virtual_ipaddress(stmts: &[Stmt], out: &mut Vec<VirtualIp>, d: &mut Diagnostics) {
    for line in stmts {
        args::no_block(line, d);
        let mut words = line.words.iter();
        let mut current: Option<VirtualIp> = None;
        while let Some(w) = words.next() {
            match address(w) {
                Some(Ok((ip, prefix))) => {
                    out.extend(current.take());
                    current = Some(VirtualIp {
                        span: w.span.clone(),
                        address: ip,
                        prefix,
                        dev: None,
                        label: None,
                        brd: None,
                        scope: None,
                    });
                    continue;
                }
                Some(Err(msg)) => {
                    d.error(&w.span, msg);
                    out.extend(current.take());
                    // Skip this address's options.
                    current = None;
                    for _ in words.by_ref() {}
                    break;
                }
                None => {}
            }
            let Some(vip) = current.as_mut() else {
                d.error(
                    &w.span,
                    format!(
                        "virtual_ipaddress expects an address such as 192.0.2.10/24, found '{}'",
                        w.text
                    ),
                );
                break;
            };
            let opt = w.text.as_str();
            match opt {
                "dev" => {
                    vip.dev = value(&mut words, w, "an interface name", d).map(|v| v.text.clone())
                }
                "label" => {
                    vip.label =
                        value(&mut words, w, "a label such as eth0:1", d).map(|v| v.text.clone())
                }
                "brd" | "broadcast" => {
                    if let Some(v) = value(&mut words, w, "a broadcast address", d) {
                        vip.brd = args::ip(v, "brd", d);
                    }
                }
                "scope" => {
                    if let Some(v) = value(&mut words, w, "a scope", d) {
                        if SCOPES.contains(&v.text.as_str()) || v.text.parse::<u8>().is_ok() {
                            vip.scope = Some(v.text.clone());
                        } else {
                            d.error(
                                &v.span,
                                format!(
                                    "scope must be site|link|host|nowhere|global, found '{}'",
                                    v.text
                                ),
                            );
                        }
                    }
                }
                _ => {
                    match UNSUPPORTED_OPTS.iter().find(|(name, _)| *name == opt) {
                        Some((_, takes_value)) => {
                            d.warning(&w.span, format!("virtual_ipaddress option '{opt}' is not supported yet, ignored"));
                            if *takes_value {
                                words.next();
                            }
                        }
                        None => {
                            d.error(
                            &w.span,
                            format!("unknown virtual_ipaddress option '{opt}' (expected dev, label, brd or scope)"),
                        );
                        }
                    }
                }
            }
        }
        out.extend(current.take());
    }
}

/// `unicast_peer { ADDR [min_ttl N] [max_ttl N] ... }`: the addresses, each with its line.
pub fn unicast_peer(
    stmts: &[Stmt],
    out: &mut Vec<IpAddr>,
    spans: &mut Vec<Span>,
    d: &mut Diagnostics,
) {
    for line in stmts {
        args::no_block(line, d);
        let mut words = line.words.iter();
        while let Some(w) = words.next() {
            if matches!(w.text.as_str(), "min_ttl" | "max_ttl") {
                d.warning(
                    &w.span,
                    format!(
                        "unicast_peer option '{}' is not supported yet, ignored",
                        w.text
                    ),
                );
                words.next();
                continue;
            }
            if let Some(ip) = args::ip(w, "unicast_peer", d) {
                out.push(ip);
                spans.push(w.span.clone());
            }
        }
    }
}
