//! The tokio adapter of the runtime API: listens on every `stats socket` (a unix path with its
//! `mode`, or `ipv4@`/`ipv6@`/`host:port` TCP), runs a [`Session`] per connection, and sends
//! the commands that need the running process to the supervisor's loop (`Request::Runtime`),
//! which owns every part. At most `stats maxconn` sessions per socket run at once (HAProxy's
//! default 10); more wait in the listen backlog. `RuntimeSockets::reload` re-creates the sockets when their
//! settings changed.

use super::command::Command;
use super::session::Session;
use super::Level;
use crate::control::Request;
use fulcrum_config::model::{Global, StatsLevel};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// HAProxy's default `stats timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a `stats socket` listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketAddress {
    Unix(PathBuf),
    Tcp(SocketAddr),
    /// `abns@NAME`: an abstract unix socket under HAProxy's NUL-padded name (proxy/listener.rs).
    Abns(String),
    /// `fd@N`: an inherited listening socket (see proxy/inherit.rs).
    Fd(i32),
}

/// Reads HAProxy's address forms: `/path`, `unix@/path`, `ipv4@1.2.3.4:port`,
/// `ipv6@[::1]:port`, `1.2.3.4:port`, `*:port`, `:port`.
pub fn parse_address(text: &str) -> Result<SocketAddress, String> {
    if let Some(p) = text.strip_prefix("unix@") {
        return Ok(SocketAddress::Unix(PathBuf::from(p)));
    }
    if let Some(name) = text.strip_prefix("abns@") {
        return Ok(SocketAddress::Abns(name.to_string()));
    }
    if let Some(n) = text.strip_prefix("fd@") {
        return n
            .parse()
            .ok()
            .filter(|n: &i32| *n >= 0)
            .map(SocketAddress::Fd)
            .ok_or_else(|| format!("stats socket '{text}': '{n}' is not a descriptor number"));
    }
    for refused in ["sockpair@", "udp@", "udp4@", "udp6@", "quic4@", "quic6@"] {
        if text.starts_with(refused) {
            return Err(format!(
                "stats socket '{text}': '{refused}' addresses are not supported by fulcrum yet"
            ));
        }
    }
    let (tcp, rest) = match text.split_once('@') {
        Some(("ipv4" | "ipv6" | "tcp" | "tcp4" | "tcp6", rest)) => (true, rest),
        Some((other, _)) => {
            return Err(format!(
                "stats socket '{text}': unknown address family '{other}@'"
            ))
        }
        None => (false, text),
    };
    if !tcp && (rest.starts_with('/') || rest.starts_with('.') || !rest.contains(':')) {
        return Ok(SocketAddress::Unix(PathBuf::from(rest)));
    }
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("stats socket '{text}': missing ':port'"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("stats socket '{text}': invalid port '{port}'"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match host {
        "" | "*" | "0.0.0.0" => std::net::IpAddr::from([0, 0, 0, 0]),
        "::" => std::net::IpAddr::from([0u16; 8]),
        h => h
            .parse()
            .map_err(|_| format!("stats socket '{text}': '{h}' is not an IP address"))?,
    };
    Ok(SocketAddress::Tcp(SocketAddr::new(ip, port)))
}

/// The settings a running socket was made from (file positions left out).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    address: String,
    mode: Option<u32>,
    level: StatsLevel,
    timeout: Duration,
    /// `stats maxconn`: sessions served at once.
    maxconn: usize,
    /// `user`/`uid`, `group`/`gid` of a unix socket's file (numbers win, as in HAProxy).
    user: Option<String>,
    group: Option<String>,
    uid: Option<u32>,
    gid: Option<u32>,
}

fn settings(global: &Global) -> Vec<Settings> {
    let timeout = global.stats_timeout.unwrap_or(DEFAULT_TIMEOUT);
    let maxconn = global
        .limits
        .stats_maxconn
        .unwrap_or(fulcrum_config::model_fds::DEFAULT_STATS_MAXCONN);
    global
        .stats_sockets
        .iter()
        .map(|s| Settings {
            address: s.address.clone(),
            mode: s.mode,
            level: s.level,
            timeout,
            maxconn: usize::try_from(maxconn).unwrap_or(usize::MAX).max(1),
            user: s.user.clone(),
            group: s.group.clone(),
            uid: s.uid,
            gid: s.gid,
        })
        .collect()
}

struct Running {
    task: JoinHandle<()>,
    /// A unix socket's file, removed when closed (if still this process's).
    unix_path: Option<crate::socket_file::SocketFile>,
}

/// Every `stats socket` of the running config. Dropping it closes them (and removes the unix
/// socket files).
pub struct RuntimeSockets {
    settings: Vec<Settings>,
    running: Vec<Running>,
    to_supervisor: mpsc::Sender<Request>,
}

impl RuntimeSockets {
    /// Opens every `stats socket` of `global`. As HAProxy, a socket that cannot be opened
    /// stops the start: the error names each one.
    pub fn start(
        global: &Global,
        to_supervisor: mpsc::Sender<Request>,
    ) -> Result<RuntimeSockets, String> {
        let mut me = RuntimeSockets {
            settings: Vec::new(),
            running: Vec::new(),
            to_supervisor,
        };
        let errors = me.open(settings(global));
        if errors.is_empty() {
            Ok(me)
        } else {
            Err(errors.join("; "))
        }
    }

    /// A new config: when the sockets' settings changed, close them all and open the new ones
    /// (one that cannot be opened is logged; the others serve).
    pub fn reload(&mut self, global: &Global) {
        let new = settings(global);
        if new == self.settings {
            return;
        }
        self.close();
        for e in self.open(new) {
            tracing::error!("{e}");
        }
    }

    /// Opens each socket; returns the errors of those that could not be opened.
    fn open(&mut self, settings: Vec<Settings>) -> Vec<String> {
        let mut errors = Vec::new();
        for s in &settings {
            match open_one(s, self.to_supervisor.clone()) {
                Ok(r) => self.running.push(r),
                Err(e) => errors.push(format!("stats socket {}: {e}", s.address)),
            }
        }
        self.settings = settings;
        errors
    }

    fn close(&mut self) {
        for r in self.running.drain(..) {
            r.task.abort();
            drop(r.unix_path);
        }
    }
}

impl Drop for RuntimeSockets {
    fn drop(&mut self) {
        self.close();
    }
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// Applies the socket's `user`/`uid` and `group`/`gid` to its file.
fn set_owner(s: &Settings, path: &std::path::Path) -> Result<(), String> {
    let uid = match (s.uid, &s.user) {
        (Some(uid), _) => Some(uid),
        (None, Some(name)) => match nix::unistd::User::from_name(name) {
            Ok(Some(u)) => Some(u.uid.as_raw()),
            _ => {
                return Err(format!(
                    "stats socket {}: unknown user '{name}'",
                    path.display()
                ))
            }
        },
        (None, None) => None,
    };
    let gid = match (s.gid, &s.group) {
        (Some(gid), _) => Some(gid),
        (None, Some(name)) => match nix::unistd::Group::from_name(name) {
            Ok(Some(g)) => Some(g.gid.as_raw()),
            _ => {
                return Err(format!(
                    "stats socket {}: unknown group '{name}'",
                    path.display()
                ))
            }
        },
        (None, None) => None,
    };
    if uid.is_none() && gid.is_none() {
        return Ok(());
    }
    std::os::unix::fs::chown(path, uid, gid)
        .map_err(|e| format!("cannot set the owner of {}: {e}", path.display()))
}

fn open_one(s: &Settings, to_supervisor: mpsc::Sender<Request>) -> Result<Running, String> {
    let level = Level::from(s.level);
    let (listener, unix_path) = match parse_address(&s.address)? {
        SocketAddress::Unix(path) => {
            if path.exists() {
                std::fs::remove_file(&path)
                    .map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
            }
            let listener = UnixListener::bind(&path)
                .map_err(|e| format!("cannot bind {}: {e}", path.display()))?;
            if let Some(mode) = s.mode {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| format!("cannot set mode {mode:o} on {}: {e}", path.display()))?;
            }
            set_owner(s, &path)?;
            tracing::info!(
                "stats socket on {} (level {})",
                path.display(),
                level.keyword()
            );
            (
                Listener::Unix(listener),
                Some(crate::socket_file::SocketFile::bound(path)),
            )
        }
        SocketAddress::Tcp(addr) => {
            let std_listener = std::net::TcpListener::bind(addr)
                .map_err(|e| format!("cannot bind {addr}: {e}"))?;
            std_listener
                .set_nonblocking(true)
                .map_err(|e| format!("{addr}: {e}"))?;
            let listener =
                TcpListener::from_std(std_listener).map_err(|e| format!("{addr}: {e}"))?;
            tracing::info!("stats socket on {addr} (level {})", level.keyword());
            (Listener::Tcp(listener), None)
        }
        SocketAddress::Abns(name) => {
            use std::os::linux::net::SocketAddrExt;
            let wire = fulcrum_proxy::listener::abns_name(&name, true);
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(&wire[1..])
                .map_err(|e| format!("abns@{name}: {e}"))?;
            let std_listener = std::os::unix::net::UnixListener::bind_addr(&addr)
                .map_err(|e| format!("cannot bind abns@{name}: {e}"))?;
            std_listener
                .set_nonblocking(true)
                .map_err(|e| format!("abns@{name}: {e}"))?;
            tracing::info!("stats socket on abns@{name} (level {})", level.keyword());
            (
                Listener::Unix(
                    UnixListener::from_std(std_listener)
                        .map_err(|e| format!("abns@{name}: {e}"))?,
                ),
                None,
            )
        }
        SocketAddress::Fd(n) => {
            let sock = fulcrum_proxy::inherit::take_listener(n)?;
            sock.set_nonblocking(true)
                .map_err(|e| format!("fd@{n}: {e}"))?;
            tracing::info!("stats socket on fd@{n} (level {})", level.keyword());
            let fd = std::os::fd::OwnedFd::from(sock);
            let unix = fulcrum_proxy::listener::is_unix(&fd);
            if unix {
                (
                    Listener::Unix(
                        UnixListener::from_std(std::os::unix::net::UnixListener::from(fd))
                            .map_err(|e| format!("fd@{n}: {e}"))?,
                    ),
                    None,
                )
            } else {
                (
                    Listener::Tcp(
                        TcpListener::from_std(std::net::TcpListener::from(fd))
                            .map_err(|e| format!("fd@{n}: {e}"))?,
                    ),
                    None,
                )
            }
        }
    };
    let task = tokio::spawn(accept_loop(
        listener,
        level,
        s.timeout,
        s.maxconn,
        to_supervisor,
    ));
    Ok(Running { task, unix_path })
}

/// Accepts connections and serves each in its own task, at most `maxconn` at once (the next
/// one is not accepted before a session ends, as HAProxy pauses a full listener).
async fn accept_loop(
    listener: Listener,
    level: Level,
    timeout: Duration,
    maxconn: usize,
    to_supervisor: mpsc::Sender<Request>,
) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(
        maxconn.min(tokio::sync::Semaphore::MAX_PERMITS),
    ));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let to_supervisor = to_supervisor.clone();
        let accepted = match &listener {
            Listener::Unix(l) => l.accept().await.map(|(c, _)| {
                tokio::spawn(async move {
                    serve(c, level, timeout, to_supervisor).await;
                    drop(permit);
                });
            }),
            Listener::Tcp(l) => l.accept().await.map(|(c, _)| {
                tokio::spawn(async move {
                    serve(c, level, timeout, to_supervisor).await;
                    drop(permit);
                });
            }),
        };
        if let Err(e) = accepted {
            tracing::warn!("stats socket accept failed: {e}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Runs the commands in the supervisor's loop; one answer per command.
async fn ask(to_supervisor: &mpsc::Sender<Request>, commands: Vec<Command>) -> Vec<String> {
    let n = commands.len();
    let (tx, rx) = oneshot::channel();
    if to_supervisor
        .send(Request::Runtime(commands, tx))
        .await
        .is_err()
    {
        return vec!["fulcrum is stopping.\n".to_string(); n];
    }
    rx.await
        .unwrap_or_else(|_| vec!["fulcrum is stopping.\n".to_string(); n])
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut conn: S,
    level: Level,
    timeout: Duration,
    to_supervisor: mpsc::Sender<Request>,
) {
    let mut session = Session::new(level, timeout);
    let mut buf = vec![0u8; 4096];
    loop {
        while let Some(step) = session.next_step() {
            let commands = step.commands();
            let answers = if commands.is_empty() {
                Vec::new()
            } else {
                ask(&to_supervisor, commands).await
            };
            if conn.write_all(&step.render(&answers)).await.is_err() {
                return;
            }
        }
        if session.should_close() {
            break;
        }
        match tokio::time::timeout(session.timeout(), conn.read(&mut buf)).await {
            Err(_) => break,
            Ok(Ok(0)) => session.end_of_input(),
            Ok(Ok(n)) => session.receive(&buf[..n]),
            Ok(Err(_)) => return,
        }
    }
    let _ = conn.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_address_forms() {
        assert_eq!(
            parse_address("/run/haproxy/admin.sock"),
            Ok(SocketAddress::Unix("/run/haproxy/admin.sock".into()))
        );
        assert_eq!(
            parse_address("unix@/tmp/a.sock"),
            Ok(SocketAddress::Unix("/tmp/a.sock".into()))
        );
        assert_eq!(
            parse_address("abns@stats"),
            Ok(SocketAddress::Abns("stats".into()))
        );
        assert_eq!(parse_address("fd@4"), Ok(SocketAddress::Fd(4)));
        assert!(parse_address("fd@x").is_err());
        assert_eq!(
            parse_address("ipv4@127.0.0.1:9999"),
            Ok(SocketAddress::Tcp("127.0.0.1:9999".parse().expect("addr")))
        );
        assert_eq!(
            parse_address("127.0.0.1:9999"),
            Ok(SocketAddress::Tcp("127.0.0.1:9999".parse().expect("addr")))
        );
        assert_eq!(
            parse_address("ipv6@[::1]:9999"),
            Ok(SocketAddress::Tcp("[::1]:9999".parse().expect("addr")))
        );
        assert_eq!(
            parse_address("*:9999"),
            Ok(SocketAddress::Tcp("0.0.0.0:9999".parse().expect("addr")))
        );
        assert!(parse_address("sockpair@3").is_err());
        assert!(parse_address("ipv4@127.0.0.1:x").is_err());
    }
}
