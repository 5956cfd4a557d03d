//! The tokio adapter of the replication machine: a listener, a dialer per peer to dial, and a
//! reader and a writer task per connection; the machine decides, this file moves bytes. A
//! slow peer (its send queue full) or a malformed line closes the connection.

use crate::machine::{Action, Config, Conn, Entry, Event, Machine};
use crate::wire;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

/// The proxy's replicated tables, as the adapter sees them.
pub trait Tables: Send + Sync + 'static {
    /// Entries stored locally since the last call, by table.
    fn take_pending(&self) -> Vec<(String, Vec<Entry>)>;
    /// The live entries of `table`.
    fn live(&self, table: &str, now: Instant) -> Vec<Entry>;
    /// Applies a peer's entries to `table`; returns how many were taken.
    fn apply(&self, table: &str, now: Instant, entries: Vec<Entry>) -> usize;
}

/// How often local stores are sent and timers run.
const TICK: Duration = Duration::from_millis(50);
/// Messages queued per connection before it counts as stuck and is closed.
const QUEUE: usize = 4096;

/// What was refused: malformed or overlong lines (the connection is closed), and messages
/// the machine refused (a hello from a stranger, an update for a table not shared).
#[derive(Debug, Default)]
pub struct Refused {
    pub malformed: AtomicU64,
    pub messages: AtomicU64,
}

/// The running replication of one peer set.
pub struct Replicator {
    pub refused: Arc<Refused>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// Where it listens.
    pub local: SocketAddr,
    /// Peers connected (hello received).
    pub connected: watch::Receiver<Vec<String>>,
}

impl Replicator {
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Replicator {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

enum Internal {
    Ev(Event),
    Dialed(String, TcpStream),
}

/// Listens on `bind` and replicates `tables` with `peers` (name → address, may change).
pub async fn start(
    cfg: Config,
    bind: SocketAddr,
    peers: watch::Receiver<BTreeMap<String, SocketAddr>>,
    tables: Arc<dyn Tables>,
) -> std::io::Result<Replicator> {
    let listener = TcpListener::bind(bind).await?;
    let local = listener.local_addr()?;
    let (stop_tx, stop_rx) = oneshot::channel();
    let (connected_tx, connected_rx) = watch::channel(Vec::new());
    tracing::info!(
        "peers: {} listens on {local} for table(s) {:?}",
        cfg.me,
        cfg.tables
    );
    let refused = Arc::new(Refused::default());
    let task = tokio::spawn(run(
        cfg,
        listener,
        peers,
        tables,
        stop_rx,
        connected_tx,
        refused.clone(),
    ));
    Ok(Replicator {
        refused,
        stop: Some(stop_tx),
        task: Some(task),
        local,
        connected: connected_rx,
    })
}

struct Io {
    conns: HashMap<Conn, (mpsc::Sender<Vec<u8>>, tokio::task::AbortHandle)>,
    next: Conn,
    tx: mpsc::UnboundedSender<Internal>,
    refused: Arc<Refused>,
}

impl Io {
    fn open(&mut self, stream: TcpStream) -> Conn {
        self.next += 1;
        let conn = self.next;
        let _ = stream.set_nodelay(true);
        let (rd, mut wr) = stream.into_split();
        let (wtx, mut wrx) = mpsc::channel::<Vec<u8>>(QUEUE);
        tokio::spawn(async move {
            while let Some(b) = wrx.recv().await {
                if wr.write_all(&b).await.is_err() {
                    break;
                }
            }
        });
        let tx = self.tx.clone();
        let refused = self.refused.clone();
        let reader = tokio::spawn(async move {
            let mut rd = BufReader::new(rd);
            let mut line = Vec::new();
            loop {
                line.clear();
                let limit = wire::MAX_LINE as u64 + 1;
                match (&mut rd).take(limit).read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if line.last() != Some(&b'\n') {
                    tracing::warn!("peers: connection {conn}: line too long or cut: closed");
                    refused.malformed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                match wire::decode(&line[..line.len() - 1]) {
                    Ok(msg) => {
                        let _ = tx.send(Internal::Ev(Event::Received { conn, msg }));
                    }
                    Err(e) => {
                        tracing::warn!("peers: connection {conn}: {e}: closed");
                        refused.malformed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            let _ = tx.send(Internal::Ev(Event::Closed { conn }));
        });
        self.conns.insert(conn, (wtx, reader.abort_handle()));
        conn
    }

    fn close(&mut self, conn: Conn) {
        if let Some((_, reader)) = self.conns.remove(&conn) {
            reader.abort();
        }
    }
}

async fn run(
    cfg: Config,
    listener: TcpListener,
    mut peers: watch::Receiver<BTreeMap<String, SocketAddr>>,
    tables: Arc<dyn Tables>,
    mut stop: oneshot::Receiver<()>,
    connected: watch::Sender<Vec<String>>,
    refused: Arc<Refused>,
) {
    let mut m = Machine::new(cfg);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut io = Io {
        conns: HashMap::new(),
        next: 0,
        tx: tx.clone(),
        refused: refused.clone(),
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut addrs = peers.borrow_and_update().clone();
    let mut first = Some(Event::Peers(addrs.keys().cloned().collect()));
    // A fixed peer set (a `peers` section) has no sender left: stop watching it.
    let mut watching = true;
    loop {
        let mut events = Vec::new();
        if let Some(e) = first.take() {
            events.push(e);
        }
        tokio::select! {
            _ = &mut stop => break,
            acc = listener.accept() => if let Ok((s, _)) = acc {
                let conn = io.open(s);
                events.push(Event::Connected { conn, peer: None });
            },
            Some(i) = rx.recv() => match i {
                Internal::Ev(e) => events.push(e),
                Internal::Dialed(peer, s) => {
                    let conn = io.open(s);
                    events.push(Event::Connected { conn, peer: Some(peer) });
                }
            },
            _ = tick.tick() => {
                for (table, entries) in tables.take_pending() {
                    events.push(Event::Local { table, entries });
                }
                events.push(Event::Tick);
            },
            r = peers.changed(), if watching => {
                if r.is_err() {
                    watching = false;
                } else {
                    addrs = peers.borrow_and_update().clone();
                    events.push(Event::Peers(addrs.keys().cloned().collect()));
                }
            },
        }
        for ev in events {
            // The reader ended (EOF, error, malformed line): the writer goes too.
            if let Event::Closed { conn } = ev {
                io.close(conn);
            }
            let now = Instant::now();
            for a in m.handle(now, ev) {
                tracing::trace!("peers: {a:?}");
                act(a, now, &m, &mut io, &addrs, &*tables);
            }
        }
        refused.messages.store(m.refused, Ordering::Relaxed);
        let up: Vec<String> = m.connected().into_iter().collect();
        connected.send_if_modified(|c| {
            let changed = *c != up;
            if changed {
                tracing::info!("peers: {} connected to {up:?}", m.me());
                *c = up;
            }
            changed
        });
    }
    for conn in io.conns.keys().copied().collect::<Vec<_>>() {
        io.close(conn);
    }
}

fn act(
    a: Action,
    now: Instant,
    m: &Machine,
    io: &mut Io,
    addrs: &BTreeMap<String, SocketAddr>,
    tables: &dyn Tables,
) {
    match a {
        Action::Send { conn, msg } => {
            let stuck = match io.conns.get(&conn) {
                Some((w, _)) => w.try_send(wire::encode(&msg)).is_err(),
                None => false,
            };
            if stuck {
                tracing::warn!("peers: connection {conn} does not keep up: closed");
                io.close(conn);
                let _ = io.tx.send(Internal::Ev(Event::Closed { conn }));
            }
        }
        Action::Close { conn } => io.close(conn),
        Action::Resync { conn, table } => {
            let entries = tables.live(&table, now);
            tracing::info!(
                "peers: sending {} entries of table {table} to connection {conn}",
                entries.len()
            );
            for msg in m.updates(now, &table, &entries) {
                act(Action::Send { conn, msg }, now, m, io, addrs, tables);
            }
        }
        Action::Apply { table, entries } => {
            let n = entries.len();
            let taken = tables.apply(&table, now, entries);
            tracing::debug!("peers: table {table}: {taken} of {n} entries taken from a peer");
        }
        Action::Dial { peer } => {
            let tx = io.tx.clone();
            let Some(addr) = addrs.get(&peer).copied() else {
                let _ = tx.send(Internal::Ev(Event::DialFailed { peer }));
                return;
            };
            tokio::spawn(async move {
                let r =
                    tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr)).await;
                let _ = tx.send(match r {
                    Ok(Ok(s)) => Internal::Dialed(peer, s),
                    _ => Internal::Ev(Event::DialFailed { peer }),
                });
            });
        }
    }
}
