//! HAProxy's `global` `user` / `group` / `uid` / `gid` / `chroot`, applied once fulcrum has
//! opened what needs root: listeners, `stats socket`s, the control socket, the pid files (the
//! supervisor calls `apply` right after them, before telling systemd it is ready).
//!
//! - `chroot DIR`: the whole process moves into DIR. Reloads keep working: a reader process
//!   started just before stays outside and reads the `-f` files for each reload (`reader.rs`).
//! - `user`/`uid`, `group`/`gid`: every thread (proxy threads, tokio workers, the VRRP thread)
//!   switches to that user, with its supplementary groups (initgroups, as HAProxy), and keeps
//!   only CAP_NET_BIND_SERVICE (reloads may bind ports below 1024), CAP_NET_ADMIN (VRRP adds
//!   and removes addresses) and CAP_NET_RAW (VRRP's raw sockets, gratuitous ARP); every other
//!   capability leaves the bounding set too, so no script it starts can regain one
//!   (`threads.rs`). Nothing of the process keeps root.
//! - Started as a non-root user (e.g. with `setcap` on the binary, see the README), fulcrum
//!   cannot change user: a `user` naming another user is an error, as in HAProxy.

mod reader;
mod threads;

pub use reader::reader_main;

use fulcrum_config::model::Global;
use fulcrum_config::{
    load_files_with, load_sources_with, Diagnostics, LoadOptions, Loaded, Source, Span,
};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The capabilities kept after the switch: CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW.
pub const KEPT_CAPS: [(u32, &str); 3] = [
    (10, "CAP_NET_BIND_SERVICE"),
    (12, "CAP_NET_ADMIN"),
    (13, "CAP_NET_RAW"),
];

static READER: OnceLock<Mutex<reader::Reader>> = OnceLock::new();

/// Loads the configuration for a reload: the `-f` files (through the reader once chrooted,
/// else directly), then `extra` sources (name, text) in order, as one load: the cluster's
/// config from etcd and the LBaaS API's rendering come after the files, so their `defaults`
/// apply to them.
pub fn load(files: &[PathBuf], options: &LoadOptions, extra: &[(String, String)]) -> Loaded {
    let (texts, mut unreadable) = match READER.get() {
        Some(r) => match r.lock() {
            Ok(mut r) => r.read(),
            Err(poisoned) => poisoned.into_inner().read(),
        },
        None if extra.is_empty() => return load_files_with(files, options),
        None => read_directly(files),
    };
    let sources: Vec<Source<'_>> = texts
        .iter()
        .chain(extra)
        .map(|(n, t)| Source { name: n, text: t })
        .collect();
    let mut loaded = load_sources_with(&sources, options);
    unreadable.extend(loaded.diagnostics);
    loaded.diagnostics = unreadable;
    loaded
}

fn read_directly(files: &[PathBuf]) -> (Vec<(String, String)>, Diagnostics) {
    let mut texts = Vec::new();
    let mut unreadable = Diagnostics::new();
    for p in files {
        let name = p.display().to_string();
        match std::fs::read(p) {
            Ok(b) => texts.push((name, String::from_utf8_lossy(&b).into_owned())),
            Err(e) => unreadable.error(&Span::new(name, 0), format!("cannot read file: {e}")),
        }
    }
    (texts, unreadable)
}

/// `fulcrum check` and the start: the `global` user and group must exist (HAProxy refuses the
/// file otherwise: "cannot find user id for ...").
pub fn check(global: &Global) -> Result<(), String> {
    target(global).map(|_| ())
}

/// Who the process becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    name: String,
}

fn target(g: &Global) -> Result<Option<Target>, String> {
    if g.user.is_none() && g.uid.is_none() && g.group.is_none() && g.gid.is_none() {
        return Ok(None);
    }
    let by_name = match &g.user {
        Some(name) => match nix::unistd::User::from_name(name) {
            Ok(Some(u)) => Some(u),
            Ok(None) => return Err(format!("global user '{name}': no such user")),
            Err(e) => return Err(format!("global user '{name}': {e}")),
        },
        None => None,
    };
    let current = nix::unistd::geteuid().as_raw();
    let uid = g
        .uid
        .or(by_name.as_ref().map(|u| u.uid.as_raw()))
        .unwrap_or(current);
    let gid = match (&g.gid, &g.group) {
        (Some(gid), _) => *gid,
        (None, Some(name)) => match nix::unistd::Group::from_name(name) {
            Ok(Some(gr)) => gr.gid.as_raw(),
            Ok(None) => return Err(format!("global group '{name}': no such group")),
            Err(e) => return Err(format!("global group '{name}': {e}")),
        },
        (None, None) => match &by_name {
            Some(u) => u.gid.as_raw(),
            None => nix::unistd::getegid().as_raw(),
        },
    };
    // initgroups(user, gid), as HAProxy does when a user name is given.
    let groups = match &by_name {
        Some(u) => {
            let name = std::ffi::CString::new(u.name.as_str())
                .map_err(|_| format!("user name {:?}", u.name))?;
            nix::unistd::getgrouplist(&name, nix::unistd::Gid::from_raw(gid))
                .map_err(|e| format!("groups of {}: {e}", u.name))?
                .into_iter()
                .map(|g| g.as_raw())
                .collect()
        }
        None => vec![gid],
    };
    let name = by_name
        .map(|u| u.name)
        .unwrap_or_else(|| format!("uid {uid}"));
    Ok(Some(Target {
        uid,
        gid,
        groups,
        name,
    }))
}

/// Applies `chroot` then `user`/`group` of `global`; `files` are the `-f` files (for reloads).
pub fn apply(global: &Global, files: &[PathBuf]) -> Result<(), String> {
    let target = target(global)?;
    if target.is_none() && global.chroot.is_none() {
        return Ok(());
    }
    let euid = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    let switch = target
        .as_ref()
        .is_some_and(|t| t.uid != euid || t.gid != egid);
    if switch && euid != 0 {
        let t = target.as_ref().map(|t| t.name.clone()).unwrap_or_default();
        return Err(format!(
            "cannot run as {t}: fulcrum runs as uid {euid}, not root (run it as that user directly, with setcap for the capabilities it needs)"
        ));
    }
    // Every other thread first (it reads /proc, which a chroot hides), then the chroot, which
    // this thread can still do, then this thread.
    let creds = target.as_ref().filter(|_| switch).map(|t| threads::Creds {
        uid: t.uid,
        gid: t.gid,
        groups: t.groups.clone(),
        keep: KEPT_CAPS.iter().map(|(n, _)| *n).collect(),
    });
    let reader = match &global.chroot {
        Some(_) => Some(reader::Reader::spawn(&absolute(files))?),
        None => None,
    };
    if let (Some(creds), Some(t)) = (&creds, &target) {
        threads::others(creds).map_err(|e| format!("cannot switch to {}: {e}", t.name))?;
    }
    if let (Some(dir), Some(reader)) = (&global.chroot, reader) {
        chroot(Path::new(dir), reader)?;
    }
    if let (Some(_), Some(t)) = (&creds, &target) {
        threads::this_thread().map_err(|e| format!("cannot switch to {}: {e}", t.name))?;
        let kept: Vec<&str> = KEPT_CAPS.iter().map(|(_, n)| *n).collect();
        tracing::info!(
            "now running as {} (uid {}, gid {}), keeping only {}",
            t.name,
            t.uid,
            t.gid,
            kept.join(", ")
        );
    }
    Ok(())
}

fn absolute(files: &[PathBuf]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()))
        .collect()
}

fn chroot(dir: &Path, reader: reader::Reader) -> Result<(), String> {
    nix::unistd::chroot(dir).map_err(|e| format!("cannot chroot to {}: {e}", dir.display()))?;
    nix::unistd::chdir("/").map_err(|e| format!("chdir / in the chroot: {e}"))?;
    let _ = READER.set(Mutex::new(reader));
    tracing::info!(
        "chrooted to {}; reloads read the configuration through a reader process outside it",
        dir.display()
    );
    Ok(())
}
