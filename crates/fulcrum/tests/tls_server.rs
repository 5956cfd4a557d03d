//! TLS to servers (`server ... ssl`): against a rustls server (a fulcrum `bind ... ssl` that
//! echoes what its handshake saw: SNI, ALPN, resumption) and against `openssl s_server`;
//! `verify required` with the right and a wrong CA, a wrong `sni` name, `verify none`, session
//! reuse across connections, and the config error HAProxy gives when no CA file is set.

mod common;
mod tls_support;

use common::{free_port, Fulcrum, Running, Scratch};
use fulcrum_testlab::require;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;
use tls_support::{Ca, Key};

const T: &str = "tls_server";

fn get(port: u16, path: &str) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn body(resp: &str) -> &str {
    resp.split("\r\n\r\n").nth(1).unwrap_or("")
}

#[test]
fn tls_to_servers_verified_reused_and_refused() {
    if !require::tool(T, "openssl", "openssl") {
        return;
    }
    let dir = Scratch::new("tls-server");
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let other = Ca::new(&dir.0.join("other"), "Other CA");
    let srv = ca.issue("srv.pem", "srv.test", &["srv.test"], Key::Ec, false);
    // A rustls server: fulcrum terminating TLS and telling what it saw.
    let app = free_port();
    let app_cfg = dir.write(
        "app.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend app\n bind 127.0.0.1:{app} ssl crt {} alpn http/1.1,x-other\n\
             http-request return status 200 content-type text/plain lf-string \"tlsapp sni=%[ssl_fc_sni] alpn=%[ssl_fc_alpn] resumed=%[ssl_fc_is_resumed] v=%[ssl_fc_protocol]\"\n",
            srv.display()
        ),
    );
    let _app = Fulcrum::start(&app_cfg);
    // An OpenSSL server answering GET /hello.txt from its directory.
    let www = dir.0.join("www");
    std::fs::create_dir_all(&www).expect("www");
    std::fs::write(www.join("hello.txt"), "from s_server").expect("file");
    let ossl = free_port();
    let s_server = Running(
        Command::new("openssl")
            .args(["s_server", "-WWW", "-accept", &ossl.to_string(), "-cert"])
            .arg(&srv)
            .current_dir(&www)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server"),
    );
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || std::net::TcpStream::connect((
            "127.0.0.1",
            ossl
        ))
        .is_ok())
        .is_some(),
        "s_server did not listen"
    );
    let port = free_port();
    let cap = ca.ca_pem();
    let cap = cap.display();
    let ocap = other.ca_pem();
    let ocap = ocap.display();
    let cfg = dir.write(
        "front.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 2s\n timeout client 5s\n timeout server 5s\n\
             frontend f\n bind 127.0.0.1:{port}\n\
              use_backend req if {{ path_beg /req }}\n\
              use_backend none if {{ path_beg /none }}\n\
              use_backend badname if {{ path_beg /badname }}\n\
              use_backend otherca if {{ path_beg /otherca }}\n\
              use_backend ossl if {{ path_beg /hello.txt }}\n\
              use_backend noreuse if {{ path_beg /noreuse }}\n\
             backend req\n option http-server-close\n server s 127.0.0.1:{app} ssl verify required ca-file {cap} sni str(srv.test) alpn http/1.1\n\
             backend none\n server s 127.0.0.1:{app} ssl verify none\n\
             backend badname\n server s 127.0.0.1:{app} ssl verify required ca-file {cap} sni str(wrong.test)\n\
             backend otherca\n server s 127.0.0.1:{app} ssl verify required ca-file {ocap}\n\
             backend ossl\n server s 127.0.0.1:{ossl} ssl ca-file {cap}\n\
             backend noreuse\n option http-server-close\n server s 127.0.0.1:{app} ssl verify none no-ssl-reuse\n"
        ),
    );
    let f = Fulcrum::start(&cfg);
    // Verified, with SNI and ALPN sent; the next connection resumes the session.
    let first = get(port, "/req");
    assert!(
        body(&first).starts_with("tlsapp sni=srv.test alpn=http/1.1 resumed=0"),
        "{first}\n{}",
        f.log_text()
    );
    let second = get(port, "/req");
    assert!(
        body(&second).contains("resumed=1"),
        "session not reused: {second}"
    );
    // verify none: no SNI, no ALPN unless asked.
    let r = get(port, "/none");
    assert!(body(&r).starts_with("tlsapp sni= alpn= "), "{r}");
    // no-ssl-reuse: every connection is a full handshake.
    for _ in 0..2 {
        let r = get(port, "/noreuse");
        assert!(body(&r).contains("resumed=0"), "{r}");
    }
    // A name the certificate does not carry, or a CA that did not sign it: 503.
    for path in ["/badname", "/otherca"] {
        let r = get(port, path);
        assert!(r.starts_with("HTTP/1.1 503"), "{path}: {r}");
    }
    // OpenSSL's server, chain verified (no name asked: HAProxy checks none either).
    let r = get(port, "/hello.txt");
    assert!(r.contains("from s_server"), "{r}\n{}", f.log_text());
    drop(s_server);
}

#[test]
fn ssl_without_ca_file_is_refused_as_haproxy_refuses_it() {
    let dir = Scratch::new("tls-server-check");
    let cfg = dir.write(
        "c.cfg",
        "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
         backend b\n server s 127.0.0.1:1 ssl\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["check", "-f"])
        .arg(&cfg)
        .output()
        .expect("check");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("c.cfg:7: error: verify is enabled by default but no CA file specified"),
        "{err}"
    );
    let cfg = dir.write(
        "d.cfg",
        "global\n ssl-server-verify none\ndefaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
         backend b\n server s 127.0.0.1:1 ssl\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["check", "-f"])
        .arg(&cfg)
        .output()
        .expect("check");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
