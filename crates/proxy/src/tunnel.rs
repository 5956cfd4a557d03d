//! The byte tunnel of TCP sessions and of HTTP upgrades (101 Switching Protocols): both
//! directions forwarded with half-close: when one side finishes sending, the other side's
//! write half is shut down and the opposite direction keeps flowing until it finishes too.
//! Inactivity is bounded by one idle timeout (`timeout tunnel`, else the client/server
//! timeouts); after a side has closed, `timeout client-fin`/`server-fin` bound the rest.
//! Between two plain TCP sockets a direction may splice (`splice`): its small reads are
//! copied, its bulk moved by the kernel.

use crate::buf_pool::Lent;
use crate::clock::monotonic_ns;
use crate::splice::{Fail, Got, Mode};
use crate::stream::{ClientStream, PeekRead};
use crate::termination::{Cause, Phase, Termination};
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use tokio::io::AsyncWrite;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

/// How a tunnel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelEnd {
    /// Both directions finished normally.
    Done,
    /// No traffic for the inactivity timeout (or a `*-fin` timeout after one side ended).
    Timeout,
    /// A side failed (reset).
    Error(Side),
}

/// One end of a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

impl TunnelEnd {
    /// The termination state of a session that ended so (data phase).
    pub fn termination(self) -> Termination {
        match self {
            TunnelEnd::Done => Termination::NORMAL,
            TunnelEnd::Timeout => Termination::new(Cause::ClientTimeout, Phase::Data),
            TunnelEnd::Error(Side::Client) => Termination::new(Cause::Client, Phase::Data),
            TunnelEnd::Error(Side::Server) => Termination::new(Cause::Server, Phase::Data),
        }
    }
}

pub struct Tunnel {
    pub idle: Option<Duration>,
    pub client_fin: Option<Duration>,
    pub server_fin: Option<Duration>,
    /// How each direction is forwarded between plain TCP sockets: client → server, then
    /// server → client (`splice::mode`).
    pub splice: [Mode; 2],
}

struct Shared {
    /// When a byte last moved (`clock::monotonic_ns`): per chunk, a clock read without
    /// `Instant`'s checked arithmetic (~80 instructions less each, ~160 per request).
    last: AtomicU64,
    /// When the watchdog's timer may fire, at the earliest (`clock::monotonic_ns`; `u64::MAX`:
    /// never): until then it need not be polled.
    dog_due: AtomicU64,
    /// Bytes each direction delivered so far (client → server, server → client): exact also
    /// when a direction fails or times out.
    moved: [AtomicU64; 2],
    /// Which side's end of stream was read (a FIN from the client, from the server).
    eof: [AtomicBool; 2],
}

impl Shared {
    /// `n` bytes of `from`'s direction reached the other side.
    fn moved(&self, from: Side, n: u64) {
        self.moved[from as usize].fetch_add(n, Ordering::Relaxed);
        self.touch();
    }
    fn touch(&self) {
        self.last.store(monotonic_ns(), Ordering::Relaxed);
    }
    /// `from`'s end of stream was read: whether the other side's socket still needs a
    /// `shutdown(SHUT_WR)`. Not when the other side's own end was read already: the socket
    /// closes right after (a FIN all the same, nothing being left unread), as HAProxy skips
    /// the shutdown of a socket whose read side has closed.
    fn ended(&self, from: Side) -> bool {
        self.eof[from as usize].store(true, Ordering::Relaxed);
        !self.eof[from.other() as usize].load(Ordering::Relaxed)
    }
    fn idle_for(&self) -> Duration {
        Duration::from_nanos(monotonic_ns().saturating_sub(self.last.load(Ordering::Relaxed)))
    }
}

/// Forwards one direction: `pending` first (given back to the thread's pool, when it is a
/// pooled buffer, once written), then what `r` reads, into a buffer taken from the thread's
/// pool when the first bytes come (waited for with a peek: an idle tunnel holds no buffer
/// before them) and given back when the direction ends.
async fn pump<R: PeekRead, W: AsyncWrite + Unpin>(
    mut r: R,
    mut w: W,
    pending: impl AsRef<[u8]>,
    shared: &Shared,
    from: Side,
) -> Result<(), TunnelEnd> {
    let first = pending.as_ref();
    if !first.is_empty() {
        if w.write_all(first).await.is_err() || w.flush().await.is_err() {
            return Err(TunnelEnd::Error(from.other()));
        }
        shared.moved(from, first.len() as u64);
    }
    drop(pending);
    let mut buf = Lent::default();
    loop {
        if buf.capacity() == 0 {
            match r.peek_byte().await {
                Err(_) => return Err(TunnelEnd::Error(from)),
                Ok(_) => buf.fill_from_pool(),
            }
        }
        buf.clear();
        let room = buf.capacity();
        match r.read_buf(&mut *buf).await {
            Ok(0) => {
                let _ = w.shutdown().await;
                return Ok(());
            }
            Ok(n) => {
                if n < room {
                    // A short read emptied the socket: wait for readiness, not `EAGAIN`.
                    r.drained();
                }
                // Flushed: a TLS stream holds encrypted bytes until flushed (no-op on TCP).
                if w.write_all(&buf[..n]).await.is_err() || w.flush().await.is_err() {
                    return Err(TunnelEnd::Error(from.other()));
                }
                shared.moved(from, n as u64);
            }
            Err(_) => return Err(TunnelEnd::Error(from)),
        }
    }
}

/// [`pump`] between two plain TCP sockets, waiting on the runtime's readiness rather than a
/// peek: reads are copied (`Mode::Off`); one that fills the buffer (bulk) turns the direction
/// to splicing until the source has nothing more to read (`Mode::Auto`), or every byte is
/// spliced (`Mode::Always`). Counts what `dst` took. Reads go into a buffer of the thread's
/// pool, taken when the source is readable and given back once a short read (the socket
/// drained) is forwarded: an idle tunnel holds no buffer, and a new connection allocates none.
async fn pump_tcp(
    src: &TcpStream,
    dst: &TcpStream,
    pending: impl AsRef<[u8]>,
    shared: &Shared,
    from: Side,
    mode: Mode,
) -> Result<(), TunnelEnd> {
    // The last bytes were sent with MSG_MORE, held back for the FIN the source's end makes
    // (see `last` below): the shutdown that sends them is owed.
    let mut corked = false;
    let first = pending.as_ref();
    if !first.is_empty() {
        // As `last` below: the opening read these (a short read clears the readiness, as
        // here), and the source's end may have come with them. Also true when the opening's
        // read filled its buffer (still readable): the next read then sends more at once.
        let last = from == Side::Server && src.try_io(Interest::READABLE, || Ok(())).is_ok();
        if write_all_tcp(dst, first, last).await.is_err() {
            return Err(TunnelEnd::Error(from.other()));
        }
        corked = last;
        shared.moved(from, first.len() as u64);
    }
    drop(pending);
    // Read into its spare room (never zeroed).
    let mut buf = Lent::default();
    let mut bulk = mode == Mode::Always;
    loop {
        if bulk {
            let mut moved = 0u64;
            let stop = mode == Mode::Auto;
            // Boxed: its state (a pipe, a timed wait: ~400 bytes) would otherwise be part of
            // every tunnel's future, spliced or not, for as long as the connection lives; a
            // splice call moves up to a pipe's worth of bytes for the allocation.
            let r = crate::splice::move_some(src, dst, usize::MAX, stop, (None, None), &mut moved);
            let r = Box::pin(r).await;
            if moved > 0 {
                shared.moved(from, moved);
            }
            match r {
                Ok(Got::Moved(_)) => continue,
                Ok(Got::Eof) => {
                    if shared.ended(from) || corked {
                        let _ = socket2::SockRef::from(dst).shutdown(std::net::Shutdown::Write);
                    }
                    return Ok(());
                }
                // Back to copying: the next read waits for the source.
                Ok(Got::Drained) | Err(Fail::NoPipe) => bulk = false,
                Err(Fail::Src(_)) => return Err(TunnelEnd::Error(from)),
                Err(Fail::Dst(_)) => return Err(TunnelEnd::Error(from.other())),
            }
        }
        // The stream's own reader slot (`poll_read_ready`), not `readable()`'s waiter list.
        if std::future::poll_fn(|cx| src.poll_read_ready(cx))
            .await
            .is_err()
        {
            return Err(TunnelEnd::Error(from));
        }
        buf.fill_from_pool();
        buf.clear();
        let room = buf.capacity();
        match src.try_read_buf(&mut *buf) {
            Ok(0) => {
                if shared.ended(from) || corked {
                    let _ = socket2::SockRef::from(dst).shutdown(std::net::Shutdown::Write);
                }
                return Ok(());
            }
            Ok(n) => {
                let drained = n < room;
                // Whether these are the source's last bytes: it drained, and its end was
                // already reported with them (EPOLLRDHUP; the readiness keeps a close once
                // seen, and nothing else can raise it between these two calls on this
                // thread), so the next read is its end of stream, whose `shutdown` would
                // send the FIN in a packet of its own. Sent with MSG_MORE, the bytes wait
                // for that FIN and leave with it in one segment (one loopback packet and
                // its handling less per connection closed this way), as HAProxy sends
                // when a shutdown follows. From the server only (its answer and its close,
                // the common end of a `mode tcp` connection): the check costs ~40
                // instructions per short read, paid on every keep-alive exchange.
                let mut last = false;
                if drained {
                    // A short read emptied the socket: wait for readiness, not `EAGAIN`.
                    let _ = src.try_io(Interest::READABLE, || {
                        Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                    });
                    last =
                        from == Side::Server && src.try_io(Interest::READABLE, || Ok(())).is_ok();
                } else if mode == Mode::Auto {
                    bulk = true;
                }
                if write_all_tcp(dst, &buf[..n], last).await.is_err() {
                    return Err(TunnelEnd::Error(from.other()));
                }
                corked = last;
                shared.moved(from, n as u64);
                if drained {
                    buf.give_back();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if std::mem::take(&mut corked) {
                    // Not the end after all: TCP_NODELAY pushes the held bytes out.
                    let _ = socket2::SockRef::from(dst).set_nodelay(true);
                }
                buf.give_back()
            }
            Err(_) => return Err(TunnelEnd::Error(from)),
        }
    }
}

/// Writes all of `data` to `s`; `more`: with MSG_MORE (held back for what follows, the FIN).
async fn write_all_tcp(s: &TcpStream, mut data: &[u8], more: bool) -> std::io::Result<()> {
    while !data.is_empty() {
        // Written first, waited for only when the socket is known full (`try_write` answers
        // `WouldBlock` without a system call then): one readiness check less per chunk.
        let sent = if more {
            s.try_io(Interest::WRITABLE, || {
                let flags = libc::MSG_NOSIGNAL | libc::MSG_MORE;
                socket2::SockRef::from(s).send_with_flags(data, flags)
            })
        } else {
            s.try_write(data)
        };
        match sent {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::future::poll_fn(|cx| s.poll_write_ready(cx)).await?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Resolves when neither direction moved a byte for `idle` (never without a timeout).
/// One timer per tunnel, re-armed only when it fires: reads and writes pay no timer cost.
async fn watchdog(shared: &Shared, idle: Option<Duration>) {
    let Some(d) = idle else {
        shared.dog_due.store(u64::MAX, Ordering::Relaxed);
        return std::future::pending().await;
    };
    let mut wait = d;
    loop {
        // Noted before the timer reads the clock: never after the moment it fires.
        let due = monotonic_ns().saturating_add(wait.as_nanos() as u64);
        let at = tokio::time::Instant::now() + wait;
        // Its timer armed at the worker's next tick (`lazy_timer`: most tunnels end
        // before): until then polled on every wakeup (`dog_due` 0), to see the tick.
        shared.dog_due.store(0, Ordering::Relaxed);
        crate::lazy_timer::next_tick_before(at).await;
        shared.dog_due.store(due, Ordering::Relaxed);
        // Out of the coop budget: a poll always registers the timer (polls are skipped
        // until it is due, see `next`).
        tokio::task::unconstrained(tokio::time::sleep_until(at)).await;
        let since = shared.idle_for();
        if since >= d {
            return;
        }
        wait = d - since;
    }
}

/// Forwards both directions until both are finished, `to_server` and `to_client` first (each
/// dropped once written: a pooled buffer, [`Lent`], goes back then); returns
/// (client→server, server→client).
pub async fn tunnel<C: ClientStream, S: ClientStream, P: AsRef<[u8]> + Send>(
    client: &mut C,
    to_server: P,
    server: &mut S,
    to_client: P,
    t: &Tunnel,
) -> (u64, u64, TunnelEnd) {
    let shared = Shared {
        last: AtomicU64::new(monotonic_ns()),
        dog_due: AtomicU64::new(0),
        moved: [AtomicU64::new(0), AtomicU64::new(0)],
        eof: [AtomicBool::new(false), AtomicBool::new(false)],
    };
    // The directions are pinned here and lent to `both`: futures passed to it by value
    // would be laid out twice in this one (as its arguments, and as the pinned locals they
    // move into), and this future is held for as long as the connection lives.
    // Two plain TCP sockets: readiness, then a read (no `MSG_PEEK` first), splicing or not.
    if let (Some(c), Some(s)) = (client.plain_tcp(), server.plain_tcp()) {
        let up = pin!(pump_tcp(
            c,
            s,
            to_server,
            &shared,
            Side::Client,
            t.splice[0]
        ));
        let down = pin!(pump_tcp(
            s,
            c,
            to_client,
            &shared,
            Side::Server,
            t.splice[1]
        ));
        return both(up, down, &shared, t).await;
    }
    let (cr, cw) = client.split_halves();
    let (sr, sw) = server.split_halves();
    let up = pin!(pump(cr, sw, to_server, &shared, Side::Client));
    let down = pin!(pump(sr, cw, to_client, &shared, Side::Server));
    both(up, down, &shared, t).await
}

type Pumped = Result<(), TunnelEnd>;

/// What [`next`] saw first.
enum Woke {
    Up(Pumped),
    Down(Pumped),
    Idle,
}

/// A direction's own waker: notes that its direction may move, then wakes the task. A
/// wakeup then polls only the direction that was woken, not both (a "not ready" poll costs
/// ~150 instructions in tokio): one direction poll per request's hop instead of two.
struct DirWaker {
    woken: AtomicBool,
    task: Waker,
    /// In the client's direction's waker, the server's direction's: the tunnel's future holds
    /// one pointer to both.
    down: Option<Arc<DirWaker>>,
}

impl Wake for DirWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}

/// How many wakeups a tunnel polls both directions with the task's waker before giving each
/// its own ([`DirWaker`], two allocations that pay after a few wakeups): a short-lived tunnel
/// (one exchange, then the close) never makes them, nor does a connection idle after its
/// first exchange.
const SHARED_WAKEUPS: u8 = 8;

/// What the directions are polled with. Part of every tunnel's future: 16 bytes, its tag in
/// the task waker's niche.
enum Wakers {
    /// Both directions polled on every wakeup with the task's waker (kept: whether it is
    /// still the one the watchdog's timer holds), for the first [`SHARED_WAKEUPS`].
    Shared(Waker),
    /// Each direction polled with its own waker (the client's, holding the server's), only
    /// when it fired.
    Own(Arc<DirWaker>),
}

impl Wakers {
    /// Counts a wakeup (`turn`, wrapping): whether `cx`'s waker is the one the last poll saw
    /// (if not, the directions are polled with it from now on, both at once).
    fn next(&mut self, cx: &Context<'_>, turn: &mut u8) -> bool {
        match self {
            Wakers::Own(w) if w.task.will_wake(cx.waker()) => {
                *turn = turn.wrapping_add(1);
                true
            }
            Wakers::Shared(w) if w.will_wake(cx.waker()) => {
                *turn += 1;
                if *turn == SHARED_WAKEUPS {
                    self.own(cx);
                }
                true
            }
            // The task's waker changed: both directions polled with the new one, and the
            // watchdog (its timer holds the old one).
            _ => {
                *self = Wakers::Shared(cx.waker().clone());
                *turn = 0;
                false
            }
        }
    }

    /// Gives each direction its own waker, woken: both are polled with it at once.
    #[cold]
    fn own(&mut self, cx: &Context<'_>) {
        let woken = |down| {
            Arc::new(DirWaker {
                woken: AtomicBool::new(true),
                task: cx.waker().clone(),
                down,
            })
        };
        *self = Wakers::Own(woken(Some(woken(None))));
    }

    /// Polls a direction (`up`: the client's) if it is unfinished (`Some`): with the task's
    /// waker, or with its own if it fired since its last poll.
    #[inline]
    fn poll<T>(
        &self,
        cx: &mut Context<'_>,
        up: bool,
        f: Option<&mut Pin<&mut impl Future<Output = T>>>,
    ) -> Poll<T> {
        let Some(f) = f else {
            return Poll::Pending;
        };
        let Wakers::Own(w) = self else {
            return f.as_mut().poll(cx);
        };
        let w = match (up, &w.down) {
            (true, _) => w,
            (false, Some(down)) => down,
            (false, None) => return Poll::Pending,
        };
        if !w.woken.swap(false, Ordering::Acquire) {
            return Poll::Pending;
        }
        let waker = Waker::from(Arc::clone(w));
        f.as_mut().poll(&mut Context::from_waker(&waker))
    }
}

/// Polls the unfinished directions whose wakers fired (`wakers`), in an order that alternates
/// from one wakeup to the next (`turn`, counting them), then the watchdog, only once its timer
/// may have fired (`dog_due`: a clock read, not a timer's poll, per wakeup) or when the task's
/// waker changed (its timer holds the old one). The alternation keeps either direction from
/// starving the other, e.g. when one uses up the task's coop budget (tokio's, after which the
/// next poll returns `Pending` at once, waking its waker), without `tokio::select!`'s random
/// draw per poll.
fn next(
    cx: &mut Context<'_>,
    up: Option<&mut Pin<&mut impl Future<Output = Pumped>>>,
    down: Option<&mut Pin<&mut impl Future<Output = Pumped>>>,
    dog: Pin<&mut impl Future<Output = ()>>,
    dog_due: &AtomicU64,
    wakers: &mut Wakers,
    turn: &mut u8,
) -> Poll<Woke> {
    let same = wakers.next(cx, turn);
    let wakers = &*wakers;
    let woke = if *turn & 1 == 0 {
        let up = wakers.poll(cx, true, up).map(Woke::Up);
        first_ready(up, || wakers.poll(cx, false, down).map(Woke::Down))
    } else {
        let down = wakers.poll(cx, false, down).map(Woke::Down);
        first_ready(down, || wakers.poll(cx, true, up).map(Woke::Up))
    };
    if woke.is_ready() {
        return woke;
    }
    let due = dog_due.load(Ordering::Relaxed);
    if !same || due == 0 || (due != u64::MAX && monotonic_ns() >= due) {
        return dog.poll(cx).map(|()| Woke::Idle);
    }
    Poll::Pending
}

/// The waker of the task that polls this (at once).
async fn task_waker() -> Waker {
    std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await
}

/// `a` if ready, else `b`'s answer.
fn first_ready<T>(a: Poll<T>, b: impl FnOnce() -> Poll<T>) -> Poll<T> {
    match a {
        Poll::Pending => b(),
        ready => ready,
    }
}

/// Runs both directions under the idle watchdog and the `*-fin` timeouts.
async fn both(
    mut up: Pin<&mut impl Future<Output = Pumped>>,
    mut down: Pin<&mut impl Future<Output = Pumped>>,
    shared: &Shared,
    t: &Tunnel,
) -> (u64, u64, TunnelEnd) {
    let dog = watchdog(shared, t.idle);
    tokio::pin!(dog);
    // When one direction finishes first, the other continues under the `*-fin` timeout.
    let (mut up_res, mut down_res) = (None, None);
    // The first wakeup polls both directions (shared) and the watchdog (`dog_due` 0).
    let (mut wakers, mut turn) = (Wakers::Shared(task_waker().await), 0);
    while up_res.is_none() || down_res.is_none() {
        let woke = std::future::poll_fn(|cx| {
            next(
                cx,
                up_res.is_none().then_some(&mut up),
                down_res.is_none().then_some(&mut down),
                dog.as_mut(),
                &shared.dog_due,
                &mut wakers,
                &mut turn,
            )
        })
        .await;
        match woke {
            Woke::Up(r) => {
                let failed = r.is_err();
                up_res = Some(r);
                if failed {
                    break;
                }
                if let (Some(fin), None) = (t.client_fin, &down_res) {
                    match tokio::time::timeout(fin, &mut down).await {
                        Ok(r) => down_res = Some(r),
                        Err(_) => down_res = Some(Err(TunnelEnd::Timeout)),
                    }
                }
            }
            Woke::Idle => {
                up_res.get_or_insert(Err(TunnelEnd::Timeout));
                down_res.get_or_insert(Err(TunnelEnd::Timeout));
            }
            Woke::Down(r) => {
                let failed = r.is_err();
                down_res = Some(r);
                if failed {
                    break;
                }
                if let (Some(fin), None) = (t.server_fin, &up_res) {
                    match tokio::time::timeout(fin, &mut up).await {
                        Ok(r) => up_res = Some(r),
                        Err(_) => up_res = Some(Err(TunnelEnd::Timeout)),
                    }
                }
            }
        }
    }
    let end = match (up_res.unwrap_or(Ok(())), down_res.unwrap_or(Ok(()))) {
        (Ok(()), Ok(())) => TunnelEnd::Done,
        (Err(e), _) | (_, Err(e)) => e,
    };
    let [u, d] = &shared.moved;
    (u.load(Ordering::Relaxed), d.load(Ordering::Relaxed), end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf_pool;
    use tokio::net::TcpListener;

    /// A connected pair of loopback TCP sockets (connecting end, accepted end).
    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let a = TcpStream::connect(l.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (b, _) = l.accept().await.expect("accept");
        (a, b)
    }

    /// A current-thread runtime: a tunnel spawned on it runs on the test's thread (its
    /// buffer pool is the test's).
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// Runs `f` as a task of its own (on a local set), as sessions run: its waker is then
    /// tokio's task waker, one vtable for all. `block_on`'s waker is not: its vtable is a
    /// constant of a generic function, which an optimised build with several codegen units
    /// may duplicate, so `will_wake` can say no to the same waker from one poll to the next.
    fn in_task<T: 'static>(f: impl Future<Output = T> + 'static) -> T {
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime(), async {
            tokio::task::spawn_local(f).await.expect("task")
        })
    }

    /// A client and a server connected through a tunnel (`idle`, no `*-fin` timeout, no
    /// splicing) relaying in a task of its own, `to_client` first: (client, server, relay).
    async fn relayed(
        idle: Option<Duration>,
        to_client: Lent,
    ) -> (
        TcpStream,
        TcpStream,
        tokio::task::JoinHandle<(u64, u64, TunnelEnd)>,
    ) {
        let (client, mut proxy_c) = pair().await;
        let (mut proxy_s, server) = pair().await;
        let t = Tunnel {
            idle,
            client_fin: None,
            server_fin: None,
            splice: [Mode::Off, Mode::Off],
        };
        let relay = tokio::spawn(async move {
            tunnel(&mut proxy_c, Lent::default(), &mut proxy_s, to_client, &t).await
        });
        (client, server, relay)
    }

    /// Reads exactly `n` bytes.
    async fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut got = vec![0u8; n];
        s.read_exact(&mut got).await.expect("read");
        got
    }

    /// Segments socket `s` received so far (TCP_INFO's `tcpi_segs_in`).
    fn segments_in(s: &TcpStream) -> u32 {
        use std::os::fd::AsRawFd;
        crate::front::tcp_info(s.as_raw_fd())
            .expect("TCP_INFO")
            .segs_in
    }

    /// A source's last bytes that came with its end leave with the FIN (MSG_MORE, then the
    /// shutdown): the client receives them and the end in one segment, not two.
    #[test]
    fn last_bytes_leave_with_the_fin_in_one_segment() {
        let rt = runtime();
        rt.block_on(async {
            let (mut client, mut proxy_c) = pair().await;
            let (mut proxy_s, mut server) = pair().await;
            // The server's answer and its end, both arrived before the tunnel reads.
            server.write_all(b"last").await.expect("send");
            server.shutdown().await.expect("end");
            loop {
                let r = proxy_s.ready(Interest::READABLE).await.expect("ready");
                if r.is_read_closed() {
                    break;
                }
                let _ = proxy_s.try_io(Interest::READABLE, || {
                    Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                });
            }
            let before = segments_in(&client);
            let t = Tunnel {
                idle: None,
                client_fin: None,
                server_fin: None,
                splice: [Mode::Off, Mode::Off],
            };
            let relay = tokio::spawn(async move {
                tunnel(
                    &mut proxy_c,
                    Lent::default(),
                    &mut proxy_s,
                    Lent::default(),
                    &t,
                )
                .await
            });
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.expect("end");
            assert_eq!(got, b"last");
            assert_eq!(
                segments_in(&client) - before,
                1,
                "data and FIN in one segment"
            );
            client.shutdown().await.expect("end");
            let (up, down, end) = relay.await.expect("relay");
            assert_eq!((up, down, end), (0, 4, TunnelEnd::Done));
        });
    }

    /// A TCP session's tunnel future is held for as long as the connection lives: its
    /// directions are laid out once (lent to `both`, not moved into it), a splice's state is
    /// boxed apart. Measured (debug build): 1136 bytes, a direction 288 (2744 and 560 before).
    #[test]
    fn a_tcp_tunnel_future_is_small() {
        fn returned<A, F: std::future::Future>(_: &impl FnOnce(A) -> F) -> usize {
            std::mem::size_of::<F>()
        }
        type Ends<'a> = (&'a TcpStream, &'a TcpStream, &'a Shared);
        let pumped = returned(&|(a, b, s): Ends<'_>| {
            pump_tcp(a, b, Lent::default(), s, Side::Client, Mode::Auto)
        });
        type Both<'a> = (&'a mut TcpStream, &'a mut TcpStream, &'a Tunnel);
        let tunneled =
            returned(&|(a, b, t): Both<'_>| tunnel(a, Lent::default(), b, Lent::default(), t));
        eprintln!("TCP tunnel {tunneled} bytes, a direction {pumped}");
        assert!(pumped <= 300, "a direction's future is {pumped} bytes");
        assert!(
            tunneled <= 1200,
            "a TCP tunnel's future is {tunneled} bytes"
        );
    }

    /// A direction that always has more to do uses up the task's coop budget on every
    /// wakeup (tokio's: then every budgeted poll returns `Pending` until the task yields):
    /// the other direction, polled first on every other wakeup, still finishes, with the
    /// task's waker or its own. With a fixed order (the flood first, as `select!`'s `biased;`
    /// would) it never would.
    #[test]
    fn a_flooding_direction_does_not_starve_the_other() {
        in_task(async {
            let flood = pin!(async {
                loop {
                    tokio::task::consume_budget().await;
                }
            });
            let mut flood: Pin<&mut _> = flood;
            // Over more wakeups than are shared: with its own waker too.
            let other = pin!(async {
                for _ in 0..3 * SHARED_WAKEUPS {
                    tokio::task::yield_now().await;
                    tokio::task::consume_budget().await;
                }
                Ok::<(), TunnelEnd>(())
            });
            let mut other: Pin<&mut _> = other;
            let dog = pin!(std::future::pending::<()>());
            let mut dog: Pin<&mut _> = dog;
            let never = AtomicU64::new(u64::MAX);
            let (mut wakers, mut turn) = (Wakers::Shared(task_waker().await), 0);
            let woke = tokio::time::timeout(
                Duration::from_secs(5),
                std::future::poll_fn(|cx| {
                    next(
                        cx,
                        Some(&mut flood),
                        Some(&mut other),
                        dog.as_mut(),
                        &never,
                        &mut wakers,
                        &mut turn,
                    )
                }),
            )
            .await;
            assert!(
                matches!(woke, Ok(Woke::Down(Ok(())))),
                "the other direction starved"
            );
            assert!(matches!(wakers, Wakers::Own(_)));
        });
    }

    /// After its first wakeups, a wakeup polls only the directions whose wakers fired: one
    /// waiting on its socket is not polled again each time the other moves, nor is the
    /// watchdog before its timer is due.
    #[test]
    fn a_wakeup_polls_only_the_woken_direction() {
        let (woke, polls) = in_task(async {
            let polls: [std::cell::Cell<u32>; 3] = Default::default();
            let count = |i: usize| polls[i].set(polls[i].get() + 1);
            let quiet = pin!(std::future::poll_fn(|_| {
                count(0);
                Poll::<Pumped>::Pending
            }));
            let mut quiet: Pin<&mut _> = quiet;
            // Woken by itself (as a read, then a write, each wake its waker), done on the 30th poll.
            let busy = pin!(std::future::poll_fn(|cx| {
                count(1);
                if polls[1].get() == 30 {
                    return Poll::Ready(Ok(()));
                }
                cx.waker().wake_by_ref();
                Poll::Pending
            }));
            let mut busy: Pin<&mut _> = busy;
            // As `tunnel`'s: polled on the first wakeup (`dog_due` 0), not due after.
            let due = AtomicU64::new(0);
            let dog = pin!(std::future::poll_fn(|_| {
                count(2);
                due.store(u64::MAX, Ordering::Relaxed);
                Poll::<()>::Pending
            }));
            let mut dog: Pin<&mut _> = dog;
            let (mut wakers, mut turn) = (Wakers::Shared(task_waker().await), 0);
            let woke = std::future::poll_fn(|cx| {
                next(
                    cx,
                    Some(&mut quiet),
                    Some(&mut busy),
                    dog.as_mut(),
                    &due,
                    &mut wakers,
                    &mut turn,
                )
            })
            .await;
            (woke, [polls[0].get(), polls[1].get(), polls[2].get()])
        });
        assert!(matches!(woke, Woke::Down(Ok(()))));
        // The shared wakeups', the last of them with its own waker.
        let quiet = u32::from(SHARED_WAKEUPS);
        assert_eq!(
            polls,
            [quiet, 30, 1],
            "polls of each direction and the watchdog"
        );
    }

    /// The watchdog is polled only once its timer may have fired: traffic for longer than
    /// the idle timeout keeps the tunnel open, and the timeout still ends it, counted from
    /// the last bytes.
    #[test]
    fn an_idle_tunnel_times_out_counted_from_its_last_bytes() {
        let rt = runtime();
        rt.block_on(async {
            let idle = Duration::from_millis(200);
            let (mut client, mut server, relay) = relayed(Some(idle), Lent::default()).await;
            // 400 ms of traffic, twice the timeout: a byte each way every 20 ms.
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for _ in 0..20 {
                tick.tick().await;
                client.write_all(b"x").await.expect("send");
                assert_eq!(read_n(&mut server, 1).await, b"x");
                server.write_all(b"y").await.expect("send");
                assert_eq!(read_n(&mut client, 1).await, b"y");
            }
            let last = std::time::Instant::now();
            let ended = tokio::time::timeout(Duration::from_secs(5), relay).await;
            let waited = last.elapsed();
            let (up, down, end) = ended.expect("timed out").expect("relay");
            assert_eq!((up, down, end), (20, 20, TunnelEnd::Timeout));
            // The timer's millisecond granularity aside.
            assert!(
                waited + Duration::from_millis(2) >= idle,
                "after {waited:?}"
            );
        });
    }

    #[test]
    fn an_idle_tcp_tunnel_holds_no_buffer_its_reads_come_from_the_threads_pool() {
        let rt = runtime();
        rt.block_on(async {
            // Four buffers in this thread's pool (more than the tunnel ever holds at once: one
            // per direction), all of them back there whenever the tunnel is idle.
            let four: Vec<_> = (0..4).map(|_| buf_pool::take_bytes()).collect();
            four.into_iter().for_each(buf_pool::give_bytes);
            let pooled = buf_pool::pooled_bytes();
            // The server's first bytes, read by the opening into a pooled buffer.
            let mut first = buf_pool::Lent::default();
            first.fill_from_pool();
            first.extend_from_slice(b"hi");
            // The tunnel runs on this thread (a current-thread runtime): its pool is this one.
            let (mut client, mut server, relay) = relayed(None, first).await;
            assert_eq!(read_n(&mut client, 2).await, b"hi");
            for _ in 0..3 {
                client.write_all(b"ping").await.expect("send");
                assert_eq!(read_n(&mut server, 4).await, b"ping");
                server.write_all(b"pong!").await.expect("send");
                assert_eq!(read_n(&mut client, 5).await, b"pong!");
                // Idle now: every buffer the tunnel used is back in the pool (the first bytes'
                // and those of each read). Bounded wait for the relay's turn.
                let mut back = false;
                for _ in 0..1000 {
                    if buf_pool::pooled_bytes() == pooled {
                        back = true;
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                assert!(back, "pool holds {}", buf_pool::pooled_bytes());
            }
            // A burst fills reads whole: forwarded all the same, the buffer back afterwards.
            let burst = vec![7u8; 3 * buf_pool::TUNNEL_BUF + 5];
            client.write_all(&burst).await.expect("send");
            assert_eq!(read_n(&mut server, burst.len()).await, burst);
            client.shutdown().await.expect("half-close");
            let mut rest = Vec::new();
            server.read_to_end(&mut rest).await.expect("end");
            assert!(rest.is_empty());
            drop(server);
            client.read_to_end(&mut rest).await.expect("end");
            let (up, down, end) = relay.await.expect("relay");
            assert_eq!(
                (up, down, end),
                (12 + burst.len() as u64, 2 + 15, TunnelEnd::Done)
            );
            assert_eq!(buf_pool::pooled_bytes(), pooled);
        });
    }
}
