//! A vrrp_instance whose interface does not exist yet does not stop fulcrum from starting (the
//! proxy keeps serving): as keepalived, the instance waits in FAULT, and once the interface
//! appears with an address it runs, becomes MASTER (alone on its link) and adds its virtual
//! address. In a network namespace; skips loudly without root, unless FULCRUM_REQUIRE_NETNS=1.
#![allow(clippy::unwrap_used)]

mod vrrp_support;

use std::time::Duration;
use vrrp_support::*;

const CONF: &str = "vrrp_instance VI_LATE {\n  state BACKUP\n  interface late0\n  virtual_router_id 77\n  priority 100\n  advert_int 1\n\
                    virtual_ipaddress {\n    10.99.77.100/32 dev late0\n  }\n}\n";

#[test]
fn an_instance_waits_in_fault_for_its_interface_then_runs() {
    let Some(t) = Topo::new("ifacewait", 1) else {
        return;
    };
    let d = Daemon::fulcrum(&t, 0, CONF);
    let waited = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
        d.log().contains("stays in FAULT until it is")
    });
    assert!(
        waited.is_some(),
        "fulcrum started and said the instance waits{}",
        logs(&[&d])
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !t.node(0).has_address("10.99.77.100"),
        "no VIP without the interface"
    );

    // The interface comes (a veth pair inside the node, with an address), the instance starts
    // and takes the VIP.
    let n = t.node(0);
    for args in [
        &[
            "link", "add", "late0", "type", "veth", "peer", "name", "late0p",
        ][..],
        &["addr", "add", "10.99.77.1/24", "dev", "late0"],
        &["link", "set", "late0p", "up"],
        &["link", "set", "late0", "up"],
    ] {
        let out = n.run("ip", args).expect("ip runs");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let took = wait_addr(&t, 0, "10.99.77.100", true, Duration::from_secs(15));
    assert!(
        took.is_some(),
        "the VIP was added once the interface existed{}",
        logs(&[&d])
    );
    assert!(
        d.log().contains("its interface is usable now, starting"),
        "{}",
        logs(&[&d])
    );
}
