//! HTTP/2 health checks, run by the real haproxy 2.6 and then by fulcrum on the same config
//! against the same HTTP/2 server (h2c, prior knowledge, written with the `h2` crate's server
//! side): `http-check connect proto h2` with `send`/`expect` rules (status, header, body, a
//! POST with a body), the server's `check-proto h2` under `option httpchk` (passing and
//! failing), a server's `proto h2` without `check-proto`, and an HTTP/1-only server checked
//! over HTTP/2 ("Socket error", no info). Both must log the same
//! `option log-health-checks` lines and the server must see the same requests (method, path,
//! `:authority`, `Host`, body).

mod common;

use common::versus;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// (method, path, `:authority`, `host` header, body) of each request the server saw.
type Seen = Arc<Mutex<BTreeSet<(String, String, String, String, String)>>>;

/// An h2c server: `/ok` answers 200 with `x-state: ready` and "all good", `/down` 503,
/// anything else 404.
async fn h2_server(seen: Seen) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(s).await else {
                    return;
                };
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    let seen = seen.clone();
                    tokio::spawn(async move {
                        let (head, mut body) = req.into_parts();
                        let mut data = Vec::new();
                        while let Some(Ok(chunk)) = body.data().await {
                            let _ = body.flow_control().release_capacity(chunk.len());
                            data.extend_from_slice(&chunk);
                        }
                        seen.lock().expect("lock").insert((
                            head.method.to_string(),
                            head.uri.path().to_string(),
                            head.uri
                                .authority()
                                .map(|a| a.to_string())
                                .unwrap_or_default(),
                            head.uri.scheme_str().unwrap_or_default().to_string(),
                            String::from_utf8_lossy(&data).into_owned(),
                        ));
                        let (status, body): (u16, &'static [u8]) = match head.uri.path() {
                            "/ok" => (200, b"all good"),
                            "/down" => (503, b"no"),
                            _ => (404, b"nothing here"),
                        };
                        let resp = http::Response::builder()
                            .status(status)
                            .header("x-state", "ready")
                            .body(())
                            .expect("response");
                        if let Ok(mut stream) = respond.send_response(resp, false) {
                            let _ = stream.send_data(bytes::Bytes::from_static(body), true);
                        }
                    });
                }
            });
        }
    });
    port
}

const BACKENDS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_checks_as_haproxy() {
    if !versus::available("http2_checks_as_haproxy", &[]) {
        return;
    }
    let tmp = versus::TempDir::new("h2-checks");
    let seen = Seen::default();
    let port = h2_server(seen.clone()).await;
    let syslog = versus::Syslog::bind();
    let srv = |extra: &str| {
        format!("    server s 127.0.0.1:{port} check inter 300 fall 1 rise 1{extra}\n")
    };
    let mut text = versus::head(syslog.port(), "http", "600ms", "connect");
    let connect = "    option httpchk\n    http-check connect proto h2\n";
    text += &format!("backend connect\n{connect}    http-check send meth GET uri /ok hdr host svc.local\n    http-check expect status 200\n");
    text += &srv("");
    text += &format!("backend header\n{connect}    http-check send meth GET uri /ok\n    http-check expect hdr name x-state value ready\n");
    text += &srv("");
    text += &format!("backend body\n{connect}    http-check send meth POST uri /ok hdr host svc.local body ping\n    http-check expect string all\\ good\n");
    text += &srv("");
    text += &format!("backend badbody\n{connect}    http-check send meth GET uri /ok\n    http-check expect string nope\n");
    text += &srv("");
    text += &format!("backend twice\n{connect}    http-check send meth GET uri /ok\n    http-check expect status 200\n    http-check connect proto h2\n    http-check send meth HEAD uri /down\n    http-check expect status 200\n");
    text += &srv("");
    text += "backend checkproto\n    option httpchk GET /ok\n";
    text += &srv(" check-proto h2");
    text += "backend checkproto_down\n    option httpchk GET /down\n";
    text += &srv(" check-proto h2");
    text += "backend serverproto\n    option httpchk GET /ok\n";
    text += &srv(" proto h2");
    let both = versus::run_both(&tmp.0, &text, &syslog, BACKENDS, &seen).await;
    assert!(
        both.theirs["connect/s"].contains(" succeeded, ")
            && both.theirs["checkproto_down/s"].contains(" failed, "),
        "{:#?}",
        both.theirs
    );
    assert_eq!(both.ours, both.theirs, "the same log-health-checks lines");
    assert_eq!(both.ours_seen, both.theirs_seen, "the same HTTP/2 requests");
}

/// A TLS server offering `h2` and `http/1.1` by ALPN (a self-signed certificate made by
/// `openssl req`): HTTP/2 streams as [`h2_server`]'s when `h2` was chosen, else one HTTP/1
/// answer; each request recorded as (protocol, path).
async fn tls_server(dir: &std::path::Path, seen: Arc<Mutex<BTreeSet<(String, String)>>>) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ok = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=www.example.test",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
        ])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(ok.success());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("cert.pem"))
        .expect("cert")
        .collect::<Result<_, _>>()
        .expect("cert");
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).expect("key");
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("config");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    let Ok(mut conn) = h2::server::handshake(tls).await else {
                        return;
                    };
                    while let Some(Ok((req, mut respond))) = conn.accept().await {
                        seen.lock()
                            .expect("lock")
                            .insert(("h2".into(), req.uri().path().to_string()));
                        let resp = http::Response::builder()
                            .status(200)
                            .body(())
                            .expect("resp");
                        let _ = respond.send_response(resp, true);
                    }
                } else {
                    let mut head = vec![0u8; 4096];
                    let n = tls.read(&mut head).await.unwrap_or(0);
                    let text = String::from_utf8_lossy(&head[..n]).into_owned();
                    let path = text.split(' ').nth(1).unwrap_or_default().to_string();
                    seen.lock().expect("lock").insert(("http/1.1".into(), path));
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_tls_by_alpn_as_haproxy() {
    if !versus::available(
        "http2_over_tls_by_alpn_as_haproxy",
        &[("openssl", "openssl")],
    ) {
        return;
    }
    let tmp = versus::TempDir::new("h2-tls-checks");
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let port = tls_server(&tmp.0, seen.clone()).await;
    let syslog = versus::Syslog::bind();
    let srv = |extra: &str| {
        format!("    server s 127.0.0.1:{port} check inter 300 fall 1 rise 1 verify none{extra}\n")
    };
    let mut text = versus::head(syslog.port(), "http", "600ms", "alpn_h2");
    text += "backend alpn_h2\n    option httpchk GET /by-alpn\n";
    text += &srv(" check-ssl check-alpn h2");
    text += "backend alpn_h1\n    option httpchk GET /by-alpn-h1\n";
    text += &srv(" check-ssl check-alpn http/1.1");
    text += "backend connect_ssl\n    option httpchk\n    http-check connect ssl alpn h2,http/1.1\n    http-check send meth GET uri /connect-ssl\n";
    text += &srv("");
    let both = versus::run_both(&tmp.0, &text, &syslog, 3, &seen).await;
    assert!(
        both.theirs_seen
            .contains(&("h2".to_string(), "/by-alpn".to_string())),
        "{:?}",
        both.theirs_seen
    );
    assert_eq!(both.ours, both.theirs, "the same log-health-checks lines");
    assert_eq!(
        both.ours_seen, both.theirs_seen,
        "the same protocols chosen by ALPN"
    );
}

/// An HTTP/1-only server (it answers anything with `400 Bad Request` and closes, as nginx
/// answers an HTTP/2 preface on an HTTP/1 port) checked over HTTP/2: both fail the check with
/// "Socket error" and nothing more (no info: the error is HTTP/2's, not the socket's), and the
/// server sees the same HTTP/2 preface from both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_check_of_an_http1_server_as_haproxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if !versus::available("http2_check_of_an_http1_server_as_haproxy", &[]) {
        return;
    }
    let tmp = versus::TempDir::new("h2-on-h1-checks");
    let seen: Arc<Mutex<BTreeSet<Vec<u8>>>> = Arc::default();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    let server_seen = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let seen = server_seen.clone();
            tokio::spawn(async move {
                let mut first = vec![0u8; 24];
                if s.read_exact(&mut first).await.is_ok() {
                    seen.lock().expect("lock").insert(first);
                }
                let _ = s
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\nconnection: close\r\n\r\nBad Request")
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    let syslog = versus::Syslog::bind();
    let srv = |extra: &str| {
        format!("    server s 127.0.0.1:{port} check inter 300 fall 1 rise 1{extra}\n")
    };
    let mut text = versus::head(syslog.port(), "http", "600ms", "checkproto");
    text += "backend checkproto\n    option httpchk GET /ok\n";
    text += &srv(" check-proto h2");
    text += "backend connect\n    option httpchk\n    http-check connect proto h2\n    http-check send meth GET uri /x\n    http-check expect status 200\n";
    text += &srv("");
    let both = versus::run_both(&tmp.0, &text, &syslog, 2, &seen).await;
    assert!(
        both.theirs["checkproto/s"].contains(" failed, reason: Socket error, check duration"),
        "{:#?}",
        both.theirs
    );
    assert_eq!(
        both.theirs_seen,
        BTreeSet::from([b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()]),
        "haproxy sent the HTTP/2 preface"
    );
    assert_eq!(both.ours, both.theirs, "the same log-health-checks lines");
    assert_eq!(both.ours_seen, both.theirs_seen, "the same HTTP/2 preface");
}
