//! Scripts run as the script user, with a real throwaway user made for the test (root only;
//! skips loudly otherwise, panics under FULCRUM_REQUIRE_NETNS=1 as the root-only tests do).

#![allow(clippy::unwrap_used)]

use fulcrum_script::{prepare, run, Policy, RunAs};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() == Ok("1") {
        panic!("{test}: FULCRUM_REQUIRE_NETNS=1 but not running as root");
    }
    eprintln!("\n*** SKIPPING {test}: needs root to create a user ***\n");
    false
}

/// A system user created for the test and deleted on drop.
struct ThrowawayUser(String);
impl ThrowawayUser {
    fn new() -> ThrowawayUser {
        let name = format!("fulcrumt{}", std::process::id());
        let ok = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                &name,
            ])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "useradd {name} failed");
        ThrowawayUser(name)
    }
}
impl Drop for ThrowawayUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).status();
    }
}

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn scripts_run_as_the_script_user_and_insecure_ones_are_refused() {
    if !root_or_skip("scripts_run_as_the_script_user") {
        return;
    }
    let user = ThrowawayUser::new();
    let pw = nix::unistd::User::from_name(&user.0).unwrap().unwrap();
    let dir = Dir(std::env::temp_dir().join(format!("fulcrum-su-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The output directory belongs to the script user so the script can write there.
    let out_dir = dir.0.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    nix::unistd::chown(&out_dir, Some(pw.uid), Some(pw.gid)).unwrap();
    let out = out_dir.join("id");
    let script = dir.0.join("whoami.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$(id -u) $(id -g) $(id -G)\" > {}\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let policy = Policy::resolve(Some(&user.0), true);
    assert!(matches!(policy.run_as, RunAs::User { .. }), "{policy:?}");
    let prepared = prepare(&policy, script.to_str().unwrap()).expect("a secure script runs");
    assert!(run(&prepared, Duration::from_secs(10)).await.success());
    let got = std::fs::read_to_string(&out).unwrap();
    let (uid, gid) = (pw.uid.as_raw(), pw.gid.as_raw());
    assert_eq!(
        got.trim(),
        format!("{uid} {gid} {gid}"),
        "uid, gid, and no root groups"
    );

    // Writable by everyone: refused while security is enabled, whoever runs it.
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = prepare(&policy, script.to_str().unwrap()).unwrap_err();
    assert!(refused.0.contains("writable by everyone"), "{refused}");
    let as_root = Policy::resolve(Some("root"), true);
    assert!(prepare(&as_root, script.to_str().unwrap()).is_err());
    // Owned by the script user: fine for that user, refused when it would run as root.
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    nix::unistd::chown(&script, Some(pw.uid), None).unwrap();
    assert!(prepare(&policy, script.to_str().unwrap()).is_ok());
    let refused = prepare(&as_root, script.to_str().unwrap()).unwrap_err();
    assert!(
        refused.0.contains(&format!("is owned by uid {uid}")),
        "{refused}"
    );
    // Without enable_script_security, the same script runs as root (keepalived warns).
    let lax = Policy::resolve(Some("root"), false);
    assert!(prepare(&lax, script.to_str().unwrap()).is_ok());
}
