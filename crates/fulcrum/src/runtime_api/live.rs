//! The runtime API's [`Target`] made of the running parts: the proxy's current generation
//! (servers' admin state, runtime weight, load), the health engine (pause/resume checks) and
//! the running config (ids, addresses, check settings). Used from the supervisor's loop, one
//! command batch at a time.
//!
//! Ids are the proxy crate's, as `show stat` prints them: proxies numbered from 1 in file order
//! (HAProxy, which counts an internal proxy first, starts at 2), servers from 1 in their
//! backend. `show stat` is the proxy crate's snapshot in HAProxy 2.6's CSV.

use super::command::{AdminChange, StatOptions};
use super::exec::Target;
use super::render::{BackendView, InfoView, ServerView};
use crate::status_report::History;
use fulcrum_config::model::{Balance, Config, Proxy, ServerPort};
use fulcrum_proxy::server::{AdminState, CheckInfo, ServerRt};
use fulcrum_stats::csv::{self, Field};
use fulcrum_stats::snapshot::{snapshot, RowKind, StatRow};
use std::time::Instant;

pub struct Live<'a> {
    pub proxy: &'a fulcrum_proxy::ProxyHandle,
    pub health: &'a fulcrum_health::HealthHandle,
    pub config: &'a Config,
    pub history: &'a mut History,
    pub started: Instant,
}

/// HAProxy's `HCHK_STATUS_*` number for a short check status.
fn hchk_status(code: &str) -> u32 {
    match code {
        "HANA" => 4,
        "L4OK" => 6,
        "L4TOUT" => 7,
        "L4CON" => 8,
        "L6TOUT" => 10,
        "L6RSP" => 11,
        "L7TOUT" => 12,
        "L7RSP" => 13,
        "L7OK" => 15,
        "L7STS" => 17,
        "PROCERR" => 18,
        "PROCTOUT" => 19,
        "PROCOK" => 20,
        _ => 0,
    }
}

/// `show stat` filters: `iid type sid` (-1: any; type bits 1 frontends, 2 backends, 4
/// servers), `up` (servers that are UP only), `no-maint` (no server in MAINT).
fn keep_row(r: &StatRow, o: &StatOptions) -> bool {
    if let Some((iid, kind, sid)) = o.filter {
        let bit = match r.kind {
            RowKind::Frontend => 1,
            RowKind::Backend => 2,
            RowKind::Server => 4,
        };
        if (iid != -1 && i64::from(r.iid) != iid) || (kind != -1 && kind & bit == 0) {
            return false;
        }
        if r.kind == RowKind::Server && sid != -1 && i64::from(r.sid) != sid {
            return false;
        }
    }
    if r.kind == RowKind::Server {
        if o.up_only && !r.is_up() {
            return false;
        }
        if o.no_maint && r.status == "MAINT" {
            return false;
        }
    }
    true
}

/// `show stat typed`: `F.IID.SID.INDEX.NAME.1:TAGS:TYPE:VALUE` for every non-empty field.
fn typed_stat(rows: &[StatRow]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for r in rows {
        let obj = match r.kind {
            RowKind::Frontend => 'F',
            RowKind::Backend => 'B',
            RowKind::Server => 'S',
        };
        for (i, col) in csv::COLUMNS.iter().enumerate() {
            let (tags, ty, value) = match csv::field(r, col) {
                Field::Empty => continue,
                Field::Str(v) if *col == "pxname" || *col == "svname" => ("KNS", "str", v),
                Field::Str(v) => ("SGP", "str", v),
                Field::U(v, true) => ("MCP", "u64", v.to_string()),
                Field::U(v, false) => ("MGP", "u32", v.to_string()),
                Field::S(v) => ("MGP", "s32", v.to_string()),
            };
            let _ = writeln!(
                out,
                "{obj}.{}.{}.{i}.{col}.1:{tags}:{ty}:{value}",
                r.iid, r.sid
            );
        }
    }
    out
}

/// The soft limit of open files (`Ulimit-n`), from /proc/self/limits.
fn open_files_limit() -> u64 {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The latest probe's outcome in HAProxy's words (`Layer7 check passed, code: 200`).
fn describe_check(info: &CheckInfo) -> Option<String> {
    use fulcrum_health::CheckStatus as S;
    let all = [
        S::L4Ok,
        S::L4Timeout,
        S::L4Connection,
        S::L6Timeout,
        S::L6Response,
        S::L7Ok,
        S::L7Timeout,
        S::L7Response,
        S::L7Status,
        S::HealthAnalyze,
        S::ExternalOk,
        S::ExternalError,
        S::ExternalTimeout,
        S::Unsupported,
    ];
    let status = all.iter().find(|s| s.code() == info.status)?;
    let mut text = status.description().to_string();
    if let Some(code) = info.code {
        text.push_str(&format!(", code: {code}"));
    }
    if !info.desc.is_empty() {
        text.push_str(&format!(", info: \"{}\"", info.desc));
    }
    Some(text)
}

/// Map-based hashing and static-rr cannot take runtime weights (HAProxy's BE_LB_PROP_DYN).
fn static_lb(p: &Proxy) -> bool {
    matches!(
        p.balance,
        Balance::StaticRr
            | Balance::Source
            | Balance::Uri { .. }
            | Balance::UrlParam { .. }
            | Balance::Hdr { .. }
            | Balance::RdpCookie { .. }
    )
}

impl Live<'_> {
    fn server_view(&self, p: &Proxy, index: usize, s: &ServerRt) -> ServerView {
        let conf = p.servers.iter().find(|c| c.name == s.name);
        let checked = conf.is_some_and(|c| c.check);
        let paused = self.health.checks_paused(&p.name, &s.name);
        let up = s.is_up();
        let admin = s.admin();
        let disabled = conf.is_some_and(|c| c.disabled);
        let (rise, fall) = conf.map_or((2, 3), |c| (c.rise, c.fall));
        let latest = s.check();
        let code = if latest.status.is_empty() {
            self.history
                .check_code(&p.name, &s.name)
                .unwrap_or(if up { "L4OK" } else { "L4CON" })
                .to_string()
        } else {
            latest.status.to_string()
        };
        // DOWN: the check that took it down; UP: the latest check.
        let change = self.history.reason(&p.name, &s.name).map(str::to_string);
        let last = describe_check(&latest);
        let (status, why) = if admin == AdminState::Maint && disabled {
            ("MAINT", "'disabled' in the configuration".to_string())
        } else if admin == AdminState::Maint {
            (
                "MAINT",
                "set to maintenance on the runtime API or stats page".to_string(),
            )
        } else if !up {
            (
                "DOWN",
                change
                    .or(last)
                    .unwrap_or_else(|| "health check failed".into()),
            )
        } else if admin == AdminState::Drain {
            (
                "DRAIN",
                "set to drain on the runtime API or stats page".to_string(),
            )
        } else if s.uweight() == 0 {
            ("DRAIN", "runtime weight 0".to_string())
        } else if checked {
            (
                "UP",
                last.or(change).unwrap_or_else(|| "checks passing".into()),
            )
        } else {
            ("UP", "no check".to_string())
        };
        let (addr, port) = match &conf.map(|c| &c.address) {
            // HAProxy writes `-` for a server on a unix socket.
            Some(a) if a.unix.is_some() => ("-".to_string(), 0),
            Some(a) => (
                a.ip.map_or_else(|| a.host.clone(), |ip| ip.to_string()),
                match a.port {
                    ServerPort::Fixed(p) => p,
                    _ => 0,
                },
            ),
            None => (String::new(), 0),
        };
        let agent = conf.map(|c| c.agent.clone()).unwrap_or_default();
        // HAProxy's SRV_ADMF_FMAINT (0x01), CMAINT (0x04, `disabled` in the config), FDRAIN (0x08).
        let admin_bits = match admin {
            AdminState::Ready => 0,
            AdminState::Drain => 0x08,
            AdminState::Maint if disabled => 0x04,
            AdminState::Maint => 0x01,
        };
        let (id, forced) = p.server_id_of(index);
        ServerView {
            forced_ids: (p.options.keywords.id.is_some(), forced),
            id,
            name: s.name.clone(),
            addr,
            port,
            op_state: if up && admin != AdminState::Maint {
                2
            } else {
                0
            },
            admin_state: admin_bits,
            uweight: s.uweight(),
            iweight: s.weight,
            since_change_s: s.last_change_secs(),
            check_status: if checked { hchk_status(&code) } else { 1 },
            check_result: match (checked, up) {
                (false, _) => 0,
                (true, true) => 3,
                (true, false) => 2,
            },
            check_health: match (checked, up) {
                (false, _) if disabled || self.history.was_stopped(&p.name, &s.name) => 0,
                (false, _) => rise,
                (true, true) => rise + fall - 1,
                (true, false) => 0,
            },
            check_state: match (checked, paused, admin == AdminState::Maint) {
                (false, _, _) => 0,
                (true, true, _) => 0x02,
                (true, false, true) => 0x02 | 0x04 | 0x08,
                (true, false, false) => 0x02 | 0x04,
            },
            check_port: conf.and_then(|c| c.check_port).unwrap_or(0),
            // HAProxy's CHK_ST_CONFIGURED | ENABLED | AGENT (0x02 | 0x04 | 0x10)
            agent_state: if agent.enabled { 0x16 } else { 0 },
            agent_addr: agent.addr.map(|a| a.to_string()).unwrap_or_default(),
            agent_port: if agent.enabled {
                agent.port.unwrap_or(0)
            } else {
                0
            },
            status: status.to_string(),
            reason: if paused {
                format!("{why} (health checks disabled)")
            } else {
                why
            },
            served: s.served(),
        }
    }

    /// Every backend in config order with its servers' current state.
    pub fn backend_views(&self) -> Vec<BackendView> {
        let Some(generation) = self.proxy.generation() else {
            return Vec::new();
        };
        self.config
            .backends()
            .filter_map(|p| {
                let be = generation.backends.get(&p.name)?;
                Some(BackendView {
                    id: be.id,
                    name: p.name.clone(),
                    static_lb: static_lb(p),
                    servers: be
                        .servers
                        .iter()
                        .enumerate()
                        .map(|(i, s)| self.server_view(p, i, s))
                        .collect(),
                })
            })
            .collect()
    }

    /// Open connections per frontend, in config order.
    pub fn connections(&self) -> Vec<(String, u64)> {
        let Some(generation) = self.proxy.generation() else {
            return Vec::new();
        };
        self.config
            .frontends()
            .map(|p| {
                let conns = generation
                    .frontends
                    .get(&p.name)
                    .map_or(0, |f| f.conns.load(std::sync::atomic::Ordering::Relaxed));
                (p.name.clone(), conns)
            })
            .collect()
    }

    fn with_backend<T>(
        &self,
        backend: &str,
        f: impl FnOnce(&fulcrum_proxy::backend::Backend) -> Result<T, String>,
    ) -> Result<T, String> {
        let generation = self
            .proxy
            .generation()
            .ok_or_else(|| "fulcrum is reloading; try again.\n".to_string())?;
        let be = generation
            .backends
            .get(backend)
            .ok_or_else(|| "No such backend.\n".to_string())?;
        f(be)
    }
}

impl Target for Live<'_> {
    fn patterns(&mut self, words: &[&str]) -> Option<String> {
        self.proxy.generation()?.patterns.cli(words)
    }

    fn table(&mut self, words: &[&str], dump: bool) -> Option<String> {
        let gen = self.proxy.generation()?;
        // In config order, as HAProxy lists them.
        let tables: Vec<_> = self
            .config
            .proxies
            .iter()
            .filter_map(|p| gen.tables.get(&p.name).cloned())
            .collect();
        fulcrum_proxy::track_cli::answer(&tables, words, dump)
    }

    fn info(&self) -> InfoView {
        let conns: u64 = self.connections().iter().map(|(_, c)| c).sum();
        let rows = self
            .proxy
            .generation()
            .map(|g| snapshot(&g))
            .unwrap_or_default();
        let frontends = rows.iter().filter(|r| r.kind == RowKind::Frontend);
        let (cum_conns, cum_req) = frontends.fold((0, 0), |(c, q), r| (c + r.stot, q + r.req_tot));
        let ulimit_n = open_files_limit();
        let fd = crate::fd_limit::figures();
        let uptime = self.started.elapsed();
        let start_time_sec = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .saturating_sub(uptime.as_secs());
        InfoView {
            version: env!("CARGO_PKG_VERSION").to_string(),
            release_date: "-".to_string(),
            pid: std::process::id(),
            nbthread: self.config.global.nbthread.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
            }),
            uptime,
            start_time_sec,
            ulimit_n,
            maxsock: fd.map_or(ulimit_n, |f| f.maxsock),
            maxconn: fd.map_or(u64::from(self.config.global.maxconn.unwrap_or(0)), |f| {
                u64::from(f.maxconn)
            }),
            maxpipes: fd.map_or(0, |f| u64::from(f.maxpipes)),
            curr_conns: conns,
            cum_conns,
            cum_req,
            listeners: self.config.frontends().map(|p| p.binds.len() as u64).sum(),
            ssl: fulcrum_proxy::tls::totals::figures(),
            jobs: conns,
            node: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map_or_else(|_| "-".to_string(), |h| h.trim().to_string()),
            stopping: false,
        }
    }

    fn backends(&self) -> Vec<BackendView> {
        self.backend_views()
    }

    fn frontend_connections(&self) -> Vec<(String, u64)> {
        self.connections()
    }

    fn stat(&self, opts: &StatOptions) -> Result<String, String> {
        let generation = self
            .proxy
            .generation()
            .ok_or_else(|| "fulcrum is reloading; try again.\n".to_string())?;
        let mut rows: Vec<StatRow> = snapshot(&generation)
            .into_iter()
            .filter(|r| keep_row(r, opts))
            .collect();
        if opts.hide_addresses {
            rows.iter_mut().for_each(|r| r.addr = None);
        }
        Ok(if opts.json {
            format!("{}\n", fulcrum_stats::json::render(&rows))
        } else if opts.typed {
            typed_stat(&rows)
        } else {
            csv::render(&rows)
        })
    }

    fn set_admin(
        &mut self,
        backend: &str,
        server: &str,
        change: AdminChange,
    ) -> Result<(), String> {
        let (changed, state) = self.with_backend(backend, |be| {
            let i = be
                .server_index(server)
                .ok_or_else(|| "No such server.\n".to_string())?;
            let state = match change {
                AdminChange::Ready => AdminState::Ready,
                AdminChange::LeaveMaint if be.servers[i].admin() == AdminState::Maint => {
                    AdminState::Ready
                }
                AdminChange::LeaveMaint => be.servers[i].admin(),
                AdminChange::Drain => AdminState::Drain,
                AdminChange::Maint => AdminState::Maint,
            };
            Ok((be.set_server_admin(i, state), state))
        })?;
        if changed {
            let word = match state {
                AdminState::Ready => "READY",
                AdminState::Drain => "DRAIN",
                AdminState::Maint => "MAINT",
            };
            tracing::warn!("Server {backend}/{server} set to {word} on the runtime API.");
            if state == AdminState::Maint {
                self.history.stopped(backend, server);
            }
            self.history.record(
                format!("server {backend}/{server}"),
                word,
                "runtime API".into(),
            );
        }
        Ok(())
    }

    fn set_weight(&mut self, backend: &str, server: &str, weight: u32) -> Result<(), String> {
        let changed = self.with_backend(backend, |be| {
            let i = be
                .server_index(server)
                .ok_or_else(|| "No such server.\n".to_string())?;
            be.set_server_weight(i, weight)
                .map_err(|e| format!("{e}\n"))
        })?;
        if changed {
            tracing::info!("Server {backend}/{server} weight set to {weight} on the runtime API.");
            self.history.record(
                format!("server {backend}/{server}"),
                &format!("weight {weight}"),
                "runtime API".into(),
            );
        }
        Ok(())
    }

    fn set_checks(&mut self, backend: &str, server: &str, enabled: bool) -> Result<(), String> {
        let was_paused = self.health.checks_paused(backend, server);
        self.health.pause_checks(backend, server, !enabled);
        if was_paused == enabled {
            let word = if enabled {
                "checks enabled"
            } else {
                "checks disabled"
            };
            tracing::info!("Server {backend}/{server}: health {word} on the runtime API.");
            self.history.record(
                format!("server {backend}/{server}"),
                word,
                "runtime API".into(),
            );
        }
        Ok(())
    }
}
