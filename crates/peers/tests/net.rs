//! The tokio adapter on loopback: two replicators connect, a store on one reaches the other's
//! table; a malformed line and a hello from a stranger close their connections and are counted.
#![allow(clippy::unwrap_used)]

use fulcrum_peers::{start, Config, Entry, Tables};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Default)]
struct Mem {
    pending: Mutex<Vec<Entry>>,
    table: Mutex<BTreeMap<IpAddr, String>>,
}

impl Tables for Mem {
    fn take_pending(&self) -> Vec<(String, Vec<Entry>)> {
        let p: Vec<Entry> = std::mem::take(&mut *self.pending.lock().unwrap());
        if p.is_empty() {
            Vec::new()
        } else {
            vec![("db".into(), p)]
        }
    }
    fn live(&self, _: &str, _: Instant) -> Vec<Entry> {
        self.table
            .lock()
            .unwrap()
            .iter()
            .map(|(k, s)| Entry {
                key: *k,
                server: s.clone(),
                expires: None,
            })
            .collect()
    }
    fn apply(&self, _: &str, _: Instant, entries: Vec<Entry>) -> usize {
        let mut t = self.table.lock().unwrap();
        for e in &entries {
            t.insert(e.key, e.server.clone());
        }
        entries.len()
    }
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes `line` on a new connection to `to`; true when the peer then closes it.
fn closed_after(to: SocketAddr, line: &[u8]) -> bool {
    let mut s = TcpStream::connect(to).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(line).unwrap();
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicates_over_loopback_and_refuses_bad_input() {
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (tx_a, rx_a) = watch::channel(BTreeMap::new());
    let (tx_b, rx_b) = watch::channel(BTreeMap::new());
    let (ta, tb) = (Arc::new(Mem::default()), Arc::new(Mem::default()));
    tb.table
        .lock()
        .unwrap()
        .insert("10.99.0.2".parse().unwrap(), "s2".into());
    let a = start(
        Config::new("a", ["db".to_string()]),
        loopback,
        rx_a,
        ta.clone(),
    )
    .await
    .unwrap();
    let b = start(
        Config::new("b", ["db".to_string()]),
        loopback,
        rx_b,
        tb.clone(),
    )
    .await
    .unwrap();
    let peers: BTreeMap<String, SocketAddr> =
        [("a".to_string(), a.local), ("b".to_string(), b.local)].into();
    tx_a.send(peers.clone()).unwrap();
    tx_b.send(peers).unwrap();
    until("a and b connected", || {
        a.connected.borrow().len() == 1 && b.connected.borrow().len() == 1
    })
    .await;
    // Resync on connect: b's entry is on a.
    until("resync", || ta.table.lock().unwrap().len() == 1).await;
    // A store on a reaches b.
    ta.pending.lock().unwrap().push(Entry {
        key: "10.99.0.1".parse().unwrap(),
        server: "s1".into(),
        expires: Some(Instant::now() + Duration::from_secs(60)),
    });
    until("update", || tb.table.lock().unwrap().len() == 2).await;

    assert!(
        closed_after(a.local, b"not json\n"),
        "malformed line: closed"
    );
    until("malformed counted", || {
        a.refused.malformed.load(Ordering::Relaxed) == 1
    })
    .await;
    let stranger = b"{\"t\":\"hello\",\"node\":\"zed\",\"to\":\"a\",\"tables\":[\"db\"]}\n";
    assert!(closed_after(a.local, stranger), "stranger: closed");
    until("stranger counted", || {
        a.refused.messages.load(Ordering::Relaxed) == 1
    })
    .await;
    // The peers stay connected through all this.
    assert_eq!(*a.connected.borrow(), ["b"]);
    a.stop().await;
    b.stop().await;
}
