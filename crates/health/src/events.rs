//! What the monitor tells the outside: state changes ([`HealthEvent`]) with the log line
//! HAProxy or keepalived would write, and every probe's outcome ([`CheckResult`]). Data and
//! wording only.

use crate::status::CheckOutcome;
use fulcrum_config::model::IpProtocol;

/// A server went UP or DOWN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent {
    pub backend: String,
    pub server: String,
    pub up: bool,
    /// The check (or analysis) that caused the change.
    pub reason: CheckOutcome,
    /// The line HAProxy (or keepalived) would log.
    pub log_line: String,
    /// Set when the backend has no usable server left: HAProxy's "has no server available!".
    pub no_server_line: Option<String>,
    /// keepalived `inhibit_on_failure`: set weight 0 instead of removing the real server.
    pub inhibit_on_failure: bool,
    /// Not a change: after a reload, the state of a server that is still DOWN is sent again so
    /// a freshly built data plane can apply it (log_line is empty then).
    pub replay: bool,
    /// keepalived `misc_dynamic`: the script asked for this weight (`up` is unchanged).
    pub weight: Option<u32>,
    /// `http-check disable-on-404`: the server (UP) is in NOLB — no new balanced traffic,
    /// persistent clients kept — or leaves it (`false` with `up`).
    pub stopping: bool,
}

/// The outcome of one probe of one server (every probe, not only state changes).
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The names, shared by every result of the check (no copy per result).
    pub backend: std::sync::Arc<str>,
    pub server: std::sync::Arc<str>,
    pub outcome: CheckOutcome,
    /// The server was UP when this probe's result came (HAProxy's `chkfail` counts failed
    /// checks of UP servers only).
    pub was_up: bool,
    /// `option log-health-checks`: HAProxy's "Health check for server B/S succeeded|failed,
    /// ..." line when this result changed the check's status or health (else None).
    pub log_line: Option<String>,
    /// The result is an agent check's (`agent-check`), not the health check's: stats show
    /// it in the agent columns (`agent_status`, `agent_code`, `agent_desc`, ...).
    pub is_agent: bool,
    /// An agent check's reply: weight, admin state, maxconn to apply.
    pub agent: Option<crate::probe::agent::AgentReply>,
}

/// keepalived's wording when a checker changes a real server.
pub fn keepalived_line(
    (vs, rs, protocol): (&str, &str, IpProtocol),
    up: bool,
    inhibit: bool,
    outcome: &CheckOutcome,
) -> String {
    let (vs, rs) = (keepalived_fmt(vs, protocol), keepalived_fmt(rs, protocol));
    let verb = match (up, inhibit) {
        (true, false) => format!("Adding service {rs} to VS {vs}"),
        (true, true) => format!("Enabling service {rs} to VS {vs}"),
        (false, false) => format!("Removing service {rs} from VS {vs}"),
        (false, true) => format!("Disabling service {rs} from VS {vs}"),
    };
    format!("{verb}, {outcome}")
}

/// keepalived's `misc_dynamic` wording.
pub fn keepalived_weight_line(
    (vs, rs, protocol): (&str, &str, IpProtocol),
    from: u32,
    to: u32,
    outcome: &CheckOutcome,
) -> String {
    format!(
        "Changing weight from {from} to {to} on service {} of VS {}, {outcome}",
        keepalived_fmt(rs, protocol),
        keepalived_fmt(vs, protocol)
    )
}

/// keepalived's way of naming a service in logs: `[10.0.0.1]:tcp:80` (`[10.0.0.1]:udp:53` for
/// a UDP virtual server and its real servers, `FWM 1` for fwmarks).
pub fn keepalived_fmt(name: &str, protocol: IpProtocol) -> String {
    let proto = match protocol {
        IpProtocol::Tcp => "tcp",
        IpProtocol::Udp => "udp",
        IpProtocol::Sctp => "sctp",
    };
    match name.parse::<std::net::SocketAddr>() {
        Ok(a) => format!("[{}]:{proto}:{}", a.ip(), a.port()),
        Err(_) => name
            .strip_prefix("fwmark ")
            .map_or_else(|| name.to_string(), |m| format!("FWM {m}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::CheckStatus;
    use std::time::Duration;

    #[test]
    fn keepalived_names_services_with_the_virtual_servers_protocol() {
        let o = CheckOutcome::new(CheckStatus::L4Ok, Duration::ZERO);
        let line = keepalived_line(
            ("10.0.0.1:53", "10.0.0.2:53", IpProtocol::Udp),
            false,
            false,
            &o,
        );
        assert!(
            line.starts_with("Removing service [10.0.0.2]:udp:53 from VS [10.0.0.1]:udp:53"),
            "{line}"
        );
        assert_eq!(
            keepalived_fmt("10.0.0.1:80", IpProtocol::Tcp),
            "[10.0.0.1]:tcp:80"
        );
        assert_eq!(keepalived_fmt("fwmark 7", IpProtocol::Udp), "FWM 7");
    }
}
