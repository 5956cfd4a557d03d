//! `virtual_server IP PORT { ... }` and `virtual_server fwmark N { ... }`: an LVS service.
//!
//! Defaults as keepalived: delay_loop 60s, lvs_sched wlc, lvs_method NAT, quorum 1,
//! hysteresis 0, `persistence_timeout` without a value 360s. The connect_timeout / retry /
//! delay_before_retry written here are defaults for every real server's checkers.

use super::args;
use super::lexer::Stmt;
use super::real_server::{self, CheckDefaults};
use crate::diagnostics::Diagnostics;
use crate::model::{IpProtocol, LbKind, VirtualServer, VirtualServerAddress};
use std::time::Duration;

const KNOWN: &[&str] = &[
    "smtp_alert",
    "delay_loop",
    "lvs_sched",
    "lb_algo",
    "lvs_method",
    "lb_kind",
    "persistence_timeout",
    "protocol",
    "sorry_server",
    "quorum",
    "hysteresis",
    "real_server",
    "nat_mask",
    "connect_timeout",
    "virtualhost",
    "retry",
    "delay_before_retry",
    "inhibit_on_failure",
    "persistence_granularity",
    "quorum_up",
    "quorum_down",
    "alpha",
    "omega",
    "expire_nodest_conn",
    "allowed_cidrs",
];
const UNSUPPORTED: &[&str] = &[
    "flag-1",
    "flag-2",
    "flag-3",
    "sh-port",
    "sh-fallback",
    "mh-port",
    "mh-fallback",
    "ops",
    "persistence_engine",
    "ha_suspend",
    "snmp_name",
    "ip_family",
    "sorry_server_inhibit",
    "sorry_server_lvs_method",
    "warmup",
    "lvs_flags",
    "hashed",
    "real_server_group",
];

/// The virtual server, and whether `protocol` was written (keepalived warns when it is not).
pub fn parse(stmt: &Stmt, d: &mut Diagnostics) -> Option<(VirtualServer, bool)> {
    let address = address(stmt, d)?;
    let body = args::block(stmt, d)?;
    let vs_port = match address {
        VirtualServerAddress::Ip { port, .. } => port,
        VirtualServerAddress::Fwmark(_) => 0,
    };
    let mut vs = VirtualServer {
        span: stmt.span().clone(),
        address,
        delay_loop: Duration::from_secs(60),
        lb_algo: "wlc".into(),
        lb_kind: LbKind::Nat,
        persistence_timeout: None,
        protocol: IpProtocol::Tcp,
        sorry_server: None,
        quorum: 1,
        hysteresis: 0,
        real_servers: Vec::new(),
        persistence_granularity: None,
        quorum_up: None,
        quorum_down: None,
        group: match stmt.args() {
            [kind, name, ..] if kind.text == "group" => Some(name.text.clone()),
            _ => None,
        },
        also: Vec::new(),
        alpha: false,
        omega: false,
        smtp_alert: None,
        expire_nodest_conn: false,
        allowed_cidrs: Vec::new(),
    };
    let context = format!(
        "virtual_server {}",
        stmt.args()
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Checker defaults may be written after the real servers: read them first, quietly (the
    // main pass below reports their problems once).
    let defaults = CheckDefaults::scan(body, &CheckDefaults::default());
    let mut protocol_written = false;
    for kw in body {
        match kw.keyword() {
            "smtp_alert" => vs.smtp_alert = Some(args::opt_bool(kw, d)),
            "delay_loop" => {
                if let Some(t) = args::one(kw, d).and_then(|w| args::seconds(w, "delay_loop", d)) {
                    if t.is_zero() {
                        d.error(kw.span(), "delay_loop must be greater than 0, found 0");
                    } else {
                        vs.delay_loop = t;
                    }
                }
            }
            "lvs_sched" | "lb_algo" => {
                if kw.keyword() == "lb_algo" {
                    d.warning(
                        kw.span(),
                        "'lb_algo' is the old name of 'lvs_sched'; accepted",
                    );
                }
                if let Some(w) = args::one(kw, d) {
                    vs.lb_algo = w.text.clone();
                    const SCHEDULERS: &[&str] = &[
                        "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr",
                        "sed", "nq", "twos",
                    ];
                    if ["lblc", "lblcr", "fo", "ovf", "twos"].contains(&w.text.as_str()) {
                        d.warning(
                            &w.span,
                            format!(
                                "LVS scheduler '{}' is run as 'wrr' over the real servers' weights",
                                w.text
                            ),
                        );
                    }
                    if ["lc", "wlc", "sed", "nq"].contains(&w.text.as_str()) {
                        d.warning(
                            &w.span,
                            format!(
                                "LVS scheduler '{}' is approximated: under NAT the weights are divided by (1 + the real server's active connections, sampled from conntrack twice a second); under DR, which has no connection table on the director, it runs as 'wrr'",
                                w.text
                            ),
                        );
                    }
                    if !SCHEDULERS.contains(&w.text.as_str()) {
                        d.error(
                            &w.span,
                            format!(
                                "unknown LVS scheduler '{}' (expected one of {})",
                                w.text,
                                SCHEDULERS.join(", ")
                            ),
                        );
                    }
                }
            }
            "lvs_method" | "lb_kind" => {
                if kw.keyword() == "lb_kind" {
                    d.warning(
                        kw.span(),
                        "'lb_kind' is the old name of 'lvs_method'; accepted",
                    );
                }
                if let Some(kind) = lb_kind(kw, d) {
                    if kind == LbKind::Tun {
                        d.error(
                            kw.span(),
                            "lb_kind TUN is not supported: fulcrum forwards with nftables, which has no ipip encapsulation (and this kernel has no IPVS); use NAT or DR",
                        );
                    }
                    vs.lb_kind = kind;
                }
            }
            "persistence_timeout" => {
                args::no_block(kw, d);
                vs.persistence_timeout = match kw.args().first() {
                    None => Some(Duration::from_secs(360)),
                    Some(w) => args::u32_in(w, "persistence_timeout", 1, u32::MAX, d)
                        .map(|s| Duration::from_secs(u64::from(s))),
                };
            }
            "protocol" => {
                if let Some(w) = args::one(kw, d) {
                    protocol_written = true;
                    if matches!(vs.address, VirtualServerAddress::Fwmark(_)) {
                        d.warning(&w.span, "protocol is ignored for a fwmark virtual_server (the mark selects the traffic), as in keepalived");
                    }
                    match w.text.as_str() {
                        "TCP" => vs.protocol = IpProtocol::Tcp,
                        "UDP" => vs.protocol = IpProtocol::Udp,
                        "SCTP" => vs.protocol = IpProtocol::Sctp,
                        other => d.error(
                            &w.span,
                            format!("protocol must be TCP, UDP or SCTP, found '{other}'"),
                        ),
                    }
                }
            }
            "sorry_server" => {
                args::no_block(kw, d);
                match kw.args() {
                    [] => d.error(kw.span(), "'sorry_server' expects IP [PORT], found nothing"),
                    [ip, rest @ ..] => {
                        let port = match rest.first() {
                            Some(p) => args::port(p, "sorry_server port", false, d),
                            None => Some(vs_port),
                        };
                        if let (Some(ip), Some(port)) = (args::ip(ip, "sorry_server", d), port) {
                            vs.sorry_server = Some((ip, port));
                        }
                    }
                }
            }
            "persistence_granularity" => {
                if let Some(w) = args::one(kw, d) {
                    vs.persistence_granularity = args::ip(w, "persistence_granularity", d);
                }
            }
            "alpha" => vs.alpha = args::opt_bool(kw, d),
            "omega" => vs.omega = args::opt_bool(kw, d),
            "expire_nodest_conn" => vs.expire_nodest_conn = args::opt_bool(kw, d),
            "allowed_cidrs" => {
                if kw.args().is_empty() {
                    d.error(
                        kw.span(),
                        "'allowed_cidrs' expects CIDRs (ADDRESS/LENGTH), found nothing",
                    );
                }
                for w in kw.args() {
                    match cidr(&w.text) {
                        Some(c) => vs.allowed_cidrs.push(c),
                        None => d.error(
                            kw.span(),
                            format!(
                                "'allowed_cidrs': '{}' is not a CIDR (ADDRESS/LENGTH)",
                                w.text
                            ),
                        ),
                    }
                }
            }
            "quorum_up" => vs.quorum_up = args::command(kw, d),
            "quorum_down" => vs.quorum_down = args::command(kw, d),
            "quorum" => {
                if let Some(v) =
                    args::one(kw, d).and_then(|w| args::u32_in(w, "quorum", 1, u32::MAX, d))
                {
                    vs.quorum = v;
                }
            }
            "hysteresis" => {
                if let Some(v) =
                    args::one(kw, d).and_then(|w| args::u32_in(w, "hysteresis", 0, u32::MAX, d))
                {
                    vs.hysteresis = v;
                }
            }
            "real_server" => {
                if let Some(rs) = real_server::parse(kw, vs_port, &defaults, d) {
                    vs.real_servers.push(rs);
                }
            }
            "nat_mask" => {
                args::one(kw, d);
                d.warning(
                    kw.span(),
                    "'nat_mask' is obsolete (keepalived 2.x no longer accepts it) and ignored",
                );
            }
            "connect_timeout" | "retry" | "delay_before_retry" | "inhibit_on_failure"
            | "virtualhost" => {
                CheckDefaults::report(kw, d);
            }
            _ => args::unknown(kw, &context, KNOWN, UNSUPPORTED, d),
        }
    }
    if vs.lb_kind == LbKind::Dr
        && matches!(vs.address, VirtualServerAddress::Fwmark(_))
        && vs.group.is_none()
    {
        d.error(
            stmt.span(),
            "a fwmark virtual_server with lb_kind DR is not supported: fulcrum forwards DR at the netdev ingress hook, before any rule can set the mark; use NAT, or an address and port",
        );
    }
    if matches!(vs.address, VirtualServerAddress::Ip { port: 0, .. }) {
        d.error(
            stmt.span(),
            "a virtual_server without a port (all ports) is not supported yet: write the port",
        );
    }
    if vs.lb_kind == LbKind::Dr {
        for rs in &vs.real_servers {
            if rs.uthreshold.is_some() {
                d.error(
                    &rs.span,
                    "'uthreshold' is not supported with lb_kind DR: fulcrum counts a real server's connections in the director's conntrack, which DR flows do not pass; use NAT",
                );
            }
            if rs.port != vs_port && vs_port != 0 {
                d.warning(
                    &rs.span,
                    format!(
                        "lb_kind DR cannot change the port: real server port {} is ignored, packets keep port {vs_port} (as LVS)",
                        rs.port
                    ),
                );
            }
        }
    }
    // A fwmark service needs no protocol; only an address/port one is missing it.
    let protocol_missing =
        !protocol_written && matches!(vs.address, VirtualServerAddress::Ip { .. });
    Some((vs, !protocol_missing))
}

/// `ADDRESS/LENGTH` (a bare address: the host).
fn cidr(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (ip, len) = match text.split_once('/') {
        Some((ip, len)) => (
            ip.parse::<std::net::IpAddr>().ok()?,
            len.parse::<u8>().ok()?,
        ),
        None => {
            let ip = text.parse::<std::net::IpAddr>().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

fn address(stmt: &Stmt, d: &mut Diagnostics) -> Option<VirtualServerAddress> {
    match stmt.args() {
        [] => {
            d.error(
                stmt.span(),
                "virtual_server expects 'IP PORT' or 'fwmark N', found nothing",
            );
            None
        }
        // Resolved at the end of the load (virtual_server_group::resolve).
        [kind, _name, ..] if kind.text == "group" => Some(VirtualServerAddress::Fwmark(0)),
        [kind, mark, ..] if kind.text == "fwmark" => {
            args::u32_in(mark, "fwmark", 1, u32::MAX, d).map(VirtualServerAddress::Fwmark)
        }
        [ip, rest @ ..] => {
            if rest.len() > 1 {
                d.warning(
                    stmt.span(),
                    "virtual_server takes 'IP PORT'; ignoring the words after the port",
                );
            }
            let port = match rest.first() {
                Some(p) => args::port(p, "virtual_server port", false, d)?,
                None => 0,
            };
            let ip = args::ip(ip, "virtual_server", d)?;
            Some(VirtualServerAddress::Ip { ip, port })
        }
    }
}

/// `lvs_method NAT|DR|TUN [type ...]`, shared with real servers.
pub fn lb_kind(kw: &Stmt, d: &mut Diagnostics) -> Option<LbKind> {
    args::no_block(kw, d);
    let Some(w) = kw.args().first() else {
        d.error(
            kw.span(),
            format!("'{}' expects NAT, DR or TUN, found nothing", kw.keyword()),
        );
        return None;
    };
    let kind = match w.text.as_str() {
        "NAT" => LbKind::Nat,
        "DR" => LbKind::Dr,
        "TUN" => LbKind::Tun,
        other => {
            d.error(
                &w.span,
                format!(
                    "{} must be NAT, DR or TUN (upper case), found '{other}'",
                    kw.keyword()
                ),
            );
            return None;
        }
    };
    if kw.args().len() > 1 {
        d.warning(
            kw.span(),
            "tunnel options after the method are not supported yet, ignored",
        );
    }
    Some(kind)
}
