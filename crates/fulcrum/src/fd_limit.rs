//! The descriptor limit at start, applied as HAProxy 2.6 applies it: the budget
//! `fulcrum_config::model_fds` computes (`maxconn` as written or derived from the limit,
//! `Maxsock`, `ulimit-n`) is set with setrlimit before any socket is opened. A limit that
//! cannot be raised refuses to start under `strict-limits` and is a warning otherwise (HAProxy
//! 2.6 refuses by default; fulcrum starts with the most the hard limit allows, warns, and
//! refuses only when `strict-limits` is written). The figures stay for `show info` and for reloads.
//!
//! Unlike HAProxy, a computed limit only ever raises the one fulcrum was started with (the
//! same process also runs VRRP, health checks and the API, whose descriptors HAProxy's count
//! leaves out); an `ulimit-n` written in the configuration is applied as written.
#![allow(unsafe_code)]

use fulcrum_config::model::Config;
use fulcrum_config::model_fds::{budget, BootLimit};
use std::sync::OnceLock;

/// What `show info` reports (`Maxconn`, `Hard_maxconn`, `Maxsock`, `Maxpipes`).
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub maxconn: u32,
    pub maxsock: u64,
    pub maxpipes: u32,
}

static FIGURES: OnceLock<Figures> = OnceLock::new();

/// The figures applied at start (None before, or in a process that serves no proxy).
pub fn figures() -> Option<Figures> {
    FIGURES.get().copied()
}

fn get() -> std::io::Result<(u64, u64)> {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the one struct it is given.
    match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } {
        0 => Ok((l.rlim_cur, l.rlim_max)),
        _ => Err(std::io::Error::last_os_error()),
    }
}

fn set(cur: u64, max: u64) -> std::io::Result<()> {
    let l = libc::rlimit {
        rlim_cur: cur,
        rlim_max: max,
    };
    // SAFETY: setrlimit only reads the struct it is given.
    match unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Computes the budget of `config`, sets `maxconn` global when it was derived, and applies
/// the limit. Err: the reason not to start (`strict-limits`).
pub fn apply(config: &mut Config) -> Result<(), String> {
    let nbthread = config.global.nbthread.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))
    });
    let (soft, hard) = get().map_err(|e| format!("cannot read the descriptor limit: {e}"))?;
    let b = budget(config, nbthread, BootLimit { soft, hard });
    if b.maxconn_derived {
        tracing::info!(
            "maxconn {} derived from the descriptor limit ({soft}, hard {hard})",
            b.maxconn
        );
        config.global.maxconn = Some(b.maxconn);
    }
    let strict = config.global.limits.strict_limits == Some(true);
    let written = config.global.limits.ulimit_n.is_some();
    if b.ulimit_n > soft || (written && b.ulimit_n != soft) {
        if let Err(e) = set(b.ulimit_n, hard.max(b.ulimit_n)) {
            let msg = format!(
                "Cannot raise FD limit to {}, limit is {soft} ({e})",
                b.ulimit_n
            );
            if strict {
                return Err(msg);
            }
            // As HAProxy: at least the most the hard limit allows.
            let _ = set(hard, hard);
            let now = get().map_or(soft, |l| l.0);
            tracing::warn!("Cannot raise FD limit to {}, limit is {now}", b.ulimit_n);
        }
    }
    let now = get().map_or(soft, |l| l.0);
    if now < b.maxsock {
        let msg = format!(
            "FD limit ({now}) too low for maxconn={}/maxsock={}. Please raise 'ulimit-n' to {} or more to avoid any trouble.",
            b.maxconn, b.maxsock, b.maxsock
        );
        if strict {
            return Err(msg);
        }
        tracing::error!("{msg}");
    }
    let _ = FIGURES.set(Figures {
        maxconn: b.maxconn,
        maxsock: b.maxsock,
        maxpipes: b.maxpipes,
    });
    Ok(())
}

/// A reloaded configuration without `maxconn` keeps the one the process started with.
pub fn keep(config: &mut Config) {
    if let (None, Some(f)) = (config.global.maxconn, figures()) {
        config.global.maxconn = Some(f.maxconn);
    }
}
