//! `global` `user` / `group` / `chroot` and the `stats socket`'s `user` / `group` / `mode`
//! applied (issue 19 item 3): fulcrum is started as root in a lab namespace with a config that
//! asks for `user nobody` and a chroot; every thread must then run as nobody with only
//! CAP_NET_BIND_SERVICE, CAP_NET_ADMIN and CAP_NET_RAW (read from /proc), the process must be
//! chrooted, it must still serve on port 80 (below 1024) and reload (SIGHUP) with an edited
//! file, and the stats socket file must have the configured owner and mode.
#![allow(clippy::unwrap_used)]

use fulcrum_testlab::netns::{available, Lab};
use fulcrum_testlab::process::Child;
use fulcrum_testlab::wait;
use nix::sys::signal::Signal;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::time::Duration;

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(dir: &std::path::Path, body: &str) -> String {
    format!(
        "global\n  user nobody\n  group nogroup\n  chroot {root}\n  stats socket {sock} mode 640 user nobody group nogroup level admin\n\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\nfrontend web\n  bind 10.99.0.1:80\n  http-request return status 200 content-type text/plain string {body}\n",
        root = dir.join("root").display(),
        sock = dir.join("admin.sock").display(),
    )
}

fn status_field(pid: &str, field: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap_or("")
        .trim()
        .to_string()
}

#[test]
fn user_group_chroot_are_applied_and_reload_still_works() {
    if !available("user_group_chroot_are_applied_and_reload_still_works") {
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody");
    let nogroup = nix::unistd::Group::from_name("nogroup")
        .unwrap()
        .expect("group nogroup");
    let dir = Dir(std::env::temp_dir().join(format!("fulcrum-priv-{}", std::process::id())));
    std::fs::create_dir_all(dir.0.join("root")).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = dir.0.join("haproxy.cfg");
    std::fs::write(&cfg, config(&dir.0, "v1")).unwrap();
    let lab = Lab::new(1).expect("lab");
    let node = lab.node(0).clone();
    // VRRP too: its addresses are added and removed after the drop (CAP_NET_ADMIN kept).
    let kcfg = dir.0.join("keepalived.conf");
    std::fs::write(
        &kcfg,
        "vrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  priority 150\n  advert_int 1\n  virtual_ipaddress {\n    10.99.0.100/16\n  }\n}\n",
    )
    .unwrap();
    let mut cmd = node.command(env!("CARGO_BIN_EXE_fulcrum"));
    cmd.args(["run", "-f"]).arg(&cfg).arg("-f").arg(&kcfg);
    cmd.env("FULCRUM_CONTROL", dir.0.join("control.sock"));
    let mut child = Child::spawn("fulcrum-priv", cmd, dir.0.join("fulcrum.log")).unwrap();
    let pid = child.pid().to_string();
    let get = |node: &fulcrum_testlab::netns::Node| {
        node.run("curl", &["-s", "-m", "2", "http://10.99.0.1/"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let served = wait::until(Duration::from_secs(15), || get(&node) == "v1");
    assert!(served.is_some(), "not serving v1; log:\n{}", child.output());
    // Serving does not mean dropped yet: wait for the log line.
    let dropped = wait::until(Duration::from_secs(10), || {
        child.output().contains("now running as nobody")
    });
    assert!(dropped.is_some(), "no drop logged:\n{}", child.output());

    // Every thread: nobody/nogroup, only the three capabilities, nothing in the bounding set
    // beyond them.
    let (uid, gid) = (nobody.uid.as_raw(), nogroup.gid.as_raw());
    let tasks: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| Some(e.ok()?.file_name().to_str()?.to_string()))
        .collect();
    assert!(tasks.len() > 1, "expected several threads, found {tasks:?}");
    eprintln!("{} threads checked; log:\n{}", tasks.len(), child.output());
    for tid in &tasks {
        let id = format!("{pid}/task/{tid}");
        assert_eq!(
            status_field(&id, "Uid:"),
            format!("{uid}\t{uid}\t{uid}\t{uid}"),
            "thread {tid}"
        );
        assert_eq!(
            status_field(&id, "Gid:"),
            format!("{gid}\t{gid}\t{gid}\t{gid}"),
            "thread {tid}"
        );
        assert_eq!(
            status_field(&id, "CapEff:"),
            "0000000000003400",
            "thread {tid}"
        );
        assert_eq!(
            status_field(&id, "CapPrm:"),
            "0000000000003400",
            "thread {tid}"
        );
        assert_eq!(
            status_field(&id, "CapInh:"),
            "0000000000000000",
            "thread {tid}"
        );
        assert_eq!(
            status_field(&id, "CapBnd:"),
            "0000000000003400",
            "thread {tid}"
        );
    }
    // Chrooted: its root is the directory.
    let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert_eq!(root, std::fs::canonicalize(dir.0.join("root")).unwrap());
    // The stats socket: owner, group and mode as configured.
    let meta = std::fs::metadata(dir.0.join("admin.sock")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    assert_eq!(meta.mode() & 0o777, 0o640);

    // Reload with an edited file (replaced, as editors do): read from outside the chroot.
    let new = dir.0.join("haproxy.cfg.new");
    std::fs::write(&new, config(&dir.0, "v2")).unwrap();
    std::fs::rename(&new, &cfg).unwrap();
    child.signal(Signal::SIGHUP);
    let reloaded = wait::until(Duration::from_secs(15), || get(&node) == "v2");
    assert!(
        reloaded.is_some(),
        "reload not applied; log:\n{}",
        child.output()
    );
    assert!(child.output().contains("configuration reloaded"));
    // VRRP still manages its address as nobody: MASTER adds it, a stop removes it.
    let vip = wait::until(Duration::from_secs(15), || node.has_address("10.99.0.100"));
    assert!(vip.is_some(), "VIP never added; log:\n{}", child.output());
    // Still nobody after the reload.
    assert_eq!(
        status_field(&pid, "Uid:"),
        format!("{uid}\t{uid}\t{uid}\t{uid}")
    );
    child.signal(Signal::SIGTERM);
    assert!(
        child.wait_timeout(Duration::from_secs(15)).is_some(),
        "did not stop"
    );
    assert!(
        !node.has_address("10.99.0.100"),
        "the VIP stayed after the stop; log:\n{}",
        child.output()
    );
}

/// An unknown `user` or `group` is refused by `fulcrum check` at FILE:LINE, as `haproxy -c`
/// refuses it ("cannot find user id for ...").
#[test]
fn unknown_user_is_refused_like_haproxy() {
    let dir = Dir(std::env::temp_dir().join(format!("fulcrum-privck-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let cfg = dir.0.join("u.cfg");
    let body = "defaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\nfrontend f\n  bind 127.0.0.1:18099\n  http-request return status 200\n";
    let check = |global: &str| {
        std::fs::write(&cfg, format!("global\n{global}{body}")).unwrap();
        let f = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"))
            .args(["check", "-f"])
            .arg(&cfg)
            .output()
            .unwrap();
        let h = std::process::Command::new("haproxy")
            .args(["-c", "-f"])
            .arg(&cfg)
            .output();
        let h = match h {
            Ok(o) => Some(o.status.success()),
            Err(_) if std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() == Ok("1") => {
                panic!("haproxy is not installed but FULCRUM_REQUIRE_NETNS=1")
            }
            Err(_) => {
                eprintln!("*** haproxy not installed: fulcrum's verdict only ***");
                None
            }
        };
        (
            f.status.success(),
            h,
            String::from_utf8_lossy(&f.stderr).into_owned(),
        )
    };
    let (ok, h, err) = check("  user nosuchuser-fulcrum\n");
    assert!(!ok, "{err}");
    assert!(
        err.contains(&format!(
            "{}:1: error: global user 'nosuchuser-fulcrum': no such user",
            cfg.display()
        )),
        "{err}"
    );
    assert_ne!(h, Some(true), "haproxy -c refuses it too");
    let (ok, h, err) = check("  group nosuchgroup-fulcrum\n");
    assert!(!ok && h != Some(true), "{err}");
    let (ok, h, err) = check("  user nobody\n  group nogroup\n");
    assert!(ok, "{err}");
    assert_ne!(h, Some(false), "haproxy -c accepts it");
}
