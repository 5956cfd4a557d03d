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

use crate::addr::{self, ListenKey};
use crate::bind::{self, Opened};
use crate::error::ProxyError;
use crate::listener::{self, Slot};
use crate::state::{self, Generation, Services, Serving};
use fulcrum_config::Config;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

struct Worker {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Listening {
    frontend: String,
    slot: Arc<Slot>,
    close: watch::Sender<bool>,
    /// A unix socket file we created (path, inode): removed when the listener closes.
    file: Option<(std::path::PathBuf, u64)>,
    /// Our sockets as offered to a process taking over (see handover.rs).
    export: u64,
}

impl Listening {
    fn close(&self) {
        let _ = self.close.send(true);
        crate::inherit::unexport(self.export);
        // Once handed over, the socket and its file belong to the successor.
        if let (Some((path, ino)), false) = (&self.file, crate::inherit::handed_over()) {
            bind::remove_unix_path(path, *ino);
        }
    }
}

struct Running {
    gen: Arc<Generation>,
    listeners: HashMap<ListenKey, Listening>,
    /// The generations reloads replaced (`hard-stop-after`, `mworker-max-reloads`).
    replaced: crate::end::Replaced,
}

pub struct Runtime {
    workers: Vec<Worker>,
    running: tokio::sync::Mutex<Running>,
    stop: watch::Sender<bool>,
    tracker: Arc<AtomicU64>,
    global_maxconn: Option<Arc<Semaphore>>,
    /// `maxconnrate`, `maxsessrate`, `maxsslrate` (read at start, as HAProxy's).
    rates: listener::limits::Rates,
    /// Passive health's sink, shared by every backend of every generation.
    pub(crate) sink: Arc<crate::observe::SinkSlot>,
    /// Resolves `use-service` and stats pages at start and at each reload.
    services: Arc<dyn Services>,
    /// The generation being served, for applets that describe the current one.
    serving: watch::Sender<Serving>,
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
                // `thread`: this worker's number (HAProxy's thread id).
                crate::front::set_thread(i);
                let built = if threads_each == 1 {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                } else {
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(threads_each)
                        .enable_all()
                        .build()
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
                    // A one-thread worker batches its sessions' sends per turn (runtime_turn.rs).
                    let turn = (threads_each == 1
                        && std::env::var_os("FULCRUM_TURN_OFF").is_none())
                    .then(|| tokio::spawn(crate::runtime_turn::run()));
                    // `busy-polling`: a task that keeps a one-thread worker's driver polled
                    // without a timeout while the setting is on.
                    let busy = (threads_each == 1).then(|| tokio::spawn(crate::busy_poll::run()));
                    // Until stopped, close this worker's idle server connections past their
                    // purge delay (pool.rs). Ticks every `park::PARK_AFTER`: the runtime's
                    // next timer is then never further away than an idle connection's park
                    // deadline, so arming one costs no wake of the driver (`park::park_at`).
                    let mut srx = srx;
                    let mut tick = tokio::time::interval(crate::park::PARK_AFTER);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    // A one-thread worker's far timeouts wait for its tick to be armed
                    // (lazy_timer.rs): most connections end before.
                    let lazy = threads_each == 1;
                    if lazy {
                        crate::lazy_timer::start(
                            tokio::time::Instant::now(),
                            crate::park::PARK_AFTER,
                        );
                    }
                    loop {
                        tokio::select! {
                            _ = &mut srx => break,
                            at = tick.tick() => {
                                if lazy {
                                    crate::lazy_timer::tick(at);
                                }
                                let now = std::time::Instant::now();
                                crate::pool::purge();
                                // Transaction buffers unused lately, then free pages, back
                                // to the system after a burst went idle.
                                crate::http::bufs::decay();
                                crate::trim::tick(now);
                            }
                        }
                    }
                    if lazy {
                        crate::lazy_timer::stop(tokio::time::Instant::now());
                    }
                    if let Some(turn) = turn {
                        turn.abort();
                    }
                    if let Some(busy) = busy {
                        busy.abort();
                    }
                });
            })
            .map_err(|e| ProxyError::Runtime(format!("cannot start worker thread: {e}")))?;
        let handle = hrx
            .recv()
            .map_err(|e| ProxyError::Runtime(format!("worker thread failed: {e}")))?
            .map_err(ProxyError::Runtime)?;
        workers.push(Worker {
            handle,
            stop: Some(stx),
            thread: Some(thread),
        });
    }
    Ok(workers)
}

/// One listener wanted by the configuration.
struct Wanted {
    key: ListenKey,
    frontend: String,
    bind: fulcrum_config::model::Bind,
    /// The listener's number in its frontend (HAProxy's `luid`: `id`, or the next free one).
    id: u16,
    /// `proto h2`: the connections speak HTTP/2 with these settings.
    h2: Option<fulcrum_config::model::TuneH2>,
}

/// Every listener of every bind of `config`, numbered as HAProxy numbers them.
fn wanted(config: &Config) -> Result<Vec<Wanted>, ProxyError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for p in config.frontends() {
        let explicit: HashSet<u32> = p.binds.iter().filter_map(|b| b.id).collect();
        let mut next = 1u32;
        for b in &p.binds {
            if b.proto_h2 && p.mode != fulcrum_config::model::Mode::Http {
                return Err(ProxyError::Bind(format!(
                    "{}: 'proto h2' on a bind needs 'mode http' in frontend {}",
                    b.span, p.name
                )));
            }
            let keys = match addr::keys(b) {
                Ok(a) => a,
                Err(msg) => {
                    tracing::warn!("{msg}; this bind is skipped");
                    continue;
                }
            };
            let mut last_id = 0;
            for key in keys {
                let id = match b.id {
                    // HAProxy counts a numbered listener's place too (`next_id++` for each).
                    Some(id) => {
                        next += 1;
                        id
                    }
                    // abns@'s plain name is the same HAProxy listener as its padded one.
                    None if matches!(key, ListenKey::Abns { padded: false, .. }) => last_id,
                    None => {
                        while explicit.contains(&next) {
                            next += 1;
                        }
                        next += 1;
                        next - 1
                    }
                };
                last_id = id;
                if seen.insert(key.clone()) {
                    out.push(Wanted {
                        key,
                        frontend: p.name.clone(),
                        bind: b.clone(),
                        id: id.min(u32::from(u16::MAX)) as u16,
                        h2: b.proto_h2.then_some(config.global.tune_h2),
                    });
                }
            }
        }
    }
    Ok(out)
}

impl Runtime {
    pub fn start(config: &Config, services: Arc<dyn Services>) -> Result<Runtime, ProxyError> {
        let sink = Arc::new(crate::observe::SinkSlot::default());
        let n = config
            .global
            .nbthread
            .map(|n| n.max(1) as usize)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let (serving, serving_rx) = watch::channel(Serving {
            generation: std::sync::Weak::new(),
            threads: u32::try_from(n).unwrap_or(u32::MAX),
        });
        let gen = Arc::new(state::build_with(
            config,
            None,
            sink.clone(),
            services.as_ref(),
            &serving_rx,
        )?);
        serving.send_modify(|s| s.generation = Arc::downgrade(&gen));
        crate::busy_poll::set(config.global.keywords.busy_polling);
        let layout = Layout::from_env();
        let workers = spawn_workers(n, layout)?;
        let layout_name = match layout {
            Layout::PerCore => "one runtime per thread",
            Layout::Shared => "one shared runtime",
        };
        tracing::info!("proxy: {n} thread(s), {layout_name}");
        let (stop, _) = watch::channel(false);
        let rt = Runtime {
            workers,
            running: tokio::sync::Mutex::new(Running {
                gen: gen.clone(),
                listeners: HashMap::new(),
                replaced: Default::default(),
            }),
            stop,
            tracker: Arc::new(AtomicU64::new(0)),
            global_maxconn: config
                .global
                .maxconn
                .filter(|m| *m > 0)
                .map(|m| Arc::new(Semaphore::new(m as usize))),
            rates: listener::limits::Rates::new(&config.global.limits),
            sink,
            services,
            serving,
        };
        let mut listeners = HashMap::new();
        for w in wanted(config)? {
            let Some(fe) = gen.frontends.get(&w.frontend) else {
                continue;
            };
            let l = match rt.open(&w, fe.clone()) {
                Ok(l) => l,
                Err(e) => {
                    for l in listeners.values() {
                        Listening::close(l);
                    }
                    return Err(e);
                }
            };
            listeners.insert(
                w.key,
                Listening {
                    frontend: w.frontend,
                    ..l
                },
            );
        }
        rt.running
            .try_lock()
            .map_err(|_| ProxyError::Runtime("state busy at start".into()))?
            .listeners = listeners;
        // Socket activation: what no bind took is closed now, with a warning naming it.
        crate::inherit::close_unused();
        Ok(rt)
    }

    /// Opens listener `w` and has every worker accept on it.
    fn open(&self, w: &Wanted, fe: Arc<crate::state::Frontend>) -> Result<Listening, ProxyError> {
        let opened =
            bind::open_key(&w.key, &w.bind, self.workers.len()).map_err(ProxyError::Bind)?;
        let file = match (&w.key, &opened) {
            (ListenKey::Unix(p), Opened::Shared(_)) => {
                bind::unix_path_ino(p).map(|ino| (p.clone(), ino))
            }
            _ => None,
        };
        let export = match &opened {
            Opened::PerWorker(v) => crate::inherit::export(&v.iter().collect::<Vec<_>>()),
            Opened::Shared(s) | Opened::Inherited(s) => crate::inherit::export(&[s]),
            Opened::Sockpair(_) => crate::inherit::export(&[]),
        };
        let incoming: Vec<listener::Incoming> = match opened {
            Opened::PerWorker(v) => v.into_iter().map(listener::Incoming::listener).collect(),
            Opened::Shared(s) | Opened::Inherited(s) => {
                let mut v = Vec::with_capacity(self.workers.len());
                for _ in 1..self.workers.len() {
                    let dup = s.try_clone().map_err(|e| {
                        ProxyError::Bind(format!(
                            "{}: cannot share {} between threads: {e}",
                            w.bind.span, w.key
                        ))
                    })?;
                    v.push(listener::Incoming::listener(dup));
                }
                v.push(listener::Incoming::listener(s));
                v
            }
            // Descriptors arrive one by one over one socket: one worker receives them.
            Opened::Sockpair(s) => vec![listener::Incoming::Sockpair(
                std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(s)),
            )],
        };
        let slot = Arc::new(Slot::keyed(fe, w.key.clone()));
        slot.set_h2(w.h2);
        slot.set_name(w.bind.name.as_deref());
        let (close, close_rx) = watch::channel(false);
        let limits = listener::limits::AcceptLimits::new(&w.bind, &self.rates);
        // More sockets than workers (received from a predecessor with more threads): every
        // socket is accepted on, some workers take two.
        for (worker, inc) in self.workers.iter().cycle().zip(incoming) {
            let fut = listener::accept_loop(
                inc,
                w.id,
                slot.clone(),
                self.global_maxconn.clone(),
                self.tracker.clone(),
                close_rx.clone(),
                self.stop.subscribe(),
                (
                    crate::accept_proxy::Expect {
                        cip: w.bind.netscaler_cip,
                        proxy: w.bind.accept_proxy,
                    },
                    limits.clone(),
                ),
            );
            worker.handle.spawn(fut);
        }
        tracing::debug!("listening on {} for frontend {}", w.key, w.frontend);
        Ok(Listening {
            frontend: String::new(),
            slot,
            close,
            file,
            export,
        })
    }

    pub async fn reload(&self, config: &Config) -> Result<(), ProxyError> {
        let mut running = self.running.lock().await;
        let gen = Arc::new(state::build_with(
            config,
            Some(&running.gen),
            self.sink.clone(),
            self.services.as_ref(),
            &self.serving.subscribe(),
        )?);
        self.serving
            .send_modify(|s| s.generation = Arc::downgrade(&gen));
        let want = wanted(config)?;
        let want_keys: HashSet<ListenKey> = want.iter().map(|w| w.key.clone()).collect();
        // Open new addresses first: if one fails, nothing has changed yet.
        let mut opened: Vec<(ListenKey, Listening)> = Vec::new();
        for w in &want {
            if running.listeners.contains_key(&w.key) {
                continue;
            }
            let Some(fe) = gen.frontends.get(&w.frontend) else {
                continue;
            };
            match self.open(w, fe.clone()) {
                Ok(l) => opened.push((
                    w.key.clone(),
                    Listening {
                        frontend: w.frontend.clone(),
                        ..l
                    },
                )),
                Err(e) => {
                    for (_, l) in opened {
                        l.close();
                    }
                    return Err(e);
                }
            }
        }
        // Addresses that stay: swap the frontend behind the open sockets.
        for w in &want {
            if let (Some(l), Some(fe)) = (
                running.listeners.get_mut(&w.key),
                gen.frontends.get(&w.frontend),
            ) {
                l.slot.set(fe.clone());
                l.slot.set_h2(w.h2);
                l.slot.set_name(w.bind.name.as_deref());
                l.frontend = w.frontend.clone();
            }
        }
        // Removed addresses close.
        running.listeners.retain(|key, l| {
            let keep = want_keys.contains(key);
            if !keep {
                l.close();
            }
            keep
        });
        running.listeners.extend(opened);
        for fe in running.gen.frontends.values() {
            fe.retired.store(true, Ordering::Relaxed);
            fe.retire.notify_waiters();
        }
        // its connections end after its `hard-stop-after`, or N reloads later (`end.rs`)
        let workers = self.workers.iter().map(|w| w.handle.clone()).collect();
        let (old, max) = (
            running.gen.end.clone(),
            config.global.keywords.mworker_max_reloads,
        );
        crate::end::retire(&mut running.replaced, &old, max, workers);
        // Idle server connections to servers that are gone are dropped on every worker.
        let alive: Arc<HashSet<u64>> = Arc::new(
            gen.backends
                .values()
                .flat_map(|b| b.servers.iter().map(|s| s.id))
                .collect(),
        );
        for w in &self.workers {
            let alive = alive.clone();
            w.handle
                .spawn(async move { crate::pool::retain(&|id| alive.contains(&id)) });
        }
        running.gen = gen;
        crate::busy_poll::set(config.global.keywords.busy_polling);
        tracing::info!(
            "proxy configuration reloaded ({} listening addresses)",
            running.listeners.len()
        );
        Ok(())
    }

    pub fn serving(&self) -> watch::Receiver<Serving> {
        self.serving.subscribe()
    }

    pub fn generation(&self) -> Option<Arc<Generation>> {
        self.running.try_lock().ok().map(|r| r.gen.clone())
    }

    pub async fn shutdown(mut self, grace: Duration) {
        // A stopping process finishes its connections without busy polling (as HAProxy's).
        crate::busy_poll::set(false);
        {
            let running = self.running.lock().await;
            for l in running.listeners.values() {
                l.close();
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
        let threads: Vec<_> = self
            .workers
            .iter_mut()
            .filter_map(|w| w.thread.take())
            .collect();
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

#[cfg(test)]
mod tests;
