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
        "/jsession" => vec![("Set-Cookie".into(), "JSESSIONID=abc123; Path=/".into())],
        "/logout" => vec![(
            "Set-Cookie".into(),
            "SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT".into(),
        )],
        _ => vec![],
    }
}

/// A backend answering with its name and recording the Cookie header it received.
async fn backend(name: &'static str, seen: Received) -> SocketAddr {
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
async fn via_haproxy(addr: SocketAddr, method: &str, path: &str, cookie: Option<&str>) -> Seen {
    let mut s = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect to haproxy");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
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
    method: &str,
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
        method: method.as_bytes(),
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

/// Runs `steps` (method, path, Cookie) through haproxy and through the persist module with
/// the backend written as `cookie_line`; everything the client and the servers see must match.
async fn compare(cookie_line: &str, steps: &[(&str, &str, Option<&str>)]) {
    let hp_seen = Arc::new(Mutex::new(Vec::new()));
    let s0 = backend("s0", hp_seen.clone()).await;
    let s1 = backend("s1", hp_seen.clone()).await;
    let port = common::free_port();
    let cfg = format!(
        "defaults\n    retries 3\n    option redispatch\n    timeout connect 5000\n    timeout client 50000\n    timeout server 50000\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    mode http\n    default_backend be\n    option forwardfor\n\
         backend be\n    mode http\n    balance roundrobin\n    timeout check 30s\n    option httpchk GET /\n    http-check expect rstatus 200\n\
         \x20   {cookie_line}\n\
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
    let p = CookiePersist::from_proxy(be).expect("cookie line");
    let mut rr = 0;
    let mut fulcrum_seen = Vec::new();
    for (i, (method, path, cookie)) in steps.iter().enumerate() {
        let h = via_haproxy(listen, method, path, *cookie).await;
        let f = via_fulcrum(&p, &mut rr, method, path, *cookie, &mut fulcrum_seen);
        eprintln!("[{cookie_line}] step {i}: {method} {path} {cookie:?} → haproxy {h:?}");
        assert_eq!(
            f, h,
            "[{cookie_line}] step {i}: {method} {path} with cookie {cookie:?}"
        );
    }
    let hp_seen = hp_seen.lock().map(|v| v.clone()).unwrap_or_default();
    assert_eq!(
        fulcrum_seen, hp_seen,
        "[{cookie_line}] same server and same Cookie header forwarded"
    );
}

#[tokio::test]
async fn seed_003_cookie_walkthrough_matches_haproxy() {
    // the curl walk-through of seed 003, plus a cacheable page, a server's own SRV cookie,
    // and other cookies around SRV
    compare(
        "cookie SRV insert indirect nocache",
        &[
            ("GET", "/manager/html", None),
            ("GET", "/manager/html", None),
            ("GET", "/manager/html", None),
            ("GET", "/manager/html", Some("SRV=0")),
            ("GET", "/manager/html", Some("SRV=1")),
            ("GET", "/manager/html", Some("SRV=2")),
            ("GET", "/cacheable", None),
            ("GET", "/cacheable", Some("SRV=1")),
            ("GET", "/app-cookie", None),
            ("GET", "/app-cookie", Some("SRV=0")),
            ("GET", "/", Some("JSESSIONID=abc; SRV=1; lang=en")),
        ],
    )
    .await;
    // the seed's first answer, as the issue states it
    let c = CookiePersistence {
        span: Default::default(),
        name: "SRV".into(),
        method: CookieMethod::Insert,
        indirect: true,
        nocache: true,
        postonly: false,
        preserve: false,
        httponly: false,
        secure: false,
        domains: vec![],
        maxidle: None,
        maxlife: None,
    };
    let first = via_fulcrum(
        &CookiePersist::new(c, false),
        &mut 0,
        "GET",
        "/manager/html",
        None,
        &mut Vec::new(),
    );
    assert_eq!(first.set_cookie, vec!["SRV=0; path=/".to_string()]);
}

#[tokio::test]
async fn other_cookie_modes_match_haproxy() {
    let steps: &[(&str, &str, Option<&str>)] = &[
        ("GET", "/cacheable", None),
        ("GET", "/app-cookie", None),
        ("POST", "/cacheable", None),
        ("GET", "/jsession", None),
        ("GET", "/", Some("SRV=1; x=y")),
        ("GET", "/app-cookie", Some("SRV=0")),
        ("GET", "/", Some("JSESSIONID=1~abc123; x=y")),
        ("GET", "/jsession", Some("JSESSIONID=0~abc123")),
        ("GET", "/", Some("JSESSIONID=9~abc123")),
        ("POST", "/", Some("SRV=7")),
        ("GET", "/logout", Some("SRV=1")),
        ("GET", "/logout", None),
    ];
    for line in [
        "cookie SRV insert",
        "cookie SRV insert indirect nocache httponly secure domain .example.com domain example.org",
        "cookie SRV insert postonly nocache",
        "cookie SRV insert indirect preserve",
        "cookie SRV rewrite",
        "cookie SRV rewrite nocache",
        "cookie JSESSIONID prefix",
        "cookie JSESSIONID prefix indirect",
    ] {
        compare(line, steps).await;
    }
}
