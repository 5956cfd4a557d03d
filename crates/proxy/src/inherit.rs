//! Sockets this process inherited already open: systemd socket activation (`LISTEN_FDS`,
//! `LISTEN_PID`, `LISTEN_FDNAMES`) and `fd@N` / `sockpair@N` addresses.
//!
//! [`init`] runs once, before any thread starts: it records the activated descriptors (3, 4,
//! ...), marks them close-on-exec so scripts we run never hold them, and removes the variables
//! from the environment as `sd_listen_fds(unset=1)` does. A `bind` then takes over the
//! activated socket whose local address equals its own (getsockname), and `fd@N` takes the
//! descriptor N. [`close_unused`] closes, with a warning, activated sockets no bind wanted.
//!
//! It also keeps the sockets that change hands between fulcrum processes (see `handover`):
//! the listening sockets this process exports to a successor, and those it received from a
//! predecessor (`-sf`/`-st`), which binds take before opening anything, so the same kernel
//! sockets keep serving and nothing queued on them is reset.
//!
//! This file is the only place where a raw descriptor number becomes an owned descriptor
//! (one of the proxy's few `unsafe` blocks, see [`adopt_unchecked`]; the others read TCP_INFO
//! in `front.rs` and call glibc's `malloc_trim` in `trim.rs`); every descriptor is adopted at
//! most once.

use socket2::Socket;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

#[derive(Default)]
struct Registry {
    /// Activated descriptors not taken yet, with their `LISTEN_FDNAMES` name.
    activated: BTreeMap<RawFd, String>,
    /// Every descriptor adopted so far (never adopted twice).
    adopted: HashSet<RawFd>,
    /// `log fd@N` targets, kept across reloads.
    log_fds: BTreeMap<RawFd, Arc<std::fs::File>>,
    /// Listening sockets received from the process we take over from.
    passed: Vec<Socket>,
    /// Our listening sockets, per listener, for a successor.
    exports: BTreeMap<u64, Vec<Socket>>,
    next_export: u64,
}

/// Set once our sockets went to a successor: their unix socket files are its now.
static HANDED_OVER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn handed_over() -> bool {
    HANDED_OVER.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn set_handed_over() {
    HANDED_OVER.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Records listening sockets received from a predecessor.
pub(crate) fn add_passed(sockets: Vec<Socket>) {
    with(|r| r.passed.extend(sockets));
}

/// Takes every received socket `matches` accepts (a predecessor may have several per address).
pub fn take_passed(matches: impl Fn(&Socket) -> bool) -> Vec<Socket> {
    with(|r| {
        let (take, keep): (Vec<Socket>, Vec<Socket>) = std::mem::take(&mut r.passed)
            .into_iter()
            .partition(|s| matches(s));
        r.passed = keep;
        take
    })
}

/// Keeps duplicates of a listener's sockets for a successor; returns the key to drop them.
pub(crate) fn export(sockets: &[&Socket]) -> u64 {
    let dups: Vec<Socket> = sockets.iter().filter_map(|s| s.try_clone().ok()).collect();
    with(|r| {
        r.next_export += 1;
        r.exports.insert(r.next_export, dups);
        r.next_export
    })
}

pub(crate) fn unexport(id: u64) {
    with(|r| r.exports.remove(&id));
}

/// Duplicates of every exported listening socket.
pub(crate) fn exported() -> Vec<Socket> {
    with(|r| {
        r.exports
            .values()
            .flatten()
            .filter_map(|s| s.try_clone().ok())
            .collect()
    })
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    let mut g = match REGISTRY.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    f(g.get_or_insert_with(Registry::default))
}

/// What the environment says systemd passed: descriptor numbers and names. Pure, for tests.
pub fn parse_listen_env(
    fds: Option<&str>,
    pid: Option<&str>,
    names: Option<&str>,
    me: u32,
) -> Result<Vec<(RawFd, String)>, String> {
    let Some(fds) = fds else {
        return Ok(Vec::new());
    };
    if let Some(pid) = pid {
        match pid.trim().parse::<u32>() {
            Ok(p) if p == me => {}
            // Meant for another process (e.g. our parent): not ours.
            Ok(_) => return Ok(Vec::new()),
            Err(_) => return Err(format!("LISTEN_PID='{pid}' is not a process id")),
        }
    }
    let n: RawFd = fds
        .trim()
        .parse()
        .ok()
        .filter(|n| (0..=4096).contains(n))
        .ok_or_else(|| format!("LISTEN_FDS='{fds}' is not a number of descriptors"))?;
    let names: Vec<&str> = names.map(|s| s.split(':').collect()).unwrap_or_default();
    Ok((0..n)
        .map(|i| {
            (
                LISTEN_FDS_START + i,
                names.get(i as usize).map_or("unknown", |s| s).to_string(),
            )
        })
        .collect())
}

/// Records systemd's activated sockets; call once, before threads start.
pub fn init() {
    let get = |k: &str| std::env::var(k).ok();
    let parsed = parse_listen_env(
        get("LISTEN_FDS").as_deref(),
        get("LISTEN_PID").as_deref(),
        get("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    );
    for k in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
        std::env::remove_var(k);
    }
    let list = match parsed {
        Ok(l) => l,
        Err(msg) => {
            tracing::warn!("socket activation ignored: {msg}");
            return;
        }
    };
    with(|r| {
        for (fd, name) in list {
            let open = fd_is_open(fd);
            if !open {
                tracing::warn!(
                    "socket activation: descriptor {fd} ('{name}') is not open; ignored"
                );
                continue;
            }
            set_cloexec(fd);
            r.activated.insert(fd, name);
        }
        if !r.activated.is_empty() {
            tracing::info!(
                "socket activation: {} socket(s) received from systemd",
                r.activated.len()
            );
        }
    });
}

/// Takes the activated socket bound to `addr`, if systemd passed one.
pub fn take_tcp(addr: SocketAddr) -> Option<Socket> {
    take_matching(|s| s.local_addr().ok().and_then(|a| a.as_socket()) == Some(addr))
}

/// Takes the activated unix socket bound to `path`.
pub fn take_unix_path(path: &std::path::Path) -> Option<Socket> {
    take_matching(|s| {
        s.local_addr()
            .ok()
            .is_some_and(|a| a.as_pathname() == Some(path))
    })
}

/// Takes the activated unix socket bound to the abstract name `name`.
pub fn take_abns(name: &[u8]) -> Option<Socket> {
    take_matching(|s| {
        s.local_addr()
            .ok()
            .is_some_and(|a| a.as_abstract_namespace() == Some(name))
    })
}

fn take_matching(matches: impl Fn(&Socket) -> bool) -> Option<Socket> {
    with(|r| {
        let found = r.activated.keys().copied().find(|fd| {
            // Borrow without owning: adopt, test, and give the descriptor back untouched.
            let Some(owned) = adopt_unchecked(*fd) else {
                return false;
            };
            let s = Socket::from(owned);
            let ok = s.is_listener().unwrap_or(false) && matches(&s);
            std::mem::forget(s);
            ok
        })?;
        r.activated.remove(&found);
        r.adopted.insert(found);
        let s = Socket::from(adopt_unchecked(found)?);
        tracing::info!(
            "socket activation: taking over {} (descriptor {found})",
            describe(&s)
        );
        Some(s)
    })
}

/// `fd@N` on a bind: the inherited listening socket N (activated or not).
pub fn take_listener(fd: RawFd) -> Result<Socket, String> {
    let s = take_any(fd)?;
    match s.is_listener() {
        Ok(true) => Ok(s),
        Ok(false) => Err(format!(
            "fd@{fd} is a socket but not a listening one (it must be bound and listening)"
        )),
        Err(e) => Err(format!("fd@{fd} is not a socket: {e}")),
    }
}

/// `sockpair@N`: the inherited unix socket N over which connections are passed.
pub fn take_socket(fd: RawFd) -> Result<Socket, String> {
    let s = take_any(fd)?;
    s.r#type()
        .map_err(|e| format!("sockpair@{fd} is not a socket: {e}"))?;
    Ok(s)
}

fn take_any(fd: RawFd) -> Result<Socket, String> {
    with(|r| {
        if r.adopted.contains(&fd) {
            return Err(format!("descriptor {fd} is already used by another address (or was closed on an earlier reload)"));
        }
        if fd <= 2 {
            return Err(format!(
                "descriptor {fd} is standard input/output/error, not a socket"
            ));
        }
        if !fd_is_open(fd) {
            return Err(format!("descriptor {fd} is not open in this process (was it passed without close-on-exec cleared?)"));
        }
        r.activated.remove(&fd);
        r.adopted.insert(fd);
        set_cloexec(fd);
        adopt_unchecked(fd)
            .map(Socket::from)
            .ok_or_else(|| format!("descriptor {fd} is not open"))
    })
}

/// `log fd@N`: the inherited descriptor N to write log lines to (shared across reloads).
pub fn log_fd(fd: RawFd) -> Result<Arc<std::fs::File>, String> {
    if let Some(f) = with(|r| r.log_fds.get(&fd).cloned()) {
        return Ok(f);
    }
    let s = take_any(fd)?;
    let file = Arc::new(std::fs::File::from(OwnedFd::from(s)));
    with(|r| r.log_fds.insert(fd, file.clone()));
    Ok(file)
}

/// Closes (with a warning) the activated sockets no bind took; call after the first start.
/// Sockets received from a predecessor that no bind wants any more simply close.
pub fn close_unused() {
    let passed = with(|r| std::mem::take(&mut r.passed));
    for s in passed {
        tracing::debug!(
            "handover: {} is not in this configuration; closed",
            describe(&s)
        );
    }
    let left: Vec<(RawFd, String)> =
        with(|r| std::mem::take(&mut r.activated).into_iter().collect());
    for (fd, name) in left {
        with(|r| r.adopted.insert(fd));
        if let Some(owned) = adopt_unchecked(fd) {
            let s = Socket::from(owned);
            tracing::warn!(
                "socket activation: descriptor {fd} ('{name}', {}) matches no 'bind' address; closing it",
                describe(&s)
            );
        }
    }
}

/// Whether any activated socket is still waiting for its bind.
pub fn pending() -> usize {
    with(|r| r.activated.len())
}

fn describe(s: &Socket) -> String {
    match s.local_addr() {
        Ok(a) => match a.as_socket() {
            Some(sa) => sa.to_string(),
            None => match a.as_pathname() {
                Some(p) => p.display().to_string(),
                None => match a.as_abstract_namespace() {
                    Some(n) => format!("abns@{}", String::from_utf8_lossy(n)),
                    None => "unnamed socket".into(),
                },
            },
        },
        Err(_) => "not a socket".into(),
    }
}

fn fd_is_open(fd: RawFd) -> bool {
    fd >= 0 && std::path::Path::new(&format!("/proc/self/fd/{fd}")).exists()
}

fn set_cloexec(fd: RawFd) {
    if let Some(owned) = adopt_unchecked(fd) {
        let s = Socket::from(owned);
        let _ = s.set_cloexec(true);
        std::mem::forget(s);
    }
}

/// Turns descriptor `fd` into an owned one. Callers guarantee it is open and owned by nobody
/// else in this process: it was inherited (systemd or our parent), the registry hands each one
/// out once, and temporary borrows are `forget`-ed before anyone else sees them.
#[allow(unsafe_code)]
fn adopt_unchecked(fd: RawFd) -> Option<OwnedFd> {
    if !fd_is_open(fd) {
        return None;
    }
    // SAFETY: `fd` is open (checked above) and, per this module's rule, owned by no other
    // object: inherited descriptors are only ever wrapped here.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A descriptor just received over `SCM_RIGHTS` (`sockpair@`): the kernel created it for us,
/// so nobody else owns it.
pub(crate) fn adopt_received(fd: RawFd) -> Option<OwnedFd> {
    adopt_unchecked(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_env_as_systemd_sets_it() {
        assert_eq!(parse_listen_env(None, None, None, 7), Ok(vec![]));
        assert_eq!(
            parse_listen_env(Some("2"), Some("7"), Some("web:admin"), 7),
            Ok(vec![(3, "web".to_string()), (4, "admin".to_string())])
        );
        // For another process: ignored.
        assert_eq!(parse_listen_env(Some("2"), Some("8"), None, 7), Ok(vec![]));
        assert_eq!(
            parse_listen_env(Some("1"), None, None, 7),
            Ok(vec![(3, "unknown".to_string())])
        );
        assert!(parse_listen_env(Some("x"), Some("7"), None, 7).is_err());
        assert!(parse_listen_env(Some("1"), Some("y"), None, 7).is_err());
    }
}
