//! The stats page's LVS section: keepalived's virtual servers and their real servers with
//! weight, state and active/inactive connections (the columns of `ipvsadm -Ln --stats`), one
//! table after the proxies'. The rows come from the binary (the LVS bridge's state, read when
//! the page is built) through [`crate::prometheus::MetricsSource::lvs`]. As the rest of the
//! page, every cell carries `data-col` and every line `data-vs`/`data-rs`.

use std::fmt::Write;

/// One real server as the page shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LvsRealServer {
    /// `IP:PORT`.
    pub name: String,
    /// Current weight (0 when out of the rotation or inhibited).
    pub weight: u32,
    /// `UP`, `DOWN (removed)`, `DOWN (inhibited, weight 0)`.
    pub state: String,
    pub up: bool,
    /// ipvsadm's ActiveConn / InActConn (NAT: from conntrack; DR: not tracked, 0).
    pub active: u64,
    pub inactive: u64,
    /// Connections (NAT) or new flows (DR) the kernel scheduled to it.
    pub scheduled: u64,
}

/// One virtual server and its real servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LvsVirtualServer {
    /// `IP:PORT`, `fwmark N` or `group NAME`.
    pub name: String,
    /// `tcp`, `udp`, `sctp`.
    pub protocol: String,
    /// `NAT`, `DR`.
    pub lb_kind: String,
    pub lb_algo: String,
    pub quorum_up: bool,
    pub real_servers: Vec<LvsRealServer>,
}

/// Writes the LVS table (nothing without virtual servers).
pub fn render(out: &mut String, vss: &[LvsVirtualServer]) {
    if vss.is_empty() {
        return;
    }
    out.push_str("<table class=\"tbl\" id=\"lvs\"><tr><th class=\"px\" colspan=\"7\">LVS virtual servers</th></tr>\
<tr class=\"t\"><th></th><th>Method</th><th>Weight</th><th>State</th><th>ActiveConn</th><th>InActConn</th><th>Scheduled</th></tr>\n");
    for vs in vss {
        let (active, inactive, scheduled) = vs.real_servers.iter().fold((0, 0, 0), |a, r| {
            (a.0 + r.active, a.1 + r.inactive, a.2 + r.scheduled)
        });
        let weight: u64 = vs.real_servers.iter().map(|r| u64::from(r.weight)).sum();
        out.push_str("<tr class=\"be");
        if !vs.quorum_up {
            out.push_str(" down");
        }
        out.push_str("\" data-vs=\"");
        crate::page::esc(out, &vs.name);
        out.push_str("\"><td class=\"name\">");
        crate::page::esc(out, &format!("{} {}", vs.protocol.to_uppercase(), vs.name));
        out.push_str("</td><td class=\"st\" data-col=\"method\">");
        crate::page::esc(out, &format!("{} {}", vs.lb_kind, vs.lb_algo));
        let quorum = if vs.quorum_up {
            "quorum up"
        } else {
            "quorum lost"
        };
        let _ = writeln!(
            out,
            "</td><td data-col=\"weight\">{weight}</td><td class=\"st\" data-col=\"state\">{quorum}</td>\
<td data-col=\"activeconn\">{active}</td><td data-col=\"inactconn\">{inactive}</td><td data-col=\"scheduled\">{scheduled}</td></tr>"
        );
        for rs in &vs.real_servers {
            let _ = write!(
                out,
                "<tr class=\"{}\" data-vs=\"",
                if rs.up { "up" } else { "down" }
            );
            crate::page::esc(out, &vs.name);
            out.push_str("\" data-rs=\"");
            crate::page::esc(out, &rs.name);
            out.push_str("\"><td class=\"name\">-&gt; ");
            crate::page::esc(out, &rs.name);
            let _ = write!(
                out,
                "</td><td></td><td data-col=\"weight\">{}</td><td class=\"st\" data-col=\"state\">",
                rs.weight
            );
            crate::page::esc(out, &rs.state);
            let _ = writeln!(
                out,
                "</td><td data-col=\"activeconn\">{}</td><td data-col=\"inactconn\">{}</td><td data-col=\"scheduled\">{}</td></tr>",
                rs.active, rs.inactive, rs.scheduled
            );
        }
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_virtual_and_real_server_with_escaped_names() {
        let vs = LvsVirtualServer {
            name: "10.99.0.100:80".into(),
            protocol: "tcp".into(),
            lb_kind: "NAT".into(),
            lb_algo: "wrr".into(),
            quorum_up: true,
            real_servers: vec![
                LvsRealServer {
                    name: "10.99.0.3:80".into(),
                    weight: 3,
                    state: "UP".into(),
                    up: true,
                    active: 2,
                    inactive: 5,
                    scheduled: 9,
                },
                LvsRealServer {
                    name: "<x>".into(),
                    state: "DOWN (removed)".into(),
                    ..LvsRealServer::default()
                },
            ],
        };
        let mut out = String::new();
        render(&mut out, &[vs]);
        assert!(
            out.contains("<td class=\"name\">TCP 10.99.0.100:80</td>"),
            "{out}"
        );
        assert!(out.contains("data-rs=\"10.99.0.3:80\"><td class=\"name\">-&gt; 10.99.0.3:80</td><td></td><td data-col=\"weight\">3</td><td class=\"st\" data-col=\"state\">UP</td><td data-col=\"activeconn\">2</td><td data-col=\"inactconn\">5</td>"), "{out}");
        assert!(out.contains("data-rs=\"&lt;x&gt;\""), "{out}");
        assert!(out.contains("<tr class=\"down\""), "{out}");
        // The virtual server's line sums its real servers.
        assert!(out.contains("<td data-col=\"activeconn\">2</td><td data-col=\"inactconn\">5</td><td data-col=\"scheduled\">9</td></tr>\n<tr class=\"up\""), "{out}");
        let mut none = String::new();
        render(&mut none, &[]);
        assert!(none.is_empty());
    }
}
