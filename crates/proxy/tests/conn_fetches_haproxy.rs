//! The connection and server fetches, side by side with the real haproxy 2.6 on the same
//! config: `so_id so_name` (the bind's `id`/`name`), `fc_src fc_dst fc_*_port` (the
//! socket's addresses: neither the PROXY header's nor `http-request set-src`'s),
//! `fc_rcvd_proxy fc_pp_authority fc_pp_unique_id` (a PROXY v2 header with TLVs), the
//! TCP_INFO fetches (`fc_rtt fc_rttvar fc_unacked fc_lost fc_retrans`), `fc_http_major`,
//! `fc_err fc_err_str`, `src_is_local dst_is_local fc_src_is_local fc_dst_is_local`,
//! `nbsrv(B) srv_is_up(B/S) connslots(B) thread str()`, `bc_*` in response rules and log
//! lines, in HTTP and TCP mode, `%bc %sc` (live session counts: a client's line while another
//! request is still at the server) and `%sq %bq` (four requests queued for a `maxconn 1`
//! server). Compared: the headers the backend receives, the headers the client gets and the
//! log lines (ports replaced by names). Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails
//! the test.

mod common;
use common::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cfg(s: &Setup<'_>) -> String {
    let b = s.backend;
    format!(
        "{head}\
         frontend web\n\
         \x20 bind 127.0.0.1:{p0} name direct id 7\n\
         \x20 bind 127.0.0.1:{p1} accept-proxy name proxied\n\
         \x20 bind 127.0.0.1:{p3} proto h2 name h2c\n\
         \x20 log-format \"http %[so_id] %[so_name] %[fc_src] %[fc_dst_port] %[fc_rcvd_proxy] %[fc_http_major] %[fc_err] %[fc_err_str] %[bc_http_major] %[bc_dst] %[bc_dst_port] %[bc_src] %[bc_err] %[bc_err_str] %[nbsrv(app)] %[thread] %b %s %bc/%sc\"\n\
         \x20 tcp-request connection set-var(sess.so) so_name\n\
         \x20 tcp-request connection set-var(sess.port) fc_dst_port\n\
         \x20 http-request set-header X-So \"%[so_id] %[so_name] %[var(sess.so)] %[var(sess.port)]\"\n\
         \x20 http-request set-header X-Pp \"%[fc_rcvd_proxy] %[fc_pp_authority] %[fc_pp_unique_id]\"\n\
         \x20 http-request set-header X-Tcp \"%[fc_rtt(us),bool] %[fc_rttvar(us),bool] %[fc_unacked] %[fc_lost] %[fc_retrans] %[fc_http_major] %[fc_err]\" unless {{ so_name h2c }}\n\
         \x20 http-request set-header X-Srv \"%[nbsrv(app)] %[nbsrv(two)] %[srv_is_up(app/a1)] %[srv_is_up(app/a2)] %[connslots(app)] %[connslots(two)] %[thread] [%[str()]]\"\n\
         \x20 http-request set-src hdr(x-src) if {{ req.hdr(x-src) -m found }}\n\
         \x20 http-request set-header X-Src \"%[src] %[fc_src] %[fc_dst] %[fc_dst_port]\"\n\
         \x20 http-request set-header X-Local \"%[src_is_local] %[dst_is_local] %[fc_src_is_local] %[fc_dst_is_local]\"\n\
         \x20 use_backend two if {{ path_beg /two }}\n\
         \x20 default_backend app\n\
         backend app\n\
         \x20 http-response set-header X-Bc \"%[bc_dst] %[bc_dst_port] %[bc_src] %[bc_http_major] %[bc_err] %[nbsrv] %[srv_is_up(a1)] %[connslots]\"\n\
         \x20 server a1 {b}\n  server a2 {b} disabled\n\
         backend two\n\
         \x20 server t1 {b} maxconn 10\n  server t2 {b} backup\n\
         listen tcpl\n  mode tcp\n  bind 127.0.0.1:{p2} name raw\n\
         \x20 log-format \"tcp %[so_id] %[so_name] %[fc_src] %[fc_dst_port] %[fc_rcvd_proxy] %[fc_http_major] %[fc_unacked] %[bc_dst_port] %[bc_src] %[bc_http_major] %[bc_err] %[nbsrv] %[srv_is_up(t1)] %bc/%sc %sq/%bq\"\n\
         \x20 server t1 {b}\n",
        // One thread on both sides: `thread` is 0.
        head = s.head("http").replacen("global\n", "global\n  nbthread 1\n", 1),
        p0 = s.ports[0],
        p1 = s.ports[1],
        p2 = s.ports[2],
        p3 = s.ports[3],
    )
}

/// `text` with the side's own port numbers named (they differ between the sides).
fn named_ports(side: &Side, text: &str) -> String {
    text.replace(&side.port(0).to_string(), "P0")
        .replace(&side.port(1).to_string(), "P1")
        .replace(&side.port(2).to_string(), "P2")
        .replace(&side.port(3).to_string(), "P3")
        .replace(&side.backend.addr.port().to_string(), "PB")
}

#[derive(Debug, PartialEq)]
struct Seen {
    /// Per request: the `x-` fields the client got, and the log line.
    answers: Vec<(Vec<String>, String)>,
    /// The `x-` fields of each request the backend received, in order.
    received: Vec<Vec<String>>,
    /// The log line of a request answered while another one is still at the server.
    concurrent: String,
}

/// Sends `raw` on a new connection to port `i` (after `pre`), reads the answer to the close.
async fn exchange(side: &Side, i: usize, pre: &[u8], raw: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(side.addr(i))
        .await
        .expect("connect");
    s.write_all(pre).await.expect("pre");
    s.write_all(raw.as_bytes()).await.expect("send");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{}: {text}", side.who);
    text
}

/// One HTTP/2 request with prior knowledge; its status.
async fn h2_get(addr: std::net::SocketAddr) -> u16 {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (client, conn) = h2::client::handshake(tcp).await.expect("handshake");
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut c = client.ready().await.expect("ready");
    let req = http::Request::get(format!("http://{addr}/h2"))
        .body(())
        .expect("request");
    let (resp, _) = c.send_request(req, true).expect("send");
    let resp = tokio::time::timeout(Duration::from_secs(3), resp)
        .await
        .expect("answered in time")
        .expect("response");
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    while let Some(d) = body.data().await {
        if d.is_err() {
            break;
        }
    }
    drop(c);
    conn.abort();
    status
}

async fn drive(side: Arc<Side>) -> Seen {
    let mut answers = Vec::new();
    let get = |path: &str, extra: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n")
    };
    let pp = fulcrum_proxy::proxy_protocol::v2(
        Some((
            "10.20.30.40:5555".parse().expect("a"),
            "10.20.30.50:443".parse().expect("b"),
        )),
        &[(0x02, b"example.com"), (0x05, b"uid-42")],
    );
    let requests: [(usize, &[u8], String); 4] = [
        (0, b"", get("/", "")),
        (0, b"", get("/", "X-Src: 10.9.8.7\r\n")),
        (1, &pp, get("/", "")),
        (0, b"", get("/two", "")),
    ];
    for (port, pre, raw) in &requests {
        let text = exchange(&side, *port, pre, raw).await;
        let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
        let line = mask_ports(&named_ports(&side, &side.line().await));
        let fields = x_fields(&named_ports(&side, &head));
        answers.push((fields, line));
    }
    // HTTP/2 (h2c with prior knowledge): `fc_http_major` is 2 (TCP_INFO is not compared
    // there: the frames in flight make `fc_unacked` differ from run to run).
    let status = h2_get(side.addr(3)).await;
    assert_eq!(status, 200, "{}: h2", side.who);
    let line = mask_ports(&named_ports(&side, &side.line().await));
    answers.push((Vec::new(), line));
    // TCP mode: bytes through the listen, then its log line.
    let got = side.exchange(2, get("/t", "").as_bytes()).await;
    assert!(got.starts_with(b"HTTP/1.1 200"), "{}: tcp", side.who);
    let line = mask_ports(&named_ports(&side, &side.line().await));
    answers.push((Vec::new(), line));
    let received = side
        .backend
        .heads()
        .iter()
        .map(|h| x_fields(&named_ports(&side, h)))
        .collect();
    // `%bc %sc`: a slow request stays at the server while a second one is answered.
    let slow_side = side.clone();
    let slow = tokio::spawn(async move {
        exchange(&slow_side, 0, b"", &get("/slow/800", "")).await;
    });
    let before = side.backend.heads().len();
    assert!(
        wait_for(|| {
            let side = side.clone();
            async move { side.backend.heads().len() > before }
        })
        .await,
        "{}: the slow request reached the server",
        side.who
    );
    exchange(&side, 0, b"", &get("/", "")).await;
    let concurrent = mask_ports(&named_ports(&side, &side.line().await));
    slow.await.expect("slow request");
    let _slow_line = side.line().await;
    Seen {
        answers,
        received,
        concurrent,
    }
}

#[tokio::test]
async fn connection_fetches_as_haproxy() {
    let (ours, theirs) = side_by_side(4, cfg, drive).await;
    // Not vacuous: the values are there.
    let got = |i: usize, field: &str| -> String {
        ours.received[i]
            .iter()
            .find(|f| f.starts_with(field))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(got(0, "x-so="), "x-so=7 direct direct P0", "{ours:?}");
    assert_eq!(got(2, "x-pp="), "x-pp=1 example.com uid-42", "{ours:?}");
    assert_eq!(got(2, "x-so="), "x-so=2 proxied proxied P1", "{ours:?}");
    assert_eq!(got(0, "x-tcp="), "x-tcp=1 1 0 0 0 1 0", "{ours:?}");
    assert_eq!(got(0, "x-srv="), "x-srv=1 1 1 0 -1 -1 0 []", "{ours:?}");
    assert_eq!(
        got(1, "x-src="),
        "x-src=10.9.8.7 127.0.0.1 127.0.0.1 P0",
        "{ours:?}"
    );
    assert_eq!(
        got(2, "x-src="),
        "x-src=10.20.30.40 127.0.0.1 127.0.0.1 P1",
        "{ours:?}"
    );
    assert_eq!(got(0, "x-local="), "x-local=1 1 1 1", "{ours:?}");
    assert!(
        ours.answers[4]
            .1
            .starts_with("http 3 h2c 127.0.0.1 P3 0 2 "),
        "an HTTP/2 client: {ours:?}"
    );
    assert_eq!(got(1, "x-local="), "x-local=0 1 1 1", "{ours:?}");
    assert!(
        ours.concurrent.ends_with(" 1/1"),
        "a request at the server while this one was logged: {ours:?}"
    );
    let Some(theirs) = theirs else { return };
    assert_same(&ours.received, &theirs.received);
    let (o, t): (Vec<_>, Vec<_>) = (
        ours.answers.iter().map(|a| &a.0).collect(),
        theirs.answers.iter().map(|a| &a.0).collect(),
    );
    assert_same(&o, &t);
    let (o, t): (Vec<_>, Vec<_>) = (
        ours.answers.iter().map(|a| &a.1).collect(),
        theirs.answers.iter().map(|a| &a.1).collect(),
    );
    assert_same(&o, &t);
    assert_eq!(ours.concurrent, theirs.concurrent);
}

fn queue_cfg(s: &Setup<'_>) -> String {
    format!(
        "{head}  timeout queue 5s\n\
         frontend web\n  bind 127.0.0.1:{p0}\n\
         \x20 log-format \"%HU %sq/%bq %bc/%sc %[be_conn(app)] %[srv_conn(app/a1)] %[srv_queue(app/a1)] %[var(txn.at)]\"\n\
         \x20 http-request set-var(txn.at) be_conn(app)\n\
         \x20 default_backend app\n\
         backend app\n  server a1 {b} maxconn 1\n",
        head = s
            .head("http")
            .replacen("global\n", "global\n  nbthread 1\n", 1),
        p0 = s.ports[0],
        b = s.backend,
    )
}

/// Four requests at once to a server that takes one at a time: the log lines in the order
/// they are written (the queue positions `%bq` 0..3 and the backend's live count `%bc`,
/// queued requests included, falling as the queue drains; `be_conn` when each request came,
/// kept in a variable the line reads). `queue`/`avg_queue` are not compared here: when a
/// line is written just after its request freed the server, haproxy has already handed the
/// server to the next queued request, fulcrum has only woken it (it still counts as queued).
async fn drive_queue(side: Arc<Side>) -> Vec<String> {
    let mut clients = Vec::new();
    for i in 0..4 {
        let side = side.clone();
        clients.push(tokio::spawn(async move {
            let raw = format!("GET /slow/600 HTTP/1.1\r\nHost: {i}\r\nConnection: close\r\n\r\n");
            exchange(&side, 0, b"", &raw).await;
        }));
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let mut lines = Vec::new();
    for _ in 0..4 {
        let l = side.line().await;
        // Without the path (the same for every client).
        lines.push(
            l.split_once(' ')
                .map_or(l.clone(), |(_, rest)| rest.to_string()),
        );
    }
    for c in clients {
        c.await.expect("client");
    }
    lines
}

#[tokio::test]
async fn queue_positions_and_live_counts_as_haproxy() {
    let (ours, theirs) = side_by_side(1, queue_cfg, drive_queue).await;
    let head: Vec<&str> = ours.iter().map(|l| &l[..7]).collect();
    assert_eq!(
        head,
        ["0/0 3/0", "0/1 2/0", "0/2 1/0", "0/3 0/0"],
        "{ours:?}"
    );
    // The last field is the request's own (`be_conn` when it came): the queue is first in,
    // first out on both, so the requests are served, and logged, in the order they came.
    let own: Vec<&str> = ours
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(own, ["0", "1", "2", "3"], "{ours:?}");
    let Some(theirs) = theirs else { return };
    assert_same(&ours, &theirs);
}
