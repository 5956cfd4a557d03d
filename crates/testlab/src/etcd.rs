//! A real etcd cluster in the lab: one member per node namespace (Debian's /usr/bin/etcd),
//! fast elections (heartbeat 50 ms, election 500 ms, pre-vote), data under the test's directory. Members
//! can be killed and started again on the same data (a node's reboot).

use crate::netns::Node;
use crate::process::Child;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Whether etcd and etcdctl are installed. Without them it prints a loud message and returns
/// false, unless FULCRUM_REQUIRE_NETNS=1, in which case it panics so the test fails.
pub fn available(test: &str) -> bool {
    let ok = [("etcd", "--version"), ("etcdctl", "version")]
        .iter()
        .all(|(p, arg)| {
            Command::new(p)
                .arg(arg)
                .env("ETCDCTL_API", "3")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if ok {
        return true;
    }
    if std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() == Ok("1") {
        panic!("{test}: FULCRUM_REQUIRE_NETNS=1 but etcd/etcdctl are missing (scripts/install-deps.sh installs etcd-server and etcd-client)");
    }
    eprintln!("\n*** SKIPPING {test}: etcd/etcdctl not installed; set FULCRUM_REQUIRE_NETNS=1 to fail instead ***\n");
    false
}

/// The member of node `i`.
pub fn name(i: usize) -> String {
    format!("e{}", i + 1)
}

/// `http://ADDR:2379,...` for every member node.
pub fn endpoints(nodes: &[Node]) -> String {
    nodes
        .iter()
        .map(|n| format!("http://{}:2379", n.addr))
        .collect::<Vec<_>>()
        .join(",")
}

/// Starts node `i`'s member of the cluster made of `members` (a fresh one, or the same data
/// again after a kill).
pub fn start_member(members: &[Node], i: usize, dir: &Path, token: &str) -> Child {
    let node = &members[i];
    let initial: Vec<String> = members
        .iter()
        .enumerate()
        .map(|(k, n)| format!("{}=http://{}:2380", name(k), n.addr))
        .collect();
    let data: PathBuf = dir.join(format!("etcd-{}", name(i)));
    let state = if data.exists() { "existing" } else { "new" };
    let mut cmd = node.command("etcd");
    cmd.args(["--name", &name(i)])
        .arg("--data-dir")
        .arg(&data)
        .args([
            "--listen-peer-urls",
            &format!("http://{}:2380", node.addr),
            "--initial-advertise-peer-urls",
            &format!("http://{}:2380", node.addr),
            "--listen-client-urls",
            &format!("http://{}:2379,http://127.0.0.1:2379", node.addr),
            "--advertise-client-urls",
            &format!("http://{}:2379", node.addr),
            "--initial-cluster",
            &initial.join(","),
            "--initial-cluster-state",
            state,
            "--initial-cluster-token",
            token,
            // A LAN's settings: an election well inside a 2 s lease TTL, and pre-vote so a
            // member that comes back does not depose a healthy leader.
            "--heartbeat-interval",
            "50",
            "--election-timeout",
            "500",
            "--pre-vote",
            "--log-level",
            "warn",
        ]);
    let log = dir.join(format!("etcd-{}-{}.log", name(i), crate::process::unique()));
    Child::spawn(&name(i), cmd, log).expect("spawning etcd")
}

/// `etcdctl ARGS` run in `from`'s namespace against `endpoints`; stdout on success.
pub fn ctl(from: &Node, endpoints: &str, args: &[&str]) -> Option<String> {
    let out = from
        .command("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "--dial-timeout",
            "1s",
            "--command-timeout",
            "2s",
            "--endpoints",
            endpoints,
        ])
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether a write through the cluster succeeds (a quorum is up).
pub fn healthy(from: &Node, endpoints: &str) -> bool {
    ctl(from, endpoints, &["put", "/lab/health", "ok"]).is_some()
}

/// The index of the member that is the raft leader, asked of each endpoint in turn.
pub fn leader(from: &Node, members: &[Node]) -> Option<usize> {
    for n in members {
        let ep = format!("http://{}:2379", n.addr);
        let Some(text) = ctl(from, &ep, &["endpoint", "status", "-w", "fields"]) else {
            continue;
        };
        let field = |k: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("\"{k}\"")))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_string())
        };
        let (Some(leader), Some(id)) = (field("Leader"), field("MemberID")) else {
            continue;
        };
        if leader == id {
            return members.iter().position(|m| m.addr == n.addr);
        }
        // Not the leader: find who is among the others by asking them.
    }
    None
}

/// Waits (bounded) until a quorum answers.
pub fn wait_healthy(from: &Node, endpoints: &str, timeout: Duration) -> bool {
    crate::wait::until(timeout, || healthy(from, endpoints)).is_some()
}

/// A one-member etcd on loopback (no namespace, no root): client and peer ports from
/// `free_port`, data under `dir`. Stopped (SIGKILL) when the `Local` is dropped.
pub struct Local {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    peer: String,
    data: PathBuf,
}

/// Starts a loopback etcd and waits (bounded, 30 s) until it takes a write; panics otherwise.
/// Callers check `available` first.
pub fn start_local(dir: &Path) -> Local {
    let (client, peer) = (crate::ports::free_port(), crate::ports::free_port());
    let endpoint = format!("http://127.0.0.1:{client}");
    let peer = format!("http://127.0.0.1:{peer}");
    let data = dir.join(format!("etcd-local-{client}"));
    let child = spawn_local(&endpoint, &peer, &data);
    Local {
        child,
        endpoint,
        peer,
        data,
    }
}

impl Local {
    /// Kills etcd and starts it again on the same ports and data (a restart), waiting
    /// (bounded) until it takes a write.
    pub fn restart(&mut self) {
        self.child.signal(nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait_timeout(Duration::from_secs(10));
        self.child = spawn_local(&self.endpoint, &self.peer, &self.data);
    }
}

fn spawn_local(endpoint: &str, peer_url: &str, data: &Path) -> Child {
    let mut cmd = Command::new("etcd");
    cmd.args(["--name", "local"])
        .arg("--data-dir")
        .arg(data)
        .args([
            "--listen-client-urls",
            endpoint,
            "--advertise-client-urls",
            endpoint,
            "--listen-peer-urls",
            peer_url,
            "--initial-advertise-peer-urls",
            peer_url,
            "--initial-cluster",
            &format!("local={peer_url}"),
            "--log-level",
            "warn",
        ]);
    let log = data.with_extension(format!("{}.log", crate::process::unique()));
    let child = Child::spawn("etcd", cmd, log).expect("spawning etcd");
    let put = || {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--dial-timeout", "1s", "--command-timeout", "2s"])
            .args(["--endpoints", endpoint, "put", "/lab/health", "ok"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let up = crate::wait::until(Duration::from_secs(30), put).is_some();
    assert!(up, "local etcd never took a write:\n{}", child.output());
    child
}
