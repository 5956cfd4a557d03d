//! The local control socket: `fulcrum reload` asks the running process to re-read its files,
//! `fulcrum status` asks for its state.
//!
//! A unix stream socket (mode 0600) speaking one line per request: `reload` is answered with
//! `ok` when done, or `error: …` lines; `status` with one line of JSON (see `status_report`);
//! then EOF. The server side only forwards requests to the supervisor's loop (`Request`, also
//! used by the runtime API's sockets), which owns every running part; this module does no
//! reloading.

use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// What a control client asked for, with where to send the answer.
pub enum Request {
    Reload(oneshot::Sender<Result<(), String>>),
    /// `fulcrum status`: the report as JSON.
    Status(oneshot::Sender<serde_json::Value>),
    /// `fulcrum cluster WORDS...`: a cluster command's answer, or why it failed.
    Cluster(Vec<String>, oneshot::Sender<Result<String, String>>),
    /// Runtime API commands (`stats socket`), one answer each, in order.
    Runtime(
        Vec<crate::runtime_api::command::Command>,
        oneshot::Sender<Vec<String>>,
    ),
}

/// The control socket path: `--control`, else `$FULCRUM_CONTROL`, else `/run/fulcrum.sock` for
/// root and `$XDG_RUNTIME_DIR/fulcrum.sock` (or `/tmp/fulcrum-UID.sock`) for others.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("FULCRUM_CONTROL") {
        return PathBuf::from(p);
    }
    let uid = nix::unistd::getuid();
    if uid.is_root() {
        return PathBuf::from("/run/fulcrum.sock");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) => Path::new(&d).join("fulcrum.sock"),
        None => PathBuf::from(format!("/tmp/fulcrum-{uid}.sock")),
    }
}

/// The client side (`fulcrum reload`, `status`, `cluster`): a connection to a running fulcrum.
pub fn connect(control: &Path) -> Result<std::os::unix::net::UnixStream, String> {
    std::os::unix::net::UnixStream::connect(control).map_err(|e| {
        format!(
            "cannot reach fulcrum at {}: {e} (is it running? see `fulcrum run --control`)",
            control.display()
        )
    })
}

/// The listening side. Dropping it removes the socket file (if still this process's).
pub struct ControlServer {
    _file: crate::socket_file::SocketFile,
}

impl ControlServer {
    /// Binds `path` (replacing a stale socket) and forwards requests to `to_supervisor`.
    /// `None`, with a warning, when another live process owns the path.
    pub async fn start(
        path: PathBuf,
        to_supervisor: mpsc::Sender<Request>,
    ) -> Option<ControlServer> {
        if path.exists() {
            // Only a refused connection means nobody listens there (a full backlog says
            // `EAGAIN`: a live, busy owner).
            let stale = matches!(
                UnixStream::connect(&path).await,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
            );
            if !stale {
                tracing::warn!(
                    "control socket {} belongs to another running fulcrum; this one has none (`fulcrum reload` will not reach it; use --control)",
                    path.display()
                );
                return None;
            }
            let _ = std::fs::remove_file(&path);
        }
        let listener = match UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("cannot open control socket {}: {e}", path.display());
                return None;
            }
        };
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!("cannot restrict control socket {}: {e}", path.display());
        }
        tracing::info!("control socket on {}", path.display());
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((conn, _)) => {
                        tokio::spawn(serve(conn, to_supervisor.clone()));
                    }
                    Err(e) => {
                        tracing::warn!("control socket accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Some(ControlServer {
            _file: crate::socket_file::SocketFile::bound(path),
        })
    }
}

async fn serve(conn: UnixStream, to_supervisor: mpsc::Sender<Request>) {
    let (read, mut write) = conn.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read).take(4096);
    if reader.read_line(&mut line).await.is_err() {
        return;
    }
    if line.trim() == "status" {
        let (tx, rx) = oneshot::channel();
        let text = if to_supervisor.send(Request::Status(tx)).await.is_err() {
            "error: fulcrum is stopping\n".to_string()
        } else {
            match rx.await {
                Ok(v) => format!("{v}\n"),
                Err(_) => "error: fulcrum is stopping\n".to_string(),
            }
        };
        let _ = write.write_all(text.as_bytes()).await;
        let _ = write.shutdown().await;
        return;
    }
    let answer = match line.trim() {
        cluster if cluster.starts_with("cluster ") => {
            let words = cluster
                .split_whitespace()
                .skip(1)
                .map(str::to_string)
                .collect();
            let (tx, rx) = oneshot::channel();
            let answer = if to_supervisor
                .send(Request::Cluster(words, tx))
                .await
                .is_err()
            {
                Err("fulcrum is stopping".to_string())
            } else {
                rx.await
                    .unwrap_or_else(|_| Err("fulcrum is stopping".to_string()))
            };
            let text = match answer {
                Ok(msg) => format!("ok: {msg}\n"),
                Err(msg) => format!("error: {msg}\n"),
            };
            let _ = write.write_all(text.as_bytes()).await;
            let _ = write.shutdown().await;
            return;
        }
        "reload" => {
            let (tx, rx) = oneshot::channel();
            if to_supervisor.send(Request::Reload(tx)).await.is_err() {
                Err("fulcrum is stopping".to_string())
            } else {
                rx.await
                    .unwrap_or_else(|_| Err("fulcrum is stopping".to_string()))
            }
        }
        other => Err(format!(
            "unknown command '{other}' (expected: reload or status)"
        )),
    };
    let text = match answer {
        Ok(()) => "ok\n".to_string(),
        Err(msg) => msg.lines().map(|l| format!("error: {l}\n")).collect(),
    };
    let _ = write.write_all(text.as_bytes()).await;
    let _ = write.shutdown().await;
}
