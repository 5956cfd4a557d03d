//! Turns the config model into check specs: which servers are checked, where, how, how often.
//!
//! HAProxy: every non-disabled `server` with `check` in a backend/listen; checks go to `addr`
//! and `port` when given, else the server's address; `option httpchk` makes it an HTTP check,
//! else a TCP connect. Timeouts as the manual says for `timeout check`: without it, `inter`
//! bounds the whole check; with it, the connect is bounded by min(`timeout connect`, `inter`)
//! and the read by `timeout check`. keepalived: every checker of every real_server.
//! Pure apart from name resolution of non-literal server hosts at build time.

use crate::keepalived::KeepalivedTiming;
use crate::probe::agent::AgentCheck;
use crate::probe::external::ExternalCheck;
use crate::probe::http;
use crate::probe::protocols;
use crate::probe::script::Flavor;
use crate::probe::script_run::ScriptCheck;
use crate::probe::{CheckAddr, Dest, Probe};
use crate::send_state::StateHeader;
use crate::state::{CheckTiming, PassiveHealth};
use fulcrum_config::model::{CheckProtocol, Proxy, Server, ServerPort, UnixAddress};
use fulcrum_config::Config;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// How one check decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckRules {
    Haproxy {
        timing: CheckTiming,
        passive: Option<PassiveHealth>,
    },
    Keepalived {
        timing: KeepalivedTiming,
        /// The virtual server's protocol, as keepalived names services in its lines
        /// (`[10.0.0.1]:udp:53`).
        protocol: fulcrum_config::model::IpProtocol,
    },
}

/// One check to run.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// HAProxy `option log-health-checks`.
    pub log_health_checks: bool,
}

/// A server of a checked backend as the log-line counts need it.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub backend: String,
    pub server: String,
    pub backup: bool,
    pub checked: bool,
    /// The configured weight (`X-Haproxy-Server-State` sums the usable servers').
    pub weight: u32,
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
    let node = config
        .global
        .node
        .clone()
        .unwrap_or_else(crate::send_state::hostname);
    for (p, proxy) in config.proxies.iter().enumerate() {
        if !proxy.kind.is_backend() {
            continue;
        }
        for (s, server) in proxy.servers.iter().enumerate() {
            let ids = Ids {
                proxy: p + 1,
                server: s + 1,
            };
            if server.disabled {
                continue;
            }
            let mut checked = false;
            if server.check {
                match haproxy_check(ids, proxy, server, &node) {
                    Ok(spec) => {
                        plan.checks.push(spec);
                        checked = true;
                    }
                    Err(w) => plan.warnings.push(w),
                }
            }
            if server.agent.enabled {
                match agent_check(proxy, server) {
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
                weight: server.weight,
            });
        }
    }
    let policy = fulcrum_script::Policy::from_global_defs(&config.keepalived.global_defs);
    for vs in &config.keepalived.virtual_servers {
        crate::spec_keepalived::keepalived_checks(
            vs,
            &config.keepalived.track_files,
            &policy,
            &mut plan,
        );
    }
    plan
}

/// HAProxy's numeric ids: proxies in config order from 1, servers in their backend from 1.
#[derive(Clone, Copy)]
struct Ids {
    proxy: usize,
    server: usize,
}

fn haproxy_check(
    config_ids: Ids,
    proxy: &Proxy,
    server: &Server,
    node: &str,
) -> Result<CheckSpec, String> {
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
    let http = proxy.options.httpchk.is_some();
    let send_state = (http && proxy.http_check.send_state).then(|| StateHeader {
        address: server
            .address
            .ip
            .map_or_else(|| server.address.host.clone(), |ip| ip.to_string()),
        port: match server.address.port {
            _ if server.address.unix.is_some() => String::new(),
            ServerPort::Fixed(p) => p.to_string(),
            _ => "0".to_string(),
        },
        name: format!("{}/{}", proxy.name, server.name),
        node: node.to_string(),
    });
    let script = |script| {
        Probe::Script(ScriptCheck {
            addr: addr.clone(),
            script,
            connect_timeout,
            read_timeout,
            disable_on_404: http && proxy.http_check.disable_on_404,
            send_state: send_state.clone(),
            proxy_v2: server.send_proxy_v2,
        })
    };
    // HAProxy: a `send-proxy[-v2]` server's checks start with the PROXY header too, unless
    // they go to another `port`/`addr` (then only with `check-send-proxy`); version 2 (LOCAL)
    // for a `send-proxy-v2` server, else version 1.
    let send_proxy = server.check_send_proxy
        || ((server.send_proxy || server.send_proxy_v2)
            && server.check_port.is_none()
            && server.check_addr.is_none());
    let probe = match (&proxy.options.httpchk, &proxy.options.check_protocol) {
        (Some(chk), _) => script(
            http::script(chk, &proxy.http_check, send_proxy)
                .map_err(|e| format!("{who}: {e}; not checked"))?,
        ),
        (None, Some(CheckProtocol::External)) => {
            external_check(config_ids, proxy, server, &addr, read_timeout)?
        }
        (None, Some(p)) => script(
            protocols::script(p, &proxy.tcp_check, send_proxy)
                .map_err(|e| format!("{who}: {e}; not checked"))?,
        ),
        // `check-send-proxy` (or a `send-proxy` server's), `check-ssl` or `check-via-socks4`
        // on a plain connect check: a script of the one connect.
        (None, None)
            if send_proxy
                || server.check_tls.enabled
                || (server.check_via_socks4 && server.socks4.is_some()) =>
        {
            script(
                protocols::script(&CheckProtocol::TcpCheck, &[], send_proxy)
                    .map(|mut s| {
                        s.flavor = Flavor::Protocol;
                        s
                    })
                    .map_err(|e| format!("{who}: {e}; not checked"))?,
            )
        }
        (None, None) => Probe::Tcp {
            addr,
            connect_timeout,
            reset: true,
        },
    };
    let probe = match probe {
        Probe::Script(mut sc) => {
            apply_tls(&mut sc.script, server).map_err(|e| format!("{who}: {e}; not checked"))?;
            apply_socks4(&mut sc.script, server);
            if proxy.options.httpchk.is_some() {
                apply_h2(&mut sc.script, server);
            }
            Probe::Script(sc)
        }
        other => other,
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
        log_health_checks: proxy.options.log_health_checks,
    })
}

/// The server's `check-ssl` on the script's implicit connects, and its `verify`/`ca-file` on
/// every TLS connect (`connect ssl` too). A TLS connect needs `verify none` or a `ca-file`.
fn apply_tls(script: &mut crate::probe::script::Script, server: &Server) -> Result<(), String> {
    use crate::probe::script::{Action, TlsSettings};
    let t = &server.check_tls;
    let ca_file = if t.verify_none {
        None
    } else {
        t.ca_file.clone()
    };
    for step in &mut script.steps {
        if let Action::Connect(c) = &mut step.action {
            if (c.implicit || c.server_defaults) && t.enabled {
                c.tls = Some(TlsSettings {
                    sni: t.sni.clone(),
                    alpn: t.alpn.clone(),
                    ca_file: None,
                });
            }
            if let Some(tls) = &mut c.tls {
                if !t.verify_none && ca_file.is_none() {
                    return Err(
                        "a TLS check needs 'verify none' or a 'ca-file' on the server line".into(),
                    );
                }
                tls.ca_file = ca_file.clone();
            }
        }
    }
    Ok(())
}

/// The server's `socks4` proxy on the connects that go through it: `via-socks4` ones, and the
/// implicit one under `check-via-socks4` (without a `socks4`, HAProxy connects directly).
fn apply_socks4(script: &mut crate::probe::script::Script, server: &Server) {
    for step in &mut script.steps {
        if let crate::probe::script::Action::Connect(c) = &mut step.action {
            if c.via_socks4 || ((c.implicit || c.server_defaults) && server.check_via_socks4) {
                c.socks4 = server.socks4;
            }
        }
    }
}

/// An HTTP check's default connect speaks HTTP/2 under the server's `check-proto h2`, or
/// under its `proto h2` when `check-proto` is not set (HAProxy takes the server's protocol
/// for its checks when it fits the check's kind).
fn apply_h2(script: &mut crate::probe::script::Script, server: &Server) {
    let h2 = server.check_proto_h2.unwrap_or(server.proto_h2);
    for step in &mut script.steps {
        if let crate::probe::script::Action::Connect(c) = &mut step.action {
            if c.implicit || c.server_defaults {
                c.h2 = h2;
            }
        }
    }
}

/// `option external-check`: `external-check command` with HAProxy's arguments and
/// environment; bounded by the read timeout (`timeout check`, else `inter`).
fn external_check(
    ids: Ids,
    proxy: &Proxy,
    server: &Server,
    addr: &CheckAddr,
    timeout: std::time::Duration,
) -> Result<Probe, String> {
    let who = format!("server {}/{} ({})", proxy.name, server.name, server.span);
    let command = proxy.external_check.command.clone().ok_or_else(|| {
        format!("{who}: 'option external-check' needs 'external-check command'; not checked")
    })?;
    let (server_addr, server_port) = match &addr.dest {
        Dest::Ip(a) => (a.ip().to_string(), a.port().to_string()),
        other => (
            CheckAddr {
                dest: other.clone(),
                source: None,
            }
            .to_string(),
            String::new(),
        ),
    };
    // the first listener of the proxy; a backend has none
    let (proxy_addr, proxy_port) = match proxy.binds.first() {
        Some(b) => (
            match &b.address {
                fulcrum_config::model::BindAddress::Ip(ip) => ip.to_string(),
                fulcrum_config::model::BindAddress::AnyV4 => "0.0.0.0".to_string(),
                fulcrum_config::model::BindAddress::AnyV6 => "::".to_string(),
                _ => "NOT_USED".to_string(),
            },
            b.port_first.to_string(),
        ),
        None => ("NOT_USED".to_string(), "NOT_USED".to_string()),
    };
    // in the environment, a backend's missing listener is empty (the arguments say NOT_USED)
    let env_value = |v: &String| {
        if v == "NOT_USED" {
            String::new()
        } else {
            v.clone()
        }
    };
    let env = vec![
        (
            "PATH".to_string(),
            proxy.external_check.path.clone().unwrap_or_default(),
        ),
        ("HAPROXY_PROXY_ADDR".to_string(), env_value(&proxy_addr)),
        ("HAPROXY_PROXY_ID".to_string(), ids.proxy.to_string()),
        ("HAPROXY_PROXY_NAME".to_string(), proxy.name.clone()),
        ("HAPROXY_PROXY_PORT".to_string(), env_value(&proxy_port)),
        ("HAPROXY_SERVER_ADDR".to_string(), server_addr.clone()),
        ("HAPROXY_SERVER_CURCONN".to_string(), "0".to_string()),
        ("HAPROXY_SERVER_ID".to_string(), ids.server.to_string()),
        (
            "HAPROXY_SERVER_MAXCONN".to_string(),
            server.maxconn.unwrap_or(0).to_string(),
        ),
        ("HAPROXY_SERVER_NAME".to_string(), server.name.clone()),
        ("HAPROXY_SERVER_PORT".to_string(), server_port.clone()),
        ("HAPROXY_SERVER_PROTO".to_string(), "tcp".to_string()),
        ("HAPROXY_SERVER_SSL".to_string(), "0".to_string()),
    ];
    Ok(Probe::External(ExternalCheck {
        command,
        args: [proxy_addr, proxy_port, server_addr, server_port],
        env,
        timeout,
    }))
}

/// `agent-check`: to `agent-addr` (else `addr`, else the server's address) and `agent-port`,
/// every `agent-inter` (else `inter`); HAProxy's agent health is rise 1, fall 1.
fn agent_check(proxy: &Proxy, server: &Server) -> Result<CheckSpec, String> {
    let who = format!("server {}/{} ({})", proxy.name, server.name, server.span);
    let port = server
        .agent
        .port
        .ok_or_else(|| format!("{who}: 'agent-check' needs 'agent-port'; agent not run"))?;
    let ip = match (server.agent.addr, server.check_addr, server.address.ip) {
        (Some(ip), _, _) | (None, Some(ip), _) | (None, None, Some(ip)) => ip,
        _ => resolve(&server.address.host).ok_or_else(|| {
            format!(
                "{who}: cannot resolve '{}' for the agent check",
                server.address.host
            )
        })?,
    };
    let inter = server.agent.inter.unwrap_or(server.inter);
    let timeout = proxy.timeouts.check.unwrap_or(inter).min(inter);
    Ok(CheckSpec {
        backend: proxy.name.clone(),
        server: server.name.clone(),
        backup: server.backup,
        probe: Probe::Agent(AgentCheck {
            addr: CheckAddr {
                dest: Dest::Ip(SocketAddr::new(ip, port)),
                source: proxy.server_source(server),
            },
            send: server.agent.send.as_ref().map(|s| s.as_bytes().to_vec()),
            timeout,
        }),
        rules: CheckRules::Haproxy {
            timing: CheckTiming {
                inter,
                fastinter: None,
                downinter: None,
                rise: 1,
                fall: 1,
            },
            passive: None,
        },
        inhibit_on_failure: false,
        weight: server.weight,
        log_health_checks: proxy.options.log_health_checks,
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

pub use crate::spec_keepalived::virtual_server_name;

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
