//! HTTP mode over real sockets: forwarding, keep-alive, bodies, rules, errors, upgrades.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

fn cfg(port: u16, servers: &str, extra_fe: &str, extra_be: &str) -> String {
    format!(
        "global\n  nbthread 2\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n  timeout http-request 1s\n  retries 1\n\
         frontend fe\n  bind 127.0.0.1:{port}\n{extra_fe}\n  default_backend be\n\
         backend be\n{extra_be}\n{servers}\n"
    )
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test]
async fn forwards_with_keep_alive_and_forwardfor() {
    let b = Backend::start("alpha").await;
    let port = free_port();
    let h = start(&cfg(
        port,
        &format!("  server s1 {}", b.addr),
        "  option forwardfor",
        "",
    ))
    .await;
    let mut c = Client::connect(addr(port)).await.expect("connect");
    for _ in 0..3 {
        let r = c.get("/hello").await.expect("response");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "alpha");
    }
    let heads = b.heads();
    assert_eq!(heads.len(), 3);
    assert!(
        heads[0].contains("X-Forwarded-For: 127.0.0.1"),
        "{}",
        heads[0]
    );
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn return_rule_serves_without_a_server() {
    let port = free_port();
    let text = format!(
        "defaults\n  mode http\n  timeout client 5s\nfrontend demo\n  bind 127.0.0.1:{port}\n  http-request return status 200 content-type text/plain string \"hello from fulcrum\"\n"
    );
    let h = start(&text).await;
    let mut c = Client::connect(addr(port)).await.expect("connect");
    let r = c.get("/").await.expect("response");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello from fulcrum");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    // Keep-alive: a second request on the same connection.
    assert_eq!(c.get("/again").await.expect("second").status, 200);
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn no_server_gives_haproxys_503_page() {
    let port = free_port();
    let dead = free_port();
    let h = start(&cfg(
        port,
        &format!("  server s1 127.0.0.1:{dead}"),
        "",
        "  timeout connect 200ms",
    ))
    .await;
    let r = get(addr(port), "/").await.expect("response");
    assert_eq!(r.status, 503);
    assert_eq!(
        r.text(),
        "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"
    );
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_400_and_close() {
    let b = Backend::start("alpha").await;
    let port = free_port();
    let h = start(&cfg(port, &format!("  server s1 {}", b.addr), "", "")).await;
    let mut c = Client::connect(addr(port)).await.expect("connect");
    c.send_raw(b"\x16\x03\x01 not http\r\n\r\n")
        .await
        .expect("send");
    let r = c.read_response(false).await.expect("response");
    assert_eq!(r.status, 400);
    assert!(c.closed_within(Duration::from_secs(2)).await);
    let mut c = Client::connect(addr(port)).await.expect("connect");
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20000)
    );
    let _ = c.send_raw(big.as_bytes()).await;
    let r = c.read_response(false).await.expect("response");
    assert_eq!(r.status, 400);
    assert!(b.heads().is_empty(), "nothing reached the server");
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn slow_client_gets_408() {
    let b = Backend::start("alpha").await;
    let port = free_port();
    let h = start(&cfg(port, &format!("  server s1 {}", b.addr), "", "")).await;
    let mut c = Client::connect(addr(port)).await.expect("connect");
    c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("send");
    let r = c.read_response(false).await.expect("response");
    assert_eq!(r.status, 408);
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn bodies_stream_both_ways_chunked_and_length() {
    let b = Backend::start("alpha").await;
    let port = free_port();
    let h = start(&cfg(port, &format!("  server s1 {}", b.addr), "", "")).await;
    let mut c = Client::connect(addr(port)).await.expect("connect");
    // 1 MiB response, far above tune.bufsize: must be streamed.
    let r = c.get("/big/1048576").await.expect("big");
    assert_eq!(r.body.len(), 1_048_576);
    // Chunked request body echoed back.
    let mut req = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut want = Vec::new();
    for i in 0..50u8 {
        let chunk = vec![b'a' + (i % 26); 3000];
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(&chunk);
        req.extend_from_slice(b"\r\n");
        want.extend_from_slice(&chunk);
    }
    req.extend_from_slice(b"0\r\n\r\n");
    c.send_raw(&req).await.expect("send");
    let r = c.read_response(false).await.expect("echo");
    assert_eq!(r.body, want);
    // Chunked response passes through, and the connection stays usable.
    let r = c.get("/chunked").await.expect("chunked");
    assert_eq!(r.text(), "abcalpha");
    assert_eq!(c.get("/").await.expect("after").text(), "alpha");
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn expect_100_continue_is_relayed() {
    let b = Backend::start("alpha").await;
    let port = free_port();
    let h = start(&cfg(port, &format!("  server s1 {}", b.addr), "", "")).await;
    let mut c = Client::connect(addr(port)).await.expect("connect");
    c.send_raw(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .expect("send");
    let interim = c.read_response(false).await.expect("100");
    assert_eq!(interim.status, 100);
    c.send_raw(b"hello").await.expect("body");
    let r = c.read_response(false).await.expect("final");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn upgrade_becomes_a_tunnel() {
    let b = Backend::start("alpha").await;
    let port = free_port();
    let h = start(&cfg(port, &format!("  server s1 {}", b.addr), "", "")).await;
    let mut c = Client::connect(addr(port)).await.expect("connect");
    c.send_raw(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .expect("send");
    let r = c.read_response(true).await.expect("101");
    assert_eq!(r.status, 101);
    c.send_raw(b"ping through the tunnel").await.expect("send");
    let mut got = vec![0u8; 23];
    tokio::time::timeout(
        Duration::from_secs(3),
        tokio::io::AsyncReadExt::read_exact(&mut c.s, &mut got),
    )
    .await
    .expect("echo in time")
    .expect("echo");
    assert_eq!(&got, b"ping through the tunnel");
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn rules_and_acl_routing() {
    let a = Backend::start("alpha").await;
    let z = Backend::start("zeta").await;
    let port = free_port();
    let text = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:{port}\n\
           acl is_api path_beg /api\n  acl host_z hdr(host) -i z.example\n\
           http-request deny if {{ path /forbidden }}\n\
           http-request redirect location /new code 301 if {{ path /old }}\n\
           http-request set-header X-Via fulcrum\n  http-request del-header X-Secret\n\
           http-response add-header X-Resp yes\n\
           use_backend bz if is_api || host_z\n  default_backend ba\n\
         backend ba\n  server a {}\nbackend bz\n  server z {}\n",
        a.addr, z.addr
    );
    let h = start(&text).await;
    let mut c = Client::connect(addr(port)).await.expect("connect");
    assert_eq!(c.get("/x").await.expect("x").text(), "alpha");
    assert_eq!(c.get("/api/v1").await.expect("api").text(), "zeta");
    c.send_raw(b"GET / HTTP/1.1\r\nHost: Z.example\r\nX-Secret: 1\r\n\r\n")
        .await
        .expect("send");
    let r = c.read_response(false).await.expect("host");
    assert_eq!(r.text(), "zeta");
    assert_eq!(r.header("x-resp"), Some("yes"));
    let last = z.heads().pop().unwrap_or_default();
    assert!(
        last.contains("x-via: fulcrum") && !last.contains("X-Secret"),
        "{last}"
    );
    let r = c.get("/forbidden").await.expect("deny");
    assert_eq!(r.status, 403);
    assert!(r
        .text()
        .contains("Request forbidden by administrative rules."));
    let r = c.get("/old").await.expect("redirect");
    assert_eq!((r.status, r.header("location")), (301, Some("/new")));
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn errorfile_replaces_the_page() {
    let dir = TempDir::new("errorfile");
    let f = dir.0.join("503.http");
    std::fs::write(
        &f,
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nmine",
    )
    .expect("write");
    let port = free_port();
    let dead = free_port();
    let text = format!(
        "defaults\n  mode http\n  timeout connect 200ms\n  timeout client 5s\n  timeout server 5s\n  retries 0\n\
         frontend fe\n  bind 127.0.0.1:{port}\n  default_backend be\nbackend be\n  errorfile 503 {}\n  server s 127.0.0.1:{dead}\n",
        f.display()
    );
    let h = start(&text).await;
    let r = get(addr(port), "/").await.expect("response");
    assert_eq!((r.status, r.text().as_str()), (503, "mine"));
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn maxconn_queues_then_times_out_with_503() {
    let b = Backend::start("alpha").await;
    let port = free_port();
    let h = start(&cfg(
        port,
        &format!("  server s1 {} maxconn 1", b.addr),
        "",
        "  timeout queue 300ms",
    ))
    .await;
    // One slow request holds the only slot; a second one waits in the queue and times out.
    let slow = tokio::spawn(async move { get(addr(port), "/slow/1500").await });
    assert!(
        wait_for(|| {
            let seen = b.heads().iter().any(|h| h.contains("/slow/1500"));
            async move { seen }
        })
        .await,
        "the slow request never reached the server"
    );
    let r = get(addr(port), "/").await.expect("queued");
    assert_eq!(r.status, 503);
    assert_eq!(slow.await.expect("join").expect("slow").status, 200);
    // With the slot free again, requests pass.
    assert_eq!(get(addr(port), "/").await.expect("after").status, 200);
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn retries_redispatch_to_a_live_server() {
    let b = Backend::start("alive").await;
    let port = free_port();
    let dead = free_port();
    let servers = format!("  server dead 127.0.0.1:{dead}\n  server live {}", b.addr);
    let h = start(&cfg(
        port,
        &servers,
        "",
        "  option redispatch\n  retries 1\n  balance first",
    ))
    .await;
    let r = get(addr(port), "/").await.expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "alive"));
    h.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn backup_server_only_when_actives_are_down() {
    let a = Backend::start("active").await;
    let k = Backend::start("backup").await;
    let port = free_port();
    let servers = format!("  server a {}\n  server k {} backup", a.addr, k.addr);
    let h = start(&cfg(port, &servers, "", "")).await;
    for _ in 0..3 {
        assert_eq!(get(addr(port), "/").await.expect("r").text(), "active");
    }
    let gen = h.generation().expect("generation");
    gen.backends["be"].set_server_up(0, false);
    assert_eq!(get(addr(port), "/").await.expect("r").text(), "backup");
    h.shutdown(Duration::from_secs(1)).await;
}
