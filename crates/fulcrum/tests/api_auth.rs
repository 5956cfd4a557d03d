//! The API's auth modes through `fulcrum run`: a static admin token, and Keystone token
//! validation against a stub Keystone this test runs (tokens for two projects and an admin):
//! 401 without a valid token, per-project isolation, the admin sees everything.

mod api_support;
mod common;

use api_support::{call, vip};
use common::{Fulcrum, Scratch};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

fn start(scratch: &Scratch, auth: &str) -> (Fulcrum, String) {
    let port = api_support::port();
    let cfg = scratch.write(
        "auth.cfg",
        &format!("api\n bind 127.0.0.1:{port}\n auth {auth}\n"),
    );
    (
        Fulcrum::start(&cfg),
        format!("http://127.0.0.1:{port}/v2.0/lbaas"),
    )
}

#[test]
fn static_token() {
    let scratch = Scratch::new("api-token");
    let (_f, base) = start(&scratch, "token s3cret");
    let url = format!("{base}/loadbalancers");
    let (code, v) = call("GET", &url, None, &[]);
    assert_eq!(code, 401, "{v}");
    assert_eq!(v["faultcode"], "Client");
    assert_eq!(call("GET", &url, None, &["X-Auth-Token: wrong"]).0, 401);
    let (code, v) = call("GET", &url, None, &["X-Auth-Token: s3cret"]);
    assert_eq!((code, &v["loadbalancers"]), (200, &json!([])));
}

/// A stub Keystone: `GET /v3/auth/tokens` with X-Subject-Token `tok-a`/`tok-b` (projects a, b)
/// or `tok-admin` (admin role); anything else 404, as Keystone answers an unknown token.
fn keystone() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in l.incoming().take(100) {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().expect("clone"));
            let mut subject = String::new();
            let mut path = String::new();
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if path.is_empty() {
                    path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("x-subject-token:") {
                    subject = v.trim().to_string();
                }
                line.clear();
            }
            let body = match (path.as_str(), subject.as_str()) {
                ("/v3/auth/tokens", "tok-a") => {
                    Some(json!({"token": {"project": {"id": "a"}, "roles": [{"name": "member"}]}}))
                }
                ("/v3/auth/tokens", "tok-b") => {
                    Some(json!({"token": {"project": {"id": "b"}, "roles": [{"name": "member"}]}}))
                }
                ("/v3/auth/tokens", "tok-admin") => Some(
                    json!({"token": {"project": {"id": "admin"}, "roles": [{"name": "admin"}]}}),
                ),
                _ => None,
            };
            let resp = match body {
                Some(b) => {
                    let b = b.to_string();
                    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}", b.len())
                }
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string(),
            };
            let _ = c.write_all(resp.as_bytes());
        }
    });
    port
}

#[test]
fn keystone_tokens_and_project_isolation() {
    let scratch = Scratch::new("api-keystone");
    let ks = keystone();
    let (_f, base) = start(&scratch, &format!("keystone http://127.0.0.1:{ks}"));
    let url = format!("{base}/loadbalancers");
    assert_eq!(call("GET", &url, None, &[]).0, 401);
    assert_eq!(call("GET", &url, None, &["X-Auth-Token: forged"]).0, 401);
    let lb = json!({"loadbalancer": {"vip_address": vip(9), "vip_subnet_id": "s"}});
    let (code, v) = call("POST", &url, Some(&lb), &["X-Auth-Token: tok-a"]);
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["loadbalancer"]["project_id"], "a");
    let id = v["loadbalancer"]["id"].as_str().expect("id").to_string();
    let (_, v) = call("GET", &url, None, &["X-Auth-Token: tok-b"]);
    assert_eq!(v["loadbalancers"], json!([]), "project b sees nothing of a");
    assert_eq!(
        call(
            "GET",
            &format!("{url}/{id}"),
            None,
            &["X-Auth-Token: tok-b"]
        )
        .0,
        403
    );
    assert_eq!(
        call(
            "DELETE",
            &format!("{url}/{id}"),
            None,
            &["X-Auth-Token: tok-b"]
        )
        .0,
        403
    );
    let (_, v) = call("GET", &url, None, &["X-Auth-Token: tok-a"]);
    assert_eq!(v["loadbalancers"][0]["id"], id.as_str());
    let (_, v) = call("GET", &url, None, &["X-Auth-Token: tok-admin"]);
    assert_eq!(
        v["loadbalancers"].as_array().map(Vec::len),
        Some(1),
        "admin sees all"
    );
    // Only an admin sets quotas.
    let q = json!({"quota": {"loadbalancer": 1}});
    assert_eq!(
        call(
            "PUT",
            &format!("{base}/quotas/a"),
            Some(&q),
            &["X-Auth-Token: tok-a"]
        )
        .0,
        403
    );
    assert_eq!(
        call(
            "PUT",
            &format!("{base}/quotas/a"),
            Some(&q),
            &["X-Auth-Token: tok-admin"]
        )
        .0,
        202
    );
    let (code, v) = call("POST", &url, Some(&lb), &["X-Auth-Token: tok-a"]);
    assert_eq!(code, 403, "quota of a met: {v}");
}

/// Runs `openssl` (the test fails when it cannot: scripts/install-deps.sh installs it).
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (install it: scripts/install-deps.sh)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`NAME-ca.pem`) and, when `server`, a certificate for 127.0.0.1 it signed
/// (`NAME-server.pem`, `NAME-server.key`).
fn make_ca(dir: &std::path::Path, name: &str, server: bool) {
    let (ca_key, ca) = (format!("{name}-ca.key"), format!("{name}-ca.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
            "-keyout",
            &ca_key,
            "-out",
            &ca,
        ],
    );
    if !server {
        return;
    }
    let (key, csr, cert) = (
        format!("{name}-server.key"),
        format!("{name}-server.csr"),
        format!("{name}-server.pem"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            &cert,
        ],
    );
}

/// Keystone over https: the stub behind a TLS terminator (socat) with a certificate from a
/// test CA. With `ca-file` naming that CA the tokens are validated (project a's load balancer
/// is a's); with another CA the certificate is refused and every call is 401.
#[test]
fn keystone_over_https() {
    let scratch = Scratch::new("api-keystone-tls");
    make_ca(&scratch.0, "good", true);
    make_ca(&scratch.0, "other", false);
    let ks = keystone();
    let tls_port = api_support::port();
    let mut cmd = std::process::Command::new("socat");
    cmd.current_dir(&scratch.0).args([
        &format!("OPENSSL-LISTEN:{tls_port},bind=127.0.0.1,reuseaddr,fork,cert=good-server.pem,key=good-server.key,verify=0"),
        &format!("TCP:127.0.0.1:{ks}"),
    ]);
    let _socat = fulcrum_testlab::process::Child::spawn("socat", cmd, scratch.0.join("socat.log"))
        .expect("socat (install it: scripts/install-deps.sh)");
    let start_wait = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
        assert!(
            start_wait.elapsed() < std::time::Duration::from_secs(10),
            "socat never listened"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let ca = scratch.0.join("good-ca.pem");
    let (f, base) = start(
        &scratch,
        &format!(
            "keystone https://127.0.0.1:{tls_port} ca-file {}",
            ca.display()
        ),
    );
    let url = format!("{base}/loadbalancers");
    assert_eq!(call("GET", &url, None, &["X-Auth-Token: forged"]).0, 401);
    let lb = json!({"loadbalancer": {"vip_address": vip(10), "vip_subnet_id": "s"}});
    let (code, v) = call("POST", &url, Some(&lb), &["X-Auth-Token: tok-a"]);
    assert_eq!(code, 201, "{v}\n{}", f.log_text());
    assert_eq!(v["loadbalancer"]["project_id"], "a");
    drop(f);

    let other = Scratch::new("api-keystone-tls-other");
    let (f, base) = start(
        &other,
        &format!(
            "keystone https://127.0.0.1:{tls_port} ca-file {}",
            scratch.0.join("other-ca.pem").display()
        ),
    );
    let (code, v) = call(
        "GET",
        &format!("{base}/loadbalancers"),
        None,
        &["X-Auth-Token: tok-a"],
    );
    assert_eq!(code, 401, "an untrusted Keystone certificate: {v}");
    // The warning is written as the answer goes out: wait for the line, do not read once.
    assert!(
        f.wait_line("TLS", Duration::from_secs(5)).is_some(),
        "{}",
        f.log_text()
    );
}
