//! TLS side by side with the real HAProxy 2.6 on the same configuration: the headers a
//! backend sees from the `ssl_fc*`/`ssl_c_*` fetches and `%sslv %sslc` (TLS 1.2 and 1.3, with
//! and without a client certificate), and TLS passthrough routing on `req.ssl_sni` with
//! `tcp-request inspect-delay` (nothing decrypted: the backends' own certificates reach the
//! client).

mod common;
mod tls_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require;
use std::path::Path;
use tls_support::{curl, Ca, Key};

const T: &str = "tls_vs_haproxy";

fn haproxy(dir: &Path, name: &str, cfg: &str, port: u16) -> fulcrum_testlab::process::Child {
    let path = dir.join(format!("{name}.cfg"));
    std::fs::write(&path, cfg).expect("write");
    fulcrum_testlab::process::Child::haproxy_listening(&path, dir.join(format!("{name}.log")), port)
}

fn tools() -> bool {
    require::tool(T, "openssl", "openssl")
        && require::tool(T, "curl", "curl")
        && require::tool(T, "haproxy", "haproxy")
}

#[test]
fn backend_sees_the_same_tls_headers_as_behind_haproxy() {
    if !tools() {
        return;
    }
    let dir = Scratch::new("tls-vs-haproxy-headers");
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let srv = ca.issue("a.pem", "a.test", &["a.test"], Key::Ec, false);
    let client = ca.issue("client.pem", "client one", &[], Key::Ec, true);
    let rsa_client = ca.issue("client-rsa.pem", "client two", &[], Key::Rsa, true);
    // The backend echoes the headers it received.
    let app = free_port();
    let _app = common::app_server(&dir, "unused", free_port(), 200);
    let echo = dir.write(
        "echo.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend echo\n bind 127.0.0.1:{app}\n\
             http-request return status 200 content-type text/plain lf-string \"%[req.hdr(x-ssl)]|%[req.hdr(x-sni)]|%[req.hdr(x-proto)]|%[req.hdr(x-cipher)]|%[req.hdr(x-alpn)]|%[req.hdr(x-used)]|%[req.hdr(x-verify)]|%[req.hdr(x-dn)]|%[req.hdr(x-idn)]|%[req.hdr(x-lf)]|%[req.hdr(x-ks)]|%[req.hdr(x-cv)]|%[req.hdr(x-sig)]|%[req.hdr(x-key)]\"\n"
        ),
    );
    let _echo = Fulcrum::start(&echo);
    let cfg = |port: u16| {
        format!(
            "global\n nbthread 1\ndefaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend f\n bind 127.0.0.1:{port} ssl crt {} ca-file {} verify optional alpn http/1.1\n\
              http-request set-header X-SSL %[ssl_fc]\n\
              http-request set-header X-SNI %[ssl_fc_sni]\n\
              http-request set-header X-Proto %[ssl_fc_protocol]\n\
              http-request set-header X-Cipher %[ssl_fc_cipher]\n\
              http-request set-header X-ALPN %[ssl_fc_alpn]\n\
              http-request set-header X-Used %[ssl_c_used]\n\
              http-request set-header X-Verify %[ssl_c_verify]\n\
              http-request set-header X-DN %[ssl_c_s_dn]\n\
              http-request set-header X-IDN %[ssl_c_i_dn]\n\
              http-request set-header X-LF \"%sslv %sslc\"\n\
              http-request set-header X-KS %[ssl_fc_alg_keysize]\n\
              http-request set-header X-CV %[ssl_c_version]\n\
              http-request set-header X-SIG %[ssl_c_sig_alg]\n\
              http-request set-header X-KEY %[ssl_c_key_alg]\n\
              default_backend b\n\
             backend b\n server s 127.0.0.1:{app}\n",
            srv.display(),
            ca.ca_pem().display()
        )
    };
    let hport = free_port();
    let _h = haproxy(&dir.0, "h", &cfg(hport), hport);
    let fport = free_port();
    let fcfg = dir.write("f.cfg", &cfg(fport));
    let f = Fulcrum::start(&fcfg);
    let cert = client.to_str().expect("utf-8").to_string();
    let rsa_cert = rsa_client.to_str().expect("utf-8").to_string();
    let cases: [&[&str]; 5] = [
        &["--tlsv1.3", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256"],
        &[
            "--tlsv1.3",
            "--tls13-ciphers",
            "TLS_CHACHA20_POLY1305_SHA256",
            "--cert",
            &cert,
        ],
        &[
            "--tlsv1.2",
            "--tls-max",
            "1.2",
            "--ciphers",
            "ECDHE-ECDSA-AES256-GCM-SHA384",
        ],
        &[
            "--tlsv1.2",
            "--tls-max",
            "1.2",
            "--ciphers",
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            "--cert",
            &cert,
        ],
        &[
            "--tlsv1.3",
            "--tls13-ciphers",
            "TLS_AES_256_GCM_SHA384",
            "--cert",
            &rsa_cert,
        ],
    ];
    for extra in cases {
        let (hrc, want) = curl(&ca.ca_pem(), "a.test", hport, extra);
        let (frc, got) = curl(&ca.ca_pem(), "a.test", fport, extra);
        assert_eq!(hrc, 0, "haproxy: {extra:?}");
        assert_eq!(frc, 0, "fulcrum: {extra:?}: {}", f.log_text());
        assert!(want.starts_with("1|a.test|TLSv1."), "{want}");
        if extra.contains(&"--cert") {
            assert!(
                want.contains("|http/1.1|1|0|/C=FR/O=Fulcrum Test/CN=client ")
                    && want.contains("|/O=Fulcrum Test/CN=Fulcrum Test CA|TLSv1."),
                "{want}"
            );
        }
        if extra.contains(&"--cert") {
            // ssl_c_version, ssl_c_sig_alg, ssl_c_key_alg (the CA signs with ECDSA).
            let key = if extra.contains(&rsa_cert.as_str()) {
                "rsaEncryption"
            } else {
                "id-ecPublicKey"
            };
            assert!(
                want.ends_with(&format!("|3|ecdsa-with-SHA256|{key}")),
                "{want}"
            );
        }
        assert_eq!(got, want, "{extra:?}");
    }
}

#[test]
fn passthrough_routes_on_sni_as_haproxy_does() {
    if !tools() {
        return;
    }
    let dir = Scratch::new("tls-vs-haproxy-pass");
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let a = ca.issue("a.pem", "a.test", &["a.test"], Key::Ec, false);
    let b = ca.issue("b.pem", "b.test", &["b.test", "c.test"], Key::Rsa, false);
    // Two TLS servers, each terminating with its own certificate.
    let (pa, pb) = (free_port(), free_port());
    let servers = dir.write(
        "servers.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend sa\n bind 127.0.0.1:{pa} ssl crt {}\n http-request return status 200 content-type text/plain lf-string \"server-a %[ssl_fc_sni]\"\n\
             frontend sb\n bind 127.0.0.1:{pb} ssl crt {}\n http-request return status 200 content-type text/plain lf-string \"server-b %[ssl_fc_sni]\"\n",
            a.display(),
            b.display()
        ),
    );
    let _servers = Fulcrum::start(&servers);
    let cfg = |port: u16| {
        format!(
            "global\n nbthread 1\ndefaults\n mode tcp\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend pass\n bind 127.0.0.1:{port}\n\
              tcp-request inspect-delay 5s\n\
              tcp-request content accept if {{ req_ssl_hello_type 1 }}\n\
              acl to_b req.ssl_sni -i b.test c.test\n\
              use_backend be_b if to_b\n\
              use_backend be_b if {{ req_ssl_sni -i v.test }} {{ req.ssl_ver 3.3 }}\n\
              use_backend be_b if {{ req_ssl_sni -i w.test }} {{ req_ssl_ver lt 3.3 }}\n\
              use_backend be_a if {{ req_ssl_sni -i a.test }}\n\
              default_backend be_a\n\
             backend be_a\n server a 127.0.0.1:{pa}\n\
             backend be_b\n server b 127.0.0.1:{pb}\n"
        )
    };
    let hport = free_port();
    let _h = haproxy(&dir.0, "h", &cfg(hport), hport);
    let fport = free_port();
    let fcfg = dir.write("f.cfg", &cfg(fport));
    let f = Fulcrum::start(&fcfg);
    for (name, want) in [
        ("a.test", "server-a a.test"),
        ("b.test", "server-b b.test"),
        ("c.test", "server-b c.test"),
    ] {
        let (hrc, h) = curl(&ca.ca_pem(), name, hport, &[]);
        let (frc, got) = curl(&ca.ca_pem(), name, fport, &[]);
        assert_eq!((hrc, h.as_str()), (0, want), "haproxy, {name}");
        assert_eq!(
            (frc, got.as_str()),
            (0, want),
            "fulcrum, {name}: {}",
            f.log_text()
        );
    }
    // `req.ssl_ver` (the hello's version, 3.3 for TLS 1.2 and 1.3; dotted in ACLs): v.test
    // goes to b, w.test (not below 3.3) to the default backend; names off the certificates.
    for (name, want) in [("v.test", "server-b v.test"), ("w.test", "server-a w.test")] {
        let (hrc, h) = curl(&ca.ca_pem(), name, hport, &["-k"]);
        let (frc, got) = curl(&ca.ca_pem(), name, fport, &["-k"]);
        assert_eq!((hrc, h.as_str()), (0, want), "haproxy, {name}");
        assert_eq!((frc, got.as_str()), (0, want), "fulcrum, {name}");
    }
    // No SNI at all: the default backend, on both.
    let h = tls_support::s_client(hport, &["-noservername"]);
    let got = tls_support::s_client(fport, &["-noservername"]);
    assert_eq!(tls_support::served_cn(&h).as_deref(), Some("a.test"), "{h}");
    assert_eq!(
        tls_support::served_cn(&got).as_deref(),
        Some("a.test"),
        "{got}"
    );
}

/// The `ssl_bc*` fetches (the server connection's TLS) in `http-response` headers and ACLs,
/// side by side with haproxy 2.6 on the same configuration: a TLS 1.3 server, a TLS 1.2 one
/// (each with one suite, ALPN `http/1.1`) and a plain one, each reached by its own request.
#[test]
fn ssl_bc_fetches_answer_as_haproxy() {
    if !tools() {
        return;
    }
    let dir = Scratch::new("tls-vs-haproxy-ssl-bc");
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let a = ca.issue("a.pem", "a.test", &["a.test"], Key::Ec, false);
    let (p13, p12, plain) = (free_port(), free_port(), free_port());
    let servers = dir.write(
        "servers.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend s13\n bind 127.0.0.1:{p13} ssl crt {a} alpn http/1.1 ssl-min-ver TLSv1.3 ciphersuites TLS_AES_256_GCM_SHA384\n\
              http-request return status 200 content-type text/plain string ok\n\
             frontend s12\n bind 127.0.0.1:{p12} ssl crt {a} alpn http/1.1 ssl-max-ver TLSv1.2 ciphers ECDHE-ECDSA-CHACHA20-POLY1305\n\
              http-request return status 200 content-type text/plain string ok\n\
             frontend plain\n bind 127.0.0.1:{plain}\n\
              http-request return status 200 content-type text/plain string ok\n",
            a = a.display()
        ),
    );
    let _servers = Fulcrum::start(&servers);
    let cfg = |port: u16| {
        format!(
            "global\n nbthread 1\ndefaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend f\n bind 127.0.0.1:{port}\n\
              use_backend b13 if {{ path /13 }}\n\
              use_backend b12 if {{ path /12 }}\n\
              default_backend bplain\n\
              http-response set-header X-BC \"%[ssl_bc]|%[ssl_bc_protocol]|%[ssl_bc_cipher]|%[ssl_bc_alpn]|%[ssl_bc_use_keysize]|%[ssl_bc_alg_keysize]|%[ssl_bc_err]\"\n\
              http-response set-header X-BC13 yes if {{ ssl_bc_protocol TLSv1.3 }}\n\
              http-response set-header X-BCTLS yes if {{ ssl_bc }}\n\
              http-response set-header X-BCBITS yes if {{ ssl_bc_use_keysize ge 256 }}\n\
             backend b13\n server s 127.0.0.1:{p13} ssl verify none alpn http/1.1\n\
             backend b12\n server s 127.0.0.1:{p12} ssl verify none alpn http/1.1\n\
             backend bplain\n server s 127.0.0.1:{plain}\n"
        )
    };
    let hport = free_port();
    let _h = haproxy(&dir.0, "h", &cfg(hport), hport);
    let fport = free_port();
    let fcfg = dir.write("f.cfg", &cfg(fport));
    let f = Fulcrum::start(&fcfg);
    // The X- headers of the answer to `path`, in order.
    let headers = |port: u16, path: &str| -> String {
        let out = std::process::Command::new("curl")
            .args(["-s", "-D", "-", "-o", "/dev/null", "--max-time", "5"])
            .arg(format!("http://127.0.0.1:{port}{path}"))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with("x-"))
            .map(|l| l.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (path, first) in [
        (
            "/13",
            "x-bc: 1|tlsv1.3|tls_aes_256_gcm_sha384|http/1.1|256|256|0",
        ),
        (
            "/12",
            "x-bc: 1|tlsv1.2|ecdhe-ecdsa-chacha20-poly1305|http/1.1|256|256|0",
        ),
        ("/plain", "x-bc: 0||||||"),
    ] {
        let want = headers(hport, path);
        let got = headers(fport, path);
        assert!(want.starts_with(first), "haproxy {path}: {want}");
        assert_eq!(got, want, "{path}: {}", f.log_text());
    }
}
