//! Worker threads and applying configurations: start, reload (new config → diff → apply),
//! graceful stop.
//!
//! `nbthread` workers each run a single-threaded tokio runtime with their own SO_REUSEPORT
//! socket per listening address: a connection lives on one core from accept to close, with no
//! cross-thread handoff and thread-local server connection pools. A reload builds the new
//! run-time state first (any error: nothing changes), opens the new addresses, swaps the
//! frontend behind addresses that stay (their sockets are never closed, so not one
//! connection is refused), and closes removed addresses. Connections in flight keep the
//! frontend they were accepted with; keep-alive ones close after their current request.

use crate::listener::{self, Slot};
use crate::state::{self, Generation};
use crate::ProxyError;
use fulcrum_config::Config;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

pub fn active_connections() -> u64 {
    listener::ACTIVE.load(Ordering::Relaxed)
}

struct Worker {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Listening {
    frontend: String,
    slot: Arc<Slot>,
    close: watch::Sender<bool>,
}

struct Running {
    gen: Arc<Generation>,
    listeners: HashMap<SocketAddr, Listening>,
}

pub struct Runtime {
    workers: Vec<Worker>,
    running: tokio::sync::Mutex<Running>,
    stop: watch::Sender<bool>,
    tracker: Arc<AtomicU64>,
    global_maxconn: Option<Arc<Semaphore>>,
    /// Passive health's sink, shared by every backend of every generation.
    pub(crate) sink: Arc<crate::observe::SinkSlot>,
}

/// How worker threads are organised. `PerCore` is the default; `Shared` (one tokio
/// multi-thread runtime, one socket per address, work stealing) exists to measure the choice:
/// set `FULCRUM_RUNTIME=shared` (see bench/proxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    PerCore,
    Shared,
}

impl Layout {
    fn from_env() -> Layout {
        match std::env::var("FULCRUM_RUNTIME").as_deref() {
            Ok("shared") | Ok("multi") => Layout::Shared,
            _ => Layout::PerCore,
        }
    }
}

fn spawn_workers(n: usize, layout: Layout) -> Result<Vec<Worker>, ProxyError> {
    let (runtimes, threads_each) = match layout {
        Layout::PerCore => (n, 1),
        Layout::Shared => (1, n),
    };
    let mut workers = Vec::with_capacity(runtimes);
    for i in 0..runtimes {
        let (htx, hrx) = std::sync::mpsc::channel();
        let (stx, srx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("fulcrum-w{i}"))
            .spawn(move || {
                let built = if threads_each == 1 {
                    tokio::runtime::Builder::new_current_thread().enable_all().build()
                } else {
                    tokio::runtime::Builder::new_multi_thread().worker_threads(threads_each).enable_all().build()
                };
                let rt = match built {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = htx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = htx.send(Ok(rt.handle().clone()));
                rt.block_on(async {
                    let _ = srx.await;
                });
            })
            .map_err(|e| ProxyError::Runtime(format!("cannot start worker thread: {e}")))?;
        let handle = hrx
            .recv()
            .map_err(|e| ProxyError::Runtime(format!("worker thread failed: {e}")))?
            .map_err(ProxyError::Runtime)?;
        workers.push(Worker { handle, stop: Some(stx), thread: Some(thread) });
    }
    Ok(workers)
}

/// Address → frontend name for every bind of `config`.
fn wanted(config: &Config) -> Result<Vec<(SocketAddr, String, fulcrum_config::model::Bind)>, ProxyError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for p in config.frontends() {
        for b in &p.binds {
            let addrs = match listener::addresses(b) {
                Ok(a) => a,
                Err(msg) => {
                    tracing::warn!("{msg}; this bind is skipped");
                    continue;
                }
            };
            for a in addrs {
                if seen.insert(a) {
                    out.push((a, p.name.clone(), b.clone()));
                }
            }
        }
    }
    Ok(out)
}

impl Runtime {
    pub fn start(config: &Config) -> Result<Runtime, ProxyError> {
        let sink = Arc::new(crate::observe::SinkSlot::default());
        let gen = Arc::new(state::build_with_sink(config, None, sink.clone())?);
        let n = config
            .global
            .nbthread
            .map(|n| n.max(1) as usize)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let layout = Layout::from_env();
        let workers = spawn_workers(n, layout)?;
        tracing::info!("proxy: {n} thread(s), {layout:?} runtime layout");
        let (stop, _) = watch::channel(false);
        let rt = Runtime {
            workers,
            running: tokio::sync::Mutex::new(Running { gen: gen.clone(), listeners: HashMap::new() }),
            stop,
            tracker: Arc::new(AtomicU64::new(0)),
            global_maxconn: config.global.maxconn.filter(|m| *m > 0).map(|m| Arc::new(Semaphore::new(m as usize))),
            sink,
        };
        let mut listeners = HashMap::new();
        for (addr, fe_name, bind) in wanted(config)? {
            let Some(fe) = gen.frontends.get(&fe_name) else { continue };
            let l = rt.open(addr, &bind, fe.clone())?;
            listeners.insert(addr, Listening { frontend: fe_name, ..l });
        }
        rt.running.try_lock().map_err(|_| ProxyError::Runtime("state busy at start".into()))?.listeners = listeners;
        Ok(rt)
    }

    /// Opens `addr` on every worker.
    fn open(&self, addr: SocketAddr, bind: &fulcrum_config::model::Bind, fe: Arc<crate::state::Frontend>) -> Result<Listening, ProxyError> {
        let mut sockets = Vec::with_capacity(self.workers.len());
        for _ in &self.workers {
            let s = listener::open(addr, bind).map_err(|e| ProxyError::Bind(format!("{}: cannot bind {addr}: {e}", bind.span)))?;
            sockets.push(s);
        }
        let slot = Arc::new(Slot::new(fe));
        let (close, close_rx) = watch::channel(false);
        for (w, s) in self.workers.iter().zip(sockets) {
            let fut = listener::accept_loop(s, slot.clone(), self.global_maxconn.clone(), self.tracker.clone(), close_rx.clone(), self.stop.subscribe());
            w.handle.spawn(fut);
        }
        Ok(Listening { frontend: String::new(), slot, close })
    }

    pub async fn reload(&self, config: &Config) -> Result<(), ProxyError> {
        let mut running = self.running.lock().await;
        let gen = Arc::new(state::build_with_sink(config, Some(&running.gen), self.sink.clone())?);
        let want = wanted(config)?;
        let want_addrs: HashSet<SocketAddr> = want.iter().map(|(a, _, _)| *a).collect();
        // Open new addresses first: if one fails, nothing has changed yet.
        let mut opened: Vec<(SocketAddr, Listening)> = Vec::new();
        for (addr, fe_name, bind) in &want {
            if running.listeners.contains_key(addr) {
                continue;
            }
            let Some(fe) = gen.frontends.get(fe_name) else { continue };
            match self.open(*addr, bind, fe.clone()) {
                Ok(l) => opened.push((*addr, Listening { frontend: fe_name.clone(), ..l })),
                Err(e) => {
                    for (_, l) in opened {
                        let _ = l.close.send(true);
                    }
                    return Err(e);
                }
            }
        }
        // Addresses that stay: swap the frontend behind the open sockets.
        for (addr, fe_name, _) in &want {
            if let (Some(l), Some(fe)) = (running.listeners.get_mut(addr), gen.frontends.get(fe_name)) {
                l.slot.set(fe.clone());
                l.frontend = fe_name.clone();
            }
        }
        // Removed addresses close.
        running.listeners.retain(|addr, l| {
            let keep = want_addrs.contains(addr);
            if !keep {
                let _ = l.close.send(true);
            }
            keep
        });
        running.listeners.extend(opened);
        for fe in running.gen.frontends.values() {
            fe.retired.store(true, Ordering::Relaxed);
        }
        // Idle server connections to servers that are gone are dropped on every worker.
        let alive: Arc<HashSet<u64>> = Arc::new(gen.backends.values().flat_map(|b| b.servers.iter().map(|s| s.id)).collect());
        for w in &self.workers {
            let alive = alive.clone();
            w.handle.spawn(async move { crate::pool::retain(&|id| alive.contains(&id)) });
        }
        running.gen = gen;
        tracing::info!("proxy configuration reloaded ({} listening addresses)", running.listeners.len());
        Ok(())
    }

    pub fn generation(&self) -> Option<Arc<Generation>> {
        self.running.try_lock().ok().map(|r| r.gen.clone())
    }

    pub async fn shutdown(mut self, grace: Duration) {
        {
            let running = self.running.lock().await;
            for l in running.listeners.values() {
                let _ = l.close.send(true);
            }
        }
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + grace;
        while self.tracker.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for w in &mut self.workers {
            if let Some(s) = w.stop.take() {
                let _ = s.send(());
            }
        }
        let threads: Vec<_> = self.workers.iter_mut().filter_map(|w| w.thread.take()).collect();
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for w in &mut self.workers {
            if let Some(s) = w.stop.take() {
                let _ = s.send(());
            }
        }
    }
}
