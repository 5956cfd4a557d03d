//! Opening the listening sockets of a `bind` line: one SO_REUSEPORT socket per worker for an
//! IP address, one shared socket for a unix path or an `abns@` name, or a socket inherited
//! from the previous process, systemd or the command line (`inherit`).
//!
//! A unix path is bound under a temporary name, given its `mode`/`user`/`group`, then renamed
//! over the path, as HAProxy does, so a process taking over (`-sf`) replaces the old socket
//! file atomically and clients never find the path missing. `abns@NAME` listens on both the
//! name HAProxy uses (padded with NULs to the full `sun_path`, what `server abns@NAME` of an
//! HAProxy connects to) and the plain name (what curl, socat and most tools connect to).
//! `transparent` and `freebind` are honoured, and an address that is not (yet) local — a
//! virtual IP held by another node — is bound with IP_FREEBIND so the proxy can run
//! everywhere and serve as soon as the address moves here.

use crate::addr::{abns_name, ListenKey};
use fulcrum_config::model::Bind;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const BACKLOG: i32 = 4096;

/// The sockets of one listener, before they are spread over the workers.
pub enum Opened {
    /// One SO_REUSEPORT socket per worker.
    PerWorker(Vec<Socket>),
    /// One listening socket (unix, abstract) that every worker accepts on.
    Shared(Socket),
    /// The same, inherited (socket activation, `fd@`): its file, if any, is not ours to remove.
    Inherited(Socket),
    /// A unix socket over which connections arrive as descriptors (`sockpair@`).
    Sockpair(Socket),
}

/// Opens the listener `key` of bind `b` for `workers` workers.
pub fn open_key(key: &ListenKey, b: &Bind, workers: usize) -> Result<Opened, String> {
    let err = |e: std::io::Error| format!("{}: cannot bind {key}: {e}", b.span);
    match key {
        ListenKey::Tcp(addr) => {
            // From the process we take over from: all its sockets for this address, topped
            // up to one per worker.
            let mut v = crate::inherit::take_passed(|s| {
                is_listening_on(s, |a| a.as_socket() == Some(*addr))
            });
            if !v.is_empty() {
                while v.len() < workers {
                    v.push(Socket::from(open(*addr, b).map_err(err)?));
                }
                return Ok(Opened::PerWorker(v));
            }
            if let Some(s) = crate::inherit::take_tcp(*addr) {
                let _ = s.set_nonblocking(true);
                return Ok(Opened::Inherited(s));
            }
            let mut v = Vec::with_capacity(workers);
            for _ in 0..workers {
                v.push(Socket::from(open(*addr, b).map_err(err)?));
            }
            Ok(Opened::PerWorker(v))
        }
        ListenKey::Unix(path) => {
            if let Some(s) = crate::inherit::take_passed(|s| {
                is_listening_on(s, |a| a.as_pathname().is_some_and(|p| bound_as(p, path)))
            })
            .pop()
            {
                return Ok(Opened::Shared(s));
            }
            if let Some(s) = crate::inherit::take_unix_path(path) {
                let _ = s.set_nonblocking(true);
                return Ok(Opened::Inherited(s));
            }
            open_unix_path(path, b).map(Opened::Shared).map_err(|e| {
                format!(
                    "{}: cannot bind unix socket '{}': {e}",
                    b.span,
                    path.display()
                )
            })
        }
        ListenKey::Abns { name, padded } => {
            let wire = abns_name(name, *padded);
            if let Some(s) = crate::inherit::take_passed(|s| {
                is_listening_on(s, |a| a.as_abstract_namespace() == Some(&wire[1..]))
            })
            .pop()
            {
                return Ok(Opened::Shared(s));
            }
            if let Some(s) = crate::inherit::take_abns(&wire[1..]) {
                let _ = s.set_nonblocking(true);
                return Ok(Opened::Inherited(s));
            }
            let s = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(err)?;
            let addr = SockAddr::unix(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&wire),
            )
            .map_err(err)?;
            s.bind(&addr).map_err(err)?;
            s.listen(BACKLOG).map_err(err)?;
            s.set_nonblocking(true).map_err(err)?;
            Ok(Opened::Shared(s))
        }
        ListenKey::Fd(n) => {
            let s = crate::inherit::take_listener(*n).map_err(|m| format!("{}: {m}", b.span))?;
            s.set_nonblocking(true).map_err(err)?;
            Ok(Opened::Inherited(s))
        }
        ListenKey::Sockpair(n) => {
            let s = crate::inherit::take_socket(*n).map_err(|m| format!("{}: {m}", b.span))?;
            s.set_nonblocking(true).map_err(err)?;
            Ok(Opened::Sockpair(s))
        }
    }
}

/// Whether a unix socket bound at `bound` serves `path`: fulcrum binds `PATH.PID.tmp` and
/// renames it over `PATH`, and getsockname keeps reporting the name it was bound under.
fn bound_as(bound: &Path, path: &Path) -> bool {
    if bound == path {
        return true;
    }
    let (b, p) = (
        bound.as_os_str().as_encoded_bytes(),
        path.as_os_str().as_encoded_bytes(),
    );
    b.strip_prefix(p)
        .and_then(|rest| rest.strip_prefix(b"."))
        .and_then(|rest| rest.strip_suffix(b".tmp"))
        .is_some_and(|pid| !pid.is_empty() && pid.iter().all(u8::is_ascii_digit))
}

/// Whether an (inherited) socket is a unix one.
pub fn is_unix(fd: &std::os::fd::OwnedFd) -> bool {
    socket2::SockRef::from(fd)
        .domain()
        .is_ok_and(|d| d == Domain::UNIX)
}

fn is_listening_on(s: &Socket, want: impl Fn(&SockAddr) -> bool) -> bool {
    s.is_listener().unwrap_or(false) && s.local_addr().is_ok_and(|a| want(&a))
}

/// Binds a unix stream socket at `path` the way HAProxy does: under `PATH.PID.tmp` first,
/// with the bind's mode and owner, then renamed over `path`.
fn open_unix_path(path: &Path, b: &Bind) -> std::io::Result<Socket> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let s = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    s.bind(&SockAddr::unix(&tmp)?)?;
    let done = (|| {
        apply_owner(&tmp, b)?;
        if let Some(mode) = b.mode {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        }
        s.listen(BACKLOG)?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

fn apply_owner(file: &Path, b: &Bind) -> std::io::Result<()> {
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
    let uid = match (&b.user, b.uid) {
        (Some(name), _) => Some(
            nix::unistd::User::from_name(name)
                .ok()
                .flatten()
                .map(|u| u.uid.as_raw())
                .ok_or_else(|| invalid(format!("unknown user '{name}'")))?,
        ),
        (None, uid) => uid,
    };
    let gid = match (&b.group, b.gid) {
        (Some(name), _) => Some(
            nix::unistd::Group::from_name(name)
                .ok()
                .flatten()
                .map(|g| g.gid.as_raw())
                .ok_or_else(|| invalid(format!("unknown group '{name}'")))?,
        ),
        (None, gid) => gid,
    };
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(file, uid, gid)?;
    }
    Ok(())
}

/// Removes the socket file of a unix listener if it is still ours (`ino`): a process that
/// took over may have renamed its own socket onto the path already.
pub fn remove_unix_path(path: &Path, ino: u64) {
    use std::os::unix::fs::MetadataExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.ino() == ino) {
        let _ = std::fs::remove_file(path);
    }
}

/// The inode of the socket file at `path` right after binding it.
pub fn unix_path_ino(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| m.ino())
}

/// Opens one listening socket for `addr` with the options of `b`.
pub fn open(addr: SocketAddr, b: &Bind) -> std::io::Result<std::net::TcpListener> {
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    if addr.is_ipv6() {
        // `:::PORT` serves IPv4 too unless `v6only`; an explicit address follows `v4v6`.
        let only = b.v6only || (!b.v4v6 && !addr.ip().is_unspecified());
        let _ = s.set_only_v6(only);
    }
    if b.transparent {
        if addr.is_ipv4() {
            s.set_ip_transparent(true)?;
        } else {
            // No IPv6 helper in socket2: freebind covers the common need (non-local VIP).
            s.set_freebind_ipv6(true)?;
        }
    }
    if b.freebind {
        set_freebind(&s, addr)?;
    }
    s.set_nodelay(true)?;
    crate::listener::sockets::apply(&s, &b.limits)?;
    match s.bind(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(99) => {
            // EADDRNOTAVAIL: the address is not local (yet), e.g. a VIP on another node.
            set_freebind(&s, addr)?;
            s.bind(&addr.into())?;
        }
        Err(e) => return Err(e),
    }
    s.listen(BACKLOG)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

fn set_freebind(s: &Socket, addr: SocketAddr) -> std::io::Result<()> {
    if addr.is_ipv4() {
        s.set_freebind(true)
    } else {
        s.set_freebind_ipv6(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_sockets_are_known_by_their_temporary_name_too() {
        let p = Path::new("/run/a.sock");
        assert!(bound_as(Path::new("/run/a.sock"), p));
        assert!(bound_as(Path::new("/run/a.sock.1234.tmp"), p));
        assert!(!bound_as(Path::new("/run/a.sock.x.tmp"), p));
        assert!(!bound_as(Path::new("/run/a.sock..tmp"), p));
        assert!(!bound_as(Path::new("/run/a.socket"), p));
    }
}
