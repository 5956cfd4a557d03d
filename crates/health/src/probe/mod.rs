//! Thin async adapters that run one check and turn what happened into a [`CheckOutcome`]
//! with HAProxy's wording. They own sockets, child processes and timeouts; they decide
//! nothing about UP or DOWN (that is `state`/`keepalived`).

pub mod addr;
pub mod agent;
pub mod check_sample;
pub mod check_vars;
pub mod dns;
pub mod expect;
pub mod external;
pub mod file_check;
pub mod h2check;
pub mod http;
pub mod http_get;
pub(crate) mod link;
pub mod misc;
pub mod ping;
pub mod protocols;
pub mod response;
pub mod script;
pub mod script_judge;
pub mod script_match;
pub mod script_run;
pub mod smtp_check;
pub mod socks4;
pub mod spop;
pub mod tcp;
pub mod tls;
pub mod udp;

use crate::status::CheckOutcome;
pub use addr::{CheckAddr, Dest};
use std::time::Duration;

/// One runnable check, built from the config by the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// HAProxy `check` without `option httpchk`, and keepalived TCP_CHECK.
    Tcp {
        addr: CheckAddr,
        connect_timeout: Duration,
        /// HAProxy closes with a single RST; keepalived's TCP_CHECK closes cleanly.
        reset: bool,
    },
    /// keepalived HTTP_GET and SSL_GET.
    HttpGet(http_get::HttpGet),
    /// keepalived MISC_CHECK.
    Misc(misc::MiscCheck),
    /// HAProxy `agent-check`: the reply line as info, judged by [`agent::judge`].
    Agent(agent::AgentCheck),
    /// HAProxy `option external-check`.
    External(external::ExternalCheck),
    /// `tcp-check` sequences and HAProxy's protocol checks (one engine).
    Script(script_run::ScriptCheck),
    /// keepalived SMTP_CHECK.
    Smtp(smtp_check::SmtpCheck),
    /// keepalived DNS_CHECK.
    Dns(dns::DnsCheck),
    /// keepalived UDP_CHECK.
    Udp(udp::UdpCheck),
    /// keepalived PING_CHECK.
    Ping(ping::PingCheck),
    /// keepalived FILE_CHECK.
    File(file_check::FileCheck),
}

/// What a probe may need to know about its server when it starts (HAProxy reads the server
/// itself): whether it is UP (`disable-on-404` applies to UP servers only) and the
/// `X-Haproxy-Server-State` value (`http-check send-state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeCtx {
    pub server_up: bool,
    pub state_header: Option<String>,
    /// The server's current sessions (`HAPROXY_SERVER_CURCONN` of an external check).
    pub curconn: Option<u32>,
}

impl Default for ProbeCtx {
    fn default() -> Self {
        ProbeCtx {
            server_up: true,
            state_header: None,
            curconn: None,
        }
    }
}

impl Probe {
    pub async fn run(&self) -> CheckOutcome {
        self.run_with(&ProbeCtx::default()).await
    }

    /// Runs the probe with what it may need to know about its server.
    pub async fn run_with(&self, ctx: &ProbeCtx) -> CheckOutcome {
        match self {
            Probe::Tcp {
                addr,
                connect_timeout,
                reset,
            } => tcp::check(addr, *connect_timeout, *reset).await,
            Probe::HttpGet(h) => h.run().await,
            Probe::Misc(m) => m.run().await,
            Probe::Script(s) => s.run_with(ctx).await,
            Probe::Agent(a) => a.run().await,
            Probe::External(e) => e.run_with(ctx.curconn).await,
            Probe::Smtp(c) => c.run().await,
            Probe::Dns(c) => c.run().await,
            Probe::Udp(c) => c.run().await,
            Probe::Ping(c) => c.run().await,
            Probe::File(c) => c.run().await,
        }
    }
}
