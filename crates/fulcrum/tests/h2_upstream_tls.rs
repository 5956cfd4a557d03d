//! HTTP/2 to servers over TLS (`server ... ssl verify required ca-file CA alpn h2,http/1.1`,
//! the handshake choosing `h2`), against a real HTTP/2 server (the h2 crate over rustls, a
//! certificate of a CA the test makes), side by side with haproxy 2.6 on the same config:
//! the gRPC-style echo with trailers, HTTP/1.1 clients, the request heads the server sees
//! (`:scheme https`), the log lines.

mod common;
mod h2_support;
mod h2_upstream_support;
mod tls_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require::tool;
use h2_support::run;
use h2_upstream_support::{config, h2_requests, server};
use std::sync::Arc;
use std::time::Duration;
use tls_support::{Ca, Key};

/// The rustls server settings of the in-test HTTP/2 server (ALPN `h2` only).
fn tls_server(pem: &std::path::Path) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pem)
        .expect("certs")
        .map(|c| c.expect("cert"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(pem).expect("key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(cfg)
}

#[test]
fn h2_over_tls_to_servers_as_through_haproxy() {
    let test = "h2_over_tls_to_servers_as_through_haproxy";
    if !tool(test, "curl", "curl")
        || !tool(test, "haproxy", "haproxy")
        || !tool(test, "openssl", "openssl")
    {
        return;
    }
    let scratch = Scratch::new("h2up-tls");
    let ca = Ca::new(&scratch.0.join("ca"), "h2up CA");
    let pem = ca.issue("grpc.pem", "grpc.test", &["grpc.test"], Key::Ec, false);
    let (be, seen) = server(Some(tls_server(&pem)));
    let opts = format!(
        "ssl verify required ca-file {} sni str(grpc.test) alpn h2,http/1.1",
        ca.ca_pem().display()
    );
    let mut results = Vec::new();
    for who in ["fulcrum", "haproxy"] {
        let (p2, p1) = (free_port(), free_port());
        let cfg = scratch.write(&format!("{who}.cfg"), &config(p2, p1, be, &opts));
        let up = || {
            fulcrum_testlab::wait::until(Duration::from_secs(10), || {
                run(
                    "curl",
                    &[
                        "-s",
                        "-o",
                        "/dev/null",
                        &format!("http://127.0.0.1:{p1}/ping"),
                    ],
                    5,
                )
                .0
            })
        };
        let mut guard_f = None;
        let mut guard_h = None;
        if who == "fulcrum" {
            let f = Fulcrum::start(&cfg);
            assert!(up().is_some(), "fulcrum never answered: {}", f.log_text());
            guard_f = Some(f);
        } else {
            let mut cmd = std::process::Command::new("haproxy");
            cmd.args(["-db", "-f", cfg.to_str().expect("path")]);
            let h = fulcrum_testlab::process::Child::spawn(
                "haproxy",
                cmd,
                scratch.0.join("haproxy.log"),
            )
            .expect("start haproxy");
            assert!(up().is_some(), "haproxy never answered: {}", h.output());
            guard_h = Some(h);
        }
        seen.take();
        let answers = h2_requests(
            p2,
            &[
                (
                    "POST",
                    "/grpc",
                    b"\0\0\0\0\x02hi",
                    Some(("x-req-trailer", "tls")),
                ),
                ("GET", "/only", b"", None),
            ],
        );
        let (_, h1) = run(
            "curl",
            &[
                "-sS",
                "--http1.1",
                "-D",
                "-",
                &format!("http://127.0.0.1:{p1}/nolen"),
            ],
            10,
        );
        let mut heads: Vec<String> = seen
            .take()
            .into_iter()
            .map(|(_, h, n)| {
                format!(
                    "{n} {}",
                    h.replace(&p2.to_string(), "PORT2")
                        .replace(&p1.to_string(), "PORT1")
                )
            })
            .collect();
        heads.sort();
        std::thread::sleep(Duration::from_millis(200));
        let log = match (&guard_f, &guard_h) {
            (Some(f), _) => f.log_text(),
            (_, Some(h)) => h.output(),
            _ => String::new(),
        };
        let mut logs: Vec<String> = log
            .lines()
            .filter(|l| l.contains(" fe be/") && !l.contains("/ping"))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let req = l.split_once('"').map_or("", |(_, r)| r);
                format!("{} {} {} {}", f[3], f[5], f[8], req).replace(&p2.to_string(), "PORT2")
            })
            .collect();
        logs.sort();
        results.push((answers, h1, heads, logs));
    }
    let (fa, fh1, fheads, flogs) = &results[0];
    let (ha, hh1, hheads, hlogs) = &results[1];
    assert_eq!(fa[0], ha[0], "gRPC echo over TLS (fulcrum, then haproxy)");
    assert_eq!(fa[0].trailers, ["grpc-status: 0", "grpc-message: echo tls"]);
    assert_eq!(fa[0].body, b"\0\0\0\0\x02hi");
    assert_eq!(fa[1].status, 200);
    assert_eq!(ha[1].status, 200);
    let lower = |t: &str| t.to_ascii_lowercase();
    assert_eq!(
        lower(fh1),
        lower(hh1),
        "HTTP/1.1 client (fulcrum, then haproxy)"
    );
    assert!(fh1.ends_with("hello world"), "{fh1}");
    assert_eq!(
        fheads, hheads,
        "request heads at the TLS server (fulcrum, then haproxy)"
    );
    assert_eq!(flogs, hlogs, "log lines (fulcrum, then haproxy)");
    assert_eq!(flogs.len(), 3, "{flogs:?}");
    assert_eq!(fheads.len(), 3, "{fheads:?}");
    // Every request went over TLS with ALPN h2: the server speaks nothing else.
    assert!(seen.connections() >= 2);
}
