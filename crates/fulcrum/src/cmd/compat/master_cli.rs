//! HAProxy's master CLI, `-S SOCKET[,OPTION,VALUE...]`: the socket Debian's haproxy.service
//! passes (`-S /run/haproxy-master.sock`).
//!
//! fulcrum is one process (master and worker at once), so the master CLI answers for itself:
//! `help`, `show proc` (this process as master and as its one worker), `reload` (the same as
//! SIGUSR2: re-read the files; the connection closes, as HAProxy 2.6 does), `prompt`, `quit`.
//! Commands meant for a worker (`@1 show info`, `@!PID ...`) are answered with an error naming
//! the stats socket; nothing is silently ignored. Several commands may be given on one line,
//! separated by `;`. The socket is a unix path (`/path`, `unix@/path`, made like a bind's: a
//! temporary name renamed over the path, with `mode`/`user`/`group`/`uid`/`gid`) or an
//! `ipv4@`/`ipv6@` address.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// Reloads asked for on this socket (shown by `show proc`).
static RELOADS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, PartialEq)]
pub struct Spec {
    pub address: Address,
    pub mode: Option<u32>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

#[derive(Debug, PartialEq)]
pub enum Address {
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

/// `-S`'s value: an address, then comma-separated `OPTION,VALUE` pairs.
pub fn parse_spec(text: &str) -> Result<Spec, String> {
    let mut parts = text.split(',');
    let addr = parts.next().unwrap_or_default();
    let address = if let Some(p) = addr.strip_prefix("unix@") {
        Address::Unix(PathBuf::from(p))
    } else if addr.starts_with('/') {
        Address::Unix(PathBuf::from(addr))
    } else {
        let rest = addr
            .strip_prefix("ipv4@")
            .or_else(|| addr.strip_prefix("ipv6@"))
            .unwrap_or(addr);
        let rest = if rest.starts_with(':') {
            format!("0.0.0.0{rest}")
        } else {
            rest.to_string()
        };
        Address::Tcp(rest.parse().map_err(|_| {
            format!("option '-S': '{addr}' is not a unix socket path or an IP:PORT address")
        })?)
    };
    let mut spec = Spec {
        address,
        mode: None,
        user: None,
        group: None,
        uid: None,
        gid: None,
    };
    while let Some(opt) = parts.next() {
        let value = parts
            .next()
            .ok_or_else(|| format!("option '-S': '{opt}' needs a value (write {opt},VALUE)"))?;
        let num = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| format!("option '-S': '{opt}' expects a number, found '{v}'"))
        };
        match opt {
            "mode" => spec.mode = Some(u32::from_str_radix(value, 8).map_err(|_| format!("option '-S': 'mode' expects an octal number, found '{value}'"))?),
            "user" => spec.user = Some(value.to_string()),
            "group" => spec.group = Some(value.to_string()),
            "uid" => spec.uid = Some(num(value)?),
            "gid" => spec.gid = Some(num(value)?),
            other => return Err(format!("option '-S': unsupported socket option '{other}' (expected mode, user, group, uid or gid)")),
        }
    }
    Ok(spec)
}

pub enum Listener {
    Unix(std::os::unix::net::UnixListener, PathBuf, u64),
    Tcp(std::net::TcpListener),
}

/// Opens the socket now (before serving), so a bad `-S` stops the start as HAProxy's does.
pub fn bind(spec: &Spec) -> Result<Listener, String> {
    match &spec.address {
        Address::Tcp(a) => {
            let l = std::net::TcpListener::bind(a)
                .map_err(|e| format!("cannot bind master CLI socket {a}: {e}"))?;
            l.set_nonblocking(true).map_err(|e| e.to_string())?;
            Ok(Listener::Tcp(l))
        }
        Address::Unix(path) => {
            use std::os::unix::fs::PermissionsExt;
            let err = |e: std::io::Error| {
                format!("cannot bind master CLI socket '{}': {e}", path.display())
            };
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(format!(".{}.tmp", std::process::id()));
            let tmp = PathBuf::from(tmp);
            let _ = std::fs::remove_file(&tmp);
            let l = std::os::unix::net::UnixListener::bind(&tmp).map_err(err)?;
            let done = (|| -> Result<(), String> {
                let uid = match &spec.user {
                    Some(n) => Some(
                        nix::unistd::User::from_name(n)
                            .ok()
                            .flatten()
                            .ok_or_else(|| format!("option '-S': unknown user '{n}'"))?
                            .uid
                            .as_raw(),
                    ),
                    None => spec.uid,
                };
                let gid = match &spec.group {
                    Some(n) => Some(
                        nix::unistd::Group::from_name(n)
                            .ok()
                            .flatten()
                            .ok_or_else(|| format!("option '-S': unknown group '{n}'"))?
                            .gid
                            .as_raw(),
                    ),
                    None => spec.gid,
                };
                if uid.is_some() || gid.is_some() {
                    std::os::unix::fs::chown(&tmp, uid, gid).map_err(err)?;
                }
                if let Some(m) = spec.mode {
                    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(m))
                        .map_err(err)?;
                }
                std::fs::rename(&tmp, path).map_err(err)
            })();
            if let Err(e) = done {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            l.set_nonblocking(true).map_err(err)?;
            let ino = crate::socket_file::inode(path);
            Ok(Listener::Unix(l, path.clone(), ino))
        }
    }
}

impl Listener {
    /// The socket file we made (path, inode), to remove on exit.
    pub fn file(&self) -> Option<(PathBuf, u64)> {
        match self {
            Listener::Unix(_, path, ino) => Some((path.clone(), *ino)),
            Listener::Tcp(_) => None,
        }
    }

    /// Accepts connections forever (inside the runtime).
    pub async fn serve(self) {
        let started = Instant::now();
        match self {
            Listener::Tcp(l) => {
                let Ok(l) = tokio::net::TcpListener::from_std(l) else {
                    return;
                };
                while let Ok((s, _)) = l.accept().await {
                    tokio::spawn(session(s, started));
                }
            }
            Listener::Unix(l, _, _) => {
                let Ok(l) = tokio::net::UnixListener::from_std(l) else {
                    return;
                };
                while let Ok((s, _)) = l.accept().await {
                    tokio::spawn(session(s, started));
                }
            }
        }
    }
}

/// Removes the socket file on exit, unless a newer process already replaced it.
pub fn remove_file((path, ino): &(PathBuf, u64)) {
    crate::socket_file::remove_if_ours(path, *ino);
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(s: S, started: Instant) {
    let mut s = BufReader::new(s);
    let mut interactive = false;
    let mut line = String::new();
    loop {
        if interactive && s.get_mut().write_all(b"master> ").await.is_err() {
            return;
        }
        line.clear();
        // Bounded: a command line is short.
        match tokio::time::timeout(
            std::time::Duration::from_secs(600),
            (&mut s).take(64 * 1024).read_line(&mut line),
        )
        .await
        {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        }
        let mut out = String::new();
        let mut close = !interactive;
        for cmd in line
            .trim()
            .split(';')
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            match answer(cmd, started) {
                Answer::Text(t) => out.push_str(&t),
                Answer::Prompt => {
                    interactive = !interactive;
                    close = !interactive;
                }
                Answer::Quit => close = true,
                Answer::Reload => {
                    // As HAProxy 2.6's master: reload and close the connection.
                    let _ = s.get_mut().write_all(out.as_bytes()).await;
                    RELOADS.fetch_add(1, Ordering::Relaxed);
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::this(),
                        nix::sys::signal::Signal::SIGUSR2,
                    );
                    return;
                }
            }
        }
        if !interactive || close {
            out.push('\n');
        }
        if s.get_mut().write_all(out.as_bytes()).await.is_err() || close {
            let _ = s.get_mut().shutdown().await;
            return;
        }
    }
}

enum Answer {
    Text(String),
    Prompt,
    Quit,
    Reload,
}

const HELP: &str = "The following commands are valid at this level:\n  help           : this message\n  prompt         : toggle interactive mode with prompt\n  quit           : disconnect\n  reload         : reload haproxy (re-read the configuration files; same as SIGUSR2)\n  show proc      : show processes status\n";

fn answer(cmd: &str, started: Instant) -> Answer {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    match words.as_slice() {
        ["help"] => Answer::Text(HELP.to_string()),
        ["prompt"] => Answer::Prompt,
        ["quit"] => Answer::Quit,
        ["reload"] => Answer::Reload,
        ["show", "proc"] => Answer::Text(show_proc(started.elapsed().as_secs())),
        [w, ..] if w.starts_with('@') => Answer::Text(format!(
            "fulcrum: '{w}': fulcrum runs no separate worker processes, so commands are not forwarded through the master CLI; send them to the stats socket ('stats socket' in the global section)\n"
        )),
        _ => Answer::Text(format!("Unknown command: '{cmd}'\n\n{HELP}")),
    }
}

/// `show proc` in HAProxy 2.6's layout; fulcrum is its own (only) worker.
pub fn show_proc(uptime_secs: u64) -> String {
    let up = format!(
        "{}d{:02}h{:02}m{:02}s",
        uptime_secs / 86400,
        uptime_secs / 3600 % 24,
        uptime_secs / 60 % 60,
        uptime_secs % 60
    );
    let pid = std::process::id();
    let version = env!("CARGO_PKG_VERSION");
    let reloads = RELOADS.load(Ordering::Relaxed);
    format!(
        "#{:<14} {:<15} {:<15} {:<15} {}\n{:<15} {:<15} {:<15} {:<15} {}\n# workers\n{:<15} {:<15} {:<15} {:<15} {}\n# old workers\n# programs\n",
        "<PID>", "<type>", "<reloads>", "<uptime>", "<version>",
        pid, "master", format!("{reloads} [failed: 0]"), up, version,
        pid, "worker", reloads, up, version,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_as_haproxy_writes_them() {
        let s = parse_spec("/run/haproxy-master.sock").expect("parsed");
        assert_eq!(s.address, Address::Unix("/run/haproxy-master.sock".into()));
        let s = parse_spec("unix@/run/m.sock,mode,600,user,root,gid,0").expect("parsed");
        assert_eq!(
            (s.mode, s.user.as_deref(), s.gid),
            (Some(0o600), Some("root"), Some(0))
        );
        assert_eq!(
            parse_spec("ipv4@127.0.0.1:9999").expect("parsed").address,
            Address::Tcp("127.0.0.1:9999".parse().expect("parsed"))
        );
        assert!(parse_spec("/x,mode")
            .expect_err("refused")
            .contains("needs a value"));
        assert!(parse_spec("/x,level,admin")
            .expect_err("refused")
            .contains("'level'"));
        assert!(parse_spec("nonsense").is_err());
    }

    #[test]
    fn show_proc_layout() {
        let t = show_proc(3723);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("#<PID>"));
        assert!(lines[1].contains(" master ") && lines[1].contains("0d01h02m03s"));
        assert_eq!(lines[2], "# workers");
        assert!(lines[3].contains(" worker "));
        assert_eq!(&lines[4..], ["# old workers", "# programs"]);
    }
}
