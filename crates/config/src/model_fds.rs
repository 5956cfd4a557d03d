//! The process's file-descriptor budget, computed as HAProxy 2.6 computes it at start (sans
//! IO): `maxconn` (as written, else derived from the descriptor limit the process started
//! with), `maxpipes` (splicing), `Maxsock` (every descriptor the configuration may hold) and
//! the `ulimit-n` to apply. The binary's start-up (`fd_limit.rs`) applies it with setrlimit
//! and `show info` reports it.

use crate::model::Config;

/// HAProxy's `DEFAULT_MAXCONN`: the least `maxconn` derived from a tight limit.
pub const DEFAULT_MAXCONN: u32 = 100;
/// HAProxy's `stats maxconn` default: connections each stats socket may hold at once.
pub const DEFAULT_STATS_MAXCONN: u32 = 10;
/// Descriptors HAProxy reserves before counting any (`global.maxsock = 10` at boot).
const RESERVED: u64 = 10;

/// The descriptor limit the process started with (`getrlimit(RLIMIT_NOFILE)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootLimit {
    pub soft: u64,
    pub hard: u64,
}

/// What the configuration needs, in HAProxy's figures (`show info`'s `Maxconn`, `Maxpipes`,
/// `Maxsock`, `Ulimit-n` before it is applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdBudget {
    pub maxconn: u32,
    /// True when `maxconn` was derived from the limit (none written, no `-n`/`-N`).
    pub maxconn_derived: bool,
    pub maxpipes: u32,
    pub maxsock: u64,
    /// The soft limit to ask for: `ulimit-n` as written, else `maxsock`.
    pub ulimit_n: u64,
}

/// The budget of `config` run with `nbthread` threads, started under `boot`.
pub fn budget(config: &Config, nbthread: u32, boot: BootLimit) -> FdBudget {
    let g = &config.global;
    let fixed = fixed_sockets(config);
    let threads = 3 * u64::from(nbthread.max(1));
    let (maxconn, maxconn_derived) = match g.maxconn.filter(|m| *m > 0) {
        Some(m) => (m, false),
        None => (ideal_maxconn(config, fixed + threads, boot), true),
    };
    let maxpipes = g
        .splice
        .maxpipes
        .unwrap_or_else(|| ideal_pipes(config, Some(maxconn)).unwrap_or(maxconn / 4));
    let maxsock = fixed + 2 * u64::from(maxconn) + 2 * u64::from(maxpipes) + threads;
    FdBudget {
        maxconn,
        maxconn_derived,
        maxpipes,
        maxsock,
        ulimit_n: g.limits.ulimit_n.map_or(maxsock, u64::from),
    }
}

/// What HAProxy counts before connections: its reserve, one per listening socket (each
/// address and port of a `bind`), one per health check (two per agent check), one per
/// stats socket plus the connections the stats sockets may hold, and the `peers` sections.
fn fixed_sockets(config: &Config) -> u64 {
    let listeners: u64 = config
        .frontends()
        .flat_map(|p| &p.binds)
        .map(|b| u64::from(b.port_last.saturating_sub(b.port_first)) + 1)
        .sum();
    let checks: u64 = config
        .backends()
        .flat_map(|p| &p.servers)
        .map(|s| u64::from(s.check) + 2 * u64::from(s.agent.enabled))
        .sum();
    let stats = &config.global.stats_sockets;
    let cli = if stats.is_empty() {
        0
    } else {
        stats.len() as u64
            + u64::from(
                config
                    .global
                    .limits
                    .stats_maxconn
                    .unwrap_or(DEFAULT_STATS_MAXCONN),
            )
    };
    RESERVED + listeners + checks + cli + peers(config)
}

/// HAProxy's `peers` sections that run (this node is one of their peers; others are removed
/// at start): one listener each and 3 descriptors per peer, this node included.
fn peers(config: &Config) -> u64 {
    if config.peers.is_empty() {
        return 0;
    }
    let me = config.local_peer();
    config
        .peers
        .iter()
        .filter(|s| s.peers.iter().any(|p| p.name == me))
        .map(|s| 1 + 3 * s.peers.len() as u64)
        .sum()
}

/// HAProxy's `compute_ideal_maxpipes`: a quarter of the connections of the proxies that
/// splice (a frontend's `maxconn`, a backend's `fullconn` else `maxconn` global), at most
/// `maxconn` global. None: unlimited (a splicing proxy without a limit and no `maxconn`).
fn ideal_pipes(config: &Config, maxconn: Option<u32>) -> Option<u32> {
    let (mut fe, mut be, mut unlimited) = (0u64, 0u64, false);
    for p in &config.proxies {
        let s = &p.options.splice;
        if ![s.auto, s.request, s.response].contains(&Some(true)) {
            continue;
        }
        if p.kind.is_frontend() {
            match p.maxconn.filter(|m| *m > 0) {
                Some(m) => fe += u64::from(m),
                None => {
                    unlimited = true;
                    break;
                }
            }
        }
        if p.kind.is_backend() {
            match p.fullconn.filter(|m| *m > 0).or(maxconn) {
                Some(m) => be += u64::from(m),
                None => {
                    unlimited = true;
                    break;
                }
            }
        }
    }
    let mut pipes = fe.max(be);
    match maxconn {
        Some(m) if unlimited || pipes > u64::from(m) => pipes = u64::from(m),
        Some(_) => {}
        None if unlimited => return None,
        None => {}
    }
    let pipes = u32::try_from(pipes).unwrap_or(u32::MAX);
    Some(if pipes >= 4 { pipes / 4 } else { pipes })
}

/// HAProxy's `compute_ideal_maxconn`: what the larger of the boot limits leaves once
/// `fixed` descriptors and the pipes are counted, two per connection (2.5 per connection
/// when pipes are unlimited), at least [`DEFAULT_MAXCONN`].
fn ideal_maxconn(config: &Config, fixed: u64, boot: BootLimit) -> u32 {
    // HAProxy holds the limit in an int: an unlimited one reads as its largest value.
    let limit = boot.soft.max(boot.hard).min(i32::MAX as u64);
    let mut remain = limit.saturating_sub(fixed);
    let pipes = ideal_pipes(config, None);
    if let Some(p) = pipes {
        if 2 * u64::from(p) < remain {
            remain -= 2 * u64::from(p);
        }
    }
    let maxconn = match pipes {
        None => 2 * remain / 5,
        Some(_) => remain / 2,
    };
    u32::try_from(maxconn)
        .unwrap_or(u32::MAX)
        .max(DEFAULT_MAXCONN)
}

#[cfg(test)]
#[path = "model_fds_tests.rs"]
mod tests;
