//! Test helpers: named HTTP backends, a small HTTP/1.1 client, config loading, and a real
//! HAProxy child process for comparison tests.
#![allow(dead_code)]

mod logs;
#[allow(unused_imports)]
pub use logs::*;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[allow(unused_imports)]
pub use fulcrum_testlab::ports::{free_port, free_range};

/// A server that reads each connection's request head, then hands the stream and the head
/// (as text) to `answer`: for slow, late or scripted answers. A connection that closes before
/// a whole head is dropped.
pub async fn head_server<F, Fut>(answer: F) -> SocketAddr
where
    F: Fn(TcpStream, String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut tmp).await {
                        Ok(n) if n > 0 => buf.extend_from_slice(&tmp[..n]),
                        _ => return,
                    }
                }
                answer(s, String::from_utf8_lossy(&buf).into_owned()).await;
            });
        }
    });
    a
}

/// An HTTP/1.1 backend answering every request with its name; it records request heads.
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    pub heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads a request body framed by Content-Length or chunked; returns it (decoded).
async fn read_body(s: &mut TcpStream, buf: &mut Vec<u8>, head: &str) -> Option<Vec<u8>> {
    if let Some(cl) = header(head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        while buf.len() < cl {
            let mut tmp = [0u8; 65536];
            let n = s.read(&mut tmp).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        return Some(buf.drain(..cl).collect());
    }
    if header(head, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut out = Vec::new();
        loop {
            let line_end = loop {
                if let Some(p) = find(buf, b"\r\n") {
                    break p;
                }
                let mut tmp = [0u8; 65536];
                let n = s.read(&mut tmp).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&tmp[..n]);
            };
            let size = usize::from_str_radix(
                std::str::from_utf8(&buf[..line_end])
                    .ok()?
                    .split(';')
                    .next()?
                    .trim(),
                16,
            )
            .ok()?;
            buf.drain(..line_end + 2);
            while buf.len() < size + 2 {
                let mut tmp = [0u8; 65536];
                let n = s.read(&mut tmp).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            if size == 0 {
                buf.drain(..2);
                return Some(out);
            }
            out.extend_from_slice(&buf[..size]);
            buf.drain(..size + 2);
        }
    }
    Some(Vec::new())
}

impl Backend {
    /// Starts a backend on a free port. Paths: `/echo` returns the request body, `/big/N`
    /// returns N bytes, `/slow/MS` waits MS ms; anything else returns the name.
    pub async fn start(name: &str) -> Backend {
        Self::start_on("127.0.0.1:0", name).await
    }

    pub async fn start_on(addr: &str, name: &str) -> Backend {
        let l = TcpListener::bind(addr).await.expect("test backend bind");
        let addr = l.local_addr().expect("local addr");
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (n, h) = (name.to_string(), heads.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    continue;
                };
                let (n, h) = (n.clone(), h.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let end = loop {
                            if let Some(p) = find(&buf, b"\r\n\r\n") {
                                break p;
                            }
                            let mut tmp = [0u8; 16384];
                            match s.read(&mut tmp).await {
                                Ok(0) | Err(_) => return,
                                Ok(k) => buf.extend_from_slice(&tmp[..k]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end + 4);
                        h.lock().map(|mut v| v.push(head.clone())).ok();
                        let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                        if header(&head, "expect")
                            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
                            && s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err()
                        {
                            return;
                        }
                        if header(&head, "upgrade").is_some() {
                            let _ = s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n").await;
                            // Echo everything from now on.
                            if !buf.is_empty() {
                                let _ = s.write_all(&buf).await;
                            }
                            let (mut r, mut w) = s.into_split();
                            let _ = tokio::io::copy(&mut r, &mut w).await;
                            return;
                        }
                        let Some(body) = read_body(&mut s, &mut buf, &head).await else {
                            return;
                        };
                        let close = header(&head, "connection")
                            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                        let payload: Vec<u8> = if path == "/echo" {
                            body
                        } else if let Some(n) = path.strip_prefix("/big/") {
                            vec![b'x'; n.parse().unwrap_or(0)]
                        } else if let Some(ms) = path.strip_prefix("/slow/") {
                            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0)))
                                .await;
                            n.clone().into_bytes()
                        } else if path == "/garbage" {
                            let _ = s.write_all(b"NOT HTTP AT ALL\r\n\r\n").await;
                            return;
                        } else if path == "/chunked" {
                            let _ = s.write_all(format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Server: {n}\r\n\r\n3\r\nabc\r\n{:x}\r\n{}\r\n0\r\n\r\n", n.len(), n).as_bytes()).await;
                            continue;
                        } else {
                            n.clone().into_bytes()
                        };
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Server: {n}\r\n{}\r\n",
                            payload.len(),
                            if close { "Connection: close\r\n" } else { "" }
                        );
                        let mut all = resp.into_bytes();
                        all.extend_from_slice(&payload);
                        if s.write_all(&all).await.is_err() || close {
                            return;
                        }
                    }
                });
            }
        });
        Backend {
            name: name.to_string(),
            addr,
            heads,
            task,
        }
    }

    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// A response as a test sees it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.head, name)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A keep-alive HTTP/1.1 client connection.
pub struct Client {
    pub s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Client> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Client { s, buf: Vec::new() })
    }

    /// Connects from a given local address (e.g. 127.0.0.7) for `balance source` tests.
    pub async fn connect_from(addr: SocketAddr, from: std::net::IpAddr) -> std::io::Result<Client> {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.bind(SocketAddr::new(from, 0))?;
        let s = sock.connect(addr).await?;
        Ok(Client { s, buf: Vec::new() })
    }

    pub async fn send_raw(&mut self, raw: &[u8]) -> std::io::Result<()> {
        self.s.write_all(raw).await
    }

    pub async fn get(&mut self, path: &str) -> std::io::Result<Response> {
        self.send_raw(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
            .await?;
        self.read_response(false).await
    }

    /// Reads one response (interim 1xx responses are returned too).
    pub async fn read_response(&mut self, head_req: bool) -> std::io::Result<Response> {
        let eof = || {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed before a full response",
            )
        };
        let end = loop {
            if let Some(p) = find(&self.buf, b"\r\n\r\n") {
                break p;
            }
            let mut tmp = [0u8; 65536];
            let n = self.s.read(&mut tmp).await?;
            if n == 0 {
                return Err(eof());
            }
            self.buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = if head_req || (100..200).contains(&status) || status == 204 || status == 304 {
            Vec::new()
        } else if header(&head, "content-length").is_some()
            || header(&head, "transfer-encoding").is_some()
        {
            let mut buf = std::mem::take(&mut self.buf);
            let b = read_body(&mut self.s, &mut buf, &head)
                .await
                .ok_or_else(eof)?;
            self.buf = buf;
            b
        } else {
            let mut all = std::mem::take(&mut self.buf);
            self.s.read_to_end(&mut all).await?;
            all
        };
        Ok(Response { status, head, body })
    }

    /// True when the server closed the connection (EOF within `wait`).
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let mut tmp = [0u8; 1];
        matches!(
            tokio::time::timeout(wait, self.s.read(&mut tmp)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// One request on a fresh connection.
pub async fn get(addr: SocketAddr, path: &str) -> std::io::Result<Response> {
    let mut c = Client::connect(addr).await?;
    c.get(path).await
}

pub fn load(text: &str) -> fulcrum_config::Config {
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "test.cfg",
        text,
    }]);
    for d in loaded.diagnostics.iter() {
        eprintln!("{d}");
    }
    assert!(loaded.is_ok(), "config has errors:\n{text}");
    loaded.config
}

pub async fn start(text: &str) -> fulcrum_proxy::ProxyHandle {
    fulcrum_proxy::start(&load(text))
        .await
        .expect("proxy start")
}

/// Waits until something accepts on `addr` (bounded).
/// Polls `f` every 10 ms until it holds, 10 s at most; whether it held. For waiting on
/// observable state instead of sleeping.
pub async fn wait_for<F: std::future::Future<Output = bool>>(mut f: impl FnMut() -> F) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

pub async fn wait_listening(addr: SocketAddr) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A real HAProxy running a config, killed on drop. `None` (with a loud message) when the
/// `haproxy` binary is not installed.
pub struct Haproxy {
    child: Child,
    _dir: TempDir,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct TempDir(pub std::path::PathBuf);
impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "fulcrum-proxy-{tag}-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::create_dir_all(&p);
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Haproxy {
    /// The real haproxy on `cfg`, listening on `listen`. `None` (after a loud skip) only when
    /// haproxy is not installed and FULCRUM_REQUIRE_NETNS is not set; under it a missing
    /// haproxy fails the test. An installed haproxy that does not start always fails it.
    pub async fn start(cfg: &str, listen: SocketAddr) -> Option<Haproxy> {
        if !fulcrum_testlab::require::tool("HAProxy comparison", "haproxy", "haproxy") {
            return None;
        }
        let dir = TempDir::new("haproxy");
        let path = dir.0.join("haproxy.cfg");
        std::fs::write(&path, cfg).expect("write haproxy.cfg");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn haproxy");
        let h = Haproxy { child, _dir: dir };
        assert!(
            wait_listening(listen).await,
            "haproxy did not start listening on {listen}"
        );
        Some(h)
    }
}

/// The next syslog datagram on `s` (within 5 s), without its syslog header (`<134>Dec  4
/// 20:49:00 haproxy[123]: `) and trailing newline: the log line as the proxy formatted it.
pub async fn syslog_message(s: &tokio::net::UdpSocket) -> String {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.recv(&mut buf))
        .await
        .expect("a log line within 5 s")
        .expect("recv");
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    line.split_once("]: ")
        .map_or(line.clone(), |x| x.1.to_string())
        .trim_end()
        .to_string()
}

/// Drops the log lines already on `s` (e.g. the one a readiness probe's connection made),
/// waiting until none has come for 300 ms (bounded: at most 100 lines).
pub async fn drain_syslog(s: &tokio::net::UdpSocket) {
    let mut buf = vec![0u8; 4096];
    for _ in 0..100 {
        if !matches!(
            tokio::time::timeout(Duration::from_millis(300), s.recv(&mut buf)).await,
            Ok(Ok(_))
        ) {
            break;
        }
    }
}

/// A TCP server that answers `NAME:` and then echoes what it reads until the client's end.
pub async fn echo(name: &'static str) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut first = true;
                loop {
                    let n = match s.read(&mut buf).await {
                        Ok(n) if n > 0 => n,
                        _ => break,
                    };
                    if first {
                        first = false;
                        if s.write_all(format!("{name}:").as_bytes()).await.is_err() {
                            break;
                        }
                    }
                    if s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    a
}

/// What one comparison run saw: (status, `x-` response fields but `x-server`) per answer, and
/// the `x-` fields the backend received per request.
pub type XExchanges = (Vec<(u16, Vec<String>)>, Vec<Vec<String>>);

/// Sends each raw request head to `front` and reads its answer, all on one connection or each
/// on its own, then reads what `server` received: one run of a rules comparison.
pub async fn x_exchanges(
    front: u16,
    server: &Backend,
    heads: &[String],
    one_connection: bool,
) -> XExchanges {
    let xs = |head: &str| x_fields_but(head, &["x-server"]);
    let mut answers = Vec::new();
    let mut shared = None;
    for head in heads {
        if shared.is_none() || !one_connection {
            let to = SocketAddr::from(([127, 0, 0, 1], front));
            shared = Some(Client::connect(to).await.expect("connect"));
        }
        let Some(c) = shared.as_mut() else {
            unreachable!("connected above")
        };
        c.send_raw(head.as_bytes()).await.expect("send");
        let r = c.read_response(false).await.expect("answer");
        answers.push((r.status, xs(&r.head)));
    }
    let seen = server.heads().iter().map(|h| xs(h)).collect();
    (answers, seen)
}
