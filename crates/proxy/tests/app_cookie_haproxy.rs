//! Octavia's APP_COOKIE persistence, as its amphora driver renders it (`stick-table type string
//! len 64` + `stick store-response res.cook(JSESSIONID)` + `stick match req.cook(JSESSIONID)`),
//! over real sockets through fulcrum's proxy and through the real HAProxy with the same config
//! and the same requests: three servers that each hand out their own JSESSIONID, clients that
//! replay it between new clients' requests; the same server answers every request on both, and
//! a replayed cookie always lands on the server that set it. Then (fulcrum only) the server a
//! cookie is stuck to goes DOWN: the client is balanced elsewhere, and re-stuck by that
//! server's new cookie. Also `stick on req.cook(...)` (match + store-request).

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A server answering with its name; `/login` also sets `JSESSIONID=<name>-<n>`.
async fn app_server(name: &'static str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    let n = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let n = n.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end + 4);
                        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                        let mut resp = "HTTP/1.1 200 OK\r\n".to_string();
                        if path == "/login" {
                            let k = n.fetch_add(1, Ordering::SeqCst);
                            resp.push_str(&format!(
                                "Set-Cookie: JSESSIONID={name}-{k}; Path=/\r\n"
                            ));
                        }
                        resp.push_str(&format!("Content-Length: {}\r\n\r\n{name}", name.len()));
                        if s.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    match s.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&tmp[..k]),
                    }
                }
            });
        }
    });
    (a, task)
}

struct Servers {
    addrs: Vec<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn servers() -> Servers {
    let mut s = Servers {
        addrs: Vec::new(),
        tasks: Vec::new(),
    };
    for name in ["s0", "s1", "s2"] {
        let (a, t) = app_server(name).await;
        s.addrs.push(a);
        s.tasks.push(t);
    }
    s
}

fn cfg(port: u16, s: &Servers, rules: &str) -> String {
    format!(
        "global\n    nbthread 1\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    balance roundrobin\n{rules}\
         \x20   server s0 {}\n    server s1 {}\n    server s2 {}\n",
        s.addrs[0], s.addrs[1], s.addrs[2]
    )
}

const OCTAVIA: &str = "    stick-table type string len 64 size 10k\n    stick store-response res.cook(JSESSIONID)\n    stick match req.cook(JSESSIONID)\n";

/// One GET on a fresh connection: (server that answered, JSESSIONID it set if any).
async fn request(to: SocketAddr, path: &str, cookie: Option<&str>) -> (String, Option<String>) {
    let mut c = tokio::time::timeout(Duration::from_secs(3), Client::connect(to))
        .await
        .expect("connect in time")
        .expect("connect");
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(v) = cookie {
        req.push_str(&format!("Cookie: theme=dark; JSESSIONID={v}\r\n"));
    }
    req.push_str("\r\n");
    c.send_raw(req.as_bytes()).await.expect("send");
    let r = tokio::time::timeout(Duration::from_secs(5), c.read_response(false))
        .await
        .expect("answer in time")
        .expect("answer");
    assert_eq!(r.status, 200, "{}", r.head);
    let set = r.header("set-cookie").and_then(|v| {
        v.split(';')
            .next()
            .and_then(|kv| kv.strip_prefix("JSESSIONID="))
            .map(str::to_string)
    });
    (r.text(), set)
}

/// The walk: six clients log in (balanced), then each replays its cookie three times with a
/// new client's request between replays (which moves round robin on); an unknown cookie is
/// balanced. Returns every answering server in order, after checking stickiness.
async fn walk(to: SocketAddr) -> Vec<String> {
    let mut seen = Vec::new();
    let mut sessions = Vec::new();
    for _ in 0..6 {
        let (srv, set) = request(to, "/login", None).await;
        let id = set.expect("the login answer sets JSESSIONID");
        assert!(id.starts_with(&srv), "{id} from {srv}");
        seen.push(srv.clone());
        sessions.push((srv, id));
    }
    for round in 0..3 {
        for (srv, id) in &sessions {
            let (got, _) = request(to, "/", Some(id)).await;
            assert_eq!(&got, srv, "round {round}: JSESSIONID={id} left its server");
            seen.push(got);
            // A client without a cookie between replays moves round robin on.
            seen.push(request(to, "/", None).await.0);
        }
    }
    // An unknown session id is balanced like a new client.
    seen.push(request(to, "/", Some("nobody-0")).await.0);
    let mut spread: Vec<&String> = sessions.iter().map(|(s, _)| s).collect();
    spread.sort();
    spread.dedup();
    assert_eq!(
        spread.len(),
        3,
        "logins are balanced over the three servers"
    );
    seen
}

#[tokio::test]
async fn app_cookie_sticks_like_haproxy() {
    let s = servers().await;
    let port = free_port();
    let h = start(&cfg(port, &s, OCTAVIA)).await;
    let ours = walk(addr(port)).await;

    // fulcrum only: the server a session is stuck to goes DOWN; the client is balanced
    // elsewhere, and the new server's cookie sticks it there.
    let (srv, id) = {
        let (srv, set) = request(addr(port), "/login", None).await;
        (srv, set.expect("cookie"))
    };
    let g = h.generation().expect("generation");
    let be = &g.backends["be"];
    let index: usize = srv.trim_start_matches('s').parse().expect("index");
    be.set_server_up(index, false);
    let (moved, _) = request(addr(port), "/", Some(&id)).await;
    assert_ne!(moved, srv, "a DOWN server's session is balanced elsewhere");
    let (again, new_id) = request(addr(port), "/login", Some(&id)).await;
    let new_id = new_id.expect("cookie");
    be.set_server_up(index, true);
    for _ in 0..3 {
        assert_eq!(request(addr(port), "/", Some(&new_id)).await.0, again);
    }
    h.shutdown(Duration::from_secs(1)).await;

    let hport = free_port();
    let fresh = servers().await;
    let Some(_haproxy) = Haproxy::start(&cfg(hport, &fresh, OCTAVIA), addr(hport)).await else {
        return;
    };
    let theirs = walk(addr(hport)).await;
    assert_eq!(ours, theirs, "the servers chosen, fulcrum vs haproxy");
}

#[tokio::test]
async fn stick_on_a_request_cookie_stores_it_with_the_chosen_server() {
    let rules = "    stick-table type string len 64 size 10k expire 30s\n    stick on req.cook(JSESSIONID)\n";
    let run = |port: u16| async move {
        let mut seen = Vec::new();
        for id in ["a", "b", "c", "d"] {
            let first = request(addr(port), "/", Some(id)).await.0;
            for _ in 0..3 {
                assert_eq!(request(addr(port), "/", Some(id)).await.0, first, "{id}");
                seen.push(request(addr(port), "/", None).await.0);
            }
            seen.push(first);
        }
        seen
    };
    let s = servers().await;
    let port = free_port();
    let h = start(&cfg(port, &s, rules)).await;
    let ours = run(port).await;
    h.shutdown(Duration::from_secs(1)).await;
    let hport = free_port();
    let Some(_haproxy) = Haproxy::start(&cfg(hport, &s, rules), addr(hport)).await else {
        return;
    };
    assert_eq!(ours, run(hport).await, "fulcrum vs haproxy");
}

/// A reload keeps the learnt sessions (round robin restarts; the sessions do not move).
#[tokio::test]
async fn app_cookie_sessions_survive_a_reload() {
    let s = servers().await;
    let port = free_port();
    let text = cfg(port, &s, OCTAVIA);
    let h = start(&text).await;
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let (srv, set) = request(addr(port), "/login", None).await;
        sessions.push((srv, set.expect("cookie")));
    }
    let more = format!(
        "{text}frontend other\n    bind 127.0.0.1:{}\n    default_backend be\n",
        free_port()
    );
    h.reload(&load(&more)).await.expect("reload");
    for (srv, id) in sessions.iter().rev() {
        for _ in 0..2 {
            assert_eq!(&request(addr(port), "/", Some(id)).await.0, srv, "{id}");
        }
    }
    h.shutdown(Duration::from_secs(1)).await;
}
