//! `vip_interface`: the API adds a load balancer's VIP to the interface (and announces it), a
//! client on another node reaches the load balancer through it, and the VIP is removed when the
//! load balancer is deleted. In network namespaces (testlab); skips loudly without root, unless
//! FULCRUM_REQUIRE_NETNS=1.

use fulcrum_testlab::netns::{available, Lab};
use fulcrum_testlab::process::Child;
use std::time::{Duration, Instant};

fn wait(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < within, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn vip_added_served_and_removed() {
    if !available("api_vip_netns") {
        return;
    }
    let lab = Lab::new(2).expect("lab");
    let (n0, n1) = (lab.node(0).clone(), lab.node(1).clone());
    let dir = std::env::temp_dir().join(format!("fulcrum-api-vip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("f.cfg");
    std::fs::write(
        &cfg,
        "api\n bind 127.0.0.1:9876\n auth noauth\n vip_interface eth0\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend app\n bind 127.0.0.1:18080\n http-request return status 200 content-type text/plain string app-on-node0\n",
    )
    .expect("cfg");
    let mut cmd = n0.command(env!("CARGO_BIN_EXE_fulcrum"));
    cmd.args([
        "run",
        "-f",
        cfg.to_str().expect("path"),
        "--control",
        dir.join("c.sock").to_str().expect("path"),
    ]);
    let mut fulcrum = Child::spawn("fulcrum", cmd, dir.join("fulcrum.log")).expect("start fulcrum");
    let api = |method: &str, path: &str, body: &str| -> serde_json::Value {
        let mut args = vec!["-s", "-m", "5", "-X", method];
        if !body.is_empty() {
            args.extend(["-d", body]);
        }
        let url = format!("http://127.0.0.1:9876/v2/lbaas/{path}");
        args.push(&url);
        let out = n0.run("curl", &args).expect("curl");
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    };
    wait("the API answers", Duration::from_secs(15), || {
        api("GET", "loadbalancers", "")["loadbalancers"].is_array()
    });
    let vip = "10.99.0.50";
    let lb = api(
        "POST",
        "loadbalancers",
        &format!(r#"{{"loadbalancer": {{"vip_address": "{vip}", "vip_subnet_id": "lab"}}}}"#),
    );
    let lb = lb["loadbalancer"]["id"]
        .as_str()
        .expect("lb id")
        .to_string();
    let active = |lb: &str| {
        api("GET", &format!("loadbalancers/{lb}"), "")["loadbalancer"]["provisioning_status"]
            == "ACTIVE"
    };
    wait("LB ACTIVE", Duration::from_secs(10), || active(&lb));
    let l = api(
        "POST",
        "listeners",
        &format!(
            r#"{{"listener": {{"loadbalancer_id": "{lb}", "protocol": "HTTP", "protocol_port": 80}}}}"#
        ),
    );
    let l = l["listener"]["id"]
        .as_str()
        .expect("listener id")
        .to_string();
    wait("LB ACTIVE", Duration::from_secs(10), || active(&lb));
    let p = api(
        "POST",
        "pools",
        &format!(
            r#"{{"pool": {{"listener_id": "{l}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}}}"#
        ),
    );
    let p = p["pool"]["id"].as_str().expect("pool id").to_string();
    wait("LB ACTIVE", Duration::from_secs(10), || active(&lb));
    api(
        "POST",
        &format!("pools/{p}/members"),
        r#"{"member": {"address": "127.0.0.1", "protocol_port": 18080}}"#,
    );
    wait("LB ACTIVE", Duration::from_secs(10), || active(&lb));

    assert!(
        n0.has_address(vip),
        "the VIP is on node0's eth0\n{}",
        fulcrum.output()
    );
    assert!(!n1.has_address(vip));
    let from_n1 = || {
        n1.run("curl", &["-s", "-m", "2", &format!("http://{vip}/")])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    wait("node1 reaches the VIP", Duration::from_secs(10), || {
        from_n1() == "app-on-node0"
    });

    let _ = api("DELETE", &format!("loadbalancers/{lb}?cascade=true"), "");
    wait(
        "the VIP is removed with its load balancer",
        Duration::from_secs(10),
        || !n0.has_address(vip),
    );
    fulcrum.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(
        fulcrum.wait_timeout(Duration::from_secs(15)).is_some(),
        "fulcrum stopped"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
