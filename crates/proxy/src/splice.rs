//! Kernel splicing (splice(2)): bytes moved socket → pipe → socket inside the kernel, never
//! copied to user space, between two plain TCP sockets whose bytes are forwarded without being
//! looked at (HAProxy's `option splice-auto|splice-request|splice-response`).
//!
//! Pipes come from a per-thread pool and go back as soon as they are empty: a connection holds
//! one only while bytes are in flight, so idle tunnels hold none. A pipe left holding bytes
//! (its write side failed) is closed, never pooled. At most `maxpipes` pipes exist in the
//! process (HAProxy's default: a quarter of `maxconn`); when none is left, or `pipe2` fails,
//! the caller copies instead (nothing was read yet, so nothing is lost). `tune.pipesize` sets
//! their size (default: the kernel's, 64 KiB). `nosplice` turns splicing off.
//!
//! [`Mode`] says how a direction splices: `Always` from the first byte (`splice-request`,
//! `splice-response`), `Auto` once a transfer is large (`splice-auto`, and fulcrum's default
//! for HTTP/1 bodies: see bench/proxy/ab.sh's figures in the README), or not at all (tunnels
//! without an option, as HAProxy).

use fulcrum_config::model::SpliceOptions;
use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// How one direction of a connection is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Copied through user space.
    Off,
    /// Copied, and spliced once a transfer is large (a body longer than a buffer, a tunnel
    /// read that filled its buffer).
    Auto,
    /// Spliced whenever the bytes need no look.
    Always,
}

/// What HTTP/1 bodies do where no `option splice-*` is written (measured: README, issue 20).
pub const DEFAULT: Mode = Mode::Auto;
/// What tunnels (TCP mode, HTTP upgrades) do where none is written: copy, as HAProxy (small
/// messages gain nothing from splicing, and the plain-TCP pump measured 1.02-1.07x the copy
/// pump's CPU per small request in TCP mode).
pub const TUNNEL_DEFAULT: Mode = Mode::Off;

/// The mode of one direction from the options of the frontend and the backend (`own`: the
/// direction's `splice-request`/`splice-response`, `auto`: `splice-auto`; `Some(false)`:
/// written with `no`), as HAProxy ORs the frontend's and backend's flags; `default` where
/// none is written.
pub fn mode(own: [Option<bool>; 2], auto: [Option<bool>; 2], default: Mode) -> Mode {
    if !ENABLED.load(Ordering::Relaxed) {
        Mode::Off
    } else if own.contains(&Some(true)) {
        Mode::Always
    } else if auto.contains(&Some(true)) {
        Mode::Auto
    } else if auto.contains(&Some(false)) || own.contains(&Some(false)) {
        Mode::Off
    } else {
        default
    }
}

/// The modes of a connection's two directions (request, response) from its frontend's and
/// backend's options (`default`: [`DEFAULT`] for bodies, [`TUNNEL_DEFAULT`] for tunnels).
pub fn modes(fe: &SpliceOptions, be: &SpliceOptions, default: Mode) -> [Mode; 2] {
    let auto = [fe.auto, be.auto];
    [
        mode([fe.request, be.request], auto, default),
        mode([fe.response, be.response], auto, default),
    ]
}

static ENABLED: AtomicBool = AtomicBool::new(true);
/// `tune.pipesize` (0: the kernel's default).
static PIPESIZE: AtomicUsize = AtomicUsize::new(0);
/// `maxpipes`.
static MAXPIPES: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Pipes open in the process (pooled or in use).
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// Installs the global settings (`nosplice`, `tune.pipesize`, `maxpipes`) of a generation.
pub fn configure(enabled: bool, pipesize: usize, maxpipes: usize) {
    ENABLED.store(enabled, Ordering::Relaxed);
    PIPESIZE.store(pipesize, Ordering::Relaxed);
    MAXPIPES.store(maxpipes.max(1), Ordering::Relaxed);
}

/// Pipes open in the process now (pooled or holding bytes).
pub fn open_pipes() -> usize {
    OPEN.load(Ordering::Relaxed)
}

/// Empty pipes a thread keeps for later.
const KEEP: usize = 32;

struct Pipe {
    r: OwnedFd,
    w: OwnedFd,
    /// Its capacity in bytes.
    size: usize,
}

impl Drop for Pipe {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

thread_local! {
    static POOL: RefCell<Vec<Pipe>> = const { RefCell::new(Vec::new()) };
}

fn new_pipe() -> Option<Pipe> {
    if OPEN.fetch_add(1, Ordering::Relaxed) >= MAXPIPES.load(Ordering::Relaxed) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
        return None;
    }
    let Ok((r, w)) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC) else {
        OPEN.fetch_sub(1, Ordering::Relaxed);
        return None;
    };
    let want = PIPESIZE.load(Ordering::Relaxed);
    if want > 0 {
        // Above /proc/sys/fs/pipe-max-size it fails: the pipe keeps the kernel's size.
        let _ = fcntl(
            &w,
            FcntlArg::F_SETPIPE_SZ(want.min(i32::MAX as usize) as i32),
        );
    }
    let size = fcntl(&w, FcntlArg::F_GETPIPE_SZ).map_or(65536, |s| s.max(4096) as usize);
    Some(Pipe { r, w, size })
}

fn take() -> Option<Pipe> {
    POOL.with(|p| p.borrow_mut().pop()).or_else(new_pipe)
}

fn give(p: Pipe) {
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < KEEP {
            pool.push(p);
        }
    });
}

/// What [`move_some`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Got {
    /// This many bytes went from the source to the destination.
    Moved(usize),
    /// The source finished sending (read end of stream).
    Eof,
    /// The source had nothing to read (only when asked to stop so).
    Drained,
}

/// Why [`move_some`] stopped early.
#[derive(Debug)]
pub enum Fail {
    /// No pipe to be had (`maxpipes`, descriptors): copy instead, nothing was read.
    NoPipe,
    /// Reading the source failed (`TimedOut`: its timeout passed).
    Src(io::Error),
    /// Writing the destination failed (`TimedOut`: its timeout passed).
    Dst(io::Error),
}

const FLAGS: SpliceFFlags = SpliceFFlags::SPLICE_F_NONBLOCK.union(SpliceFFlags::SPLICE_F_MOVE);

/// Waits for a readiness future, arming a timer only when it does not resolve at once.
async fn ready(fut: impl Future<Output = io::Result<()>>, t: Option<Duration>) -> io::Result<()> {
    let mut fut = std::pin::pin!(fut);
    match t {
        Some(d) => match std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
            Poll::Ready(r) => r,
            Poll::Pending => tokio::time::timeout(d, fut)
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?,
        },
        None => fut.await,
    }
}

/// Splices at most `max` bytes (> 0) that `src` has or will have into a pipe, then all of them
/// out to `dst`. `moved` grows by each byte `dst` took (exact, also on failure). With
/// `stop_drained`, a source with nothing to read ends the call (`Got::Drained`) instead of
/// being waited for; otherwise `src_t` bounds the wait for the source, `dst_t` each wait for
/// room on the destination.
pub async fn move_some(
    src: &TcpStream,
    dst: &TcpStream,
    max: usize,
    stop_drained: bool,
    (src_t, dst_t): (Option<Duration>, Option<Duration>),
    moved: &mut u64,
) -> Result<Got, Fail> {
    let mut pipe: Option<Pipe> = None;
    let n = loop {
        if !stop_drained {
            // The stream's own reader slot, not `readable()`'s waiter list (cheaper per wait).
            let wait = std::future::poll_fn(|cx| src.poll_read_ready(cx));
            ready(wait, src_t).await.map_err(Fail::Src)?;
        }
        let p = match pipe.take().or_else(take) {
            Some(p) => p,
            None => return Err(Fail::NoPipe),
        };
        let want = max.min(p.size);
        let r = src.try_io(Interest::READABLE, || {
            splice(src, None, &p.w, None, want, FLAGS).map_err(io::Error::from)
        });
        match r {
            Ok(0) => {
                give(p);
                return Ok(Got::Eof);
            }
            Ok(n) => {
                pipe = Some(p);
                break n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if stop_drained {
                    give(p);
                    return Ok(Got::Drained);
                }
                pipe = Some(p);
            }
            Err(e) => {
                give(p);
                return Err(Fail::Src(e));
            }
        }
    };
    let Some(p) = pipe else {
        return Err(Fail::NoPipe);
    };
    let mut left = n;
    while left > 0 {
        // A failure leaves bytes in the pipe: it is dropped (closed), not pooled.
        let wait = std::future::poll_fn(|cx| dst.poll_write_ready(cx));
        ready(wait, dst_t).await.map_err(Fail::Dst)?;
        let r = dst.try_io(Interest::WRITABLE, || {
            splice(&p.r, None, dst, None, left, FLAGS).map_err(io::Error::from)
        });
        match r {
            Ok(0) => return Err(Fail::Dst(io::ErrorKind::WriteZero.into())),
            Ok(k) => {
                left -= k;
                *moved += k as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Fail::Dst(e)),
        }
    }
    give(p);
    Ok(Got::Moved(n))
}

#[cfg(test)]
mod tests;
