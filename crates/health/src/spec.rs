//! Turns the config model into check specs: which servers are checked, where, how, how often.
//!
//! HAProxy: every non-disabled `server` with `check` in a backend/listen; checks go to `addr`
//! and `port` when given, else the server's address; `option httpchk` makes it an HTTP check,
//! else a TCP connect. Timeouts as the manual says for `timeout check`: without it, `inter`
//! bounds the whole check; with it, the connect is bounded by min(`timeout connect`, `inter`)
//! and the read by `timeout check`. keepalived: every checker of every real_server.
//! Pure apart from name resolution of non-literal server hosts at build time.

use crate::keepalived::KeepalivedTiming;
use crate::probe::http::HttpCheck;
use crate::probe::http_get::HttpGet;
use crate::probe::misc::MiscCheck;
use crate::probe::{CheckAddr, Dest, Probe};
use crate::state::{CheckTiming, PassiveHealth};
use fulcrum_config::model::{
    Checker, Proxy, Server, ServerPort, UnixAddress, VirtualServer, VirtualServerAddress,
};
use fulcrum_config::Config;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// How one check decides.
#[derive(Debug, Clone)]
pub enum CheckRules {
    Haproxy {
        timing: CheckTiming,
        passive: Option<PassiveHealth>,
    },
    Keepalived {
        timing: KeepalivedTiming,
    },
}

/// One check to run.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    /// HAProxy backend name, or keepalived virtual server as `IP:PORT` / `fwmark N`.
    pub backend: String,
    /// HAProxy server name, or keepalived real server as `IP:PORT`.
    pub server: String,
    pub backup: bool,
    pub probe: Probe,
    pub rules: CheckRules,
    /// keepalived `inhibit_on_failure`: a failed real server gets weight 0 instead of removal.
    pub inhibit_on_failure: bool,
    /// The configured weight (keepalived real_server `weight`, HAProxy server `weight`).
    pub weight: u32,
}

/// A server of a checked backend as the log-line counts need it.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub backend: String,
    pub server: String,
    pub backup: bool,
    pub checked: bool,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub checks: Vec<CheckSpec>,
    pub members: Vec<MemberSpec>,
    /// Things configured but not run, said plainly (e.g. SSL_GET without TLS support).
    pub warnings: Vec<String>,
}

pub fn plan(config: &Config) -> Plan {
    let mut plan = Plan::default();
    for proxy in config.backends() {
        for server in &proxy.servers {
            if server.disabled {
                continue;
            }
            let mut checked = false;
            if server.check {
                match haproxy_check(proxy, server) {
                    Ok(spec) => {
                        plan.checks.push(spec);
                        checked = true;
                    }
                    Err(w) => plan.warnings.push(w),
                }
            }
            plan.members.push(MemberSpec {
                backend: proxy.name.clone(),
                server: server.name.clone(),
                backup: server.backup,
                checked,
            });
        }
    }
    let policy = fulcrum_script::Policy::from_global_defs(&config.keepalived.global_defs);
    for vs in &config.keepalived.virtual_servers {
        keepalived_checks(vs, &policy, &mut plan);
    }
    plan
}

fn haproxy_check(proxy: &Proxy, server: &Server) -> Result<CheckSpec, String> {
    let who = format!("server {}/{} ({})", proxy.name, server.name, server.span);
    let addr = match (&server.address.unix, server.check_addr) {
        // A server on a unix socket is checked there, unless `addr` sends checks elsewhere.
        (Some(UnixAddress::Path(p)), None) => CheckAddr {
            dest: Dest::Unix(p.into()),
            source: None,
        },
        (Some(UnixAddress::Abns(n)), None) => CheckAddr {
            dest: Dest::Abns(n.clone()),
            source: None,
        },
        _ => CheckAddr {
            dest: Dest::Ip(ip_check_addr(server, &who)?),
            source: proxy.server_source(server),
        },
    };
    let inter = server.inter;
    let (connect_timeout, read_timeout) = match proxy.timeouts.check {
        Some(check) => (
            proxy.timeouts.connect.map_or(inter, |c| c.min(inter)),
            check,
        ),
        None => (inter, inter),
    };
    let probe = match &proxy.options.httpchk {
        Some(chk) => Probe::Http(
            HttpCheck::new(addr, chk, &proxy.http_check, connect_timeout, read_timeout)
                .map_err(|e| format!("{who}: {e}; not checked"))?,
        ),
        None => Probe::Tcp {
            addr,
            connect_timeout,
        },
    };
    let timing = CheckTiming {
        inter,
        fastinter: server.fastinter,
        downinter: server.downinter,
        rise: server.rise,
        fall: server.fall,
    };
    let passive = server.observe.map(|observe| PassiveHealth {
        observe,
        error_limit: server.error_limit,
        on_error: server.on_error,
    });
    Ok(CheckSpec {
        backend: proxy.name.clone(),
        server: server.name.clone(),
        backup: server.backup,
        probe,
        rules: CheckRules::Haproxy { timing, passive },
        inhibit_on_failure: false,
        weight: server.weight,
    })
}

/// The IP address and port an IP server's checks go to: `addr`/`port` when written, else the
/// server's own (a name is resolved now).
fn ip_check_addr(server: &Server, who: &str) -> Result<SocketAddr, String> {
    let port = match (server.check_port, server.address.port) {
        (Some(p), _) | (None, ServerPort::Fixed(p)) => p,
        _ => {
            return Err(format!(
                "{who}: health check needs a port ('port N' or a fixed server port); not checked"
            ))
        }
    };
    let ip = match (server.check_addr, server.address.ip) {
        (Some(ip), _) | (None, Some(ip)) => ip,
        (None, None) => resolve(&server.address.host).ok_or_else(|| {
            format!(
                "{who}: cannot resolve '{}' for health checks; not checked",
                server.address.host
            )
        })?,
    };
    Ok(SocketAddr::new(ip, port))
}

fn resolve(host: &str) -> Option<IpAddr> {
    (host, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

/// keepalived's name for a virtual server in logs: `[IP]:tcp:PORT` style kept short.
pub fn virtual_server_name(vs: &VirtualServer) -> String {
    match vs.address {
        VirtualServerAddress::Ip { ip, port } => SocketAddr::new(ip, port).to_string(),
        VirtualServerAddress::Fwmark(m) => format!("fwmark {m}"),
    }
}

fn keepalived_checks(vs: &VirtualServer, policy: &fulcrum_script::Policy, plan: &mut Plan) {
    let backend = virtual_server_name(vs);
    for rs in &vs.real_servers {
        let server = SocketAddr::new(rs.ip, rs.port).to_string();
        let mut checked = false;
        for checker in &rs.checkers {
            let (probe, timing) = match checker {
                Checker::HttpGet {
                    ssl,
                    urls,
                    connect_timeout,
                    connect_port,
                    retry,
                    delay_before_retry,
                    ..
                } => (
                    Probe::HttpGet(
                        HttpGet::new(
                            SocketAddr::new(rs.ip, connect_port.unwrap_or(rs.port)),
                            urls.clone(),
                            *connect_timeout,
                        )
                        .over_tls(*ssl),
                    ),
                    KeepalivedTiming {
                        delay_loop: vs.delay_loop,
                        retry: *retry,
                        delay_before_retry: *delay_before_retry,
                    },
                ),
                Checker::TcpCheck {
                    connect_timeout,
                    connect_port,
                    retry,
                    delay_before_retry,
                    ..
                } => (
                    Probe::Tcp {
                        addr: SocketAddr::new(rs.ip, connect_port.unwrap_or(rs.port)).into(),
                        connect_timeout: *connect_timeout,
                    },
                    KeepalivedTiming {
                        delay_loop: vs.delay_loop,
                        retry: *retry,
                        delay_before_retry: *delay_before_retry,
                    },
                ),
                Checker::MiscCheck {
                    misc_path,
                    misc_timeout,
                    misc_dynamic,
                    ..
                } => (
                    Probe::Misc(MiscCheck {
                        misc_path: misc_path.clone(),
                        timeout: misc_timeout.unwrap_or(vs.delay_loop),
                        dynamic: *misc_dynamic,
                        policy: policy.clone(),
                    }),
                    // keepalived.conf(5): "The retry default is 0" for MISC_CHECK.
                    KeepalivedTiming {
                        delay_loop: vs.delay_loop,
                        retry: 0,
                        delay_before_retry: Duration::from_secs(1),
                    },
                ),
            };
            checked = true;
            plan.checks.push(CheckSpec {
                backend: backend.clone(),
                server: server.clone(),
                backup: false,
                probe,
                rules: CheckRules::Keepalived { timing },
                inhibit_on_failure: rs.inhibit_on_failure,
                weight: rs.weight,
            });
        }
        plan.members.push(MemberSpec {
            backend: backend.clone(),
            server,
            backup: false,
            checked,
        });
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
