//! The seed 003 cookie walk-through (`cookie SRV insert indirect nocache`, servers `cookie 0`
//! and `cookie 1`) run through the real HAProxy and through fulcrum's pure persist module with
//! the same requests: the same server choices, the same Set-Cookie and Cache-Control values,
//! and the same Cookie header reaching the servers. Skips loudly when haproxy is missing.

mod common;

use fulcrum_config::model::{CookieMethod, CookiePersistence};
use fulcrum_proxy::persist::cookie::{CookiePersist, CookieResponse, CookieServer};
use fulcrum_proxy::persist::{apply_edits, HeaderEdit};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// (server name, Cookie header it received), in arrival order.
type Received = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Response headers a backend sends for a path (the same for HAProxy's and fulcrum's side).
fn backend_headers(path: &str) -> Vec<(String, String)> {
    match path {
        // what Tomcat answered in the seed
        "/manager/html" => vec![
            ("Cache-Control".into(), "private".into()),
            ("Expires".into(), "Wed, 31 Dec 1969 19:00:00 EST".into()),
        ],
        "/cacheable" => vec![("Cache-Control".into(), "max-age=60".into())],
        "/app-cookie" => vec![("Set-Cookie".into(), "SRV=app; path=/".into())],
        _ => vec![],
    }
}

/// A backend answering with its name and recording the Cookie header it received.
async fn backend(
    name: &'static str,
    seen: Received,
) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end + 4);
                        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                        let cookie = head.lines().find_map(|l| {
                            let (n, v) = l.split_once(':')?;
                            n.trim()
                                .eq_ignore_ascii_case("cookie")
                                .then(|| v.trim().to_string())
                        });
                        if path != "/" || cookie.is_some() || !head.starts_with("GET / HTTP/1.0") {
                            if let Ok(mut v) = seen.lock() {
                                v.push((name.to_string(), cookie));
                            }
                        }
                        let mut resp = "HTTP/1.1 200 OK\r\n".to_string();
                        for (n, v) in backend_headers(&path) {
                            resp.push_str(&format!("{n}: {v}\r\n"));
                        }
                        resp.push_str(&format!("Content-Length: {}\r\n\r\n{name}", name.len()));
                        if s.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    match s.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
            });
        }
    });
    addr
}

#[derive(Debug, PartialEq, Eq)]
struct Seen {
    server: String,
    set_cookie: Vec<String>,
    cache_control: Vec<String>,
}

/// One request through HAProxy; returns the answering server and the persistence headers.
async fn via_haproxy(addr: SocketAddr, path: &str, cookie: Option<&str>) -> Seen {
    let mut s = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect to haproxy");
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut raw))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full response");
    let values = |name: &str| -> Vec<String> {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    };
    Seen {
        server: body.to_string(),
        set_cookie: values("set-cookie"),
        cache_control: values("cache-control"),
    }
}

/// The same request through fulcrum's persist module, balancing round-robin like HAProxy.
fn via_fulcrum(
    p: &CookiePersist,
    rr: &mut usize,
    path: &str,
    cookie: Option<&str>,
    seen: &mut Vec<(String, Option<String>)>,
) -> Seen {
    let names = ["s0", "s1"];
    let servers = [
        CookieServer {
            cookie: Some("0"),
            usable: true,
        },
        CookieServer {
            cookie: Some("1"),
            usable: true,
        },
    ];
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut req: Vec<(String, String)> = vec![("Host".into(), "test".into())];
    if let Some(c) = cookie {
        req.push(("Cookie".into(), c.into()));
    }
    let view: Vec<(&[u8], &[u8])> = req
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    let decision = p.on_request(now, &view, &servers);
    apply_edits(&mut req, &decision.edits);
    let chosen = decision.server.unwrap_or_else(|| {
        let c = *rr % 2;
        *rr += 1;
        c
    });
    seen.push((
        names[chosen].to_string(),
        req.iter()
            .find(|(n, _)| n == "Cookie")
            .map(|(_, v)| v.clone()),
    ));
    let mut resp = backend_headers(path);
    let view: Vec<(&[u8], &[u8])> = resp
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    let ctx = CookieResponse {
        method: b"GET",
        status: 200,
        server_cookie: servers[chosen].cookie,
        direct: decision.server.is_some(),
    };
    let edits: Vec<HeaderEdit> = p.on_response(now, &decision, &ctx, &view);
    apply_edits(&mut resp, &edits);
    let values = |name: &str| -> Vec<String> {
        resp.iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    };
    Seen {
        server: names[chosen].to_string(),
        set_cookie: values("set-cookie"),
        cache_control: values("cache-control"),
    }
}

#[tokio::test]
async fn seed_003_cookie_walkthrough_matches_haproxy() {
    let hp_seen = Arc::new(Mutex::new(Vec::new()));
    let s0 = backend("s0", hp_seen.clone()).await;
    let s1 = backend("s1", hp_seen.clone()).await;
    let port = common::free_port();
    let cfg = format!(
        "defaults\n    retries 3\n    option redispatch\n    timeout connect 5000\n    timeout client 50000\n    timeout server 50000\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    mode http\n    default_backend be\n    option forwardfor\n\
         backend be\n    mode http\n    balance roundrobin\n    timeout check 30s\n    option httpchk GET /\n    http-check expect rstatus 200\n\
         \x20   cookie SRV insert indirect nocache\n\
         \x20   server 231f1329 {s0} weight 100 check inter 30s fall 3 cookie 0\n\
         \x20   server 6d936b4d {s1} weight 100 check inter 30s fall 3 cookie 1\n"
    );
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let Some(_haproxy) = common::Haproxy::start(&cfg, listen).await else {
        return;
    };
    // the same config parsed by fulcrum gives the cookie settings
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "seed003.cfg",
        text: &cfg,
    }]);
    assert!(loaded.is_ok(), "{:?}", loaded.diagnostics);
    let be = loaded.config.backend("be").expect("backend be");
    let ck: CookiePersistence = be.cookie.clone().expect("cookie line");
    assert_eq!(
        (ck.method, ck.indirect, ck.nocache),
        (CookieMethod::Insert, true, true)
    );
    let p = CookiePersist::new(ck, be.options.persist);

    // the curl walk-through of seed 003, plus a cacheable page, a server's own SRV cookie,
    // and other cookies around SRV
    let steps: &[(&str, Option<&str>)] = &[
        ("/manager/html", None),
        ("/manager/html", None),
        ("/manager/html", None),
        ("/manager/html", Some("SRV=0")),
        ("/manager/html", Some("SRV=1")),
        ("/manager/html", Some("SRV=2")),
        ("/cacheable", None),
        ("/cacheable", Some("SRV=1")),
        ("/app-cookie", None),
        ("/app-cookie", Some("SRV=0")),
        ("/", Some("JSESSIONID=abc; SRV=1; lang=en")),
    ];
    let mut rr = 0;
    let mut fulcrum_seen = Vec::new();
    for (i, (path, cookie)) in steps.iter().enumerate() {
        let h = via_haproxy(listen, path, *cookie).await;
        let f = via_fulcrum(&p, &mut rr, path, *cookie, &mut fulcrum_seen);
        eprintln!("step {i}: {path} {cookie:?} → haproxy {h:?}");
        assert_eq!(f, h, "step {i}: {path} with cookie {cookie:?}");
    }
    // the seed's first answer
    let first = via_fulcrum(&p, &mut 0, "/manager/html", None, &mut Vec::new());
    assert_eq!(first.set_cookie, vec!["SRV=0; path=/".to_string()]);
    let hp_seen = hp_seen.lock().map(|v| v.clone()).unwrap_or_default();
    assert_eq!(
        fulcrum_seen, hp_seen,
        "same server and same Cookie header forwarded (indirect)"
    );
}
