//! Active and inactive connections per NAT real server, from the kernel's conntrack table as
//! `/proc/net/nf_conntrack` prints it (pure parser; the adapter reads the file). As ipvsadm:
//! a TCP connection in ESTABLISHED is active, any other state (SYN_RECV, TIME_WAIT, ...) and
//! every UDP flow inactive. DR flows do not pass the director's conntrack and are not counted.
//!
//! `expire_nodest_conn` deletes a dead real server's NAT flows with Debian's `conntrack` tool
//! (conntrack-tools, ctnetlink underneath): no netlink crate of the workspace speaks ctnetlink,
//! and one small command per dead server keeps the tree free of a hand-written protocol.

use std::collections::HashMap;
use std::net::IpAddr;

/// (protocol, virtual address, virtual port, real address, real port).
pub type FlowKey = (String, IpAddr, u16, IpAddr, u16);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub active: u64,
    pub inactive: u64,
}

/// Counts the DNATed flows of `text` (the file's content).
pub fn count(text: &str) -> HashMap<FlowKey, Counts> {
    let mut out: HashMap<FlowKey, Counts> = HashMap::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(proto) = words.get(2) else {
            continue;
        };
        if !matches!(*proto, "tcp" | "udp" | "sctp") {
            continue;
        }
        let state = words.iter().find(|w| {
            w.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                && w.len() > 2
                && !w.starts_with('[')
        });
        let field =
            |name: &str, nth: usize| words.iter().filter_map(|w| w.strip_prefix(name)).nth(nth);
        let (Some(vip), Some(vport), Some(rs), Some(rsport)) = (
            field("dst=", 0).and_then(|v| v.parse::<IpAddr>().ok()),
            field("dport=", 0).and_then(|v| v.parse::<u16>().ok()),
            field("src=", 1).and_then(|v| v.parse::<IpAddr>().ok()),
            field("sport=", 1).and_then(|v| v.parse::<u16>().ok()),
        ) else {
            continue;
        };
        if vip == rs && vport == rsport {
            continue; // not translated
        }
        let c = out
            .entry((proto.to_string(), vip, vport, rs, rsport))
            .or_default();
        if *proto == "tcp" && state == Some(&"ESTABLISHED") {
            c.active += 1;
        } else {
            c.inactive += 1;
        }
    }
    out
}

/// Reads this network namespace's conntrack table (empty when it cannot be read).
pub fn read() -> HashMap<FlowKey, Counts> {
    std::fs::read_to_string("/proc/net/nf_conntrack")
        .map(|t| count(&t))
        .unwrap_or_default()
}

/// The `conntrack -D` arguments deleting the NAT flows of `f`: those towards its virtual
/// address whose replies come from the real server.
pub fn delete_args(f: &crate::core::Flush) -> Vec<String> {
    use fulcrum_config::model::IpProtocol;
    let mut a: Vec<String> = vec!["-D".into()];
    if f.address.is_ipv6() {
        a.extend(["-f".into(), "ipv6".into()]);
    }
    let proto = match f.protocol {
        IpProtocol::Tcp => "tcp",
        IpProtocol::Udp => "udp",
        IpProtocol::Sctp => "sctp",
    };
    a.extend(["-p".into(), proto.into()]);
    if let Some((vip, vport)) = f.virtual_address {
        a.extend(["--orig-dst".into(), vip.to_string()]);
        a.extend(["--orig-port-dst".into(), vport.to_string()]);
    }
    a.extend(["--reply-src".into(), f.address.to_string()]);
    if f.port != 0 {
        a.extend(["--reply-port-src".into(), f.port.to_string()]);
    }
    a
}

/// Deletes the flows of `f` from this network namespace's conntrack table; returns how many
/// the tool reports deleted.
pub fn delete(f: &crate::core::Flush) -> Result<u64, String> {
    let out = std::process::Command::new("conntrack")
        .args(delete_args(f))
        .output()
        .map_err(|e| format!("conntrack: {e} (install the conntrack package)"))?;
    let text = String::from_utf8_lossy(&out.stderr);
    // "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted." (exit 1 on 0).
    let n = text
        .split(": ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok());
    match n {
        Some(n) => Ok(n),
        None => Err(format!("conntrack: {}", text.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_args_select_the_flows_of_one_real_server() {
        use crate::core::Flush;
        use fulcrum_config::model::IpProtocol;
        let f = Flush {
            protocol: IpProtocol::Tcp,
            virtual_address: Some(("10.99.0.100".parse().unwrap(), 80)),
            address: "10.99.0.3".parse().unwrap(),
            port: 8080,
        };
        assert_eq!(
            delete_args(&f).join(" "),
            "-D -p tcp --orig-dst 10.99.0.100 --orig-port-dst 80 --reply-src 10.99.0.3 --reply-port-src 8080"
        );
        let f6 = Flush {
            protocol: IpProtocol::Udp,
            virtual_address: None,
            address: "fd00::3".parse().unwrap(),
            port: 0,
        };
        assert_eq!(
            delete_args(&f6).join(" "),
            "-D -f ipv6 -p udp --reply-src fd00::3"
        );
    }

    #[test]
    fn counts_established_as_active_and_the_rest_as_inactive() {
        let text = "\
ipv4     2 tcp      6 431999 ESTABLISHED src=10.99.0.1 dst=10.99.0.100 sport=40000 dport=80 src=10.99.0.3 dst=10.99.0.1 sport=80 dport=40000 [ASSURED] mark=0 zone=0 use=2
ipv4     2 tcp      6 119 TIME_WAIT src=10.99.0.1 dst=10.99.0.100 sport=40001 dport=80 src=10.99.0.3 dst=10.99.0.1 sport=80 dport=40001 [ASSURED] mark=0 zone=0 use=2
ipv4     2 udp      17 29 src=10.99.0.1 dst=10.99.0.100 sport=5000 dport=53 src=10.99.0.4 dst=10.99.0.1 sport=53 dport=5000 mark=0 zone=0 use=2
ipv4     2 tcp      6 20 ESTABLISHED src=10.99.0.1 dst=10.99.0.2 sport=1 dport=22 src=10.99.0.2 dst=10.99.0.1 sport=22 dport=1 mark=0 zone=0 use=2
";
        let c = count(text);
        let k = |p: &str, rs: &str, port| {
            (
                p.to_string(),
                "10.99.0.100".parse().unwrap(),
                port,
                rs.parse().unwrap(),
                port,
            )
        };
        assert_eq!(
            c[&k("tcp", "10.99.0.3", 80)],
            Counts {
                active: 1,
                inactive: 1
            }
        );
        assert_eq!(
            c[&k("udp", "10.99.0.4", 53)],
            Counts {
                active: 0,
                inactive: 1
            }
        );
        assert_eq!(c.len(), 2);
    }
}
