//! Active and inactive connections per NAT real server, from the kernel's conntrack table as
//! `/proc/net/nf_conntrack` prints it (pure parser; the adapter reads the file). As ipvsadm:
//! a TCP connection in ESTABLISHED is active, any other state (SYN_RECV, TIME_WAIT, ...) and
//! every UDP flow inactive. DR flows do not pass the director's conntrack and are not counted.

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

#[cfg(test)]
mod tests {
    use super::*;

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
