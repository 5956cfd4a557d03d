//! A bridged L2 segment of network namespaces, removed on drop.
//!
//! ```text
//!   hub netns: bridge br0 ── v0 ──veth── eth0 (node 0: 10.99.0.1/16)
//!                        └── v1 ──veth── eth0 (node 1: 10.99.0.2/16) ...
//! ```
//! Names embed the process id and a per-process counter, so tests run in parallel.

use std::net::Ipv4Addr;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Whether this process may build namespaces. Without root it prints a loud message and
/// returns false, unless FULCRUM_REQUIRE_NETNS=1, in which case it panics so the test fails.
pub fn available(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    let ip = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if root && ip {
        return true;
    }
    let why = if !root {
        "not running as root"
    } else {
        "`ip` (iproute2) not found"
    };
    if std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() == Ok("1") {
        panic!("{test}: FULCRUM_REQUIRE_NETNS=1 but {why}");
    }
    eprintln!("\n*** SKIPPING {test}: needs network namespaces ({why}); set FULCRUM_REQUIRE_NETNS=1 to fail instead ***\n");
    false
}

/// One node of the lab: a namespace with `eth0` on the shared segment.
#[derive(Debug, Clone)]
pub struct Node {
    pub netns: String,
    pub ifname: String,
    pub addr: Ipv4Addr,
}

impl Node {
    /// A command that runs inside this node's namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns, program]);
        c
    }

    /// Runs a command in the namespace and returns its output (never panics).
    pub fn run(&self, program: &str, args: &[&str]) -> Option<Output> {
        self.command(program).args(args).output().ok()
    }

    /// Whether `addr` is currently configured on any interface of this node.
    pub fn has_address(&self, addr: &str) -> bool {
        let Ok(out) = Command::new("ip")
            .args(["-n", &self.netns, "-o", "addr", "show"])
            .output()
        else {
            return false;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .any(|w| w.split('/').next() == Some(addr))
    }

    /// Moves the calling thread into this node's namespace (for a dedicated thread of a test:
    /// sockets it opens afterwards live in the node). Never call it on a shared runtime thread.
    pub fn enter(&self) -> std::io::Result<()> {
        let f = std::fs::File::open(format!("/run/netns/{}", self.netns))?;
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
    }

    /// Runs `f` on a new thread inside this node's namespace and returns its result.
    pub fn in_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let node = self.clone();
        std::thread::spawn(move || {
            node.enter()
                .unwrap_or_else(|e| panic!("entering netns {}: {e}", node.netns));
            f()
        })
    }

    /// Sets the node's eth0 link down or up (track_interface tests).
    pub fn set_link(&self, up: bool) -> bool {
        sh(&[
            "-n",
            &self.netns,
            "link",
            "set",
            &self.ifname,
            if up { "up" } else { "down" },
        ])
    }
}

/// The topology; dropping it deletes every namespace it made (and with them the veths/bridge).
pub struct Lab {
    pub hub: String,
    pub nodes: Vec<Node>,
}

fn sh(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

impl Lab {
    /// Builds `count` nodes on one bridge. Node i gets 10.99.0.(i+1)/16.
    pub fn new(count: usize) -> Result<Lab, String> {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let hub = format!("fh{pid}x{n}");
        let mut lab = Lab {
            hub: hub.clone(),
            nodes: Vec::new(),
        };
        let fail = |what: &str| format!("testlab: {what} failed");
        if !sh(&["netns", "add", &hub]) {
            return Err(fail("creating hub netns"));
        }
        // From here on, Drop cleans up whatever exists.
        let ok = sh(&["-n", &hub, "link", "add", "br0", "type", "bridge"])
            && sh(&[
                "-n",
                &hub,
                "link",
                "set",
                "br0",
                "type",
                "bridge",
                "forward_delay",
                "0",
            ])
            && sh(&["-n", &hub, "link", "set", "br0", "up"]);
        if !ok {
            return Err(fail("creating the bridge"));
        }
        for i in 0..count {
            let node = Node {
                netns: format!("fn{pid}x{n}n{i}"),
                ifname: "eth0".into(),
                addr: Ipv4Addr::new(10, 99, 0, (i + 1) as u8),
            };
            if !sh(&["netns", "add", &node.netns]) {
                return Err(fail("creating node netns"));
            }
            lab.nodes.push(node.clone());
            // IPv6 link-local usable at once (no DAD wait) for VRRPv3 over IPv6.
            // (/proc/sys/net is per namespace; written through sh so procps is not needed.)
            let dad = "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad; echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad";
            let _ = node.run("sh", &["-c", dad]);
            let hub_if = format!("v{i}");
            let addr = format!("{}/16", node.addr);
            let ok = sh(&[
                "-n",
                &hub,
                "link",
                "add",
                &hub_if,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &node.netns,
            ]) && sh(&["-n", &hub, "link", "set", &hub_if, "master", "br0"])
                && sh(&["-n", &hub, "link", "set", &hub_if, "up"])
                && sh(&["-n", &node.netns, "link", "set", "lo", "up"])
                && sh(&["-n", &node.netns, "addr", "add", &addr, "dev", "eth0"])
                && sh(&["-n", &node.netns, "link", "set", "eth0", "up"]);
            if !ok {
                return Err(fail("wiring a node"));
            }
        }
        Ok(lab)
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for node in &self.nodes {
            let _ = Command::new("ip")
                .args(["netns", "del", &node.netns])
                .status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.hub])
            .status();
    }
}
