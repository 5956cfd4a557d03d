//! The LBaaS API end to end through `fulcrum run`: seed 003's walk-through (pool, members on
//! real demo servers, VIP with HTTP_COOKIE persistence, HTTP monitor; curl through the VIP, the
//! cookie keeps the client on one member, a stopped member goes ERROR in the status tree), the
//! rendered haproxy.cfg accepted by the real haproxy, restart persistence, Octavia's errors,
//! and a load loop while members change 100 times with no failed request.

mod api_support;
mod common;

use api_support::{call, fetch, vip, wait_for};
use common::{app_server, free_port, Scratch};
use serde_json::json;
use std::time::{Duration, Instant};

/// LB + HTTP listener + ROUND_ROBIN pool (HTTP_COOKIE) with `members` and an HTTP monitor.
fn build(
    api: &api_support::Api,
    vip: &str,
    port: u16,
    members: &[u16],
) -> (String, String, String, Vec<String>) {
    let lb = api.create(
        "loadbalancers",
        "loadbalancer",
        json!({"name": "tomcat_lb", "vip_address": vip, "vip_subnet_id": "lb-subnet"}),
    );
    api.wait_active(&lb);
    let l = api.create("listeners", "listener", json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": port.to_string(), "connection_limit": "1000"}));
    api.wait_active(&lb);
    let p = api.create("pools", "pool", json!({"listener_id": l, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "HTTP_COOKIE"}}));
    api.wait_active(&lb);
    let mut ids = Vec::new();
    for m in members {
        ids.push(api.create(
            &format!("pools/{p}/members"),
            "member",
            json!({"address": "127.0.0.1", "protocol_port": m, "weight": 100}),
        ));
        api.wait_active(&lb);
    }
    api.create("healthmonitors", "healthmonitor", json!({"pool_id": p, "type": "HTTP", "delay": 1, "timeout": 1, "max_retries": 1, "max_retries_down": 1, "url_path": "/", "expected_codes": "200"}));
    api.wait_active(&lb);
    (lb, l, p, ids)
}

#[test]
fn seed003_walkthrough_cookie_persistence_and_status() {
    let scratch = Scratch::new("api-seed003");
    let (p1, p2) = (free_port(), free_port());
    let _m1 = app_server(&scratch, "member0", p1, 200);
    let m2 = app_server(&scratch, "member1", p2, 200);
    let api = api_support::start(&scratch, api_support::port(), "");
    let vip = vip(1);
    let port = free_port();
    let (lb, _l, pool, ids) = build(&api, &vip, port, &[p1, p2]);
    let url = format!("http://{vip}:{port}/manager/html");

    // Round robin: SRV alternates between the two members, as in the seed.
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (code, body, srv) = fetch(&url, None);
        assert_eq!(code, 200, "{body}\n{}", api.fulcrum.log_text());
        let srv = srv.expect("Set-Cookie: SRV");
        assert!(ids.contains(&srv), "cookie {srv} names a member");
        seen.push((srv, body));
    }
    assert_ne!(seen[0].0, seen[1].0, "round robin alternates: {seen:?}");
    assert_eq!(seen[0].0, seen[2].0);
    // With the cookie, every request stays on its member (and no new cookie is set).
    let (stuck, body) = seen[1].clone();
    for _ in 0..6 {
        let (code, b, srv) = fetch(&url, Some(&format!("SRV={stuck}")));
        assert_eq!((code, b.as_str(), srv), (200, body.as_str(), None));
    }
    // An unknown cookie value is balanced and given a valid cookie.
    let (_, _, srv) = fetch(&url, Some("SRV=2"));
    assert!(srv.is_some_and(|s| ids.contains(&s)));

    // The status tree is ONLINE; stopping member1 turns it ERROR and the pool DEGRADED.
    let member_status = |id: &str| {
        let (_, v) = api.get(&format!("loadbalancers/{lb}/status"));
        let members = v["statuses"]["loadbalancer"]["listeners"][0]["pools"][0]["members"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let m = members
            .into_iter()
            .find(|m| m["id"] == id)
            .unwrap_or_default();
        (m["operating_status"].as_str().unwrap_or("").to_string(), v)
    };
    wait_for("members ONLINE", Duration::from_secs(10), || {
        member_status(&ids[1]).0 == "ONLINE"
    });
    drop(m2);
    wait_for("member1 ERROR", Duration::from_secs(10), || {
        member_status(&ids[1]).0 == "ERROR"
    });
    let (_, tree) = member_status(&ids[1]);
    let l0 = &tree["statuses"]["loadbalancer"]["listeners"][0];
    assert_eq!(l0["pools"][0]["operating_status"], "DEGRADED", "{tree}");
    assert_eq!(l0["operating_status"], "DEGRADED", "{tree}");
    assert_eq!(
        tree["statuses"]["loadbalancer"]["operating_status"],
        "DEGRADED"
    );
    assert_eq!(member_status(&ids[0]).0, "ONLINE");
    // The client stuck on the stopped member is sent to the live one.
    let (code, b, _) = fetch(&url, Some(&format!("SRV={}", ids[1])));
    assert_eq!((code, b.as_str()), (200, "member0"));
    // Disabling a member (admin_state_up false) shows it OFFLINE.
    let (code, _) = api.put(
        &format!("pools/{pool}/members/{}", ids[1]),
        json!({"member": {"admin_state_up": false}}),
    );
    assert_eq!(code, 200);
    api.wait_active(&lb);
    wait_for("member1 OFFLINE", Duration::from_secs(5), || {
        member_status(&ids[1]).0 == "OFFLINE"
    });

    // Stats count what went through.
    let (_, stats) = api.get(&format!("loadbalancers/{lb}/stats"));
    assert!(
        stats["stats"]["total_connections"].as_u64().unwrap_or(0) >= 11,
        "{stats}"
    );

    // The rendered haproxy.cfg is accepted by the real haproxy.
    let (code, cfg) = api.get(&format!("loadbalancers/{lb}/haproxy.cfg"));
    assert_eq!(code, 200);
    let cfg = cfg.as_str().expect("text").to_string();
    assert!(cfg.contains("cookie SRV insert indirect nocache"), "{cfg}");
    assert!(cfg.contains("option httpchk GET /"), "{cfg}");
    api_support::haproxy_check(&scratch.0.join("rendered.cfg"), &cfg);
    // Cascade delete removes everything; the VIP stops answering.
    let (code, v) = api.delete(&format!("loadbalancers/{lb}"));
    assert_eq!(
        code, 400,
        "delete without cascade refused while it has children: {v}"
    );
    let (code, _) = call(
        "DELETE",
        &api.url(&format!("loadbalancers/{lb}?cascade=true")),
        None,
        &[],
    );
    assert_eq!(code, 204);
    wait_for("LB gone", Duration::from_secs(5), || {
        api.get(&format!("loadbalancers/{lb}")).0 == 404
    });
    assert_eq!(api.get(&format!("pools/{pool}")).0, 404);
    assert_ne!(fetch(&url, None).0, 200);
}

#[test]
fn restart_keeps_load_balancers_and_ids() {
    let scratch = Scratch::new("api-restart");
    let p1 = free_port();
    let _m1 = app_server(&scratch, "member0", p1, 200);
    let api_port = api_support::port();
    let vip = vip(2);
    let port = free_port();
    let (lb, l, pool, ids) = {
        let api = api_support::start(&scratch, api_port, "");
        let built = build(&api, &vip, port, &[p1]);
        let url = format!("http://{vip}:{port}/");
        assert_eq!(fetch(&url, None).0, 200);
        built
        // dropped: SIGKILL, as a crash
    };
    // While fulcrum is down, the CLI prints the rendering straight from the store.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["lbaas-config", "--store"])
        .arg(scratch.0.join("lbaas.db"))
        .arg(&lb)
        .output()
        .expect("fulcrum lbaas-config");
    let offline = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        offline.contains(&format!("frontend {l}"))
            && offline.contains(&format!("server {}", ids[0])),
        "{offline}"
    );
    let api = api_support::start(&scratch, api_port, "");
    // Running, the CLI asks the API, and both agree.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["lbaas-config", "--url", &api.base, &lb])
        .output()
        .expect("fulcrum lbaas-config");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), offline);
    let url = format!("http://{vip}:{port}/");
    wait_for(
        "the VIP serves after restart",
        Duration::from_secs(10),
        || fetch(&url, None).0 == 200,
    );
    let (_, v) = api.get("loadbalancers");
    assert_eq!(v["loadbalancers"][0]["id"], lb.as_str(), "{v}");
    assert_eq!(v["loadbalancers"][0]["provisioning_status"], "ACTIVE");
    assert_eq!(v["loadbalancers"][0]["listeners"][0]["id"], l.as_str());
    let (_, v) = api.get(&format!("pools/{pool}/members"));
    assert_eq!(v["members"][0]["id"], ids[0].as_str(), "{v}");
    let (code, body, _) = fetch(&url, None);
    assert_eq!((code, body.as_str()), (200, "member0"));
    // A SIGHUP re-reads the files and keeps the API's load balancers (same reload path).
    let reloads = |api: &api_support::Api| {
        api.fulcrum
            .log_text()
            .matches("configuration reloaded")
            .count()
    };
    let before = reloads(&api);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(api.fulcrum.child.pid() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("SIGHUP");
    wait_for("the SIGHUP reload", Duration::from_secs(10), || {
        reloads(&api) > before
    });
    assert!(api.fulcrum.log_text().contains("reload signal received"));
    let (code, body, _) = fetch(&url, None);
    assert_eq!(
        (code, body.as_str()),
        (200, "member0"),
        "{}",
        api.fulcrum.log_text()
    );
}

#[test]
fn octavia_errors_and_listing() {
    let scratch = Scratch::new("api-errors");
    let api = api_support::start(&scratch, api_support::port(), "");
    // Versions document for discovery.
    let (code, v) = call("GET", &format!("{}/", api.base), None, &[]);
    assert_eq!(code, 200);
    assert!(
        v["versions"]
            .as_array()
            .is_some_and(|vs| vs.iter().any(|x| x["id"] == "v2.0")),
        "{v}"
    );
    assert_eq!(v["versions"][0]["status"], "CURRENT");
    // 404 with faultcode/faultstring.
    let (code, v) = api.get("loadbalancers/nope");
    assert_eq!(code, 404);
    assert_eq!(v["faultcode"], "Client");
    assert_eq!(v["faultstring"], "Load Balancer nope not found.");
    // 400: missing field, bad range, bad enum, unknown attribute, missing VIP.
    for (body, want) in [
        (json!({"vip_subnet_id": "s"}), "vip_address"),
        (
            json!({"vip_address": "not-an-ip", "vip_subnet_id": "s"}),
            "IPv4 or IPv6",
        ),
        (
            json!({"vip_address": "127.0.0.9", "vip_subnet_id": "s", "colour": "red"}),
            "colour",
        ),
        (json!({"vip_address": "127.0.0.9"}), "vip_subnet_id"),
    ] {
        let (code, v) = api.post("loadbalancers", json!({"loadbalancer": body}));
        assert_eq!(code, 400, "{v}");
        assert!(
            v["faultstring"].as_str().unwrap_or("").contains(want),
            "{v}"
        );
    }
    let vip = vip(3);
    let lb = api.create(
        "loadbalancers",
        "loadbalancer",
        json!({"name": "a", "vip_address": vip, "vip_subnet_id": "s"}),
    );
    api.wait_active(&lb);
    let port = free_port();
    for (body, want) in [
        (
            json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 0}),
            "greater or equal to 1",
        ),
        (
            json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": "70000"}),
            "lower or equal to 65535",
        ),
        (
            json!({"loadbalancer_id": lb, "protocol": "FTP", "protocol_port": port}),
            "one of",
        ),
        (
            json!({"loadbalancer_id": lb, "protocol_port": port}),
            "Mandatory field missing",
        ),
    ] {
        let (code, v) = api.post("listeners", json!({"listener": body}));
        assert_eq!(code, 400, "{v}");
        assert!(
            v["faultstring"].as_str().unwrap_or("").contains(want),
            "{want}: {v}"
        );
    }
    let l = api.create(
        "listeners",
        "listener",
        json!({"loadbalancer_id": lb, "protocol": "TCP", "protocol_port": port}),
    );
    api.wait_active(&lb);
    let (code, v) = api.post(
        "listeners",
        json!({"listener": {"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": port}}),
    );
    assert_eq!(code, 409, "duplicate port: {v}");
    let p = api.create(
        "pools",
        "pool",
        json!({"listener_id": l, "protocol": "TCP", "lb_algorithm": "LEAST_CONNECTIONS"}),
    );
    api.wait_active(&lb);
    let (code, v) = api.post(
        &format!("pools/{p}/members"),
        json!({"member": {"address": "127.0.0.1", "protocol_port": 1, "weight": 257}}),
    );
    assert_eq!(code, 400, "{v}");
    let m = api.create(
        &format!("pools/{p}/members"),
        "member",
        json!({"address": "127.0.0.1", "protocol_port": "1"}),
    );
    api.wait_active(&lb);
    let (code, _) = api.post(
        &format!("pools/{p}/members"),
        json!({"member": {"address": "127.0.0.1", "protocol_port": 1}}),
    );
    assert_eq!(code, 409, "duplicate member");
    // Without a monitor a member is NO_MONITOR; weight 0 makes it DRAINING.
    let member = |m: &str| api.get(&format!("pools/{p}/members/{m}")).1["member"].clone();
    assert_eq!(
        member(&m)["operating_status"],
        "NO_MONITOR",
        "{}",
        member(&m)
    );
    let (code, _) = api.put(
        &format!("pools/{p}/members/{m}"),
        json!({"member": {"weight": "0"}}),
    );
    assert_eq!(code, 200);
    api.wait_active(&lb);
    assert_eq!(member(&m)["operating_status"], "DRAINING", "{}", member(&m));
    // Failover is accepted (202) and settles; listener stats answer.
    assert_eq!(
        api.put(&format!("loadbalancers/{lb}/failover"), json!({}))
            .0,
        202
    );
    api.wait_active(&lb);
    let (code, v) = api.get(&format!("listeners/{l}/stats"));
    assert_eq!(code, 200);
    assert!(v["stats"]["total_connections"].is_u64(), "{v}");
    let (code, v) = api.post("healthmonitors", json!({"healthmonitor": {"pool_id": p, "type": "TCP", "delay": 1, "timeout": 5, "max_retries": 3}}));
    assert_eq!(code, 400, "timeout > delay: {v}");
    api.create(
        "healthmonitors",
        "healthmonitor",
        json!({"pool_id": p, "type": "TCP", "delay": "5", "timeout": "1", "max_retries": "3"}),
    );
    api.wait_active(&lb);
    let (code, _) = api.post("healthmonitors", json!({"healthmonitor": {"pool_id": p, "type": "TCP", "delay": 5, "timeout": 1, "max_retries": 3}}));
    assert_eq!(code, 409, "a pool has one monitor");
    // Immutable fields; a member under a wrong pool is 404.
    let (code, _) = api.put(
        &format!("listeners/{l}"),
        json!({"listener": {"protocol_port": 1}}),
    );
    assert_eq!(code, 400);
    assert_eq!(api.get(&format!("pools/other/members/{m}")).0, 404);
    // Listing: filters, fields, limit/marker, links.
    for n in 0..3 {
        api.create(
            &format!("pools/{p}/members"),
            "member",
            json!({"address": "127.0.0.1", "protocol_port": 10 + n, "name": format!("m{n}")}),
        );
        api.wait_active(&lb);
    }
    let (_, v) = api.get(&format!(
        "pools/{p}/members?name=m1&fields=name,protocol_port"
    ));
    assert_eq!(
        v["members"],
        json!([{"name": "m1", "protocol_port": 11}]),
        "{v}"
    );
    let (_, v) = api.get(&format!(
        "pools/{p}/members?limit=2&sort=protocol_port:desc"
    ));
    assert_eq!(v["members"][0]["protocol_port"], 12);
    assert_eq!(v["members_links"][0]["rel"], "next");
    let (_, v) = api.get("loadbalancers?provisioning_status=ACTIVE&fields=id");
    assert_eq!(v["loadbalancers"], json!([{"id": lb}]));
    // Batch member update: additive_only keeps the others; without it the list replaces.
    let (code, _) = api.put(
        &format!("pools/{p}/members?additive_only=true"),
        json!({"members": [{"address": "127.0.0.1", "protocol_port": 20}]}),
    );
    assert_eq!(code, 202);
    api.wait_active(&lb);
    assert_eq!(
        api.get(&format!("pools/{p}/members")).1["members"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    let (code, _) = api.put(
        &format!("pools/{p}/members"),
        json!({"members": [{"address": "127.0.0.1", "protocol_port": 20, "weight": 5}]}),
    );
    assert_eq!(code, 202);
    api.wait_active(&lb);
    let (_, v) = api.get(&format!("pools/{p}/members"));
    assert_eq!(v["members"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["members"][0]["weight"], 5);
    // Quotas, providers, flavors, Neutron look-ups.
    assert_eq!(api.get("quotas/defaults").1["quota"]["loadbalancer"], -1);
    let (code, _) = api.put("quotas/proj1", json!({"quota": {"loadbalancer": 0}}));
    assert_eq!(code, 202);
    let (code, v) = call(
        "POST",
        &api.url("loadbalancers"),
        Some(&json!({"loadbalancer": {"vip_address": "127.0.0.9", "vip_subnet_id": "s"}})),
        &["X-Project-Id: proj1"],
    );
    assert_eq!(code, 403, "quota met: {v}");
    // Per-project isolation: proj1 sees none of the default project's objects.
    let (_, v) = call(
        "GET",
        &api.url("loadbalancers"),
        None,
        &["X-Project-Id: proj1"],
    );
    assert_eq!(v["loadbalancers"], json!([]));
    let (code, _) = call(
        "GET",
        &api.url(&format!("loadbalancers/{lb}")),
        None,
        &["X-Project-Id: proj1"],
    );
    assert_eq!(code, 403);
    assert_eq!(api.get("providers").1["providers"][0]["name"], "amphora");
    assert_eq!(api.get("flavors").1["flavors"], json!([]));
    let (code, v) = call(
        "GET",
        &format!("{}/v2.0/subnets?id=abc", api.base),
        None,
        &[],
    );
    assert_eq!((code, v["subnets"][0]["id"].as_str()), (200, Some("abc")));
    // L7 policy and rule render and apply.
    let p2 = api.create(
        "pools",
        "pool",
        json!({"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    api.wait_active(&lb);
    let hl = api.create("listeners", "listener", json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": free_port(), "default_pool_id": p2}));
    api.wait_active(&lb);
    let pol = api.create(
        "l7policies",
        "l7policy",
        json!({"listener_id": hl, "action": "REJECT"}),
    );
    api.wait_active(&lb);
    api.create(
        &format!("l7policies/{pol}/rules"),
        "rule",
        json!({"type": "PATH", "compare_type": "STARTS_WITH", "value": "/admin"}),
    );
    api.wait_active(&lb);
    let cfg = api.get(&format!("loadbalancers/{lb}/haproxy.cfg")).1;
    assert!(
        cfg.as_str().unwrap_or("").contains("http-request deny if"),
        "{cfg}"
    );
}

/// An echo server on 127.0.0.1 (a thread per connection), for a long TCP session.
fn echo_server() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in l.incoming().take(16).flatten() {
            std::thread::spawn(move || {
                let mut r = c.try_clone().expect("clone");
                let mut w = c;
                let _ = std::io::copy(&mut r, &mut w);
            });
        }
    });
    port
}

/// One established TCP session through the load balancer: each `round` sends a line and reads
/// its echo.
struct Session(std::io::BufReader<std::net::TcpStream>);

impl Session {
    fn open(addr: std::net::SocketAddr) -> Session {
        let s =
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        Session(std::io::BufReader::new(s))
    }

    fn round(&mut self, n: u32) -> std::io::Result<()> {
        use std::io::{BufRead, Write};
        let line = format!("ping {n}\n");
        self.0.get_mut().write_all(line.as_bytes())?;
        let mut back = String::new();
        self.0.read_line(&mut back)?;
        if back != line {
            return Err(std::io::Error::other(format!("echo {back:?}")));
        }
        Ok(())
    }
}

#[test]
fn load_loop_during_100_member_changes_loses_nothing() {
    let scratch = Scratch::new("api-load");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let _apps: Vec<_> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| app_server(&scratch, &format!("app{i}"), *p, 200))
        .collect();
    let api = api_support::start(&scratch, api_support::port(), "");
    let vip = vip(4);
    let port = free_port();
    let (lb, _l, pool, ids) = build(&api, &vip, port, &ports[..1]);
    let addr: std::net::SocketAddr = format!("{vip}:{port}").parse().expect("addr");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let load = std::thread::spawn(move || {
        let (mut sent, mut failed) = (0u32, 0u32);
        let start = Instant::now();
        while !stop2.load(std::sync::atomic::Ordering::Relaxed)
            && start.elapsed() < Duration::from_secs(120)
            && sent < 200_000
        {
            if !fulcrum_testlab::http::get_ok(addr, Duration::from_secs(2)) {
                failed += 1;
            }
            sent += 1;
        }
        (sent, failed)
    });
    // An established TCP session (a TCP listener on the same load balancer, echo member) stays
    // open and working through all the changes.
    let tcp_port = free_port();
    let tl = api.create("listeners", "listener", json!({"loadbalancer_id": lb, "protocol": "TCP", "protocol_port": tcp_port, "timeout_client_data": 600000, "timeout_member_data": 600000}));
    api.wait_active(&lb);
    let tp = api.create(
        "pools",
        "pool",
        json!({"listener_id": tl, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    api.wait_active(&lb);
    api.create(
        &format!("pools/{tp}/members"),
        "member",
        json!({"address": "127.0.0.1", "protocol_port": echo_server()}),
    );
    api.wait_active(&lb);
    let mut kept = Session::open(format!("{vip}:{tcp_port}").parse().expect("addr"));
    kept.round(0).expect("the session works");
    // 100 changes: add app1/app2, reweight, remove, re-add; app0 always stays.
    let mut changes: u32 = 0;
    let mut extra: Vec<String> = Vec::new();
    let mut slowest = Duration::ZERO;
    while changes < 100 {
        match changes % 4 {
            0 | 1 => {
                let p = ports[1 + (changes % 4) as usize];
                extra.push(api.create(
                    &format!("pools/{pool}/members"),
                    "member",
                    json!({"address": "127.0.0.1", "protocol_port": p, "weight": 256}),
                ));
                // The new member takes traffic (after its first check).
                api.wait_active(&lb);
                let name = format!("app{}", 1 + (changes % 4));
                let t = Instant::now();
                wait_for("the new member serves", Duration::from_secs(10), || {
                    fetch(&format!("http://{addr}/"), None).1 == name
                });
                slowest = slowest.max(t.elapsed());
            }
            2 => {
                let (code, _) = api.put(
                    &format!("pools/{pool}/members/{}", ids[0]),
                    json!({"member": {"weight": 1 + changes}}),
                );
                assert_eq!(code, 200);
            }
            _ => {
                for m in extra.drain(..) {
                    assert_eq!(api.delete(&format!("pools/{pool}/members/{m}")).0, 204);
                    api.wait_active(&lb);
                }
            }
        }
        api.wait_active(&lb);
        kept.round(changes + 1).unwrap_or_else(|e| {
            panic!("the established session failed after change {changes}: {e}")
        });
        changes += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (sent, failed) = load.join().expect("load thread");
    eprintln!("load loop: {sent} requests during 100 member changes, {failed} failed; slowest new member to serve after ACTIVE: {slowest:?}");
    assert!(sent > 100, "the load loop ran ({sent})");
    assert_eq!(failed, 0, "{}", api.fulcrum.log_text());
}

/// Seed 003 as it was written: Neutron LBaaS v1 (`/v2.0/lb/...`): pool, VIP with HTTP_COOKIE,
/// members, a monitor associated with the pool; the cookie keeps the client on one member.
#[test]
fn seed003_through_lbaas_v1() {
    let scratch = Scratch::new("api-v1");
    let (p1, p2) = (free_port(), free_port());
    let _m1 = app_server(&scratch, "member0", p1, 200);
    let _m2 = app_server(&scratch, "member1", p2, 200);
    let api = api_support::start(&scratch, api_support::port(), "");
    let v1 = |m: &str, path: &str, body: Option<serde_json::Value>| {
        call(
            m,
            &format!("{}/v2.0/lb/{path}", api.base),
            body.as_ref(),
            &[],
        )
    };
    let (code, v) = v1(
        "POST",
        "pools",
        Some(
            json!({"pool": {"name": "tomcat_lb", "subnet_id": "lb-subnet", "protocol": "HTTP", "lb_method": "ROUND_ROBIN"}}),
        ),
    );
    assert_eq!(code, 201, "{v}");
    let pool = v["pool"]["id"].as_str().expect("id").to_string();
    let vip = vip(6);
    let port = free_port();
    let (code, v) = v1(
        "POST",
        "vips",
        Some(
            json!({"vip": {"name": "tomcat_vip", "pool_id": pool, "subnet_id": "lb-subnet", "address": vip, "protocol": "HTTP", "protocol_port": port, "session_persistence": {"type": "HTTP_COOKIE"}}}),
        ),
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["vip"]["address"], vip.as_str());
    let mut members = Vec::new();
    for p in [p1, p2] {
        let (code, v) = v1(
            "POST",
            "members",
            Some(
                json!({"member": {"pool_id": pool, "address": "127.0.0.1", "protocol_port": p, "weight": 100}}),
            ),
        );
        assert_eq!(code, 201, "{v}");
        members.push(v["member"]["id"].as_str().expect("id").to_string());
    }
    let (code, v) = v1(
        "POST",
        "health_monitors",
        Some(
            json!({"health_monitor": {"type": "HTTP", "delay": 30, "timeout": 30, "max_retries": 3, "http_method": "GET", "url_path": "/", "expected_codes": "200"}}),
        ),
    );
    assert_eq!(code, 201, "{v}");
    let mon = v["health_monitor"]["id"].as_str().expect("id").to_string();
    let (code, v) = v1(
        "POST",
        &format!("pools/{pool}/health_monitors"),
        Some(json!({"health_monitor": {"id": mon}})),
    );
    assert_eq!(code, 201, "{v}");
    wait_for("pool ACTIVE", Duration::from_secs(10), || {
        v1("GET", &format!("pools/{pool}"), None).1["pool"]["status"] == "ACTIVE"
    });
    let (_, v) = v1("GET", &format!("pools/{pool}"), None);
    assert_eq!(v["pool"]["health_monitors"], json!([mon]), "{v}");
    assert_eq!(v["pool"]["members"].as_array().map(Vec::len), Some(2));
    let url = format!("http://{vip}:{port}/manager/html");
    let (a, b) = (fetch(&url, None), fetch(&url, None));
    assert_eq!((a.0, b.0), (200, 200));
    let (sa, sb) = (a.2.expect("SRV"), b.2.expect("SRV"));
    assert_ne!(sa, sb, "round robin between the two members");
    assert!(members.contains(&sa) && members.contains(&sb));
    for _ in 0..5 {
        let (code, body, srv) = fetch(&url, Some(&format!("SRV={sa}")));
        assert_eq!((code, body.as_str(), srv), (200, a.1.as_str(), None));
    }
    // The same objects through v2: one load balancer with the VIP.
    let (_, v2) = api.get(&format!("pools/{pool}"));
    assert_eq!(v2["pool"]["session_persistence"]["type"], "HTTP_COOKIE");
    // Rendered as the seed's Neutron haproxy.cfg was (ids and addresses aside).
    let lb = v2["pool"]["loadbalancers"][0]["id"]
        .as_str()
        .expect("lb")
        .to_string();
    let cfg = api.get(&format!("loadbalancers/{lb}/haproxy.cfg")).1;
    let cfg = cfg.as_str().expect("text");
    let seed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/seed003-neutron-lbaas.haproxy.cfg"
    ))
    .expect("seed fixture");
    let backend = seed.split("\nbackend ").nth(1).expect("seed backend");
    for line in backend
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let want = match line.strip_prefix("server ") {
            // "server ID ADDR:PORT weight 100 check inter 30s fall 3 cookie N": the options.
            Some(rest) => rest
                .split_whitespace()
                .skip(2)
                .take(6)
                .collect::<Vec<_>>()
                .join(" "),
            None => line.to_string(),
        };
        assert!(
            cfg.contains(&want),
            "seed line {line:?} ({want:?}) missing from\n{cfg}"
        );
    }
    // Errors in Neutron's shape.
    let (code, v) = v1("GET", "pools/nope", None);
    assert_eq!(code, 404);
    assert_eq!(v["NeutronError"]["type"], "NotFound");
    let (code, _) = v1("DELETE", &format!("pools/{pool}"), None);
    assert_eq!(code, 409, "pool still has a VIP");
    let vip_id = v1("GET", "vips", None).1["vips"][0]["id"]
        .as_str()
        .expect("vip")
        .to_string();
    assert_eq!(v1("DELETE", &format!("vips/{vip_id}"), None).0, 204);
    assert_eq!(v1("DELETE", &format!("pools/{pool}"), None).0, 204);
    wait_for("pool gone", Duration::from_secs(5), || {
        v1("GET", &format!("pools/{pool}"), None).0 == 404
    });
    assert_eq!(v1("DELETE", &format!("health_monitors/{mon}"), None).0, 204);
}

/// A change the process refuses (a VIP it cannot bind) puts that load balancer in ERROR with
/// the reason; the others keep serving and keep taking changes.
#[test]
fn refused_change_is_error_with_reason_and_others_keep_serving() {
    let scratch = Scratch::new("api-refused");
    let p1 = free_port();
    let _m1 = app_server(&scratch, "member0", p1, 200);
    let api = api_support::start(&scratch, api_support::port(), "");
    let vip = vip(7);
    let port = free_port();
    let (_lb, _l, pool, _) = build(&api, &vip, port, &[p1]);
    let url = format!("http://{vip}:{port}/");
    // A port another process holds (without SO_REUSEPORT): the bind fails.
    let bad_vip = api_support::vip(8);
    let holder = std::net::TcpListener::bind(format!("{bad_vip}:0")).expect("hold a port");
    let held = holder.local_addr().expect("addr").port();
    let bad = api.create(
        "loadbalancers",
        "loadbalancer",
        json!({"vip_address": bad_vip, "vip_subnet_id": "s"}),
    );
    api.wait_active(&bad);
    api.create(
        "listeners",
        "listener",
        json!({"loadbalancer_id": bad, "protocol": "TCP", "protocol_port": held}),
    );
    let start = Instant::now();
    let v = loop {
        let (_, v) = api.get(&format!("loadbalancers/{bad}"));
        if v["loadbalancer"]["provisioning_status"] == "ERROR" {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never ERROR: {v}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let reason = v["loadbalancer"]["provisioning_status_reason"]
        .as_str()
        .unwrap_or("");
    assert!(
        reason.contains(&format!("{bad_vip}:{held}")),
        "the reason names the address: {v}"
    );
    assert_eq!(
        fetch(&url, None).0,
        200,
        "the other load balancer still serves"
    );
    let p2 = free_port();
    let _m2 = app_server(&scratch, "member1", p2, 200);
    let lb = _lb;
    api.create(
        &format!("pools/{pool}/members"),
        "member",
        json!({"address": "127.0.0.1", "protocol_port": p2, "weight": 100}),
    );
    api.wait_active(&lb);
    // It takes its share of traffic (bounded wait).
    wait_for("member1 serves", Duration::from_secs(10), || {
        fetch(&url, None).1 == "member1"
    });
    // The load balancer in ERROR can be deleted.
    let (code, _) = call(
        "DELETE",
        &api.url(&format!("loadbalancers/{bad}?cascade=true")),
        None,
        &[],
    );
    assert_eq!(code, 204);
}
