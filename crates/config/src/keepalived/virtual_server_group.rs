//! `virtual_server_group NAME { IP PORT | IP-LAST PORT | fwmark N ... }` and its use,
//! `virtual_server group NAME { ... }`: one service (one set of real servers and checkers)
//! reached on several addresses. The group may be written before or after its users; `resolve`
//! (at the end of the load) gives each user its addresses, with FILE:LINE errors for a group
//! that does not exist or is empty.

use super::args;
use super::lexer::Stmt;
use crate::diagnostics::{Diagnostics, Span};
use crate::model::{VirtualServer, VirtualServerAddress};
use std::collections::HashMap;
use std::net::IpAddr;

/// Group name → (where it was defined, its addresses).
pub type Groups = HashMap<String, (Span, Vec<VirtualServerAddress>)>;

pub fn parse(stmt: &Stmt, groups: &mut Groups, d: &mut Diagnostics) {
    let Some(name) = args::one(&super::strip_block(stmt), d).map(|w| w.text.clone()) else {
        return;
    };
    let Some(body) = args::block(stmt, d) else {
        return;
    };
    let mut out = Vec::new();
    for kw in body {
        let words: Vec<&str> = kw.words.iter().map(|w| w.text.as_str()).collect();
        match words.as_slice() {
            ["fwmark", mark] => match mark.parse::<u32>() {
                Ok(m) if m > 0 => out.push(VirtualServerAddress::Fwmark(m)),
                _ => d.error(
                    kw.span(),
                    format!("fwmark expects 1..4294967295, found '{mark}'"),
                ),
            },
            [addr, port] => match (range(addr), port.parse::<u16>()) {
                (Some(ips), Ok(port)) => out.extend(
                    ips.into_iter()
                        .map(|ip| VirtualServerAddress::Ip { ip, port }),
                ),
                (None, _) => d.error(
                    kw.span(),
                    format!("expected an address or a range such as 10.0.0.1-10, found '{addr}'"),
                ),
                (_, Err(_)) => d.error(kw.span(), format!("expected a port, found '{port}'")),
            },
            _ => d.error(
                kw.span(),
                "virtual_server_group entries are 'IP PORT', 'IP-LAST PORT' or 'fwmark N'",
            ),
        }
    }
    if groups.contains_key(&name) {
        d.error(
            stmt.span(),
            format!("virtual_server_group '{name}' is defined twice"),
        );
    }
    groups.insert(name, (stmt.span().clone(), out));
}

/// `10.0.0.1` or `10.0.0.1-10` (the last byte's range, as keepalived).
fn range(text: &str) -> Option<Vec<IpAddr>> {
    match text.split_once('-') {
        None => text.parse().ok().map(|ip| vec![ip]),
        Some((first, last)) => match first.parse().ok()? {
            IpAddr::V4(a) => {
                let last: u8 = last.parse().ok()?;
                let o = a.octets();
                (last >= o[3]).then(|| {
                    (o[3]..=last)
                        .map(|b| IpAddr::from([o[0], o[1], o[2], b]))
                        .collect()
                })
            }
            // IPv6: the range is of the last group, in hex (`ae00::2-9`).
            IpAddr::V6(a) => {
                let last = u16::from_str_radix(last, 16).ok()?;
                let mut seg = a.segments();
                (last >= seg[7]).then(|| {
                    (seg[7]..=last)
                        .map(|g| {
                            seg[7] = g;
                            IpAddr::from(seg)
                        })
                        .collect()
                })
            }
        },
    }
}

/// Gives each `virtual_server group NAME` its addresses; drops the ones that cannot be served.
pub fn resolve(vss: &mut Vec<VirtualServer>, groups: &Groups, d: &mut Diagnostics) {
    vss.retain_mut(|vs| {
        let Some(name) = vs.group.clone() else {
            return true;
        };
        match groups.get(&name) {
            Some((_, addrs)) if !addrs.is_empty() => {
                vs.address = addrs[0];
                vs.also = addrs[1..].to_vec();
                true
            }
            Some((span, _)) => {
                d.error(
                    span,
                    format!("virtual_server_group '{name}' has no address"),
                );
                false
            }
            None => {
                d.error(
                    &vs.span,
                    format!("virtual_server group '{name}': no virtual_server_group of that name"),
                );
                false
            }
        }
    });
}
