//! Shared helpers of the LVS tests: real servers (TCP "who am I" and UDP echo) living in
//! their namespaces, a client that counts which real server answered, and the NAT / DR
//! network set-up (routes back through the director; VIP on lo with arp_ignore/arp_announce).
#![allow(dead_code, clippy::unwrap_used)]

use fulcrum_testlab::netns::Node;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const VIP: &str = "10.99.0.100";

pub fn sh(node: &Node, cmd: &str) {
    let out = node.run("sh", &["-c", cmd]).unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Director for NAT: forwards, sends no redirects, holds the VIP. Real servers route the
/// client back through the director and ignore redirects.
pub fn setup_nat(director: &Node, real_servers: &[&Node], client: &Node) {
    sh(director, "echo 1 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects; echo 0 > /proc/sys/net/ipv4/conf/eth0/send_redirects");
    sh(director, &format!("ip addr add {VIP}/32 dev eth0"));
    for rs in real_servers {
        sh(rs, "echo 0 > /proc/sys/net/ipv4/conf/all/accept_redirects; echo 0 > /proc/sys/net/ipv4/conf/eth0/accept_redirects");
        sh(
            rs,
            &format!("ip route add {}/32 via {}", client.addr, director.addr),
        );
    }
}

/// Real servers for DR: the VIP on lo, answering ARP only for their own addresses.
pub fn setup_dr_real_servers(real_servers: &[&Node]) {
    for rs in real_servers {
        sh(rs, "echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/all/arp_announce; echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/eth0/arp_announce");
        sh(rs, &format!("ip addr add {VIP}/32 dev lo"));
    }
}

/// A real server: answers each TCP connection on :80 with its name, and each UDP datagram on
/// :53 with its name followed by the datagram (a DNS-like echo). Stops on drop.
pub struct RealServer {
    pub name: String,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl RealServer {
    pub fn start(node: &Node, name: &str) -> RealServer {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let mut threads = Vec::new();
        {
            let (stop, name, tx) = (stop.clone(), name.to_string(), tx.clone());
            threads.push(node.in_thread(move || {
                let l = TcpListener::bind("0.0.0.0:80").unwrap();
                l.set_nonblocking(true).unwrap();
                tx.send(()).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    match l.accept() {
                        Ok((mut s, _)) => {
                            // An HTTP/1.0 answer (HTTP_GET checks it) naming the server, each
                            // connection on its own thread (a client may hold one open: up to
                            // 30 s, longer than any test holds one — at 5 s a loaded machine
                            // saw the held flows of the wlc test close before it measured).
                            let name = name.clone();
                            std::thread::spawn(move || {
                                let _ = s.set_nonblocking(false);
                                let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
                                let mut req = Vec::new();
                                let mut buf = [0u8; 1024];
                                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                                    match s.read(&mut buf) {
                                        Ok(0) | Err(_) => break,
                                        Ok(n) => req.extend_from_slice(&buf[..n]),
                                    }
                                }
                                let body = format!("{name}\n");
                                let _ = s.write_all(
                                    format!(
                                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                                        body.len()
                                    )
                                    .as_bytes(),
                                );
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_micros(200)),
                    }
                }
            }));
        }
        {
            let (stop, name) = (stop.clone(), name.to_string());
            threads.push(node.in_thread(move || {
                let u = UdpSocket::bind("0.0.0.0:53").unwrap();
                u.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                tx.send(()).unwrap();
                let mut buf = [0u8; 512];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, from)) = u.recv_from(&mut buf) {
                        let mut reply = format!("{name} ").into_bytes();
                        reply.extend_from_slice(&buf[..n]);
                        let _ = u.send_to(&reply, from);
                    }
                }
            }));
        }
        rx.recv().unwrap();
        rx.recv().unwrap();
        RealServer {
            name: name.to_string(),
            stop,
            threads,
        }
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One TCP request to the VIP (from the calling thread's namespace): the server's name.
pub fn ask(port: u16) -> Result<String, String> {
    ask_to(VIP, port)
}

/// One TCP request to `vip:port`.
pub fn ask_to(vip: &str, port: u16) -> Result<String, String> {
    let addr: SocketAddr = format!("{vip}:{port}").parse().unwrap();
    let s = TcpStream::connect_timeout(&addr, Duration::from_millis(1000))
        .map_err(|e| format!("connect: {e}"))?;
    request(s)
}

/// GET / on a connected stream: the body (the server's name).
fn request(mut s: TcpStream) -> Result<String, String> {
    s.set_read_timeout(Some(Duration::from_millis(1000)))
        .unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| format!("read: {e}"))?;
    match out.split("\r\n\r\n").nth(1) {
        Some(body) if !body.trim().is_empty() => Ok(body.trim().to_string()),
        _ => Err(format!("bad answer {out:?}")),
    }
}

/// `ask` from a given local source address (extra client addresses on the client node).
pub fn ask_from(src: std::net::IpAddr, port: u16) -> Result<String, String> {
    ask_from_to(src, VIP, port)
}

/// `ask_to` from a given local source address.
pub fn ask_from_to(src: std::net::IpAddr, vip: &str, port: u16) -> Result<String, String> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .map_err(|e| e.to_string())?;
    sock.bind(&SocketAddr::new(src, 0).into())
        .map_err(|e| format!("bind: {e}"))?;
    let addr: SocketAddr = format!("{vip}:{port}").parse().unwrap();
    sock.connect_timeout(&addr.into(), Duration::from_millis(1000))
        .map_err(|e| format!("connect: {e}"))?;
    request(sock.into())
}

/// `n` requests from the client's namespace; counts answers per server and failures.
pub fn spread(client: &Node, n: usize) -> (HashMap<String, usize>, Vec<String>) {
    client
        .in_thread(move || {
            let mut counts = HashMap::new();
            let mut errors = Vec::new();
            for _ in 0..n {
                match ask(80) {
                    Ok(name) => *counts.entry(name).or_insert(0) += 1,
                    Err(e) => errors.push(e),
                }
            }
            (counts, errors)
        })
        .join()
        .unwrap()
}

/// A client loop running in the background until stopped: every answer, in order, with the
/// failures (bounded: at most `max` requests and `limit` time).
pub struct Load {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Vec<Result<String, String>>>>,
}

impl Load {
    pub fn start(client: &Node, max: usize, limit: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let handle = client.in_thread(move || {
            let start = Instant::now();
            let mut out = Vec::new();
            while !s2.load(Ordering::Relaxed) && out.len() < max && start.elapsed() < limit {
                out.push(ask(80));
                std::thread::sleep(Duration::from_millis(5));
            }
            out
        });
        Load {
            stop,
            handle: Some(handle),
        }
    }

    pub fn finish(mut self) -> Vec<Result<String, String>> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

/// A UDP datagram to VIP:53 from the client: the echoed answer.
pub fn udp_ask(client: &Node, payload: &'static str) -> Option<String> {
    client
        .in_thread(move || {
            let u = UdpSocket::bind("0.0.0.0:0").unwrap();
            u.set_read_timeout(Some(Duration::from_millis(1000)))
                .unwrap();
            u.send_to(payload.as_bytes(), format!("{VIP}:53")).ok()?;
            let mut buf = [0u8; 512];
            let (n, _) = u.recv_from(&mut buf).ok()?;
            Some(String::from_utf8_lossy(&buf[..n]).to_string())
        })
        .join()
        .unwrap()
}

/// `nft list tables` in a namespace.
pub fn nft_tables(node: &Node) -> String {
    let out = node.run("nft", &["list", "tables"]).unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// fulcrum running a keepalived.conf in a node, with its own control socket.
pub struct Director {
    pub child: fulcrum_testlab::process::Child,
    pub conf: std::path::PathBuf,
    pub control: std::path::PathBuf,
}

impl Director {
    pub fn start(dir: &std::path::Path, node: &Node, tag: &str, conf: &str) -> Director {
        Director::start_with(dir, node, tag, conf, None)
    }

    /// With an haproxy.cfg next to the keepalived.conf (reloads rewrite the keepalived.conf).
    pub fn start_with(
        dir: &std::path::Path,
        node: &Node,
        tag: &str,
        conf: &str,
        haproxy_cfg: Option<&str>,
    ) -> Director {
        let path = dir.join(format!("{tag}.conf"));
        std::fs::write(&path, conf).unwrap();
        let control = dir.join(format!("{tag}.sock"));
        let mut cmd = node.command(env!("CARGO_BIN_EXE_fulcrum"));
        cmd.args(["run", "--control"])
            .arg(&control)
            .arg("-f")
            .arg(&path)
            .env("FULCRUM_LOG", "info,fulcrum::lvs_bridge=debug");
        if let Some(h) = haproxy_cfg {
            let hp = dir.join(format!("{tag}.cfg"));
            std::fs::write(&hp, h).unwrap();
            cmd.arg("-f").arg(hp);
        }
        let child =
            fulcrum_testlab::process::Child::spawn(tag, cmd, dir.join(format!("{tag}.log")))
                .unwrap();
        Director {
            child,
            conf: path,
            control,
        }
    }

    pub fn log(&self) -> String {
        self.child.output()
    }

    /// Writes the new configuration and sends SIGHUP.
    pub fn reload(&self, conf: &str) {
        std::fs::write(&self.conf, conf).unwrap();
        self.child.signal(fulcrum_testlab::process::Sig::SIGHUP);
    }

    /// SIGTERM, and waits for the process to exit.
    pub fn stop(&mut self) {
        self.child.signal(fulcrum_testlab::process::Sig::SIGTERM);
        assert!(
            self.child.wait_timeout(Duration::from_secs(15)).is_some(),
            "fulcrum did not stop\n{}",
            self.log()
        );
    }

    /// `fulcrum status` (text, or JSON with `json`).
    pub fn status(&self, json: bool) -> String {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"));
        cmd.args(["status", "--control"]).arg(&self.control);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

/// Whether `nft` runs here; without it the test skips loudly (fails under
/// FULCRUM_REQUIRE_NETNS=1, where scripts/install-deps.sh must have installed nftables).
pub fn nft_available(test: &str) -> bool {
    let ok = std::process::Command::new("nft")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() == Ok("1") {
            panic!("{test}: FULCRUM_REQUIRE_NETNS=1 but nft (nftables) is not installed");
        }
        eprintln!("\n*** SKIPPING {test}: nft (nftables) not installed ***\n");
    }
    ok
}
