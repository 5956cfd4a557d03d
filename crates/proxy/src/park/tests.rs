//! The parking lot with real sockets: a parked connection is resumed when bytes or a close
//! arrive, dropped at its deadline or on a stop, and the lot holds nothing afterwards.

use super::*;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A parked connection that reports what happened to it. Its socket is off the runtime, as a
/// parked session's is: only the lot's own set watches it.
struct Probe {
    sock: std::net::TcpStream,
    stop: watch::Receiver<bool>,
    said: Option<mpsc::UnboundedSender<&'static str>>,
}

impl Parked for Probe {
    fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.sock.as_fd()
    }
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }
    fn resume(mut self) {
        if let Some(tx) = self.said.take() {
            let _ = tx.send("resumed");
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if let Some(tx) = self.said.take() {
            let _ = tx.send("dropped");
        }
    }
}

/// A connected pair: (the proxy's side, off the runtime; the client's side).
async fn pair(l: &TcpListener) -> (std::net::TcpStream, TcpStream) {
    let a = l.local_addr().expect("addr");
    let (c, s) = tokio::join!(TcpStream::connect(a), l.accept());
    let s = s.expect("accept").0.into_std().expect("off the runtime");
    (s, c.expect("connect"))
}

async fn next(rx: &mut mpsc::UnboundedReceiver<&'static str>) -> &'static str {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("in time")
        .expect("said")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt")
}

#[test]
fn bytes_or_a_close_resume_a_deadline_or_a_stop_drops() {
    rt().block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (stop_tx, stop) = watch::channel(false);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let probe = |sock| Probe {
            sock,
            stop: stop.clone(),
            said: Some(tx.clone()),
        };
        // Bytes arrive: resumed.
        let (s, mut c) = pair(&l).await;
        assert!(park(probe(s), None, &stop).is_ok());
        tokio::task::yield_now().await;
        assert_eq!(parked(), 1);
        c.write_all(b"GET").await.expect("send");
        assert_eq!(next(&mut rx).await, "resumed");
        assert_eq!(parked(), 0);
        // The client closes: resumed too (the session reads the close).
        let (s, c) = pair(&l).await;
        assert!(park(probe(s), None, &stop).is_ok());
        tokio::task::yield_now().await;
        drop(c);
        assert_eq!(next(&mut rx).await, "resumed");
        // Its deadline passes: dropped (closed), the earliest first.
        let (s1, _c1) = pair(&l).await;
        let (s2, _c2) = pair(&l).await;
        let now = Instant::now();
        let (tx2, mut rx2) = mpsc::unbounded_channel();
        let late = Probe {
            sock: s2,
            stop: stop.clone(),
            said: Some(tx2),
        };
        assert!(park(late, Some(now + Duration::from_millis(600)), &stop).is_ok());
        assert!(park(probe(s1), Some(now + Duration::from_millis(50)), &stop).is_ok());
        assert_eq!(next(&mut rx).await, "dropped");
        assert!(rx2.try_recv().is_err(), "the later deadline has not passed");
        assert_eq!(next(&mut rx2).await, "dropped");
        assert!(
            now.elapsed() >= Duration::from_millis(600),
            "not before its deadline"
        );
        assert_eq!(parked(), 0);
        // A stop: every parked connection is dropped.
        let (s, _c) = pair(&l).await;
        assert!(park(probe(s), None, &stop).is_ok());
        tokio::task::yield_now().await;
        assert_eq!(parked(), 1);
        stop_tx.send(true).expect("stop");
        assert_eq!(next(&mut rx).await, "dropped");
        assert_eq!(parked(), 0);
        // Connections of another stop signal are not parked here.
        let (_other_tx, other) = watch::channel(false);
        let (s, _c) = pair(&l).await;
        let back = park(
            Probe {
                sock: s,
                stop: other.clone(),
                said: None,
            },
            None,
            &other,
        );
        assert!(back.is_err(), "given back to wait in its task");
    });
}

#[test]
fn a_slot_taken_again_keeps_only_its_own_deadline() {
    rt().block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (_stop_tx, stop) = watch::channel(false);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        // Parked with an early deadline, then resumed: its slot is free, its timer stale.
        let (s, mut c) = pair(&l).await;
        let early = Probe {
            sock: s,
            stop: stop.clone(),
            said: Some(tx.clone()),
        };
        assert!(park(early, Some(now + Duration::from_millis(150)), &stop).is_ok());
        c.write_all(b"x").await.expect("send");
        assert_eq!(next(&mut rx).await, "resumed");
        // The next connection takes that slot with a later deadline.
        let (s, _c) = pair(&l).await;
        let late = Probe {
            sock: s,
            stop: stop.clone(),
            said: Some(tx.clone()),
        };
        assert!(park(late, Some(now + Duration::from_millis(700)), &stop).is_ok());
        assert_eq!(next(&mut rx).await, "dropped");
        assert!(
            now.elapsed() >= Duration::from_millis(700),
            "dropped at the stale deadline ({:?})",
            now.elapsed()
        );
        assert_eq!(parked(), 0);
    });
}

#[test]
fn many_parked_then_gone_leave_the_lot_empty() {
    rt().block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (_stop_tx, stop) = watch::channel(false);
        let (tx, mut rx) = mpsc::unbounded_channel();
        // More than the slots a lot keeps once empty, each with a deadline; half resume.
        let n = KEEP_SLOTS + 200;
        // Connected first, parked after: on a loaded machine the connects alone can outlast
        // the deadlines (the slots then expired before they were counted).
        let mut pairs = Vec::new();
        for _ in 0..n {
            pairs.push(pair(&l).await);
        }
        let now = Instant::now();
        let mut clients = Vec::new();
        for (k, (s, c)) in pairs.into_iter().enumerate() {
            let p = Probe {
                sock: s,
                stop: stop.clone(),
                said: Some(tx.clone()),
            };
            let due = now + Duration::from_millis(400 + (k % 7) as u64);
            assert!(park(p, Some(due), &stop).is_ok());
            clients.push(c);
        }
        assert_eq!(parked(), n);
        for c in clients.iter_mut().step_by(2) {
            c.write_all(b"x").await.expect("send");
        }
        let mut said = std::collections::HashMap::new();
        for _ in 0..n {
            *said.entry(next(&mut rx).await).or_insert(0) += 1;
        }
        assert_eq!(said.get("resumed"), Some(&n.div_ceil(2)));
        assert_eq!(said.get("dropped"), Some(&(n / 2)));
        assert_eq!(parked(), 0);
        // The lot works on after its vectors were freed.
        let (s, mut c) = pair(&l).await;
        let p = Probe {
            sock: s,
            stop: stop.clone(),
            said: Some(tx.clone()),
        };
        assert!(park(p, None, &stop).is_ok());
        c.write_all(b"x").await.expect("send");
        assert_eq!(next(&mut rx).await, "resumed");
    });
}

#[test]
fn a_lot_whose_runtime_stopped_is_replaced() {
    let (_stop_tx, stop) = watch::channel(false);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let held = rt().block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (s, c) = pair(&l).await;
        let p = Probe {
            sock: s,
            stop: stop.clone(),
            said: Some(tx.clone()),
        };
        assert!(park(p, None, &stop).is_ok());
        tokio::task::yield_now().await;
        (l, c)
    });
    // The runtime is gone: its lot closed what it held.
    assert_eq!(rx.try_recv(), Ok("dropped"));
    assert_eq!(parked(), 0);
    drop(held);
    rt().block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (s, mut c) = pair(&l).await;
        let p = Probe {
            sock: s,
            stop: stop.clone(),
            said: Some(tx.clone()),
        };
        assert!(park(p, None, &stop).is_ok(), "a new lot on the new runtime");
        c.write_all(b"x").await.expect("send");
        assert_eq!(next(&mut rx).await, "resumed");
    });
}

#[test]
fn cold_sockets_go_back_to_the_runtime_with_what_arrived() {
    use crate::stream::{ClientStream, Cold};
    use tokio::io::AsyncReadExt;
    rt().block_on(async {
        // TCP: off the runtime, bytes arrive, back on it: read as usual.
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let a = l.local_addr().expect("addr");
        let (c, s) = tokio::join!(TcpStream::connect(a), l.accept());
        let (s, mut c) = (s.expect("accept").0, c.expect("connect"));
        let cold = match s.into_cold() {
            Ok(Ok(cold @ Cold::Tcp(_))) => cold,
            _ => panic!("a TCP stream goes off the runtime"),
        };
        c.write_all(b"GET").await.expect("send");
        let mut s = TcpStream::from_cold(cold).expect("back on the runtime");
        let mut b = [0u8; 3];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut b))
            .await
            .expect("in time")
            .expect("read");
        assert_eq!(&b, b"GET");
        // A unix stream too; each kind refuses the other's socket.
        let (u, mut v) = tokio::net::UnixStream::pair().expect("pair");
        let cold = match u.into_cold() {
            Ok(Ok(cold @ Cold::Unix(_))) => cold,
            _ => panic!("a unix stream goes off the runtime"),
        };
        v.write_all(b"x").await.expect("send");
        let mut u = tokio::net::UnixStream::from_cold(cold).expect("back on the runtime");
        let mut b = [0u8; 1];
        tokio::time::timeout(Duration::from_secs(5), u.read_exact(&mut b))
            .await
            .expect("in time")
            .expect("read");
        assert_eq!(&b, b"x");
        let (u, _v) = tokio::net::UnixStream::pair().expect("pair");
        let Ok(Ok(cold)) = u.into_cold() else {
            panic!("off the runtime")
        };
        assert!(TcpStream::from_cold(cold).is_err());
    });
}
