//! Shared helpers of the VRRP integration tests: a namespace topology, keepalived.conf
//! rendering, and fulcrum / keepalived daemons that are always killed when a test ends.
#![allow(dead_code, clippy::unwrap_used)]

use fulcrum_testlab::netns::{self, Lab, Node};
use fulcrum_testlab::process::Child;
use fulcrum_testlab::process::{signal_pid, Sig as Signal};
use fulcrum_testlab::wait;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

mod pair;
#[allow(unused_imports)] // not every test binary uses the pair scenario
pub use pair::*;

pub const VIP: &str = "10.99.0.100";

/// Failover timings are asserted: run one topology at a time so tests do not starve each other.
static SERIAL: Mutex<()> = Mutex::new(());

pub struct Topo {
    pub lab: Lab,
    pub dir: PathBuf,
    _serial: MutexGuard<'static, ()>,
}

impl Topo {
    /// `None` (after a loud message) when namespaces are not available and not required.
    pub fn new(test: &str, nodes: usize) -> Option<Topo> {
        if !netns::available(test) {
            return None;
        }
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let lab = Lab::new(nodes).unwrap();
        let dir = std::env::temp_dir().join(format!("{}-{}", lab.hub, test));
        std::fs::create_dir_all(&dir).unwrap();
        Some(Topo {
            lab,
            dir,
            _serial: serial,
        })
    }

    pub fn node(&self, i: usize) -> &Node {
        self.lab.node(i)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        if std::env::var("FULCRUM_KEEP_TEST_LOGS").as_deref() == Ok("1") {
            eprintln!("logs kept in {}", self.dir.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One `vrrp_instance`, rendered for a node.
#[derive(Clone)]
pub struct Inst {
    pub vrid: u8,
    pub priority: u8,
    pub advert_int: &'static str,
    pub version: u8,
    pub auth: Option<&'static str>,
    pub nopreempt: bool,
    pub state: &'static str,
    /// Unicast: the peers' node indexes.
    pub unicast_peers: Vec<usize>,
    /// Extra lines inside the instance block.
    pub extra: String,
    /// Extra top-level blocks (vrrp_script ...).
    pub top: String,
    /// The virtual_ipaddress line.
    pub vip: &'static str,
}

impl Default for Inst {
    fn default() -> Self {
        Inst {
            vrid: 51,
            priority: 100,
            advert_int: "1",
            version: 2,
            auth: Some("secret"),
            nopreempt: false,
            state: "BACKUP",
            unicast_peers: Vec::new(),
            extra: String::new(),
            top: String::new(),
            vip: "10.99.0.100/32",
        }
    }
}

impl Inst {
    pub fn render(&self, topo: &Topo, node: usize) -> String {
        let mut s = format!(
            "global_defs {{\n  router_id node{node}\n  vrrp_version {}\n}}\n",
            self.version
        );
        s.push_str(&self.top);
        s.push_str("vrrp_instance VI_1 {\n");
        s.push_str(&format!(
            "  state {}\n  interface eth0\n  virtual_router_id {}\n",
            self.state, self.vrid
        ));
        s.push_str(&format!(
            "  priority {}\n  advert_int {}\n",
            self.priority, self.advert_int
        ));
        if self.nopreempt {
            s.push_str("  nopreempt\n");
        }
        if let Some(pass) = self.auth.filter(|_| self.version == 2) {
            s.push_str(&format!(
                "  authentication {{\n    auth_type PASS\n    auth_pass {pass}\n  }}\n"
            ));
        }
        if !self.unicast_peers.is_empty() {
            s.push_str(&format!(
                "  unicast_src_ip {}\n  unicast_peer {{\n",
                topo.node(node).addr
            ));
            for p in &self.unicast_peers {
                s.push_str(&format!("    {}\n", topo.node(*p).addr));
            }
            s.push_str("  }\n");
        }
        s.push_str(&self.extra);
        s.push_str(&format!(
            "  virtual_ipaddress {{\n    {} dev eth0\n  }}\n}}\n",
            self.vip
        ));
        s
    }
}

/// A VRRP daemon in a node: fulcrum or the real keepalived.
pub struct Daemon {
    pub child: Child,
    /// The config files it was started with (rewrite + `reload` to change them).
    pub files: Vec<PathBuf>,
    /// keepalived's VRRP child process id file (the process that speaks VRRP).
    vrrp_pidfile: Option<PathBuf>,
}

impl Daemon {
    pub fn fulcrum(topo: &Topo, node: usize, conf: &str) -> Daemon {
        let tag = format!("fulcrum{node}-{}", unique());
        let file = topo.write(&format!("{tag}.conf"), conf);
        let mut cmd = topo.node(node).command(env!("CARGO_BIN_EXE_fulcrum"));
        cmd.args(["run", "-f"])
            .arg(&file)
            .env("FULCRUM_LOG", "info,fulcrum_vrrp=debug");
        let child = Child::spawn(&tag, cmd, topo.dir.join(format!("{tag}.log"))).unwrap();
        Daemon {
            child,
            files: vec![file],
            vrrp_pidfile: None,
        }
    }

    /// SIGHUP: re-read the config files.
    pub fn reload(&self) {
        self.child.signal(Signal::SIGHUP);
    }

    pub fn keepalived(topo: &Topo, node: usize, conf: &str) -> Daemon {
        let tag = format!("keepalived{node}-{}", unique());
        let file = topo.write(&format!("{tag}.conf"), conf);
        let pid = topo.dir.join(format!("{tag}.pid"));
        let vrrp_pid = topo.dir.join(format!("{tag}.vrrp.pid"));
        let mut cmd = topo.node(node).command("keepalived");
        cmd.args(["-n", "-l", "-D", "-P", "-R", "-G", "-f"])
            .arg(&file)
            .arg("-p")
            .arg(&pid)
            .arg("-r")
            .arg(&vrrp_pid)
            .arg("-c")
            .arg(topo.dir.join(format!("{tag}.chk.pid")));
        let child = Child::spawn(&tag, cmd, topo.dir.join(format!("{tag}.log"))).unwrap();
        Daemon {
            child,
            files: vec![file],
            vrrp_pidfile: Some(vrrp_pid),
        }
    }

    /// SIGTERM: a graceful stop (a master sends priority 0).
    pub fn term(&self) {
        self.child.signal(Signal::SIGTERM);
    }

    /// SIGKILL of the process that speaks VRRP: nothing is sent, addresses stay behind.
    pub fn kill(&mut self) {
        if let Some(vrrp_pid) = self.vrrp_pid() {
            signal_pid(vrrp_pid, Signal::SIGKILL);
        }
        self.child.signal(Signal::SIGKILL);
    }

    fn vrrp_pid(&self) -> Option<i32> {
        let f = self.vrrp_pidfile.as_ref()?;
        std::fs::read_to_string(f).ok()?.trim().parse().ok()
    }

    pub fn log(&self) -> String {
        self.child.output()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // keepalived's VRRP child is not our direct child: kill it by its pid file too.
        if let Some(pid) = self.vrrp_pid() {
            signal_pid(pid, Signal::SIGKILL);
        }
    }
}

fn unique() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// Waits until `node` has (or lacks) the VIP; how long it took, `None` on timeout.
pub fn wait_vip(topo: &Topo, node: usize, present: bool, timeout: Duration) -> Option<Duration> {
    let n = topo.node(node);
    wait::until(timeout, || n.has_address(VIP) == present)
}

/// Waits until `node` has (or lacks) `addr`.
pub fn wait_addr(
    topo: &Topo,
    node: usize,
    addr: &str,
    present: bool,
    timeout: Duration,
) -> Option<Duration> {
    let n = topo.node(node);
    wait::until(timeout, || n.has_address(addr) == present)
}

/// Formats every daemon's log for a failure message.
pub fn logs(daemons: &[&Daemon]) -> String {
    daemons
        .iter()
        .map(|d| format!("\n----- {} -----\n{}", d.child.name, d.log()))
        .collect()
}

/// Whether the VIP is on exactly node `i` of `n` nodes.
pub fn vip_only_on(topo: &Topo, i: usize, n: usize) -> bool {
    (0..n).all(|k| topo.node(k).has_address(VIP) == (k == i))
}

/// Skew_Time of VRRPv2 at `priority`, seconds.
pub fn skew_v2(priority: u8) -> f64 {
    f64::from(256 - u32::from(priority)) / 256.0
}

/// The HAProxy config of a load-balancer node: port 8080 on every address (so on the VIP too),
/// one server on the app node.
pub fn lb_haproxy_cfg(app: std::net::Ipv4Addr) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend www\n    bind *:8080\n    default_backend app\n\n\
         backend app\n    server app1 {app}:8000 check inter 1s\n"
    )
}

/// The app node: fulcrum answering 200 itself on port 8000.
pub const APP_CFG: &str = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
     frontend app\n    bind *:8000\n    http-request return status 200 content-type text/plain string \"hello\\n\"\n";

impl Daemon {
    /// fulcrum with several files (haproxy.cfg + keepalived.conf).
    pub fn fulcrum_files(topo: &Topo, node: usize, files: &[(&str, &str)]) -> Daemon {
        let tag = format!("fulcrum{node}-{}", unique());
        let mut cmd = topo.node(node).command(env!("CARGO_BIN_EXE_fulcrum"));
        cmd.arg("run").env("FULCRUM_LOG", "info");
        let mut paths = Vec::new();
        for (name, text) in files {
            let file = topo.write(&format!("{tag}-{name}"), text);
            cmd.arg("-f").arg(&file);
            paths.push(file);
        }
        let child = Child::spawn(&tag, cmd, topo.dir.join(format!("{tag}.log"))).unwrap();
        Daemon {
            child,
            files: paths,
            vrrp_pidfile: None,
        }
    }

    /// The real HAProxy in the foreground.
    pub fn haproxy(topo: &Topo, node: usize, cfg: &str) -> Daemon {
        let tag = format!("haproxy{node}-{}", unique());
        let file = topo.write(&format!("{tag}.cfg"), cfg);
        let mut cmd = topo.node(node).command("haproxy");
        cmd.arg("-db").arg("-f").arg(&file);
        let child = Child::spawn(&tag, cmd, topo.dir.join(format!("{tag}.log"))).unwrap();
        Daemon {
            child,
            files: vec![file],
            vrrp_pidfile: None,
        }
    }
}

/// The VIP's HTTP endpoint.
pub fn vip_http() -> std::net::SocketAddr {
    format!("{VIP}:8080").parse().unwrap()
}
