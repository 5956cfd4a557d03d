//! Helpers of the HTTP/2-to-servers tests: a real HTTP/2 server (the h2 crate, h2c, or over
//! TLS with ALPN `h2`) that records every request it receives and answers by path (a
//! gRPC-style echo with trailers, a trailers-only answer, a stream reset, large and
//! unknown-length bodies), and an HTTP/2 client that returns trailers too.
#![allow(dead_code)]

use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// What the server saw: per request (connection number, head as text, body length).
#[derive(Clone, Default)]
pub struct Seen {
    pub requests: Arc<Mutex<Vec<(usize, String, usize)>>>,
    pub connections: Arc<AtomicUsize>,
    /// Connections the proxy has closed (or that ended).
    pub closed: Arc<AtomicUsize>,
}

impl Seen {
    pub fn take(&self) -> Vec<(usize, String, usize)> {
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|p| p.into_inner()))
    }
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::Relaxed)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// An HTTP/2 server on 127.0.0.1 (h2c; with `tls`, over TLS offering ALPN `h2`).
pub fn server(tls: Option<Arc<rustls::ServerConfig>>) -> (SocketAddr, Seen) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    l.set_nonblocking(true).expect("nonblocking");
    let seen = Seen::default();
    let s2 = seen.clone();
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).expect("listener");
            while let Ok((s, _)) = l.accept().await {
                let n = s2.connections.fetch_add(1, Ordering::Relaxed);
                let seen = s2.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let closed = seen.closed.clone();
                    match tls {
                        None => serve(s, n, seen).await,
                        Some(cfg) => {
                            let acc = tokio_rustls::TlsAcceptor::from(cfg);
                            if let Ok(t) = acc.accept(s).await {
                                serve(t, n, seen).await;
                            }
                        }
                    }
                    closed.fetch_add(1, Ordering::Relaxed);
                });
            }
        });
    });
    (addr, seen)
}

async fn serve<T: AsyncRead + AsyncWrite + Unpin>(io: T, n: usize, seen: Seen) {
    let Ok(mut conn) = h2::server::handshake(io).await else {
        return;
    };
    while let Some(Ok((req, respond))) = conn.accept().await {
        let seen = seen.clone();
        tokio::spawn(async move { answer(req, respond, n, seen).await });
    }
}

fn head_text(req: &http::Request<h2::RecvStream>) -> String {
    let mut t = format!("{} {}\n", req.method(), req.uri());
    for (k, v) in req.headers() {
        t.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
    }
    t
}

async fn answer(
    req: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    n: usize,
    seen: Seen,
) {
    let head = head_text(&req);
    let path = req.uri().path().to_string();
    let (_, mut body) = req.into_parts();
    let mut got = Vec::new();
    while let Some(Ok(d)) = body.data().await {
        let _ = body.flow_control().release_capacity(d.len());
        got.extend_from_slice(&d);
    }
    let req_trailers = body.trailers().await.ok().flatten();
    seen.requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((n, head.clone(), got.len()));
    let res = |status: u16, fields: &[(&str, String)]| {
        let mut b = http::Response::builder().status(status);
        for (k, v) in fields {
            b = b.header(*k, v.as_str());
        }
        b.body(()).expect("response")
    };
    match path.as_str() {
        "/grpc" => {
            let Ok(mut s) = respond.send_response(
                res(200, &[("content-type", "application/grpc".into())]),
                false,
            ) else {
                return;
            };
            let _ = s.send_data(Bytes::from(got), false);
            let mut t = http::HeaderMap::new();
            t.insert("grpc-status", http::HeaderValue::from_static("0"));
            let echoed = req_trailers
                .as_ref()
                .and_then(|t| t.get("x-req-trailer"))
                .map_or("none".to_string(), |v| {
                    String::from_utf8_lossy(v.as_bytes()).into_owned()
                });
            t.insert(
                "grpc-message",
                http::HeaderValue::from_str(&format!("echo {echoed}")).expect("value"),
            );
            let _ = s.send_trailers(t);
        }
        "/only" => {
            let _ = respond.send_response(res(200, &[("grpc-status", "7".into())]), true);
        }
        "/reset" => respond.send_reset(h2::Reason::INTERNAL_ERROR),
        "/hints" => {
            // Interim answers first: 103 Early Hints (twice), then the answer.
            for css in ["a", "b"] {
                let hint = res(
                    103,
                    &[("link", format!("</{css}.css>; rel=preload; as=style"))],
                );
                if respond.send_informational(hint).is_err() {
                    return;
                }
            }
            if let Ok(mut s) =
                respond.send_response(res(200, &[("content-length", "2".into())]), false)
            {
                let _ = s.send_data(Bytes::from_static(b"ok"), true);
            }
        }
        "/nolen" => {
            if let Ok(mut s) = respond.send_response(res(200, &[]), false) {
                let _ = s.send_data(Bytes::from_static(b"hello "), false);
                let _ = s.send_data(Bytes::from_static(b"world"), true);
            }
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if let Ok(mut s) =
                respond.send_response(res(200, &[("content-length", "2".into())]), false)
            {
                let _ = s.send_data(Bytes::from_static(b"ok"), true);
            }
        }
        p if p.starts_with("/big/") => {
            let len: usize = p[5..].parse().unwrap_or(0);
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            if let Ok(mut s) =
                respond.send_response(res(200, &[("content-length", len.to_string())]), false)
            {
                // Under the client's window: send as capacity comes.
                let mut data = Bytes::from(data);
                while !data.is_empty() {
                    s.reserve_capacity(data.len());
                    match std::future::poll_fn(|cx| s.poll_capacity(cx)).await {
                        Some(Ok(c)) if c > 0 => {
                            let part = data.split_to(c.min(data.len()));
                            let end = data.is_empty();
                            if s.send_data(part, end).is_err() {
                                return;
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    }
                }
            }
        }
        _ => {
            let text = format!("body={}\n{head}", got.len());
            if let Ok(mut s) = respond.send_response(
                res(
                    200,
                    &[
                        ("content-type", "text/plain".into()),
                        ("content-length", text.len().to_string()),
                    ],
                ),
                false,
            ) {
                let _ = s.send_data(Bytes::from(text), true);
            }
        }
    }
}

/// One answer as an HTTP/2 client sees it.
#[derive(Debug, Default, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// Response fields (name: value), minus `date`.
    pub headers: Vec<String>,
    pub body: Vec<u8>,
    pub trailers: Vec<String>,
    /// The stream was reset (no status, or cut in the body).
    pub reset: bool,
}

/// One scripted request: method, path, body, a request trailer.
pub type Req<'a> = (&'a str, &'a str, &'a [u8], Option<(&'a str, &'a str)>);

/// Sends requests `(method, path, body, request trailers)` as concurrent streams on one h2c
/// connection to 127.0.0.1:`port`; returns the answers in order.
pub fn h2_requests(port: u16, reqs: &[Req<'_>]) -> Vec<Answer> {
    runtime().block_on(async {
        let fut = async {
            let s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            let (send, conn) = h2::client::handshake(s).await.expect("h2 handshake");
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let mut tasks = Vec::new();
            for (method, path, body, trailer) in reqs {
                let mut send = send.clone().ready().await.expect("ready");
                let req = http::Request::builder()
                    .method(*method)
                    .uri(format!("http://127.0.0.1:{port}{path}"))
                    .header("content-type", "application/grpc")
                    .header("te", "trailers")
                    .body(())
                    .expect("request");
                let end = body.is_empty() && trailer.is_none();
                let (resp, mut stream) = send.send_request(req, end).expect("send");
                if !end {
                    let _ = stream.send_data(Bytes::copy_from_slice(body), trailer.is_none());
                    if let Some((k, v)) = trailer {
                        let mut t = http::HeaderMap::new();
                        t.insert(
                            http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                            http::HeaderValue::from_str(v).expect("value"),
                        );
                        let _ = stream.send_trailers(t);
                    }
                }
                tasks.push(tokio::spawn(async move {
                    let _keep = stream;
                    let mut a = Answer::default();
                    let Ok(r) = resp.await else {
                        a.reset = true;
                        return a;
                    };
                    a.status = r.status().as_u16();
                    a.headers = fields(r.headers());
                    let mut body = r.into_body();
                    while let Some(d) = body.data().await {
                        match d {
                            Ok(d) => {
                                let _ = body.flow_control().release_capacity(d.len());
                                a.body.extend_from_slice(&d);
                            }
                            Err(_) => {
                                a.reset = true;
                                return a;
                            }
                        }
                    }
                    match body.trailers().await {
                        Ok(Some(t)) => a.trailers = fields(&t),
                        Ok(None) => {}
                        Err(_) => a.reset = true,
                    }
                    a
                }));
            }
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.expect("stream task"));
            }
            out
        };
        tokio::time::timeout(Duration::from_secs(20), fut)
            .await
            .expect("h2 requests within 20 s")
    })
}

fn fields(h: &http::HeaderMap) -> Vec<String> {
    h.iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect()
}

/// The config both proxies run: an h2c bind and an HTTP/1 bind in front of server `be`
/// spoken to as `server_opts` says (`proto h2`, or `ssl verify none alpn h2`).
pub fn config(h2_port: u16, h1_port: u16, be: SocketAddr, server_opts: &str) -> String {
    format!(
        "global\n  log stderr format raw local0\n\
         defaults\n  mode http\n  log global\n  option httplog\n  timeout client 10s\n  timeout connect 2s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:{h2_port} proto h2\n  bind 127.0.0.1:{h1_port}\n  http-request set-header X-Ver %[req.ver]\n  http-response set-header X-Via proxy\n  default_backend be\n\
         backend be\n  cookie SRV insert indirect nocache\n  server s1 {be} {server_opts} cookie s1\n"
    )
}
