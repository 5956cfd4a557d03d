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
