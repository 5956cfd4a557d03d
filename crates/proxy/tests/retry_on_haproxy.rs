//! `retry-on` after the request reached a server (HAProxy's layer-7 retries), side by side
//! with the real haproxy 2.6 on the same config: a server answering 503 is left for the next
//! one with `option redispatch` (a GET and a POST with its body), retried `retries` times on
//! itself without it (the client then gets the server's 503), a server that closes without
//! answering a POST (`empty-response`), answers junk (`junk-response`) or lets `timeout server`
//! strike (`response-timeout`), a backend without `retry-on` that passes the 503 on, and
//! `http-request disable-l7-retry` (the 503 passed on where it would be retried). The
//! client's answers and what every server received (method and body, in order) must be the
//! same from both. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

#[derive(Clone, Copy)]
enum Mode {
    Status(u16),
    Close,
    Junk,
    Slow,
}

/// A scripted HTTP server; it records each request's method and body.
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let method = head.split_whitespace().next().unwrap_or("").to_string();
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
    buf.drain(..head_end + len);
    Some(format!("{method} {body}"))
}

impl Server {
    async fn start(name: &'static str, mode: Mode) -> Server {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    while let Some(r) = read_request(&mut s, &mut buf).await {
                        if let Ok(mut l) = log.lock() {
                            l.push(r);
                        }
                        match mode {
                            Mode::Status(code) => {
                                let a = format!(
                                    "HTTP/1.1 {code} X\r\ncontent-length: {}\r\n\r\n{name}",
                                    name.len()
                                );
                                if s.write_all(a.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                            Mode::Close => return,
                            Mode::Junk => {
                                let _ = s.write_all(b"garbage, not http\r\n\r\n").await;
                                return;
                            }
                            Mode::Slow => {
                                tokio::time::sleep(Duration::from_secs(3)).await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        Server { addr, seen }
    }

    fn take(&self) -> Vec<String> {
        self.seen
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// The servers of each backend, in the order of the config.
struct Farm {
    servers: Vec<(&'static str, Server)>,
}

impl Farm {
    async fn start() -> Farm {
        let mut servers = Vec::new();
        for (name, mode) in [
            ("rd_a", Mode::Status(503)),
            ("rd_b", Mode::Status(200)),
            ("rp_a", Mode::Status(503)),
            ("rp_b", Mode::Status(200)),
            ("nr_a", Mode::Status(503)),
            ("nr_b", Mode::Status(200)),
            ("em_c", Mode::Close),
            ("em_b", Mode::Status(200)),
            ("jk_j", Mode::Junk),
            ("jk_b", Mode::Status(200)),
            ("sl_s", Mode::Slow),
            ("sl_b", Mode::Status(200)),
            ("no_a", Mode::Status(503)),
        ] {
            servers.push((name, Server::start(name, mode).await));
        }
        Farm { servers }
    }

    fn at(&self, name: &str) -> SocketAddr {
        self.servers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.addr)
            .expect("server")
    }

    fn seen(&self) -> Vec<(&'static str, Vec<String>)> {
        self.servers.iter().map(|(n, s)| (*n, s.take())).collect()
    }
}

fn cfg(port: u16, f: &Farm) -> String {
    let be = |name: &str, extra: &str, servers: &[&str]| {
        let mut s = format!("backend {name}\n  balance roundrobin\n{extra}");
        for srv in servers {
            s.push_str(&format!("  server {srv} {}\n", f.at(srv)));
        }
        s
    };
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 500ms\n\
         frontend f\n  bind 127.0.0.1:{port}\n\
         \x20 http-request disable-l7-retry if {{ path /rd-no }}\n\
         \x20 use_backend rd if {{ path_beg /rd }}\n\
         \x20 use_backend rp if {{ path_beg /rp }}\n\
         \x20 use_backend nr if {{ path_beg /nr }}\n\
         \x20 use_backend em if {{ path_beg /em }}\n\
         \x20 use_backend jk if {{ path_beg /jk }}\n\
         \x20 use_backend sl if {{ path_beg /sl }}\n\
         \x20 default_backend no\n{}{}{}{}{}{}{}",
        be(
            "rd",
            "  retry-on 503\n  retries 2\n  option redispatch\n",
            &["rd_a", "rd_b"]
        ),
        be(
            "rp",
            "  retry-on 503 504\n  retries 2\n  option redispatch\n",
            &["rp_a", "rp_b"]
        ),
        be("nr", "  retry-on 503\n  retries 2\n", &["nr_a", "nr_b"]),
        be(
            "em",
            "  retry-on empty-response\n  retries 1\n  option redispatch\n",
            &["em_c", "em_b"]
        ),
        be(
            "jk",
            "  retry-on junk-response\n  option redispatch\n",
            &["jk_j", "jk_b"]
        ),
        be(
            "sl",
            "  retry-on response-timeout\n  retries 1\n  option redispatch\n",
            &["sl_s", "sl_b"]
        ),
        be("no", "", &["no_a"]),
    )
}

/// The status and body of one request (`Connection: close`).
async fn ask(to: SocketAddr, method: &str, path: &str, body: &str) -> String {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let attempt = async {
        let mut s = TcpStream::connect(to).await.ok()?;
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text.split_whitespace().nth(1)?.to_string();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        // A server's own body is its name; a proxy's error page is told by its status only.
        let body = if body.len() < 8 { body } else { "(page)" };
        Some(format!("{status} {body}"))
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| "none".into())
}

type Seen = (Vec<String>, Vec<(&'static str, Vec<String>)>);

async fn run(port: u16, f: &Farm) -> Seen {
    let to = addr(port);
    let _ = f.seen();
    let answers = vec![
        ask(to, "GET", "/rd", "").await,
        ask(to, "POST", "/rp", "k=v").await,
        ask(to, "GET", "/nr", "").await,
        ask(to, "POST", "/em", "x=1").await,
        ask(to, "GET", "/jk", "").await,
        ask(to, "GET", "/sl", "").await,
        ask(to, "GET", "/no", "").await,
        // `disable-l7-retry`: the 503 goes to the client, nothing is retried
        ask(to, "GET", "/rd-no", "").await,
        ask(to, "GET", "/rd-no", "").await,
    ];
    (answers, f.seen())
}

#[tokio::test]
async fn answers_are_retried_as_haproxy_retries_them() {
    let farm = Farm::start().await;
    let port = free_port();
    let proxy = start(&cfg(port, &farm)).await;
    let ours = run(port, &farm).await;
    proxy.shutdown(Duration::from_secs(1)).await;
    // Not vacuous: retried elsewhere, retried in place, passed on.
    assert_eq!(ours.0[0], "200 rd_b", "{ours:?}");
    assert_eq!(ours.0[1], "200 rp_b", "a POST is retried too: {ours:?}");
    assert_eq!(ours.0[2], "503 nr_a", "{ours:?}");
    assert_eq!(ours.0[3], "200 em_b", "{ours:?}");
    assert_eq!(ours.0[6], "503 no_a", "{ours:?}");
    assert!(ours.0[7..].contains(&"503 rd_a".to_string()), "{ours:?}");
    let nr_a = &ours.1[4];
    assert_eq!(
        nr_a.1.len(),
        3,
        "1 + 2 retries on the same server: {ours:?}"
    );

    let hport = free_port();
    let Some(_haproxy) = Haproxy::start(&cfg(hport, &farm), addr(hport)).await else {
        return;
    };
    let theirs = run(hport, &farm).await;
    assert_eq!(ours.0, theirs.0, "answers: fulcrum vs haproxy");
    assert_eq!(
        ours.1, theirs.1,
        "what each server received: fulcrum vs haproxy"
    );
}
