//! keepalived's e-mail alerts on VRRP state changes: `notification_email`,
//! `notification_email_from`, `smtp_server`, `smtp_connect_timeout`, `smtp_helo_name` from
//! `global_defs`, switched on by `smtp_alert` (instance or sync group, else `smtp_alert_vrrp`,
//! else global `smtp_alert`).
//!
//! The message is keepalived's: subject `[ROUTER_ID] VRRP Instance NAME - Entering STATE state`
//! (`VRRP Group` for a sync group), body `=> VRRP Instance is now owning VRRP VIPs <=` and its
//! siblings. `compose` is pure and unit-tested; `send` hands the message to the `lettre` SMTP
//! client (plain SMTP as keepalived speaks it), in its own task, bounded by twice
//! `smtp_connect_timeout` (default 30 s), logging failures: the protocol never waits for a mail.

use crate::machine::State;
use fulcrum_config::model::GlobalDefs;
use lettre::message::Mailbox;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// keepalived's default `smtp_connect_timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where alerts go, resolved from `global_defs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alerts {
    pub host: String,
    pub port: u16,
    pub from: String,
    pub to: Vec<String>,
    pub helo: String,
    pub timeout: Duration,
    pub router_id: String,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl Alerts {
    /// None when no `smtp_server` or no `notification_email` is configured.
    pub fn from_global_defs(g: &GlobalDefs) -> Option<Alerts> {
        let server = g.smtp_server.as_deref()?;
        if g.notification_email.is_empty() {
            return None;
        }
        // "HOST" or "HOST:PORT" / "[V6]:PORT" as the config layer stores it.
        let (host, port) = match server.rsplit_once(':') {
            Some((h, p))
                if p.parse::<u16>().is_ok() && (!h.contains(':') || h.starts_with('[')) =>
            {
                (
                    h.trim_matches(['[', ']']).to_string(),
                    p.parse().unwrap_or(25),
                )
            }
            _ => (server.to_string(), 25),
        };
        let host_name = hostname();
        Some(Alerts {
            host,
            port,
            from: g
                .notification_email_from
                .clone()
                .unwrap_or_else(|| format!("keepalived@{host_name}")),
            to: g.notification_email.clone(),
            helo: g
                .smtp_helo_name
                .clone()
                .unwrap_or_else(|| host_name.clone()),
            timeout: g.smtp_connect_timeout.unwrap_or(DEFAULT_TIMEOUT),
            router_id: g.router_id.clone().unwrap_or(host_name),
        })
    }
}

/// Whether an instance (or group) with `own` (its `smtp_alert`) sends alerts.
pub fn enabled(own: Option<bool>, g: &GlobalDefs) -> bool {
    own.or(g.smtp_alert_vrrp).or(g.smtp_alert).unwrap_or(false)
}

/// (subject, body) of keepalived's alert for `kind` ("Instance" or "Group") `name` entering
/// `state`; None for states keepalived does not mail about.
pub fn compose(router_id: &str, kind: &str, name: &str, state: State) -> Option<(String, String)> {
    let body = match (kind, state) {
        ("Group", State::Master) => "=> All VRRP group instances are now in MASTER state <=",
        ("Group", State::Backup) => "=> All VRRP group instances are now in BACKUP state <=",
        ("Group", State::Fault) => "=> All VRRP group instances are now in FAULT state <=",
        (_, State::Master) => "=> VRRP Instance is now owning VRRP VIPs <=",
        (_, State::Backup) => "=> VRRP Instance is nolonger owning VRRP VIPs <=",
        (_, State::Fault) => "=> VRRP Instance is nolonger owning VRRP VIPs <=",
        (_, State::Init) => return None,
    };
    Some((
        format!(
            "[{router_id}] VRRP {kind} {name} - Entering {} state",
            state.keyword()
        ),
        format!("{body}\r\n"),
    ))
}

/// Whether a real server's changes are mailed: its own `smtp_alert`, else its virtual
/// server's, else `smtp_alert_checker`, else `smtp_alert`.
pub fn checker_enabled(rs: Option<bool>, vs: Option<bool>, g: &GlobalDefs) -> bool {
    rs.or(vs)
        .or(g.smtp_alert_checker)
        .or(g.smtp_alert)
        .unwrap_or(false)
}

/// keepalived's checker alert: `[ROUTER_ID] Realserver [RIP]:tcp:PORT - UP|DOWN` (`real` and
/// `virt` written as keepalived logs them, e.g. `[192.0.2.1]:tcp:80`).
pub fn compose_checker(router_id: &str, real: &str, virt: &str, up: bool) -> (String, String) {
    let (word, body) = if up {
        ("UP", "=> CHECK succeed on service <=")
    } else {
        ("DOWN", "=> CHECK failed on service <=")
    };
    (
        format!("[{router_id}] Realserver {real} - {word}"),
        format!("{body}\r\nVirtual server {virt}\r\n"),
    )
}

/// Sends an already composed alert in the background, logging the outcome.
pub fn spawn_mail(a: &Alerts, subject: String, body: String) {
    let a = a.clone();
    tokio::spawn(async move {
        match send(&a, &subject, &body).await {
            Ok(()) => tracing::info!("mail alert sent: {subject}"),
            Err(e) => tracing::warn!("mail alert not sent ({subject}): {e}"),
        }
    });
}

/// Sends one alert; errors are returned for the caller to log.
pub async fn send(a: &Alerts, subject: &str, body: &str) -> Result<(), String> {
    let from: Mailbox = a
        .from
        .parse()
        .map_err(|e| format!("notification_email_from '{}': {e}", a.from))?;
    let mut builder = Message::builder().from(from).subject(subject);
    for to in &a.to {
        let mailbox: Mailbox = to
            .parse()
            .map_err(|e| format!("notification_email '{to}': {e}"))?;
        builder = builder.to(mailbox);
    }
    let message = builder
        .body(body.to_string())
        .map_err(|e| format!("building the message: {e}"))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(a.host.as_str())
        .port(a.port)
        .timeout(Some(a.timeout))
        .hello_name(ClientId::Domain(a.helo.clone()))
        .build();
    // lettre bounds the connection; a server that accepts and then stays silent is bounded
    // here: the whole exchange gets twice smtp_connect_timeout.
    match tokio::time::timeout(a.timeout * 2, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("smtp_server {}:{}: {e}", a.host, a.port)),
        Err(_) => Err(format!(
            "smtp_server {}:{}: no answer within {:?}",
            a.host,
            a.port,
            a.timeout * 2
        )),
    }
}

/// Sends the alert for `state` in the background (never blocks the protocol).
pub fn spawn_alert(a: &Alerts, kind: &'static str, name: &str, state: State) {
    let Some((subject, body)) = compose(&a.router_id, kind, name, state) else {
        return;
    };
    let a = a.clone();
    let name = name.to_string();
    tokio::spawn(async move {
        match send(&a, &subject, &body).await {
            Ok(()) => tracing::info!("VRRP {kind} {name}: mail alert sent: {subject}"),
            Err(e) => tracing::warn!("VRRP {kind} {name}: mail alert not sent: {e}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_subjects_and_bodies() {
        let (s, b) = compose("lb1", "Instance", "VI_1", State::Master).unwrap();
        assert_eq!(s, "[lb1] VRRP Instance VI_1 - Entering MASTER state");
        assert_eq!(b, "=> VRRP Instance is now owning VRRP VIPs <=\r\n");
        let (s, _) = compose("lb1", "Group", "G", State::Fault).unwrap();
        assert_eq!(s, "[lb1] VRRP Group G - Entering FAULT state");
        assert!(compose("lb1", "Instance", "VI_1", State::Init).is_none());
        let (s, b) = compose_checker("lb1", "[192.0.2.1]:tcp:80", "[192.0.2.9]:tcp:80", false);
        assert_eq!(s, "[lb1] Realserver [192.0.2.1]:tcp:80 - DOWN");
        assert!(b.starts_with("=> CHECK failed on service <="));
        let g = GlobalDefs {
            smtp_alert_checker: Some(true),
            ..GlobalDefs::default()
        };
        assert!(checker_enabled(None, None, &g));
        assert!(!checker_enabled(None, Some(false), &g));
        assert!(checker_enabled(Some(true), Some(false), &g));
    }

    #[test]
    fn settings_from_global_defs() {
        let mut g = GlobalDefs {
            router_id: Some("lb1".into()),
            notification_email: vec!["ops@example.com".into()],
            smtp_server: Some("192.0.2.25:2525".into()),
            ..GlobalDefs::default()
        };
        let a = Alerts::from_global_defs(&g).unwrap();
        assert_eq!((a.host.as_str(), a.port), ("192.0.2.25", 2525));
        assert_eq!(a.timeout, DEFAULT_TIMEOUT);
        assert!(a.from.starts_with("keepalived@"));
        g.smtp_server = Some("[2001:db8::1]:26".into());
        let a = Alerts::from_global_defs(&g).unwrap();
        assert_eq!((a.host.as_str(), a.port), ("2001:db8::1", 26));
        g.smtp_server = Some("mail.example.com".into());
        assert_eq!(Alerts::from_global_defs(&g).unwrap().port, 25);
        g.notification_email.clear();
        assert!(Alerts::from_global_defs(&g).is_none());
        // Enabling: own, then smtp_alert_vrrp, then smtp_alert.
        let mut g = GlobalDefs::default();
        assert!(!enabled(None, &g));
        g.smtp_alert = Some(true);
        assert!(enabled(None, &g));
        assert!(!enabled(Some(false), &g));
        g.smtp_alert_vrrp = Some(false);
        assert!(!enabled(None, &g));
        assert!(enabled(Some(true), &g));
    }
}
