//! Three agents against an in-memory store with etcd's guarantees (create only if absent,
//! keys vanish with their lease, leader-guarded writes): spread, failover, and no VIP ever
//! held by two agents after any step.

use super::*;
use crate::keys::Owner;

struct Store {
    snap: Snapshot,
    rev: i64,
    /// node → lease id of its live session.
    leases: BTreeMap<String, i64>,
}

impl Store {
    fn new() -> Store {
        Store {
            snap: Snapshot::default(),
            rev: 1,
            leases: BTreeMap::new(),
        }
    }

    /// The node's lease expired: every key on it goes.
    fn expire(&mut self, node: &str) {
        let Some(lease) = self.leases.remove(node) else {
            return;
        };
        self.snap.nodes.remove(node);
        self.snap.owners.retain(|_, o| o.lease != lease);
        if self.snap.leader.as_ref().is_some_and(|(n, _)| n == node) {
            self.snap.leader = None;
        }
    }

    fn apply(&mut self, agent: &mut Agent, actions: Vec<Action>) {
        let me = agent.me().to_string();
        let Some(&lease) = self.leases.get(&me) else {
            return;
        };
        for a in actions {
            self.rev += 1;
            match a {
                Action::Campaign => {
                    if self.snap.leader.is_none() {
                        self.snap.leader = Some((me.clone(), self.rev));
                    }
                }
                Action::Assign {
                    leader_rev,
                    set,
                    clear,
                } => {
                    if self.snap.leader == Some((me.clone(), leader_rev)) {
                        for (v, n) in set {
                            self.snap.assign.insert(v, n);
                        }
                        for v in clear {
                            self.snap.assign.remove(&v);
                        }
                    }
                }
                Action::Claim { vip, exists } => {
                    let ok = if exists {
                        self.snap.owners.get(&vip).is_some_and(|o| o.lease == lease)
                    } else if self.snap.owners.contains_key(&vip) {
                        false
                    } else {
                        self.snap.owners.insert(
                            vip.clone(),
                            Owner {
                                node: me.clone(),
                                since_ms: 0,
                                lease,
                            },
                        );
                        true
                    };
                    if ok {
                        agent.claimed(&vip, 0);
                    }
                }
                Action::Release(vip) => {
                    if self.snap.owners.get(&vip).is_some_and(|o| o.lease == lease) {
                        self.snap.owners.remove(&vip);
                    }
                }
                Action::Drop(_) => {}
                Action::Publish(r) => {
                    self.snap.known.insert(me.clone());
                    self.snap.nodes.insert(me.clone(), r);
                }
            }
        }
    }
}

fn agents(n: usize, vips: usize) -> Vec<Agent> {
    (0..n)
        .map(|i| {
            Agent::new(AgentConfig {
                me: format!("c{}", i + 1),
                vips: (0..vips)
                    .map(|v| placement::Vip {
                        name: format!("vip-{v:02}"),
                        prefer: None,
                    })
                    .collect(),
                anti_affinity: Vec::new(),
                rebalance_after: Duration::from_secs(30),
                settle: Duration::from_millis(500),
                peer: None,
            })
        })
        .collect()
}

/// Runs rounds for every live agent (each reads the store as it is then), checking after
/// every agent's step that no VIP is held twice.
fn run(store: &mut Store, agents: &mut [Agent], live: &[bool], from: u64, rounds: u64) {
    for r in from..from + rounds {
        let now = Duration::from_millis(100 * r);
        for (i, a) in agents.iter_mut().enumerate() {
            if !live[i] {
                continue;
            }
            let lease = store.leases[a.me()];
            let snap = store.snap.clone();
            let actions = a.round(now, &snap, lease);
            store.apply(a, actions);
        }
        let mut seen = BTreeSet::new();
        for (i, a) in agents.iter().enumerate() {
            if live[i] {
                for v in a.held().keys() {
                    assert!(seen.insert(v.clone()), "{v} held twice at round {r}");
                }
            }
        }
    }
}

fn held_counts(agents: &[Agent]) -> Vec<usize> {
    agents.iter().map(|a| a.held().len()).collect()
}

#[test]
fn three_agents_spread_fail_over_and_stay_sticky() {
    let mut store = Store::new();
    let mut a = agents(3, 12);
    for (i, ag) in a.iter().enumerate() {
        store.leases.insert(ag.me().to_string(), 100 + i as i64);
    }
    let mut live = vec![true; 3];
    run(&mut store, &mut a, &live, 0, 10);
    assert_eq!(held_counts(&a), [4, 4, 4]);
    let before: BTreeMap<String, String> = store.snap.assign.clone();

    // c2 dies: its lease expires, its VIPs go to c1 and c3, theirs stay.
    live[1] = false;
    store.expire("c2");
    run(&mut store, &mut a, &live, 10, 10);
    assert_eq!(a[0].held().len() + a[2].held().len(), 12);
    for (v, n) in &before {
        if n != "c2" {
            assert_eq!(&store.snap.assign[v], n, "{v} moved off a live node");
        }
    }

    // c2 returns with a new lease and a fresh agent: nothing moves back before 30 s of quiet.
    a[1] = agents(3, 12).remove(1);
    store.leases.insert("c2".into(), 200);
    live[1] = true;
    run(&mut store, &mut a, &live, 20, 100);
    assert_eq!(a[1].held().len(), 0);
    // After the quiet time, rebalanced back to 4/4/4 through clean hand-overs.
    run(&mut store, &mut a, &live, 120, 300);
    assert_eq!(held_counts(&a), [4, 4, 4]);
}

#[test]
fn the_leader_dying_is_replaced_and_standby_empties_a_node() {
    let mut store = Store::new();
    let mut a = agents(3, 6);
    for (i, ag) in a.iter().enumerate() {
        store.leases.insert(ag.me().to_string(), 100 + i as i64);
    }
    let mut live = vec![true; 3];
    run(&mut store, &mut a, &live, 0, 10);
    let leader = store.snap.leader.clone().unwrap().0;
    let li = a.iter().position(|x| x.me() == leader).unwrap();
    live[li] = false;
    store.expire(&leader);
    run(&mut store, &mut a, &live, 10, 10);
    assert!(store
        .snap
        .leader
        .as_ref()
        .is_some_and(|(n, _)| *n != leader));
    let total: usize = a
        .iter()
        .enumerate()
        .filter(|(i, _)| live[*i])
        .map(|(_, x)| x.held().len())
        .sum();
    assert_eq!(total, 6);
    // Standby on one survivor: everything ends on the other.
    let (s, other) = if li == 0 {
        (1, 2)
    } else {
        (0, if li == 1 { 2 } else { 1 })
    };
    store.snap.standby.insert(a[s].me().to_string());
    run(&mut store, &mut a, &live, 20, 10);
    assert_eq!(a[s].held().len(), 0);
    assert_eq!(a[other].held().len(), 6);
}

#[test]
fn a_vip_the_node_cannot_serve_moves_away_and_drop_all_empties() {
    let mut store = Store::new();
    let mut a = agents(2, 4);
    for (i, ag) in a.iter().enumerate() {
        store.leases.insert(ag.me().to_string(), 100 + i as i64);
    }
    let live = vec![true; 2];
    run(&mut store, &mut a, &live, 0, 10);
    assert_eq!(held_counts(&a), [2, 2]);
    // c1's frontends lose every server: it serves nothing, its VIPs go to c2.
    a[0].set_serves(BTreeSet::new());
    run(&mut store, &mut a, &live, 10, 10);
    assert_eq!(held_counts(&a), [0, 4]);
    let dropped = a[1].drop_all();
    assert_eq!(dropped.len(), 4);
    assert!(a[1].held().is_empty());
}
