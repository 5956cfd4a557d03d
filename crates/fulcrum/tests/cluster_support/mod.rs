//! The cluster-mode lab: three nodes, each with an etcd member, an app (a fulcrum answering
//! its node's name on 127.0.0.1:8000) and fulcrum itself (proxy + cluster node: frontends on
//! twelve VIPs 10.99.1.1-12, backend the local app); a fourth namespace is the client.
//! A node's death is the machine's: its link goes down, every process is killed, and its
//! addresses are flushed (what a reboot does) before it comes back.
#![allow(dead_code, clippy::unwrap_used)]

use fulcrum_testlab::netns::{self, Lab, Node};
use fulcrum_testlab::process::{Child, Sig};
use fulcrum_testlab::{etcd, wait};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const NODES: usize = 3;
pub const CLIENT: usize = 3;
pub const VIPS: usize = 12;

static SERIAL: Mutex<()> = Mutex::new(());

pub fn vip(i: usize) -> String {
    format!("10.99.1.{}", i + 1)
}

pub fn node_name(i: usize) -> String {
    format!("c{}", i + 1)
}

pub struct Rig {
    pub lab: Lab,
    pub dir: PathBuf,
    pub token: String,
    pub etcd: Vec<Option<Child>>,
    pub app: Vec<Option<Child>>,
    pub fulcrum: Vec<Option<Child>>,
    /// Nodes taken off the network by a kill (not counted as holders).
    pub dead: Arc<[AtomicBool; NODES]>,
    extra: String,
    /// More proxy sections for every node (`{ip}`: the node's address, `{node}`: its name).
    proxy: String,
    _serial: MutexGuard<'static, ()>,
}

fn sh(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

impl Rig {
    /// `None` (loudly) when namespaces or etcd are not available and not required.
    /// `extra`: more lines for the cluster section (rebalance-after ...).
    pub fn new(test: &str, extra: &str) -> Option<Rig> {
        Self::with_proxy(test, extra, "")
    }

    /// [`new`](Self::new) with more proxy sections (and `{ip}`/`{node}` in `extra` and
    /// `proxy` replaced per node).
    pub fn with_proxy(test: &str, extra: &str, proxy: &str) -> Option<Rig> {
        if !netns::available(test) || !etcd::available(test) {
            return None;
        }
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let lab = Lab::new(NODES + 1).unwrap();
        let dir = std::env::temp_dir().join(format!("{}-{test}", lab.hub));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..NODES {
            // Frontends bind the VIPs before the node holds them (as the seed's haproxy does).
            let _ = lab.node(i).run(
                "sh",
                &["-c", "echo 1 > /proc/sys/net/ipv4/ip_nonlocal_bind"],
            );
        }
        let mut rig = Rig {
            token: lab.hub.clone(),
            lab,
            dir,
            etcd: (0..NODES).map(|_| None).collect(),
            app: (0..NODES).map(|_| None).collect(),
            fulcrum: (0..NODES).map(|_| None).collect(),
            dead: Arc::new(Default::default()),
            extra: extra.to_string(),
            proxy: proxy.to_string(),
            _serial: serial,
        };
        for i in 0..NODES {
            rig.etcd[i] = Some(etcd::start_member(
                &rig.lab.nodes[..NODES],
                i,
                &rig.dir,
                &rig.token,
            ));
        }
        assert!(
            etcd::wait_healthy(rig.client(), &rig.endpoints(), Duration::from_secs(30)),
            "etcd never became healthy{}",
            rig.logs()
        );
        for i in 0..NODES {
            rig.start_app(i);
            rig.start_fulcrum(i);
        }
        Some(rig)
    }

    pub fn node(&self, i: usize) -> &Node {
        self.lab.node(i)
    }

    pub fn client(&self) -> &Node {
        self.lab.node(CLIENT)
    }

    pub fn endpoints(&self) -> String {
        etcd::endpoints(&self.lab.nodes[..NODES])
    }

    pub fn control(&self, i: usize) -> PathBuf {
        self.dir.join(format!("c{}.sock", i + 1))
    }

    fn config(&self, i: usize) -> String {
        let mut s = String::from(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\nfrontend services\n",
        );
        for v in 0..VIPS {
            s.push_str(&format!("    bind {}:80\n", vip(v)));
        }
        s.push_str("    default_backend app\n\nbackend app\n    server local 127.0.0.1:8000 check inter 300ms fall 2 rise 1\n\n");
        let per_node = |t: &str| {
            t.replace("{ip}", &self.node(i).addr.to_string())
                .replace("{node}", &node_name(i))
        };
        s.push_str(&per_node(&self.proxy));
        s.push_str(&format!(
            "cluster lab\n    node {}\n    etcd {}\n    lease-ttl 2s\n    no-quorum-policy stop\n{}",
            node_name(i),
            self.endpoints(),
            per_node(&self.extra)
        ));
        for v in 0..VIPS {
            s.push_str(&format!(
                "    vip vip-{:02} {}/16 dev eth0\n",
                v + 1,
                vip(v)
            ));
        }
        s
    }

    pub fn start_app(&mut self, i: usize) {
        let cfg = format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\nfrontend app\n    bind 127.0.0.1:8000\n    http-request return status 200 content-type text/plain string \"{}\"\n",
            node_name(i)
        );
        let n = fulcrum_testlab::process::unique();
        let file = self.dir.join(format!("app{}-{n}.cfg", i + 1));
        std::fs::write(&file, cfg).unwrap();
        let mut cmd = self.node(i).command(env!("CARGO_BIN_EXE_fulcrum"));
        cmd.args(["run", "--control"])
            .arg(self.dir.join(format!("app{}.sock", i + 1)))
            .arg("-f")
            .arg(&file);
        self.app[i] = Some(
            Child::spawn(
                &format!("app{}", i + 1),
                cmd,
                self.dir.join(format!("app{}-{n}.log", i + 1)),
            )
            .unwrap(),
        );
    }

    pub fn stop_app(&mut self, i: usize) {
        self.app[i] = None;
    }

    pub fn start_fulcrum(&mut self, i: usize) {
        let n = fulcrum_testlab::process::unique();
        let file = self.dir.join(format!("c{}-{n}.cfg", i + 1));
        std::fs::write(&file, self.config(i)).unwrap();
        let mut cmd = self.node(i).command(env!("CARGO_BIN_EXE_fulcrum"));
        cmd.args(["run", "--control"])
            .arg(self.control(i))
            .arg("-f")
            .arg(&file)
            .env(
                "FULCRUM_LOG",
                "info,fulcrum_cluster=debug,fulcrum_peers=debug",
            );
        self.fulcrum[i] = Some(
            Child::spawn(
                &format!("fulcrum-c{}", i + 1),
                cmd,
                self.dir.join(format!("c{}-{n}.log", i + 1)),
            )
            .unwrap(),
        );
    }

    /// The node's link on the bridge (the hub side): down cuts it off, processes keep running.
    pub fn cut(&self, i: usize, cut: bool) {
        assert!(sh(&[
            "-n",
            &self.lab.hub,
            "link",
            "set",
            &format!("v{i}"),
            if cut { "down" } else { "up" }
        ]));
    }

    /// The machine dies: off the network at once, then every process killed and its
    /// addresses gone (as after a power cut and reboot).
    pub fn kill_node(&mut self, i: usize) {
        self.dead[i].store(true, Ordering::SeqCst);
        self.cut(i, true);
        for c in [&self.fulcrum[i], &self.app[i], &self.etcd[i]]
            .into_iter()
            .flatten()
        {
            c.signal(Sig::SIGKILL);
        }
        self.fulcrum[i] = None;
        self.app[i] = None;
        self.etcd[i] = None;
        for v in 0..VIPS {
            let _ = Command::new("ip")
                .args(["-n", &self.node(i).netns, "addr", "del"])
                .arg(format!("{}/16", vip(v)))
                .args(["dev", "eth0"])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }

    /// The machine boots again: etcd member on its data, app, fulcrum.
    pub fn revive_node(&mut self, i: usize) {
        self.cut(i, false);
        self.dead[i].store(false, Ordering::SeqCst);
        self.etcd[i] = Some(etcd::start_member(
            &self.lab.nodes[..NODES],
            i,
            &self.dir,
            &self.token,
        ));
        self.start_app(i);
        self.start_fulcrum(i);
    }

    pub fn kill_etcd(&mut self, i: usize) {
        if let Some(c) = &self.etcd[i] {
            c.signal(Sig::SIGKILL);
        }
        self.etcd[i] = None;
    }

    pub fn start_etcd(&mut self, i: usize) {
        self.etcd[i] = Some(etcd::start_member(
            &self.lab.nodes[..NODES],
            i,
            &self.dir,
            &self.token,
        ));
    }

    /// For each VIP, the live nodes that have its address.
    pub fn holders(&self) -> Vec<Vec<usize>> {
        holders(&self.lab.nodes[..NODES], &self.dead)
    }

    /// Waits until every VIP has exactly one holder and the loads are `want` (sorted).
    pub fn wait_spread(&self, want: &[usize], timeout: Duration) -> Option<Vec<Vec<usize>>> {
        let mut last = Vec::new();
        let ok = wait::until(timeout, || {
            last = self.holders();
            last.iter().all(|h| h.len() == 1) && loads(&last) == want
        });
        ok.map(|_| last)
    }

    /// Waits until every VIP has exactly one holder, whatever the loads.
    pub fn wait_spread_any(&self, timeout: Duration) -> Vec<Vec<usize>> {
        let mut last = Vec::new();
        let ok = wait::until(timeout, || {
            last = self.holders();
            last.iter().all(|h| h.len() == 1)
        });
        assert!(ok.is_some(), "VIPs without exactly one holder: {last:?}");
        last
    }

    pub fn status(&self, i: usize) -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
            .args(["status", "--json", "--control"])
            .arg(self.control(i))
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }

    pub fn status_text(&self, i: usize) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
            .args(["status", "--control"])
            .arg(self.control(i))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `fulcrum cluster WORDS` against node `i`: (success, output).
    ///
    /// A command etcd did not answer in time (a loaded machine right after a partition heals:
    /// seen once with both CPUs busy elsewhere) is asked again, as an operator would, at most
    /// three times in all; the commands are idempotent (a key put or deleted).
    pub fn cluster_cmd(&self, i: usize, words: &[&str]) -> (bool, String) {
        let mut last = (false, String::new());
        for attempt in 1..=3 {
            let out = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
                .args(["cluster", "--control"])
                .arg(self.control(i))
                .args(words)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let slow = !out.status.success() && text.contains("etcd did not answer in time");
            last = (out.status.success(), text);
            if !slow {
                break;
            }
            eprintln!("cluster {words:?} (attempt {attempt}): etcd did not answer in time");
        }
        last
    }

    pub fn logs(&self) -> String {
        let mut s = String::new();
        for c in self.fulcrum.iter().chain(&self.etcd).flatten() {
            let out = c.output();
            let tail: Vec<&str> = out.lines().rev().take(60).collect();
            s.push_str(&format!("\n----- {} -----\n", c.name));
            for l in tail.into_iter().rev() {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        // Children die with their Child guards; the namespaces with the Lab.
        if std::env::var("FULCRUM_KEEP_TEST_LOGS").as_deref() == Ok("1") {
            eprintln!("logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub fn holders(nodes: &[Node], dead: &[AtomicBool; NODES]) -> Vec<Vec<usize>> {
    let texts: Vec<Option<String>> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if dead[i].load(Ordering::SeqCst) {
                return None;
            }
            let out = Command::new("ip")
                .args(["-n", &n.netns, "-o", "-4", "addr", "show", "dev", "eth0"])
                .output()
                .ok()?;
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        })
        .collect();
    (0..VIPS)
        .map(|v| {
            let needle = format!(" {}/16 ", vip(v));
            (0..nodes.len())
                .filter(|i| texts[*i].as_ref().is_some_and(|t| t.contains(&needle)))
                .collect()
        })
        .collect()
}

/// VIPs per node, sorted.
pub fn loads(h: &[Vec<usize>]) -> Vec<usize> {
    let mut l = vec![0; NODES];
    for nodes in h {
        for n in nodes {
            l[*n] += 1;
        }
    }
    l.sort_unstable();
    l
}

/// Samples the holders of every VIP on every live node until stopped (bounded in time):
/// records the worst sample (a VIP on two nodes) and when each node last held any of `watch`.
pub struct Monitor {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<MonitorReport>>,
}

#[derive(Debug, Default, Clone)]
pub struct MonitorReport {
    pub samples: u32,
    /// (VIP index, nodes) of samples where a VIP had two holders.
    pub doubles: Vec<(usize, Vec<usize>)>,
    /// Per sample: (time since start, holders).
    pub timeline: Vec<(Duration, Vec<Vec<usize>>)>,
}

impl MonitorReport {
    pub fn assert_never_twice(&self) {
        assert!(
            self.doubles.is_empty(),
            "two holders: {:?}",
            &self.doubles[..self.doubles.len().min(5)]
        );
    }
}

impl Monitor {
    pub fn start(rig: &Rig, max: Duration) -> Monitor {
        let nodes = rig.lab.nodes[..NODES].to_vec();
        let dead = rig.dead.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut r = MonitorReport::default();
            while !s.load(Ordering::SeqCst) && start.elapsed() < max {
                let h = holders(&nodes, &dead);
                r.samples += 1;
                for (v, n) in h.iter().enumerate() {
                    if n.len() > 1 {
                        r.doubles.push((v, n.clone()));
                    }
                }
                r.timeline.push((start.elapsed(), h));
                std::thread::sleep(Duration::from_millis(10));
            }
            r
        });
        Monitor {
            stop,
            thread: Some(thread),
        }
    }

    pub fn finish(mut self) -> MonitorReport {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// One GET to `vip`:80 from the calling thread's namespace: the answering node's name.
pub fn probe(vip: &str, timeout: Duration) -> Option<String> {
    probe_addr(format!("{vip}:80").parse().ok()?, timeout)
}

/// One GET to `addr`: the body of a 200 answer.
pub fn probe_addr(addr: SocketAddr, timeout: Duration) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut buf = Vec::new();
    let _ = s.take(4096).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    if !text.starts_with("HTTP/1.1 200") {
        return None;
    }
    text.split("\r\n\r\n").nth(1).map(|b| b.trim().to_string())
}

/// The MAC addresses that answer ARP for `vip` (arping from the client, one request, 1 s).
pub fn arp_answerers(client: &Node, vip: &str) -> Vec<String> {
    let Some(out) = client.run("arping", &["-I", "eth0", "-c", "2", "-w", "1", vip]) else {
        return Vec::new();
    };
    let mut macs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("reply from"))
        .filter_map(|l| {
            let a = l.find('[')?;
            let b = l.find(']')?;
            Some(l[a + 1..b].to_lowercase())
        })
        .collect();
    macs.sort();
    macs.dedup();
    macs
}
