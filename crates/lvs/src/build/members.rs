//! Who is in a virtual server's rotation now and with what scheduling weight: health and
//! admin states, the sorry server under a lost quorum, least-connection weights from
//! conntrack, and IPVS's overload flag (`uthreshold`/`lthreshold`).

use super::Inputs;
use crate::names;
use fulcrum_config::model::{RealServer, VirtualServer};
use std::net::IpAddr;

/// A real server as the health engine and admin see it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsLive {
    pub up: bool,
    /// MISC_CHECK misc_dynamic (or an admin) asked for this weight.
    pub weight: Option<u32>,
    /// Active connections (conntrack), for the least-connection schedulers (NAT).
    pub active: u64,
    /// IPVS's overload flag (`uthreshold`): in the rotation for its flows and persistence,
    /// but given no new flows.
    pub overloaded: bool,
}

impl Default for RsLive {
    fn default() -> Self {
        RsLive {
            up: true,
            weight: None,
            active: 0,
            overloaded: false,
        }
    }
}

/// A real server's place in the ruleset: in rotation with a weight (0 = quiescent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub ip: IpAddr,
    pub port: u16,
    pub weight: u32,
    pub sorry: bool,
}

/// Who is in the rotation of `vs` now: up servers (with their weight) and failed ones kept
/// at weight 0 by `inhibit_on_failure`; plus the sorry server when the quorum is lost.
pub fn members(vs: &VirtualServer, inputs: &Inputs) -> Vec<Member> {
    let vs_name = names::health_vs(vs);
    let mut out = Vec::new();
    for rs in &vs.real_servers {
        let key = (vs_name.clone(), names::health_rs(rs.ip, rs.port));
        let live = inputs.live.get(&key).copied().unwrap_or_default();
        let weight = live.weight.unwrap_or(rs.weight);
        if live.up {
            out.push(Member {
                ip: rs.ip,
                port: rs.port,
                weight,
                sorry: false,
            });
        } else if rs.inhibit_on_failure {
            out.push(Member {
                ip: rs.ip,
                port: rs.port,
                weight: 0,
                sorry: false,
            });
        }
    }
    if let Some((ip, port)) = vs.sorry_server {
        if inputs.quorum_lost.contains(&vs_name)
            && !out.iter().any(|m| m.ip == ip && m.port == port)
        {
            out.push(Member {
                ip,
                port,
                weight: 1,
                sorry: true,
            });
        }
    }
    out
}

/// The sum of the weights of the real servers up now (keepalived's quorum measure).
pub fn alive_weight(vs: &VirtualServer, inputs: &Inputs) -> u64 {
    members(vs, inputs)
        .iter()
        .filter(|m| !m.sorry)
        .map(|m| u64::from(m.weight))
        .sum()
}

/// `lc`/`wlc`/`sed`/`nq` approximated: the slot weights are the configured weights divided
/// by (1 + active connections), from conntrack, so a loaded server takes fewer new flows;
/// `lc` ignores the configured weights, `nq` sends new flows to idle servers while any is.
pub(super) fn least_conn(vs: &VirtualServer, members: &[Member], inputs: &Inputs) -> Vec<Member> {
    let algo = vs.lb_algo.as_str();
    if !matches!(algo, "lc" | "wlc" | "sed" | "nq") {
        return members.to_vec();
    }
    let vs_name = names::health_vs(vs);
    let active = |m: &Member| {
        inputs
            .live
            .get(&(vs_name.clone(), names::health_rs(m.ip, m.port)))
            .map_or(0, |l| l.active)
    };
    let any_idle = members.iter().any(|m| m.weight > 0 && active(m) == 0);
    members
        .iter()
        .map(|m| {
            let w = u64::from(if algo == "lc" {
                m.weight.min(1)
            } else {
                m.weight
            });
            let a = active(m);
            let weight = if w == 0 || (algo == "nq" && any_idle && a > 0) {
                0
            } else {
                (w * 64 / (1 + a)).clamp(1, 65535)
            };
            Member {
                weight: weight as u32,
                ..m.clone()
            }
        })
        .collect()
}

/// IPVS's overload flag from a real server's connection count (active + inactive, as
/// `ip_vs_dest_totalconns`): set at `uthreshold` connections; cleared below `lthreshold`, or
/// without one below 3/4 of `uthreshold` (`ip_vs_unbind_dest`). No `uthreshold`: never.
pub fn overloaded(was: bool, total: u64, rs: &RealServer) -> bool {
    let Some(u) = rs.uthreshold.filter(|u| *u > 0).map(u64::from) else {
        return false;
    };
    if total >= u {
        return true;
    }
    if !was {
        return false;
    }
    match rs.lthreshold.filter(|l| *l > 0).map(u64::from) {
        Some(l) => total >= l,
        None => total * 4 >= u * 3,
    }
}

/// The scheduling members: an overloaded server keeps its place in the rotation (its
/// persistence entries and flows stay) but takes no slot (weight 0), as IPVS's schedulers
/// skip a destination flagged overloaded.
pub(super) fn without_overloaded(
    vs: &VirtualServer,
    members: Vec<Member>,
    inputs: &Inputs,
) -> Vec<Member> {
    let vs_name = names::health_vs(vs);
    members
        .into_iter()
        .map(|m| {
            let over = !m.sorry
                && inputs
                    .live
                    .get(&(vs_name.clone(), names::health_rs(m.ip, m.port)))
                    .is_some_and(|l| l.overloaded);
            if over {
                Member { weight: 0, ..m }
            } else {
                m
            }
        })
        .collect()
}

/// `uthreshold` held exactly between two reads of conntrack: the real server's chain (which
/// only a flow's first packet reaches) counts its live flows (`ct count`, nftables'
/// connlimit) and drops a new one past the threshold, which the client's retransmission
/// then sends through the slots again (by then without this server). IPVS would hand such a
/// flow to another server at once; the overload flag (`overloaded`) does that from the next
/// read on.
pub(super) fn cap_rule(vs: &VirtualServer, m: &Member, with_port: bool) -> Option<String> {
    if m.sorry {
        return None;
    }
    let u = vs
        .real_servers
        .iter()
        .find(|r| r.ip == m.ip && r.port == m.port)
        .and_then(|r| r.uthreshold)
        .filter(|u| *u > 0)?;
    let l4 = if with_port {
        format!("meta l4proto {} ", crate::names::proto(vs.protocol))
    } else {
        String::new()
    };
    Some(format!("{l4}ct count over {u} counter drop"))
}

/// `allowed_cidrs` (Octavia's field, the LBaaS API's UDP/SCTP listeners): the virtual
/// server's first rule drops clients from elsewhere (networks of the other address family
/// never match). None without the keyword.
pub(super) fn source_filter(vs: &VirtualServer, family: IpAddr) -> Option<String> {
    if vs.allowed_cidrs.is_empty() {
        return None;
    }
    let nets: Vec<String> = vs
        .allowed_cidrs
        .iter()
        .filter(|(ip, _)| ip.is_ipv4() == family.is_ipv4())
        .map(|(ip, len)| format!("{ip}/{len}"))
        .collect();
    if nets.is_empty() {
        return Some("counter drop".into());
    }
    Some(format!(
        "{} saddr != {{ {} }} counter drop",
        crate::names::fam(family),
        nets.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(u: Option<u32>, l: Option<u32>) -> RealServer {
        RealServer {
            span: fulcrum_config::Span::new("t", 1),
            ip: "10.0.0.1".parse().unwrap(),
            port: 80,
            weight: 1,
            inhibit_on_failure: false,
            checkers: Vec::new(),
            smtp_alert: None,
            uthreshold: u,
            lthreshold: l,
        }
    }

    #[test]
    fn overload_is_set_at_uthreshold_and_cleared_below_three_quarters() {
        let r = rs(Some(8), None);
        assert!(!overloaded(false, 7, &r));
        assert!(overloaded(false, 8, &r));
        // Hysteresis: still overloaded at 6 (6*4 = 24 >= 24), cleared at 5.
        assert!(overloaded(true, 6, &r));
        assert!(!overloaded(true, 5, &r));
        // Not overloaded before: stays so below uthreshold.
        assert!(!overloaded(false, 6, &r));
    }

    #[test]
    fn lthreshold_sets_the_point_where_it_is_cleared() {
        let r = rs(Some(10), Some(2));
        assert!(overloaded(false, 10, &r));
        assert!(overloaded(true, 2, &r));
        assert!(!overloaded(true, 1, &r));
    }

    #[test]
    fn no_uthreshold_never_overloads() {
        assert!(!overloaded(true, 1_000_000, &rs(None, Some(3))));
        assert!(!overloaded(true, 1_000_000, &rs(Some(0), None)));
    }
}
