//! Flavors, flavor profiles, availability zones and their profiles through `fulcrum run`'s API
//! (curl as the client): Octavia's envelopes and codes, admin-only changes, the provider's
//! capabilities, what fulcrum cannot apply refused with 501, in-use objects kept (409), a load
//! balancer created with a flavor and zone (or refused for a missing or disabled one), and the
//! objects back after a restart.

mod api_support;
mod common;

use api_support::{call, vip};
use common::Scratch;
use serde_json::{json, Value};

const USER: &[&str] = &["X-Project-Id: tenant-a"];

#[test]
fn flavors_and_availability_zones() {
    let scratch = Scratch::new("api-flavors");
    let port = api_support::port();
    let mut api = api_support::start(&scratch, port, "");
    let post = |api: &api_support::Api, path: &str, body: Value| api.post(path, body);

    // Capabilities: the topology fulcrum runs; no zone capability.
    let (code, v) = api.get("providers/amphora/flavor_capabilities");
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["flavor_capabilities"][0]["name"], "loadbalancer_topology");
    let (code, v) = api.get("providers/amphora/availability_zone_capabilities");
    assert_eq!(
        (code, v),
        (200, json!({"availability_zone_capabilities": []}))
    );

    // What fulcrum cannot apply is refused, not stored.
    for data in [
        r#"{"loadbalancer_topology": "ACTIVE_STANDBY"}"#,
        r#"{"compute_flavor": "m1.small"}"#,
    ] {
        let (code, v) = post(
            &api,
            "flavorprofiles",
            json!({"flavorprofile": {"name": "x", "provider_name": "amphora", "flavor_data": data}}),
        );
        assert_eq!(code, 501, "{data}: {v}");
        assert!(
            v["faultstring"]
                .as_str()
                .unwrap_or("")
                .contains("does not support"),
            "{v}"
        );
    }
    let (code, v) = post(
        &api,
        "flavorprofiles",
        json!({"flavorprofile": {"name": "x", "provider_name": "amphora", "flavor_data": "not json"}}),
    );
    assert_eq!(code, 400, "{v}");
    let (code, v) = post(
        &api,
        "flavorprofiles",
        json!({"flavorprofile": {"name": "x", "provider_name": "octavia-ovn", "flavor_data": "{}"}}),
    );
    assert_eq!(code, 400, "{v}");
    assert_eq!(api.get("flavorprofiles").1["flavorprofiles"], json!([]));

    // A profile and a flavor.
    let (code, v) = post(
        &api,
        "flavorprofiles",
        json!({"flavorprofile": {"name": "single", "provider_name": "amphora",
                                 "flavor_data": "{\"loadbalancer_topology\": \"SINGLE\"}"}}),
    );
    assert_eq!(code, 201, "{v}");
    let fp = v["flavorprofile"]["id"].as_str().expect("id").to_string();
    assert_eq!(v["flavorprofile"]["provider_name"], "amphora");
    let (code, v) = post(
        &api,
        "flavors",
        json!({"flavor": {"name": "basic", "description": "one node", "flavor_profile_id": fp}}),
    );
    assert_eq!(code, 201, "{v}");
    let flavor = v["flavor"]["id"].as_str().expect("id").to_string();
    assert_eq!(v["flavor"]["enabled"], true);
    let (code, v) = post(
        &api,
        "flavors",
        json!({"flavor": {"name": "basic", "flavor_profile_id": fp}}),
    );
    assert_eq!(code, 409, "a second flavor named basic: {v}");
    let (code, v) = post(
        &api,
        "flavors",
        json!({"flavor": {"name": "other", "flavor_profile_id": "nope"}}),
    );
    assert_eq!(code, 400, "{v}");

    // Zones: a profile with no data, a zone named by its name.
    let (code, v) = post(
        &api,
        "availabilityzoneprofiles",
        json!({"availability_zone_profile": {"name": "azp", "provider_name": "amphora", "availability_zone_data": "{}"}}),
    );
    assert_eq!(code, 201, "{v}");
    let azp = v["availability_zone_profile"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (code, v) = post(
        &api,
        "availabilityzoneprofiles",
        json!({"availability_zone_profile": {"name": "z", "provider_name": "amphora", "availability_zone_data": "{\"compute_zone\": \"nova\"}"}}),
    );
    assert_eq!(code, 501, "{v}");
    let (code, v) = post(
        &api,
        "availabilityzones",
        json!({"availability_zone": {"name": "rack1", "availability_zone_profile_id": azp}}),
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["availability_zone"]["name"], "rack1");
    let (code, v) = api.get("availabilityzones/rack1");
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["availability_zone"]["enabled"], true);

    // Users list flavors and zones; only an admin changes them or sees profiles.
    let base = format!("{}/v2/lbaas", api.base);
    let (code, v) = call("GET", &format!("{base}/flavors"), None, USER);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["flavors"][0]["name"], "basic");
    assert_eq!(v["flavors_links"], json!([]));
    assert_eq!(
        call(
            "GET",
            &format!("{base}/availabilityzones?name=rack1"),
            None,
            USER
        )
        .1["availability_zones"][0]["name"],
        "rack1"
    );
    assert_eq!(
        call("GET", &format!("{base}/flavorprofiles"), None, USER).0,
        403
    );
    let (code, _) = call(
        "POST",
        &format!("{base}/flavors"),
        Some(&json!({"flavor": {"name": "mine", "flavor_profile_id": fp}})),
        USER,
    );
    assert_eq!(code, 403);

    // A load balancer with the flavor and zone; unknown or disabled ones are refused.
    let lb_body = |flavor: &str, az: &str| json!({"loadbalancer": {"vip_address": vip(21), "vip_subnet_id": "s", "flavor_id": flavor, "availability_zone": az}});
    assert_eq!(post(&api, "loadbalancers", lb_body("nope", "rack1")).0, 400);
    assert_eq!(
        post(&api, "loadbalancers", lb_body(&flavor, "nowhere")).0,
        400
    );
    let (code, v) = post(&api, "loadbalancers", lb_body(&flavor, "rack1"));
    assert_eq!(code, 201, "{v}");
    let lb = v["loadbalancer"]["id"].as_str().expect("id").to_string();
    assert_eq!(v["loadbalancer"]["flavor_id"], flavor.as_str());
    assert_eq!(v["loadbalancer"]["availability_zone"], "rack1");
    api.wait_active(&lb);

    // In use: the flavor, its profile and the zone stay.
    assert_eq!(api.delete(&format!("flavors/{flavor}")).0, 409);
    assert_eq!(api.delete(&format!("flavorprofiles/{fp}")).0, 409);
    assert_eq!(api.delete("availabilityzones/rack1").0, 409);
    let (code, v) = api.put(
        &format!("flavorprofiles/{fp}"),
        json!({"flavorprofile": {"flavor_data": "{}"}}),
    );
    assert_eq!(code, 409, "a profile in use is not changed: {v}");

    // A disabled flavor takes no new load balancer.
    let (code, v) = api.put(
        &format!("flavors/{flavor}"),
        json!({"flavor": {"enabled": false, "description": "closed"}}),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["flavor"]["enabled"], false);
    let (code, v) = post(&api, "loadbalancers", lb_body(&flavor, "rack1"));
    assert_eq!(code, 400, "{v}");
    assert!(
        v["faultstring"]
            .as_str()
            .unwrap_or("")
            .contains("not allowed"),
        "{v}"
    );

    // Back after a restart, with the same ids.
    drop(api);
    api = api_support::start(&scratch, port, "");
    let (code, v) = api.get(&format!("flavors/{flavor}"));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["flavor"]["description"], "closed");
    assert_eq!(api.get(&format!("flavorprofiles/{fp}")).0, 200);
    assert_eq!(api.get("availabilityzones/rack1").0, 200);

    // Once the load balancer is gone, they are deleted (204) and gone (404).
    assert_eq!(api.delete(&format!("loadbalancers/{lb}")).0, 204);
    let start = std::time::Instant::now();
    while api.get(&format!("loadbalancers/{lb}")).0 != 404 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "lb not deleted"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(api.delete(&format!("flavors/{flavor}")).0, 204);
    assert_eq!(api.delete(&format!("flavorprofiles/{fp}")).0, 204);
    assert_eq!(api.delete("availabilityzones/rack1").0, 204);
    assert_eq!(
        api.delete(&format!("availabilityzoneprofiles/{azp}")).0,
        204
    );
    assert_eq!(api.get(&format!("flavors/{flavor}")).0, 404);
    assert_eq!(api.get("availabilityzones/rack1").0, 404);
}
