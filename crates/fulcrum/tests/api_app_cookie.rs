//! APP_COOKIE persistence end to end through `fulcrum run`: a pool created through the LBaaS
//! API with `{"type": "APP_COOKIE", "cookie_name": "JSESSIONID"}` (rendered as Octavia's
//! amphora driver renders it: a string stick table learning the members' JSESSIONID from their
//! answers); curl through the VIP: a client replaying a member's JSESSIONID stays on that
//! member while round robin would alternate, and a client without one is balanced.

mod api_support;
mod common;

use api_support::vip;
use common::{free_port, Fulcrum, Scratch};
use serde_json::json;
use std::process::Command;

/// A member answering with its name and `Set-Cookie: JSESSIONID=<name>`.
fn member(scratch: &Scratch, name: &str, port: u16) -> Fulcrum {
    let cfg = scratch.write(
        &format!("{name}.cfg"),
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend {name}\n bind 127.0.0.1:{port}\n\
             http-request return status 200 content-type text/plain string {name} hdr Set-Cookie JSESSIONID={name}\n"
        ),
    );
    Fulcrum::start(&cfg)
}

/// One GET through curl: (status, body, JSESSIONID set by the answer).
fn get(url: &str, session: Option<&str>) -> (u16, String, Option<String>) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-m", "5", "-D", "-", url]);
    if let Some(s) = session {
        cmd.args(["--cookie", &format!("lang=en; JSESSIONID={s}")]);
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let set = head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        if !n.trim().eq_ignore_ascii_case("set-cookie") {
            return None;
        }
        v.trim()
            .strip_prefix("JSESSIONID=")
            .map(|v| v.split(';').next().unwrap_or("").to_string())
    });
    (code, body.to_string(), set)
}

#[test]
fn app_cookie_keeps_a_replaying_client_on_its_member() {
    let scratch = Scratch::new("api-appcookie");
    let (p0, p1) = (free_port(), free_port());
    let _m0 = member(&scratch, "member0", p0);
    let _m1 = member(&scratch, "member1", p1);
    let api = api_support::start(&scratch, api_support::port(), "");
    let vip = vip(3);
    let port = free_port();
    let lb = api.create(
        "loadbalancers",
        "loadbalancer",
        json!({"vip_address": vip, "vip_subnet_id": "lb-subnet"}),
    );
    api.wait_active(&lb);
    let l = api.create(
        "listeners",
        "listener",
        json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": port}),
    );
    api.wait_active(&lb);
    let p = api.create("pools", "pool", json!({"listener_id": l, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "APP_COOKIE", "cookie_name": "JSESSIONID"}}));
    api.wait_active(&lb);
    for m in [p0, p1] {
        api.create(
            &format!("pools/{p}/members"),
            "member",
            json!({"address": "127.0.0.1", "protocol_port": m}),
        );
        api.wait_active(&lb);
    }
    let url = format!("http://{vip}:{port}/");
    // Without a session: round robin alternates, each member setting its JSESSIONID.
    let mut first = Vec::new();
    for _ in 0..2 {
        let (code, body, set) = get(&url, None);
        assert_eq!(code, 200, "{body}\n{}", api.fulcrum.log_text());
        assert_eq!(
            set.as_deref(),
            Some(body.as_str()),
            "the member's own cookie"
        );
        first.push(body);
    }
    assert_ne!(first[0], first[1], "round robin over both members");
    // Replaying a session: every request lands on the member that set it.
    for who in &first {
        for i in 0..6 {
            let (code, body, _) = get(&url, Some(who));
            assert_eq!((code, body.as_str()), (200, who.as_str()), "request {i}");
        }
    }
    // An unknown session is balanced, not refused.
    assert_eq!(get(&url, Some("nobody")).0, 200);
}
