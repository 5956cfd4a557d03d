//! The same haproxy.cfg run by the real HAProxy and by fulcrum: the same sequence of chosen
//! servers, the same X-Forwarded-For, the same status codes in error cases.
//! Skips (loudly) when `haproxy` is not installed.

mod common;
use common::*;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Runs `body_of(port)` against HAProxy then fulcrum on the same config; returns both results.
async fn both<F, Fut, T>(cfg_for: impl Fn(u16) -> String, run: F) -> Option<(T, T)>
where
    F: Fn(u16) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let hp = free_port();
    let haproxy = Haproxy::start(&cfg_for(hp), addr(hp)).await?;
    let a = run(hp).await;
    drop(haproxy);
    let fp = free_port();
    let f = start(&cfg_for(fp)).await;
    let b = run(fp).await;
    f.shutdown(Duration::from_secs(1)).await;
    Some((a, b))
}

fn cfg(port: u16, balance: &str, servers: &str) -> String {
    format!(
        "global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:{port}\n  default_backend be\nbackend be\n  balance {balance}\n{servers}\n"
    )
}

async fn sequence(port: u16, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(
            get(addr(port), "/")
                .await
                .map(|r| r.text())
                .unwrap_or_else(|e| format!("error: {e}")),
        );
    }
    out
}

async fn backends(names: &[&str]) -> (Vec<Backend>, String) {
    let mut bs = Vec::new();
    for n in names {
        bs.push(Backend::start(n).await);
    }
    (bs, String::new())
}

fn server_lines(bs: &[Backend], weights: &[u32]) -> String {
    bs.iter()
        .zip(weights)
        .map(|(b, w)| format!("  server {} {} weight {w}\n", b.name, b.addr))
        .collect()
}

async fn compare_balance(balance: &str, weights: &[u32], n: usize) {
    let names: Vec<String> = (0..weights.len()).map(|i| format!("s{}", i + 1)).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (bs, _) = backends(&refs).await;
    let lines = server_lines(&bs, weights);
    let Some((h, f)) = both(|p| cfg(p, balance, &lines), |p| sequence(p, n)).await else {
        return;
    };
    assert_eq!(h.len(), n);
    assert!(h.iter().all(|s| !s.starts_with("error")), "haproxy: {h:?}");
    assert_eq!(
        f, h,
        "balance {balance} weights {weights:?}: fulcrum (left) differs from HAProxy (right)"
    );
}

#[tokio::test]
async fn roundrobin_equal_weights_matches_haproxy() {
    compare_balance("roundrobin", &[1, 1, 1], 30).await;
}

#[tokio::test]
async fn roundrobin_weights_3_1_matches_haproxy_over_400_requests() {
    compare_balance("roundrobin", &[3, 1], 400).await;
}

#[tokio::test]
async fn roundrobin_uneven_weights_matches_haproxy() {
    compare_balance("roundrobin", &[5, 2, 1], 80).await;
}

#[tokio::test]
async fn static_rr_matches_haproxy() {
    compare_balance("static-rr", &[3, 1], 64).await;
    compare_balance("static-rr", &[1, 1, 1], 12).await;
}

#[tokio::test]
async fn leastconn_matches_haproxy() {
    compare_balance("leastconn", &[1, 1, 1], 12).await;
}

#[tokio::test]
async fn first_matches_haproxy() {
    compare_balance("first", &[1, 1], 5).await;
}

#[tokio::test]
async fn source_matches_haproxy() {
    let (bs, _) = backends(&["s1", "s2", "s3"]).await;
    let lines = server_lines(&bs, &[1, 1, 1]);
    let run = |port: u16| async move {
        let mut out = Vec::new();
        for last in 1..=24u8 {
            let from = IpAddr::from([127, 0, 0, last]);
            let r = match Client::connect_from(addr(port), from).await {
                Ok(mut c) => c
                    .get("/")
                    .await
                    .map(|r| r.text())
                    .unwrap_or_else(|e| format!("error: {e}")),
                Err(e) => format!("connect error: {e}"),
            };
            out.push(r);
        }
        out
    };
    let Some((h, f)) = both(|p| cfg(p, "source", &lines), run).await else {
        return;
    };
    assert_eq!(f, h, "balance source: fulcrum (left) vs HAProxy (right)");
}

#[tokio::test]
async fn uri_hash_matches_haproxy() {
    let (bs, _) = backends(&["s1", "s2", "s3"]).await;
    let lines = server_lines(&bs, &[1, 1, 1]);
    let run = |port: u16| async move {
        let mut out = Vec::new();
        for i in 0..20 {
            out.push(
                get(addr(port), &format!("/path/{i}?q={i}"))
                    .await
                    .map(|r| r.text())
                    .unwrap_or_default(),
            );
        }
        out
    };
    let Some((h, f)) = both(|p| cfg(p, "uri", &lines), run).await else {
        return;
    };
    assert_eq!(f, h, "balance uri: fulcrum (left) vs HAProxy (right)");
}

#[tokio::test]
async fn url_param_hash_matches_haproxy() {
    let (bs, _) = backends(&["s1", "s2", "s3"]).await;
    let lines = server_lines(&bs, &[1, 2, 1]);
    let run = |port: u16| async move {
        let mut out = Vec::new();
        for i in 0..24 {
            // With the parameter (first, later, empty), and without it (round robin on the map).
            let target = match i % 4 {
                0 => format!("/cart?user=u{i}"),
                1 => format!("/cart?x=1&user=u{i}&y=2"),
                2 => "/cart?user=".to_string(),
                _ => format!("/cart?username=u{i}"),
            };
            out.push(
                get(addr(port), &target)
                    .await
                    .map(|r| r.text())
                    .unwrap_or_default(),
            );
        }
        out
    };
    let Some((h, f)) = both(|p| cfg(p, "url_param user", &lines), run).await else {
        return;
    };
    assert_eq!(f, h, "balance url_param: fulcrum (left) vs HAProxy (right)");
}

/// The X-Forwarded-For values a backend received, header name case aside.
fn xff_of(head: &str) -> Vec<String> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case("x-forwarded-for"))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

#[tokio::test]
async fn forwardfor_matches_haproxy() {
    for opt in [
        "option forwardfor",
        "option forwardfor if-none",
        "option forwardfor except 127.0.0.0/8",
        "option forwardfor header X-Client",
    ] {
        let b = Backend::start("s1").await;
        let text = |p: u16| {
            format!(
                "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
                 frontend fe\n  bind 127.0.0.1:{p}\n  {opt}\n  default_backend be\nbackend be\n  server s1 {}\n",
                b.addr
            )
        };
        let heads = b.heads.clone();
        let run = |port: u16| {
            let heads = heads.clone();
            async move {
                let mut c = Client::connect(addr(port)).await.expect("connect");
                let _ = c.get("/").await;
                c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 9.9.9.9\r\n\r\n")
                    .await
                    .ok();
                let _ = c.read_response(false).await;
                let hs = heads
                    .lock()
                    .map(|mut v| std::mem::take(&mut *v))
                    .unwrap_or_default();
                let client_hdr: Vec<Vec<String>> = hs
                    .iter()
                    .map(|h| {
                        h.lines()
                            .filter_map(|l| l.split_once(':'))
                            .filter(|(n, _)| n.trim().eq_ignore_ascii_case("x-client"))
                            .map(|(_, v)| v.trim().to_string())
                            .collect()
                    })
                    .collect();
                (hs.iter().map(|h| xff_of(h)).collect::<Vec<_>>(), client_hdr)
            }
        };
        let Some((h, f)) = both(text, run).await else {
            return;
        };
        assert_eq!(f, h, "{opt}: fulcrum (left) vs HAProxy (right)");
    }
}

#[tokio::test]
async fn error_statuses_match_haproxy() {
    let b = Backend::start("s1").await;
    let dead = free_port();
    let text = |p: u16| {
        format!(
            "defaults\n  mode http\n  timeout connect 300ms\n  timeout client 5s\n  timeout server 400ms\n  timeout http-request 500ms\n  retries 0\n\
             frontend fe\n  bind 127.0.0.1:{p}\n  http-request deny if {{ path /deny }}\n  use_backend dead if {{ path /dead }}\n  default_backend be\n\
             backend be\n  server s1 {}\nbackend dead\n  server d 127.0.0.1:{dead}\n",
            b.addr
        )
    };
    let run = |port: u16| async move {
        let mut out = Vec::new();
        for path in ["/", "/deny", "/dead", "/slow/1000", "/garbage"] {
            out.push((
                path.to_string(),
                get(addr(port), path).await.map(|r| r.status).unwrap_or(0),
            ));
        }
        let raws: [&[u8]; 3] = [
            b"BLAH\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        ];
        for raw in raws {
            let mut c = Client::connect(addr(port)).await.expect("connect");
            let _ = c.send_raw(raw).await;
            let st = c.read_response(false).await.map(|r| r.status).unwrap_or(0);
            out.push((String::from_utf8_lossy(&raw[..8]).into_owned(), st));
        }
        out
    };
    let Some((h, f)) = both(text, run).await else {
        return;
    };
    assert_eq!(f, h, "fulcrum (left) vs HAProxy (right)");
}

#[tokio::test]
async fn hdr_hash_matches_haproxy() {
    let (bs, _) = backends(&["s1", "s2", "s3"]).await;
    let lines = server_lines(&bs, &[1, 1, 1]);
    let run = |port: u16| async move {
        let mut out = Vec::new();
        for i in 0..20 {
            let mut c = Client::connect(addr(port)).await.expect("connect");
            let req = if i % 5 == 4 {
                // No header: HAProxy falls back to round robin.
                "GET / HTTP/1.1\r\nX-Other: 1\r\n\r\n".to_string()
            } else {
                format!("GET / HTTP/1.1\r\nX-Tenant: tenant-{i}\r\n\r\n")
            };
            c.send_raw(req.as_bytes()).await.ok();
            out.push(
                c.read_response(false)
                    .await
                    .map(|r| r.text())
                    .unwrap_or_default(),
            );
        }
        out
    };
    let Some((h, f)) = both(|p| cfg(p, "hdr(X-Tenant)", &lines), run).await else {
        return;
    };
    assert_eq!(f, h, "balance hdr: fulcrum (left) vs HAProxy (right)");
}
