//! HAProxy's `option external-check`: runs `external-check command` directly (no shell) with
//! HAProxy's four arguments (proxy address and port, server address and port) and its
//! environment (`PATH` from `external-check path`, `HAPROXY_PROXY_*`, `HAPROXY_SERVER_*`).
//! Exit 0 → PROCOK "External check passed"; any other exit → PROCERR with the exit status as
//! code; past the timeout the process is killed → PROCTOUT. The child is always reaped.

use crate::clock;
use crate::status::{CheckOutcome, CheckStatus};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalCheck {
    pub command: String,
    /// The four arguments, as HAProxy passes them.
    pub args: [String; 4],
    /// The whole environment of the child (nothing else is inherited, as in HAProxy).
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

impl ExternalCheck {
    pub async fn run(&self) -> CheckOutcome {
        self.run_with(None).await
    }

    /// Runs it; `curconn`: the server's current sessions for `HAPROXY_SERVER_CURCONN`.
    pub async fn run_with(&self, curconn: Option<u32>) -> CheckOutcome {
        let start = clock::now();
        let curconn = curconn.map(|n| n.to_string());
        let spawned = Command::new(&self.command)
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| match (k.as_str(), &curconn) {
                ("HAPROXY_SERVER_CURCONN", Some(n)) => (k.as_str(), n.as_str()),
                _ => (k.as_str(), v.as_str()),
            }))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                return CheckOutcome::new(CheckStatus::ExternalError, clock::since(start))
                    .with_info(crate::probe::tcp::io_error_info(&e))
            }
        };
        match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(Ok(status)) if status.success() => {
                CheckOutcome::new(CheckStatus::ExternalOk, clock::since(start)).with_code(0)
            }
            Ok(Ok(status)) => {
                let code = status.code().map_or(255, |c| c as u16);
                CheckOutcome::new(CheckStatus::ExternalError, clock::since(start)).with_code(code)
            }
            Ok(Err(e)) => CheckOutcome::new(CheckStatus::ExternalError, clock::since(start))
                .with_info(e.to_string()),
            Err(_) => {
                let _ = child.kill().await;
                CheckOutcome::new(CheckStatus::ExternalTimeout, clock::since(start))
            }
        }
    }
}
