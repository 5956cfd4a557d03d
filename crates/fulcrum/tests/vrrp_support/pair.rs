//! The scenario most VRRP tests share: two routers (fulcrum or the real keepalived) on one
//! segment, started with their instances; the election is awaited (the higher priority holds
//! the address, the other does not), watched for a while, then the master is stopped and the
//! backup's takeover awaited.

use super::*;
use std::time::Instant;

/// How long any awaited state may take before the test fails.
pub const SETTLE: Duration = Duration::from_secs(15);

/// Which daemon runs on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Fulcrum,
    Keepalived,
}

/// How the master is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM: a graceful stop, a master sends priority 0 (the backup waits its Skew_Time).
    Term,
    /// SIGKILL: nothing is sent (the backup waits its Master_Down_Interval).
    Kill,
}

impl Daemon {
    pub fn start(kind: Kind, topo: &Topo, node: usize, conf: &str) -> Daemon {
        match kind {
            Kind::Fulcrum => Daemon::fulcrum(topo, node, conf),
            Kind::Keepalived => Daemon::keepalived(topo, node, conf),
        }
    }
}

/// A two-node topology for these daemons; `None` (skipped loudly) without network namespaces
/// or without keepalived when one is asked for (a failure under FULCRUM_REQUIRE_NETNS=1).
pub fn topo_for(name: &str, kinds: [Kind; 2]) -> Option<Topo> {
    if kinds.contains(&Kind::Keepalived)
        && !fulcrum_testlab::require::tool(name, "keepalived", "keepalived")
    {
        return None;
    }
    Topo::new(name, 2)
}

/// Two routers, node 0 and node 1, after their election.
pub struct Pair<'t> {
    t: &'t Topo,
    pub daemons: [Daemon; 2],
    /// The node that holds the address.
    pub master: usize,
    addr: String,
}

impl<'t> Pair<'t> {
    /// Starts `kinds[i]` with `insts[i]` on node `i` and waits until the node with the higher
    /// priority holds the instances' address and the other does not.
    pub fn elect(t: &'t Topo, kinds: [Kind; 2], insts: [&Inst; 2]) -> Pair<'t> {
        let master = usize::from(insts[1].priority > insts[0].priority);
        let addr = insts[master]
            .vip
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let daemons = [
            Daemon::start(kinds[0], t, 0, &insts[0].render(t, 0)),
            Daemon::start(kinds[1], t, 1, &insts[1].render(t, 1)),
        ];
        let p = Pair {
            t,
            daemons,
            master,
            addr,
        };
        assert!(
            wait_addr(t, master, &p.addr, true, SETTLE).is_some(),
            "the higher priority ({:?} on node {master}) holds {}{}",
            kinds[master],
            p.addr,
            p.logs()
        );
        assert!(
            wait_addr(t, 1 - master, &p.addr, false, SETTLE).is_some(),
            "the lower priority ({:?}) stays BACKUP{}",
            kinds[1 - master],
            p.logs()
        );
        p
    }

    /// An observation window, not a synchronisation: for `window` only the master holds the
    /// address (the backup hears and accepts its adverts: `what`).
    pub fn holds(&self, window: Duration, what: &str) {
        std::thread::sleep(window);
        assert!(
            self.t.node(self.master).has_address(&self.addr)
                && !self.t.node(1 - self.master).has_address(&self.addr),
            "{what}{}",
            self.logs()
        );
    }

    /// Stops the master and waits until the backup holds the address, within `bound` (the
    /// protocol's Skew_Time or Master_Down_Interval plus slack); how long it took.
    pub fn fail_over(&mut self, stop: Stop, bound: Duration) -> Duration {
        let t0 = Instant::now();
        match stop {
            Stop::Term => self.daemons[self.master].term(),
            Stop::Kill => self.daemons[self.master].kill(),
        }
        let backup = 1 - self.master;
        let took = wait_addr(self.t, backup, &self.addr, true, SETTLE).map(|_| t0.elapsed());
        assert!(
            took.is_some_and(|d| d <= bound),
            "takeover after {stop:?} took {took:?}, bound {bound:?}{}",
            self.logs()
        );
        self.master = backup;
        took.unwrap_or_default()
    }

    /// Waits until `node` holds the address and the other node does not (a preemption, a
    /// FAULT, a lowered priority: `what`).
    pub fn moves_to(&mut self, node: usize, what: &str) {
        assert!(
            wait_addr(self.t, node, &self.addr, true, SETTLE).is_some(),
            "{what}: node {node} never took {}{}",
            self.addr,
            self.logs()
        );
        assert!(
            wait_addr(self.t, 1 - node, &self.addr, false, SETTLE).is_some(),
            "{what}: node {} kept {}{}",
            1 - node,
            self.addr,
            self.logs()
        );
        self.master = node;
    }

    /// Starts `node` again (its daemon stopped or killed), with `inst`.
    pub fn restart(&mut self, node: usize, kind: Kind, inst: &Inst) {
        self.daemons[node] = Daemon::start(kind, self.t, node, &inst.render(self.t, node));
    }

    pub fn logs(&self) -> String {
        logs(&[&self.daemons[0], &self.daemons[1]])
    }
}

/// The takeover bound after SIGTERM of a VRRPv2 master: the backup's Skew_Time plus slack.
pub fn after_term(backup_priority: u8) -> Duration {
    Duration::from_secs_f64(skew_v2(backup_priority) + 0.5)
}

/// The takeover bound after SIGKILL: Master_Down_Interval (3 × `advert_int` + Skew_Time) plus
/// slack.
pub fn after_kill(backup_priority: u8, advert_int: f64) -> Duration {
    Duration::from_secs_f64(3.0 * advert_int + skew_v2(backup_priority) * advert_int + 0.5)
}

/// Two routers whose passwords differ (node 0 priority 100 with `auth[0]`, node 1 priority
/// 150 with `auth[1]`): each drops the other's adverts, so both come to hold the address, and
/// node 0 (fulcrum) logs the mismatch. The daemons, for the caller's further checks.
pub fn split_by_auth(t: &Topo, kinds: [Kind; 2], auth: [&'static str; 2]) -> [Daemon; 2] {
    let inst = |priority, auth| Inst {
        priority,
        auth: Some(auth),
        ..Inst::default()
    };
    let a = Daemon::start(kinds[0], t, 0, &inst(100, auth[0]).render(t, 0));
    let b = Daemon::start(kinds[1], t, 1, &inst(150, auth[1]).render(t, 1));
    for node in 0..2 {
        assert!(
            wait_vip(t, node, true, SETTLE).is_some(),
            "node {node} holds the address: adverts with another password are ignored{}",
            logs(&[&a, &b])
        );
    }
    let seen = fulcrum_testlab::wait::until(SETTLE, || a.log().contains("authentication mismatch"));
    assert!(seen.is_some(), "the drop is logged{}", logs(&[&a]));
    [a, b]
}
