//! The sync machine against an in-memory network of nodes, each with a table that follows
//! the proxy's rule (the entry that expires last wins).

use super::*;
use crate::wire;
use std::collections::VecDeque;

type Table = BTreeMap<IpAddr, (String, Option<Instant>)>;

struct Node {
    m: Machine,
    table: Table,
    up: bool,
}

/// Nodes by name; connections are pairs of (node, conn) ends.
struct Net {
    nodes: BTreeMap<String, Node>,
    /// (node, conn) → (node, conn) at the other end.
    wires: BTreeMap<(String, Conn), (String, Conn)>,
    next: Conn,
    queue: VecDeque<(String, Event)>,
    now: Instant,
}

fn ip(n: u8) -> IpAddr {
    IpAddr::from([10, 99, 0, n])
}

fn apply(t: &mut Table, now: Instant, e: Entry) {
    if e.expires.is_some_and(|x| x <= now) {
        return;
    }
    let newer = match t.get(&e.key) {
        None => true,
        Some((_, Some(o))) => e.expires.is_some_and(|n| n > *o),
        Some((s, None)) => *s != e.server,
    };
    if newer {
        t.insert(e.key, (e.server, e.expires));
    }
}

impl Net {
    fn new(names: &[&str]) -> Net {
        let now = Instant::now();
        let mut n = Net {
            nodes: BTreeMap::new(),
            wires: BTreeMap::new(),
            next: 0,
            queue: VecDeque::new(),
            now,
        };
        for name in names {
            n.add(name);
        }
        n
    }

    fn add(&mut self, name: &str) {
        let m = Machine::new(Config::new(name, ["db".to_string()]));
        self.nodes.insert(
            name.to_string(),
            Node {
                m,
                table: Table::new(),
                up: true,
            },
        );
        let all: BTreeSet<String> = self.nodes.keys().cloned().collect();
        for n in self.nodes.keys() {
            self.queue.push_back((n.clone(), Event::Peers(all.clone())));
        }
    }

    fn store(&mut self, node: &str, key: IpAddr, server: &str) {
        let expires = Some(self.now + Duration::from_secs(30));
        let n = self.nodes.get_mut(node).unwrap();
        n.table.insert(key, (server.to_string(), expires));
        let entries = vec![Entry {
            key,
            server: server.to_string(),
            expires,
        }];
        self.queue.push_back((
            node.to_string(),
            Event::Local {
                table: "db".into(),
                entries,
            },
        ));
    }

    /// Runs until no event is left (bounded).
    fn settle(&mut self) {
        for _ in 0..10_000 {
            let Some((node, ev)) = self.queue.pop_front() else {
                return;
            };
            let now = self.now;
            let Some(n) = self.nodes.get_mut(&node) else {
                continue;
            };
            if !n.up {
                continue;
            }
            for a in n.m.handle(now, ev) {
                self.act(&node, a);
            }
        }
        panic!("the network does not settle");
    }

    fn act(&mut self, node: &str, a: Action) {
        let now = self.now;
        match a {
            Action::Dial { peer } => {
                let up = self.nodes.get(&peer).is_some_and(|n| n.up);
                if !up {
                    self.queue
                        .push_back((node.to_string(), Event::DialFailed { peer }));
                    return;
                }
                let (c1, c2) = (self.next + 1, self.next + 2);
                self.next += 2;
                self.wires
                    .insert((node.to_string(), c1), (peer.clone(), c2));
                self.wires
                    .insert((peer.clone(), c2), (node.to_string(), c1));
                self.queue.push_back((
                    node.to_string(),
                    Event::Connected {
                        conn: c1,
                        peer: Some(peer.clone()),
                    },
                ));
                self.queue.push_back((
                    peer,
                    Event::Connected {
                        conn: c2,
                        peer: None,
                    },
                ));
            }
            Action::Send { conn, msg } => {
                // Through the wire format, as the adapter does.
                let line = wire::encode(&msg);
                let msg = wire::decode(&line[..line.len() - 1]).unwrap();
                if let Some((to, c)) = self.wires.get(&(node.to_string(), conn)).cloned() {
                    self.queue.push_back((to, Event::Received { conn: c, msg }));
                }
            }
            Action::Close { conn } => {
                if let Some((to, c)) = self.wires.remove(&(node.to_string(), conn)) {
                    self.wires.remove(&(to.clone(), c));
                    self.queue.push_back((to, Event::Closed { conn: c }));
                }
            }
            Action::Resync { conn, table } => {
                let n = &self.nodes[node];
                let entries: Vec<Entry> = n
                    .table
                    .iter()
                    .map(|(k, (s, e))| Entry {
                        key: *k,
                        server: s.clone(),
                        expires: *e,
                    })
                    .collect();
                for msg in n.m.updates(now, &table, &entries) {
                    self.act(node, Action::Send { conn, msg });
                }
            }
            Action::Apply { entries, .. } => {
                let n = self.nodes.get_mut(node).unwrap();
                for e in entries {
                    apply(&mut n.table, now, e);
                }
            }
        }
    }

    fn tick(&mut self, by: Duration) {
        self.now += by;
        for n in self.nodes.keys() {
            self.queue.push_back((n.clone(), Event::Tick));
        }
        self.settle();
    }

    fn server(&self, node: &str, key: IpAddr) -> Option<&str> {
        self.nodes[node].table.get(&key).map(|(s, _)| s.as_str())
    }

    fn connected(&self, node: &str) -> Vec<String> {
        self.nodes[node].m.connected().into_iter().collect()
    }
}

#[test]
fn three_nodes_mesh_and_replicate_stores() {
    let mut net = Net::new(&["c1", "c2", "c3"]);
    net.settle();
    assert_eq!(net.connected("c1"), ["c2", "c3"]);
    assert_eq!(net.connected("c3"), ["c1", "c2"]);
    net.store("c2", ip(1), "s1");
    net.store("c3", ip(2), "s2");
    net.settle();
    for n in ["c1", "c2", "c3"] {
        assert_eq!(net.server(n, ip(1)), Some("s1"), "{n}");
        assert_eq!(net.server(n, ip(2)), Some("s2"), "{n}");
    }
    // Expiry travels as time left: the copy expires when the original does.
    let (_, e) = &net.nodes["c1"].table[&ip(1)];
    assert_eq!(*e, Some(net.now + Duration::from_secs(30)));
    // Heartbeats keep idle links up.
    for _ in 0..10 {
        net.tick(Duration::from_millis(900));
    }
    assert_eq!(net.connected("c2"), ["c1", "c3"]);
}

#[test]
fn a_restarted_node_gets_the_entries_back_and_the_later_use_wins() {
    let mut net = Net::new(&["c1", "c2", "c3"]);
    net.settle();
    net.store("c1", ip(1), "s1");
    net.settle();
    // c2 dies: the others notice its silence and close.
    net.nodes.get_mut("c2").unwrap().up = false;
    net.tick(Duration::from_secs(2));
    net.tick(Duration::from_secs(2));
    assert_eq!(net.connected("c1"), ["c3"]);
    // Meanwhile ip(1) moves to s9 on c3 (a later use: expires later).
    net.now += Duration::from_secs(1);
    net.store("c3", ip(1), "s9");
    net.store("c3", ip(3), "s3");
    net.settle();
    assert_eq!(net.server("c1", ip(1)), Some("s9"));
    // c2 comes back empty (a restart): c1 dials it (c1 < c2); c2 dials c3.
    net.nodes.remove("c2");
    net.wires.retain(|(n, _), (m, _)| n != "c2" && m != "c2");
    net.add("c2");
    net.settle();
    net.tick(Duration::from_secs(1));
    assert_eq!(net.connected("c2"), ["c1", "c3"]);
    assert_eq!(net.server("c2", ip(1)), Some("s9"), "resync on connect");
    assert_eq!(net.server("c2", ip(3)), Some("s3"));
}

#[test]
fn strangers_and_misaddressed_hellos_are_closed() {
    let now = Instant::now();
    let mut m = Machine::new(Config::new("c1", ["db".to_string()]));
    m.handle(now, Event::Peers(["c1".into(), "c2".into()].into()));
    let out = m.handle(
        now,
        Event::Connected {
            conn: 7,
            peer: None,
        },
    );
    assert!(out.is_empty(), "the dialer speaks first");
    let hello = |node: &str, to: &str| Msg::Hello {
        node: node.into(),
        to: to.into(),
        tables: vec!["db".into()],
    };
    let out = m.handle(
        now,
        Event::Received {
            conn: 7,
            msg: hello("c9", "c1"),
        },
    );
    assert_eq!(out, [Action::Close { conn: 7 }], "not a peer");
    m.handle(
        now,
        Event::Connected {
            conn: 8,
            peer: None,
        },
    );
    let out = m.handle(
        now,
        Event::Received {
            conn: 8,
            msg: hello("c2", "c3"),
        },
    );
    assert_eq!(out, [Action::Close { conn: 8 }], "meant for another node");
    // An update before the hello, or for a table not replicated by both, is refused.
    m.handle(
        now,
        Event::Connected {
            conn: 9,
            peer: None,
        },
    );
    let upd = |t: &str| Msg::Update {
        table: t.into(),
        entries: vec![],
    };
    assert!(m
        .handle(
            now,
            Event::Received {
                conn: 9,
                msg: upd("db")
            }
        )
        .is_empty());
    let out = m.handle(
        now,
        Event::Received {
            conn: 9,
            msg: hello("c2", "c1"),
        },
    );
    assert_eq!(
        out,
        [
            Action::Send {
                conn: 9,
                msg: hello("c1", "c2")
            },
            Action::Resync {
                conn: 9,
                table: "db".into()
            }
        ]
    );
    assert!(m
        .handle(
            now,
            Event::Received {
                conn: 9,
                msg: upd("web")
            }
        )
        .is_empty());
    assert_eq!(m.refused, 4);
    assert!(matches!(
        &m.handle(
            now,
            Event::Received {
                conn: 9,
                msg: upd("db")
            }
        )[..],
        [Action::Apply { .. }]
    ));
    // A newer connection from c2 (it restarted) replaces this one.
    m.handle(
        now,
        Event::Connected {
            conn: 10,
            peer: None,
        },
    );
    let out = m.handle(
        now,
        Event::Received {
            conn: 10,
            msg: hello("c2", "c1"),
        },
    );
    assert_eq!(
        out,
        [
            Action::Close { conn: 9 },
            Action::Send {
                conn: 10,
                msg: hello("c1", "c2")
            },
            Action::Resync {
                conn: 10,
                table: "db".into()
            }
        ]
    );
}

#[test]
fn a_failed_dial_is_retried_after_redial_and_a_removed_peer_is_dropped() {
    let t0 = Instant::now();
    let mut m = Machine::new(Config::new("a", ["db".to_string()]));
    let out = m.handle(t0, Event::Peers(["a".into(), "b".into()].into()));
    assert_eq!(out, [Action::Dial { peer: "b".into() }]);
    assert!(m.handle(t0, Event::Tick).is_empty(), "a dial is in flight");
    m.handle(t0, Event::DialFailed { peer: "b".into() });
    assert!(m
        .handle(t0 + Duration::from_millis(500), Event::Tick)
        .is_empty());
    assert_eq!(
        m.handle(t0 + Duration::from_secs(1), Event::Tick),
        [Action::Dial { peer: "b".into() }]
    );
    let t1 = t0 + Duration::from_secs(1);
    m.handle(
        t1,
        Event::Connected {
            conn: 1,
            peer: Some("b".into()),
        },
    );
    // Silence: closed after dead_after, dialed again after redial.
    let t2 = t1 + Duration::from_secs(3);
    let out = m.handle(t2, Event::Tick);
    assert!(out.contains(&Action::Close { conn: 1 }), "{out:?}");
    assert_eq!(
        m.handle(t2 + Duration::from_secs(1), Event::Tick),
        [Action::Dial { peer: "b".into() }]
    );
    m.handle(
        t2,
        Event::Connected {
            conn: 2,
            peer: Some("b".into()),
        },
    );
    let out = m.handle(t2, Event::Peers(["a".into()].into()));
    assert_eq!(out, [Action::Close { conn: 2 }], "b left the peer set");
    assert!(m
        .handle(t2 + Duration::from_secs(9), Event::Tick)
        .is_empty());
}
