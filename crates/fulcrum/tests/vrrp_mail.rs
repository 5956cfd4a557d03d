//! keepalived's mail alerts end to end (issue 19 item 8): fulcrum runs a VRRP instance with
//! `smtp_alert` in a lab namespace, with `smtp_server` pointing at an SMTP sink the test runs in
//! that namespace on 127.0.0.1; becoming MASTER sends keepalived's alert, and an instance
//! without `smtp_alert` (and no global `smtp_alert`) sends none.
#![allow(clippy::unwrap_used)]

use fulcrum_testlab::netns::{available, Lab};
use fulcrum_testlab::process::Child;
use fulcrum_testlab::smtp::SmtpSink;
use nix::sys::signal::Signal;
use std::path::PathBuf;
use std::time::Duration;

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn becoming_master_sends_keepalived_mail_alert() {
    if !available("becoming_master_sends_keepalived_mail_alert") {
        return;
    }
    let lab = Lab::new(1).expect("lab");
    let node = lab.node(0).clone();
    let sink = node
        .in_thread(|| SmtpSink::start("127.0.0.1:0"))
        .join()
        .unwrap()
        .unwrap();
    let dir = Dir(std::env::temp_dir().join(format!("fulcrum-mail-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let conf = dir.0.join("keepalived.conf");
    let inst = |name: &str, vrid: u8, vip: &str, extra: &str| {
        format!("vrrp_instance {name} {{\n  state MASTER\n  interface eth0\n  virtual_router_id {vrid}\n  priority 150\n  advert_int 1\n  virtual_ipaddress {{\n    {vip}/16\n  }}\n{extra}}}\n")
    };
    std::fs::write(
        &conf,
        format!(
            "global_defs {{\n  router_id lb1\n  notification_email {{\n    ops@example.com\n  }}\n  notification_email_from keepalived@lb1.example.com\n  smtp_server 127.0.0.1 {}\n  smtp_connect_timeout 5\n}}\n{}{}",
            sink.addr.port(),
            inst("VI_1", 51, "10.99.0.100", "  smtp_alert\n"),
            inst("VI_2", 52, "10.99.0.101", ""),
        ),
    )
    .unwrap();
    let mut cmd = node.command(env!("CARGO_BIN_EXE_fulcrum"));
    cmd.args(["run", "-f"]).arg(&conf);
    cmd.env("FULCRUM_CONTROL", dir.0.join("control.sock"));
    let mut child = Child::spawn("fulcrum-mail", cmd, dir.0.join("fulcrum.log")).unwrap();
    let subject = "Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state";
    let got = sink.wait_for(Duration::from_secs(20), |m| {
        m.iter()
            .any(|x| x.data.replace("\r\n ", " ").contains(subject))
    });
    assert!(
        got.is_some(),
        "no alert; mails {:?}; log:\n{}",
        sink.mails(),
        child.output()
    );
    let m = sink
        .mails()
        .into_iter()
        .find(|x| x.data.replace("\r\n ", " ").contains(subject))
        .unwrap();
    assert_eq!(m.from, "keepalived@lb1.example.com");
    assert_eq!(m.to, vec!["ops@example.com"]);
    assert!(m
        .data
        .contains("=> VRRP Instance is now owning VRRP VIPs <="));
    assert!(node.has_address("10.99.0.101"), "VI_2 is MASTER too");
    child.signal(Signal::SIGTERM);
    assert!(child.wait_timeout(Duration::from_secs(20)).is_some());
    let mails = sink.mails();
    assert!(
        mails.iter().all(|x| !x.data.contains("VI_2")),
        "VI_2 has no smtp_alert: {mails:?}"
    );
    assert!(
        child.output().contains("mail alert sent"),
        "{}",
        child.output()
    );
}

/// keepalived's checker alert: a real server with `smtp_alert` whose TCP_CHECK fails is mailed
/// as DOWN (no namespace needed: everything on 127.0.0.1).
#[test]
fn a_failing_real_server_is_mailed_as_down() {
    let sink = SmtpSink::start("127.0.0.1:0").unwrap();
    let dir = Dir(std::env::temp_dir().join(format!("fulcrum-mailck-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    // A port nothing listens on (bound, then released).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let conf = dir.0.join("keepalived.conf");
    std::fs::write(
        &conf,
        format!(
            "global_defs {{\n  router_id lb1\n  notification_email {{\n    ops@example.com\n  }}\n  smtp_server 127.0.0.1 {}\n}}\nvirtual_server 127.0.0.1 18098 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 127.0.0.1 {dead_port} {{\n    smtp_alert\n    TCP_CHECK {{\n      connect_timeout 1\n      retry 1\n      delay_before_retry 1\n    }}\n  }}\n}}\n",
            sink.addr.port()
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"));
    cmd.args(["run", "-f"]).arg(&conf);
    cmd.env("FULCRUM_CONTROL", dir.0.join("control.sock"));
    let mut child = Child::spawn("fulcrum-mailck", cmd, dir.0.join("fulcrum.log")).unwrap();
    let subject = format!("Subject: [lb1] Realserver [127.0.0.1]:tcp:{dead_port} - DOWN");
    // Long headers are folded (RFC 5322): compare unfolded.
    let got = sink.wait_for(Duration::from_secs(20), |m| {
        m.iter()
            .any(|x| x.data.replace("\r\n ", " ").contains(&subject))
    });
    assert!(
        got.is_some(),
        "no checker alert; mails {:?}; log:\n{}",
        sink.mails(),
        child.output()
    );
    assert!(got.unwrap().iter().any(|m| m
        .data
        .contains("=> CHECK failed on service <=\r\nVirtual server [127.0.0.1]:tcp:18098")));
    // A graceful stop removes what the virtual server installed (as root: fulcrum's nftables
    // table, in this namespace): let it finish rather than kill it on drop.
    child.signal(Signal::SIGTERM);
    assert!(
        child.wait_timeout(Duration::from_secs(10)).is_some(),
        "fulcrum did not stop within 10 s of SIGTERM; log:\n{}",
        child.output()
    );
    let left = std::process::Command::new("nft")
        .args(["list", "table", "inet", "fulcrum_lvs"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        !left,
        "fulcrum's LVS table left behind after a stop; log:\n{}",
        child.output()
    );
}
