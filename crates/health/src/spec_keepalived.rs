//! keepalived's checkers as check specs: every checker of every real_server of a
//! virtual_server, where it connects (`connect_ip`/`connect_port`/`bindto`/`bind_port` over
//! the real server's) and how often (`delay_loop`, `retry`, `delay_before_retry`).
//! Pure apart from `init_file`, which writes a track_file's initial value as keepalived does.

use crate::keepalived::KeepalivedTiming;
use crate::probe::dns::DnsCheck;
use crate::probe::file_check::{self, FileCheck};
use crate::probe::http_get::HttpGet;
use crate::probe::misc::MiscCheck;
use crate::probe::ping::PingCheck;
use crate::probe::smtp_check::SmtpCheck;
use crate::probe::udp::UdpCheck;
use crate::probe::{CheckAddr, Dest, Probe};
use crate::spec::{CheckRules, CheckSpec, MemberSpec, Plan};
use fulcrum_config::model::{
    CheckAddrOpts, CheckConn, Checker, RealServer, TrackFile, VirtualServer, VirtualServerAddress,
};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// keepalived's name for a virtual server in logs: `[IP]:tcp:PORT` style kept short.
pub fn virtual_server_name(vs: &VirtualServer) -> String {
    match vs.address {
        VirtualServerAddress::Ip { ip, port } => SocketAddr::new(ip, port).to_string(),
        VirtualServerAddress::Fwmark(m) => format!("fwmark {m}"),
    }
}

pub(crate) fn keepalived_checks(
    vs: &VirtualServer,
    track_files: &[TrackFile],
    policy: &fulcrum_script::Policy,
    plan: &mut Plan,
) {
    let backend = virtual_server_name(vs);
    for rs in &vs.real_servers {
        let server = SocketAddr::new(rs.ip, rs.port).to_string();
        let mut checked = false;
        for checker in &rs.checkers {
            let Some((probe, timing)) =
                keepalived_probe(vs, rs, checker, track_files, policy, plan)
            else {
                continue;
            };
            checked = true;
            plan.checks.push(CheckSpec {
                backend: backend.clone(),
                server: server.clone(),
                backup: false,
                probe,
                rules: CheckRules::Keepalived {
                    timing,
                    protocol: vs.protocol,
                },
                inhibit_on_failure: rs.inhibit_on_failure,
                weight: rs.weight,
                log_health_checks: false,
            });
        }
        plan.members.push(MemberSpec {
            backend: backend.clone(),
            server,
            backup: false,
            checked,
            weight: rs.weight,
        });
    }
}

/// Where a keepalived checker connects: `connect_ip`/`connect_port` over the real server's,
/// from `bindto`/`bind_port` when written.
fn keepalived_target(
    rs: &RealServer,
    addr: &CheckAddrOpts,
    port: Option<u16>,
) -> (SocketAddr, Option<SocketAddr>) {
    let ip = addr.connect_ip.unwrap_or(rs.ip);
    let dst = SocketAddr::new(ip, port.unwrap_or(rs.port));
    let source = match (addr.bindto, addr.bind_port) {
        (Some(ip), p) => Some(SocketAddr::new(ip, p.unwrap_or(0))),
        (None, Some(p)) => Some(SocketAddr::new(
            if dst.is_ipv4() {
                IpAddr::from([0u8; 4])
            } else {
                IpAddr::from([0u16; 8])
            },
            p,
        )),
        (None, None) => None,
    };
    (dst, source)
}

fn conn_timing(vs: &VirtualServer, c: &CheckConn) -> KeepalivedTiming {
    KeepalivedTiming {
        delay_loop: vs.delay_loop,
        retry: c.retry,
        delay_before_retry: c.delay_before_retry,
    }
}

fn keepalived_probe(
    vs: &VirtualServer,
    rs: &RealServer,
    checker: &Checker,
    track_files: &[TrackFile],
    policy: &fulcrum_script::Policy,
    plan: &mut Plan,
) -> Option<(Probe, KeepalivedTiming)> {
    Some(match checker {
        Checker::HttpGet {
            ssl,
            urls,
            connect_timeout,
            connect_port,
            retry,
            delay_before_retry,
            addr,
            http_protocol,
            virtualhost,
            enable_sni,
            ..
        } => {
            let (dst, source) = keepalived_target(rs, addr, *connect_port);
            let mut get = HttpGet::new(dst, urls.clone(), *connect_timeout).over_tls(*ssl);
            get.protocol = *http_protocol;
            get.virtualhost = virtualhost.clone();
            get.enable_sni = *enable_sni;
            get.source = source;
            (
                Probe::HttpGet(get),
                KeepalivedTiming {
                    delay_loop: vs.delay_loop,
                    retry: *retry,
                    delay_before_retry: *delay_before_retry,
                },
            )
        }
        Checker::TcpCheck {
            connect_timeout,
            connect_port,
            retry,
            delay_before_retry,
            addr,
            ..
        } => {
            let (dst, source) = keepalived_target(rs, addr, *connect_port);
            (
                Probe::Tcp {
                    addr: CheckAddr {
                        dest: Dest::Ip(dst),
                        source,
                    },
                    connect_timeout: *connect_timeout,
                    reset: false,
                },
                KeepalivedTiming {
                    delay_loop: vs.delay_loop,
                    retry: *retry,
                    delay_before_retry: *delay_before_retry,
                },
            )
        }
        Checker::SmtpCheck {
            conn, helo_name, ..
        } => {
            let (dst, source) = keepalived_target(rs, &conn.addr, conn.connect_port);
            (
                Probe::Smtp(SmtpCheck {
                    addr: CheckAddr {
                        dest: Dest::Ip(dst),
                        source,
                    },
                    helo_name: helo_name.clone(),
                    timeout: conn.connect_timeout,
                }),
                conn_timing(vs, conn),
            )
        }
        Checker::DnsCheck {
            conn,
            query_type,
            name,
            ..
        } => {
            let (dst, source) = keepalived_target(rs, &conn.addr, conn.connect_port);
            (
                Probe::Dns(DnsCheck {
                    addr: dst,
                    source,
                    query_type: *query_type,
                    name: name.clone(),
                    timeout: conn.connect_timeout,
                }),
                conn_timing(vs, conn),
            )
        }
        Checker::UdpCheck {
            conn,
            payload,
            require_reply,
            reply,
            min_reply_length,
            max_reply_length,
            ..
        } => {
            let (dst, source) = keepalived_target(rs, &conn.addr, conn.connect_port);
            (
                Probe::Udp(UdpCheck {
                    addr: dst,
                    source,
                    payload: payload.clone(),
                    require_reply: *require_reply,
                    reply: reply.clone(),
                    min_reply_length: *min_reply_length,
                    max_reply_length: *max_reply_length,
                    timeout: conn.connect_timeout,
                }),
                conn_timing(vs, conn),
            )
        }
        Checker::PingCheck { conn, .. } => (
            Probe::Ping(PingCheck {
                addr: conn.addr.connect_ip.unwrap_or(rs.ip),
                source: conn.addr.bindto,
                timeout: conn.connect_timeout,
            }),
            conn_timing(vs, conn),
        ),
        Checker::FileCheck {
            span,
            track_file,
            weight,
        } => {
            let Some(t) = track_files.iter().find(|t| &t.name == track_file) else {
                plan.warnings.push(format!(
                    "{span}: FILE_CHECK names track_file '{track_file}', which is not defined; not checked"
                ));
                return None;
            };
            init_track_file(t, plan);
            let (weight, reverse) = weight.unwrap_or((t.weight, t.reverse));
            (
                Probe::File(FileCheck {
                    path: t.file.clone().into(),
                    weight,
                    reverse,
                    base_weight: rs.weight,
                }),
                // no retries: the file says what it says (keepalived acts on each change)
                KeepalivedTiming {
                    delay_loop: file_check::poll_interval(vs.delay_loop),
                    retry: 0,
                    delay_before_retry: file_check::poll_interval(vs.delay_loop),
                },
            )
        }
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
    })
}

/// `init_file [VALUE] [overwrite]`: writes VALUE when the file is missing (or always with
/// overwrite), as keepalived does when it starts; a failure is a warning.
fn init_track_file(t: &TrackFile, plan: &mut Plan) {
    let Some((value, overwrite)) = t.init_file else {
        return;
    };
    let path = std::path::Path::new(&t.file);
    if overwrite || !path.exists() {
        if let Err(e) = std::fs::write(path, format!("{value}\n")) {
            plan.warnings.push(format!(
                "{}: track_file {}: cannot write init_file value to {}: {e}",
                t.span, t.name, t.file
            ));
        }
    }
}
