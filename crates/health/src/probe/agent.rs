//! HAProxy's agent check (`agent-check`): connect to the agent, send `agent-send` if set, read
//! one line; `parse` (pure) turns the line into what HAProxy applies: an operational state
//! (`up`, `down`, `fail`, `stopped`), an admin state (`ready`, `drain`, `maint`), a weight in
//! percent of the configured one (`75%`), a `maxconn:N`. Words are separated by blanks or
//! commas; the line ends at CR or LF.

use crate::clock;
use crate::probe::addr::{CheckAddr, Conn};
use crate::probe::tcp;
use crate::status::{CheckOutcome, CheckStatus};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCheck {
    pub addr: CheckAddr,
    pub send: Option<Vec<u8>>,
    pub timeout: Duration,
}

/// The admin state an agent asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentAdmin {
    Ready,
    Drain,
    Maint,
}

/// What one agent reply asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentReply {
    pub admin: Option<AgentAdmin>,
    /// Percent of the configured weight.
    pub weight_percent: Option<u32>,
    pub maxconn: Option<u32>,
}

impl AgentCheck {
    /// The raw reply line comes back as the outcome's info (status L7OK), for [`parse`];
    /// connect and read failures as usual.
    pub async fn run(&self) -> CheckOutcome {
        let start = clock::now();
        let io = async {
            let mut conn = tcp::connect_to(&self.addr, self.timeout).await?;
            let mut buf = Vec::new();
            let r: std::io::Result<()> = async {
                match &mut conn {
                    Conn::Tcp(s) => {
                        if let Some(d) = &self.send {
                            s.write_all(d).await?;
                        }
                        read_line(s, &mut buf).await
                    }
                    Conn::Unix(s) => {
                        if let Some(d) = &self.send {
                            s.write_all(d).await?;
                        }
                        read_line(s, &mut buf).await
                    }
                }
            }
            .await;
            match r {
                Ok(()) => Ok(buf),
                Err(e) => Err(
                    CheckOutcome::new(CheckStatus::SocketError, clock::since(start))
                        .with_info(tcp::io_error_info(&e)),
                ),
            }
        };
        match tokio::time::timeout(self.timeout, io).await {
            Err(_) => CheckOutcome::new(CheckStatus::L7Timeout, clock::since(start)),
            Ok(Err(o)) => o,
            Ok(Ok(line)) => CheckOutcome::new(CheckStatus::L7Ok, clock::since(start))
                .with_info(String::from_utf8_lossy(&line).into_owned()),
        }
    }
}

async fn read_line<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    let mut chunk = [0u8; 512];
    while !buf.contains(&b'\n') && buf.len() < 1024 {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// Judges a raw agent outcome: the check's outcome (`up` → L7OK "via agent : up", `down`,
/// `fail`, `stopped` → L7STS, nothing of those → CHECKED "No status change") and the
/// directives to apply. Failures to reach the agent pass through unchanged (they never mark
/// the server down, as in HAProxy).
pub fn judge(raw: CheckOutcome) -> (CheckOutcome, Option<AgentReply>) {
    if raw.status != CheckStatus::L7Ok {
        return (raw, None);
    }
    let line = raw.info.clone().unwrap_or_default();
    let line = line.split(['\r', '\n']).next().unwrap_or_default();
    let mut reply = AgentReply::default();
    let mut state: Option<&str> = None;
    for word in line.split([' ', '\t', ',']).filter(|w| !w.is_empty()) {
        let lower = word.to_ascii_lowercase();
        match lower.as_str() {
            "up" | "down" | "fail" | "stopped" => state = Some(word),
            "ready" => reply.admin = Some(AgentAdmin::Ready),
            "drain" => reply.admin = Some(AgentAdmin::Drain),
            "maint" => reply.admin = Some(AgentAdmin::Maint),
            w => {
                if let Some(p) = w.strip_suffix('%').and_then(|p| p.parse().ok()) {
                    reply.weight_percent = Some(p);
                } else if let Some(m) = w.strip_prefix("maxconn:").and_then(|m| m.parse().ok()) {
                    reply.maxconn = Some(m);
                }
            }
        }
    }
    let duration = raw.duration.unwrap_or_default();
    let outcome = match state.map(|s| s.to_ascii_lowercase()) {
        Some(s) if s == "up" => CheckOutcome::new(CheckStatus::L7Ok, duration)
            .with_code(0)
            .with_info(format!("via agent : {s}")),
        Some(s) => CheckOutcome::new(CheckStatus::L7Status, duration)
            .with_code(0)
            .with_info(format!("via agent : {s}")),
        None => CheckOutcome::new(CheckStatus::Checked, duration),
    };
    (outcome, Some(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(line: &str) -> CheckOutcome {
        CheckOutcome::new(CheckStatus::L7Ok, Duration::ZERO).with_info(line)
    }

    #[test]
    fn replies_as_haproxy_reads_them() {
        let (o, r) = judge(raw("up 50% maxconn:30\n"));
        assert_eq!(
            o.to_string(),
            "reason: Layer7 check passed, code: 0, info: \"via agent : up\", check duration: 0ms"
        );
        assert_eq!(
            r,
            Some(AgentReply {
                admin: None,
                weight_percent: Some(50),
                maxconn: Some(30)
            })
        );
        let (o, r) = judge(raw("75%\r\n"));
        assert_eq!(o.status, CheckStatus::Checked);
        assert_eq!(r.and_then(|r| r.weight_percent), Some(75));
        let (o, r) = judge(raw("drain\n"));
        assert_eq!(
            (o.status, r.and_then(|r| r.admin)),
            (CheckStatus::Checked, Some(AgentAdmin::Drain))
        );
        let (o, _) = judge(raw("DOWN,maint"));
        assert_eq!(
            (o.status, o.info.as_deref()),
            (CheckStatus::L7Status, Some("via agent : down"))
        );
        let refused = CheckOutcome::new(CheckStatus::L4Connection, Duration::ZERO)
            .with_info("Connection refused");
        assert_eq!(judge(refused.clone()), (refused, None));
    }
}
