//! The real `openstack loadbalancer ...` (python-openstackclient + python-octaviaclient, from
//! Debian) against fulcrum's API: create a load balancer, listener, pool with HTTP_COOKIE,
//! member and HTTP monitor with `--wait`, then traffic through the VIP reaches the member and
//! `status show` / `member list` / `stats show` read back. Skips loudly without the client;
//! fails under FULCRUM_REQUIRE_NETNS=1 (scripts/install-deps.sh installs it).

mod api_support;
mod common;

use api_support::{fetch, vip};
use common::{app_server, free_port, Scratch};
use std::process::Command;

fn openstack_available() -> bool {
    let ok = Command::new("openstack")
        .args(["--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() != Ok("1"),
            "the openstack client is missing and FULCRUM_REQUIRE_NETNS=1: run scripts/install-deps.sh"
        );
        eprintln!("SKIPPED: the openstack client (python3-openstackclient, python3-octaviaclient) is not installed");
    }
    ok
}

#[test]
fn openstack_loadbalancer_commands() {
    if !openstack_available() {
        return;
    }
    let scratch = Scratch::new("api-osc");
    let app = free_port();
    let _m = app_server(&scratch, "member0", app, 200);
    let api = api_support::start(&scratch, api_support::port(), "");
    let os = |args: &[&str]| -> String {
        let out = Command::new("openstack")
            .args(["--os-auth-type", "none", "--os-endpoint", &api.base])
            .args(args)
            .env("HOME", &scratch.0)
            .output()
            .expect("openstack");
        assert!(
            out.status.success(),
            "openstack {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let vip = vip(5);
    let port = free_port().to_string();
    let lb = os(&[
        "loadbalancer",
        "create",
        "--name",
        "tomcat_lb",
        "--vip-subnet-id",
        "lb-subnet",
        "--vip-address",
        &vip,
        "--wait",
        "-f",
        "value",
        "-c",
        "id",
    ]);
    os(&[
        "loadbalancer",
        "listener",
        "create",
        "--name",
        "web",
        "--protocol",
        "HTTP",
        "--protocol-port",
        &port,
        "--connection-limit",
        "100",
        "--wait",
        &lb,
    ]);
    os(&[
        "loadbalancer",
        "pool",
        "create",
        "--name",
        "pool1",
        "--listener",
        "web",
        "--protocol",
        "HTTP",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--session-persistence",
        "type=HTTP_COOKIE",
        "--wait",
    ]);
    let member = os(&[
        "loadbalancer",
        "member",
        "create",
        "--address",
        "127.0.0.1",
        "--protocol-port",
        &app.to_string(),
        "--weight",
        "10",
        "--wait",
        "pool1",
        "-f",
        "value",
        "-c",
        "id",
    ]);
    os(&[
        "loadbalancer",
        "healthmonitor",
        "create",
        "--delay",
        "1",
        "--timeout",
        "1",
        "--max-retries",
        "1",
        "--type",
        "HTTP",
        "--url-path",
        "/",
        "--wait",
        "pool1",
    ]);
    let (code, body, srv) = fetch(&format!("http://{vip}:{port}/"), None);
    assert_eq!((code, body.as_str()), (200, "member0"));
    assert_eq!(srv.as_deref(), Some(member.as_str()));
    let status = os(&["loadbalancer", "status", "show", &lb]);
    assert!(
        status.contains(&member) && status.contains("\"provisioning_status\": \"ACTIVE\""),
        "{status}"
    );
    let members = os(&[
        "loadbalancer",
        "member",
        "list",
        "pool1",
        "-f",
        "value",
        "-c",
        "id",
        "-c",
        "weight",
    ]);
    assert_eq!(members, format!("{member} 10"));
    let stats = os(&[
        "loadbalancer",
        "stats",
        "show",
        &lb,
        "-f",
        "value",
        "-c",
        "total_connections",
    ]);
    assert!(stats.parse::<u64>().is_ok_and(|n| n >= 1), "{stats}");
    os(&["loadbalancer", "quota", "defaults", "show"]);
    os(&["loadbalancer", "delete", "--cascade", "--wait", &lb]);
    assert_eq!(os(&["loadbalancer", "list", "-f", "value", "-c", "id"]), "");
}

/// The CLI's flavor, availability zone and UDP commands against fulcrum: a flavor profile and
/// flavor, a zone, a load balancer of that flavor in that zone, a UDP listener, pool and
/// UDP-CONNECT monitor, and a (disabled, so not rendered: this test runs outside a network
/// namespace and leaves the host's nftables alone) member; `api_udp` sends the traffic.
#[test]
fn openstack_flavor_and_udp_commands() {
    if !openstack_available() {
        return;
    }
    let scratch = Scratch::new("api-osc-udp");
    let api = api_support::start(&scratch, api_support::port(), "");
    let run = |args: &[&str]| {
        Command::new("openstack")
            .args(["--os-auth-type", "none", "--os-endpoint", &api.base])
            .args(args)
            .env("HOME", &scratch.0)
            .output()
            .expect("openstack")
    };
    let os = |args: &[&str]| -> String {
        let out = run(args);
        assert!(
            out.status.success(),
            "openstack {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let caps = os(&["loadbalancer", "provider", "capability", "list", "amphora"]);
    assert!(caps.contains("loadbalancer_topology"), "{caps}");
    os(&[
        "loadbalancer",
        "flavorprofile",
        "create",
        "--name",
        "fp1",
        "--provider",
        "amphora",
        "--flavor-data",
        r#"{"loadbalancer_topology": "SINGLE"}"#,
    ]);
    let refused = run(&[
        "loadbalancer",
        "flavorprofile",
        "create",
        "--name",
        "fp2",
        "--provider",
        "amphora",
        "--flavor-data",
        r#"{"loadbalancer_topology": "ACTIVE_STANDBY"}"#,
    ]);
    assert!(
        !refused.status.success(),
        "ACTIVE_STANDBY is not applied by fulcrum"
    );
    os(&[
        "loadbalancer",
        "flavor",
        "create",
        "--name",
        "basic",
        "--flavorprofile",
        "fp1",
        "--enable",
    ]);
    assert_eq!(
        os(&[
            "loadbalancer",
            "flavor",
            "list",
            "-f",
            "value",
            "-c",
            "name"
        ]),
        "basic"
    );
    os(&[
        "loadbalancer",
        "availabilityzoneprofile",
        "create",
        "--name",
        "azp",
        "--provider",
        "amphora",
        "--availability-zone-data",
        "{}",
    ]);
    os(&[
        "loadbalancer",
        "availabilityzone",
        "create",
        "--name",
        "rack1",
        "--availabilityzoneprofile",
        "azp",
    ]);
    let vip = vip(6);
    let lb = os(&[
        "loadbalancer",
        "create",
        "--name",
        "dns",
        "--vip-subnet-id",
        "s",
        "--vip-address",
        &vip,
        "--flavor",
        "basic",
        "--availability-zone",
        "rack1",
        "--wait",
        "-f",
        "value",
        "-c",
        "id",
    ]);
    os(&[
        "loadbalancer",
        "listener",
        "create",
        "--name",
        "dns53",
        "--protocol",
        "UDP",
        "--protocol-port",
        "53",
        "--wait",
        &lb,
    ]);
    os(&[
        "loadbalancer",
        "pool",
        "create",
        "--name",
        "dnspool",
        "--listener",
        "dns53",
        "--protocol",
        "UDP",
        "--lb-algorithm",
        "SOURCE_IP",
        "--session-persistence",
        "type=SOURCE_IP,persistence_timeout=120,persistence_granularity=255.255.255.0",
        "--wait",
    ]);
    os(&[
        "loadbalancer",
        "healthmonitor",
        "create",
        "--delay",
        "5",
        "--timeout",
        "3",
        "--max-retries",
        "2",
        "--type",
        "UDP-CONNECT",
        "--wait",
        "dnspool",
    ]);
    os(&[
        "loadbalancer",
        "member",
        "create",
        "--address",
        "127.0.0.1",
        "--protocol-port",
        "5353",
        "--disable",
        "--wait",
        "dnspool",
    ]);
    let pool = os(&["loadbalancer", "pool", "show", "dnspool", "-f", "json"]);
    assert!(pool.contains("persistence_timeout=120"), "{pool}");
    let show = os(&[
        "loadbalancer",
        "show",
        &lb,
        "-f",
        "value",
        "-c",
        "flavor_id",
        "-c",
        "availability_zone",
    ]);
    assert!(show.contains("rack1"), "{show}");
    let in_use = run(&["loadbalancer", "flavor", "delete", "basic"]);
    assert!(!in_use.status.success(), "a flavor in use is kept");
    os(&["loadbalancer", "delete", "--cascade", "--wait", &lb]);
    os(&["loadbalancer", "flavor", "delete", "basic"]);
    os(&["loadbalancer", "flavorprofile", "delete", "fp1"]);
}
