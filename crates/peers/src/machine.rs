//! The replication state machine of one node, pure: events and the current time in, actions
//! out. It owns no table: the adapter applies what it is told and lists a table when asked.
//!
//! Rules: the node whose name sorts first dials (so two nodes hold one connection); the
//! dialer sends `hello` first, the other side answers with its own; a connection whose hello names an unknown peer, or not this
//! node, is closed; after the peer's hello, each side sends its whole table for the tables
//! both replicate (resync on connect: a restarted node gets its entries back); then every
//! local store goes to every connected peer; a peer's entries are applied (the table's
//! conflict rule: the entry used last wins). A newer connection from a known peer replaces
//! the older one (the peer restarted). Silence longer than `dead_after` closes a connection;
//! a lost peer is dialed again every `redial`.

use crate::wire::{Msg, WireEntry, BATCH};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A connection, numbered by the adapter.
pub type Conn = u64;

/// One entry as the tables hold it: expiry on this host's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: IpAddr,
    pub server: String,
    pub expires: Option<Instant>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub me: String,
    /// Tables replicated by this node.
    pub tables: BTreeSet<String>,
    pub heartbeat: Duration,
    pub dead_after: Duration,
    pub redial: Duration,
}

impl Config {
    pub fn new(me: &str, tables: impl IntoIterator<Item = String>) -> Self {
        Config {
            me: me.to_string(),
            tables: tables.into_iter().collect(),
            heartbeat: Duration::from_secs(1),
            dead_after: Duration::from_secs(3),
            redial: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The peers this node replicates with (names; the adapter knows their addresses).
    Peers(BTreeSet<String>),
    /// A connection is open: dialed to `peer`, or accepted (`None`: known after its hello).
    Connected {
        conn: Conn,
        peer: Option<String>,
    },
    /// A dial to `peer` failed.
    DialFailed {
        peer: String,
    },
    Received {
        conn: Conn,
        msg: Msg,
    },
    Closed {
        conn: Conn,
    },
    /// Entries this node stored.
    Local {
        table: String,
        entries: Vec<Entry>,
    },
    Tick,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Dial {
        peer: String,
    },
    Send {
        conn: Conn,
        msg: Msg,
    },
    Close {
        conn: Conn,
    },
    /// Send the whole of `table` to `conn` ([`Machine::updates`] encodes it).
    Resync {
        conn: Conn,
        table: String,
    },
    Apply {
        table: String,
        entries: Vec<Entry>,
    },
}

#[derive(Debug)]
struct Link {
    peer: Option<String>,
    /// The peer's hello arrived: its tables.
    tables: Option<BTreeSet<String>>,
    last_rx: Instant,
    last_tx: Instant,
}

#[derive(Debug)]
pub struct Machine {
    cfg: Config,
    peers: BTreeSet<String>,
    links: BTreeMap<Conn, Link>,
    /// Peers this node dials: when it may dial again (None: a dial is in flight).
    dial_at: BTreeMap<String, Option<Instant>>,
    /// Messages refused (malformed lines are counted by the adapter).
    pub refused: u64,
}

impl Machine {
    pub fn new(cfg: Config) -> Self {
        Machine {
            cfg,
            peers: BTreeSet::new(),
            links: BTreeMap::new(),
            dial_at: BTreeMap::new(),
            refused: 0,
        }
    }

    /// This node's name.
    pub fn me(&self) -> &str {
        &self.cfg.me
    }

    /// Peers with a connection whose hello arrived.
    pub fn connected(&self) -> BTreeSet<String> {
        self.links
            .values()
            .filter(|l| l.tables.is_some())
            .filter_map(|l| l.peer.clone())
            .collect()
    }

    pub fn handle(&mut self, now: Instant, ev: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match ev {
            Event::Peers(peers) => {
                self.peers = peers.into_iter().filter(|p| *p != self.cfg.me).collect();
                let gone: Vec<Conn> = self
                    .links
                    .iter()
                    .filter(|(_, l)| l.peer.as_ref().is_some_and(|p| !self.peers.contains(p)))
                    .map(|(c, _)| *c)
                    .collect();
                for conn in gone {
                    self.close(now, conn, &mut out);
                }
                let me = self.cfg.me.clone();
                self.dial_at.retain(|p, _| self.peers.contains(p));
                for p in self.peers.iter().filter(|p| me < **p) {
                    self.dial_at.entry(p.clone()).or_insert(Some(now));
                }
                self.tick(now, &mut out);
            }
            Event::Connected { conn, peer } => {
                if let Some(p) = &peer {
                    self.dial_at.remove(p);
                }
                let dialed = peer.clone();
                self.links.insert(
                    conn,
                    Link {
                        peer,
                        tables: None,
                        last_rx: now,
                        last_tx: now,
                    },
                );
                // The dialer speaks first; the accepting side answers the dialer's hello.
                if let Some(to) = dialed {
                    self.hello(now, conn, to, &mut out);
                }
            }
            Event::DialFailed { peer } => {
                if self.peers.contains(&peer) {
                    self.dial_at.insert(peer, Some(now + self.cfg.redial));
                }
            }
            Event::Received { conn, msg } => self.received(now, conn, msg, &mut out),
            Event::Closed { conn } => self.forget(now, conn),
            Event::Local { table, entries } => {
                let conns: Vec<Conn> = self
                    .links
                    .iter()
                    .filter(|(_, l)| l.tables.as_ref().is_some_and(|t| t.contains(&table)))
                    .map(|(c, _)| *c)
                    .collect();
                for conn in conns {
                    for msg in self.updates(now, &table, &entries) {
                        self.send(now, conn, msg, &mut out);
                    }
                }
            }
            Event::Tick => self.tick(now, &mut out),
        }
        out
    }

    /// `entries` of `table` as `update` messages (batches of [`BATCH`]).
    pub fn updates(&self, now: Instant, table: &str, entries: &[Entry]) -> Vec<Msg> {
        entries
            .iter()
            .filter(|e| e.expires.is_none_or(|x| x > now))
            .map(|e| WireEntry {
                key: e.key,
                server: e.server.clone(),
                ttl_ms: e
                    .expires
                    .map(|x| u64::try_from(x.duration_since(now).as_millis()).unwrap_or(u64::MAX)),
            })
            .collect::<Vec<_>>()
            .chunks(BATCH)
            .map(|c| Msg::Update {
                table: table.to_string(),
                entries: c.to_vec(),
            })
            .collect()
    }

    fn received(&mut self, now: Instant, conn: Conn, msg: Msg, out: &mut Vec<Action>) {
        let Some(link) = self.links.get_mut(&conn) else {
            return;
        };
        link.last_rx = now;
        match msg {
            Msg::Hello { node, to, tables } => {
                let dialed_other = link.peer.as_ref().is_some_and(|p| *p != node);
                if to != self.cfg.me || !self.peers.contains(&node) || dialed_other {
                    tracing::warn!(
                        "peers: closing a connection from '{node}' (to '{to}'): not a peer of '{}'",
                        self.cfg.me
                    );
                    self.refused += 1;
                    self.close(now, conn, out);
                    return;
                }
                let answer = link.peer.is_none();
                link.peer = Some(node.clone());
                let common: BTreeSet<String> = tables
                    .into_iter()
                    .filter(|t| self.cfg.tables.contains(t))
                    .collect();
                link.tables = Some(common.clone());
                // A newer connection from the same peer replaces the older one.
                let older: Vec<Conn> = self
                    .links
                    .iter()
                    .filter(|(c, l)| **c != conn && l.peer.as_deref() == Some(node.as_str()))
                    .map(|(c, _)| *c)
                    .collect();
                for c in older {
                    self.close(now, c, out);
                }
                if answer {
                    self.hello(now, conn, node, out);
                }
                for table in common {
                    out.push(Action::Resync { conn, table });
                }
            }
            Msg::Update { table, entries } => {
                let ok = link.tables.as_ref().is_some_and(|t| t.contains(&table));
                if !ok {
                    self.refused += 1;
                    return;
                }
                let entries = entries
                    .into_iter()
                    .map(|w| Entry {
                        key: w.key,
                        server: w.server,
                        expires: w.ttl_ms.map(|ms| now + Duration::from_millis(ms)),
                    })
                    .collect();
                out.push(Action::Apply { table, entries });
            }
            Msg::Ping => {}
        }
    }

    fn tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        let silent: Vec<Conn> = self
            .links
            .iter()
            .filter(|(_, l)| now.saturating_duration_since(l.last_rx) >= self.cfg.dead_after)
            .map(|(c, _)| *c)
            .collect();
        for conn in silent {
            tracing::info!("peers: connection {conn} silent: closed");
            self.close(now, conn, out);
        }
        let idle: Vec<Conn> = self
            .links
            .iter()
            .filter(|(_, l)| now.saturating_duration_since(l.last_tx) >= self.cfg.heartbeat)
            .map(|(c, _)| *c)
            .collect();
        for conn in idle {
            self.send(now, conn, Msg::Ping, out);
        }
        let linked: BTreeSet<String> = self.links.values().filter_map(|l| l.peer.clone()).collect();
        for (peer, at) in self.dial_at.iter_mut() {
            if linked.contains(peer) {
                continue;
            }
            if at.is_some_and(|t| t <= now) {
                *at = None;
                out.push(Action::Dial { peer: peer.clone() });
            }
        }
    }

    fn hello(&mut self, now: Instant, conn: Conn, to: String, out: &mut Vec<Action>) {
        let msg = Msg::Hello {
            node: self.cfg.me.clone(),
            to,
            tables: self.cfg.tables.iter().cloned().collect(),
        };
        self.send(now, conn, msg, out);
    }

    fn send(&mut self, now: Instant, conn: Conn, msg: Msg, out: &mut Vec<Action>) {
        if let Some(l) = self.links.get_mut(&conn) {
            l.last_tx = now;
            out.push(Action::Send { conn, msg });
        }
    }

    fn close(&mut self, now: Instant, conn: Conn, out: &mut Vec<Action>) {
        if self.links.contains_key(&conn) {
            out.push(Action::Close { conn });
        }
        self.forget(now, conn);
    }

    /// The connection is gone: its peer (if this node dials it) is dialed again later.
    fn forget(&mut self, now: Instant, conn: Conn) {
        let Some(Link { peer: Some(p), .. }) = self.links.remove(&conn) else {
            return;
        };
        let still_linked = self.links.values().any(|l| l.peer.as_ref() == Some(&p));
        if self.cfg.me < p && self.peers.contains(&p) && !still_linked {
            let at = Some(now + self.cfg.redial);
            let e = self.dial_at.entry(p).or_insert(at);
            if e.is_none() {
                *e = at;
            }
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
