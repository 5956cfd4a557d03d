//! `keepalived -t` and `fulcrum check` on the same keepalived.conf files must give the same
//! verdict (accepted / refused), and fulcrum names a refusal at FILE:LINE. keepalived runs in
//! a lab namespace so `interface eth0` exists there; without root or keepalived the test skips
//! loudly (and fails under FULCRUM_REQUIRE_NETNS=1).
//!
//! Cases: scripts under `enable_script_security` (issue 19 item 3: insecure file, insecure
//! directory, sticky directory, missing default user), and config input keepalived refuses
//! (issue 19 item 6).

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn keepalived_present() -> bool {
    let ok = Command::new("keepalived")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stderr.is_empty());
    if !ok && std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() == Ok("1") {
        panic!("keepalived is not installed but FULCRUM_REQUIRE_NETNS=1");
    }
    if !ok {
        eprintln!("\n*** SKIPPING keepalived_verdicts: keepalived not installed ***\n");
    }
    ok
}

/// (keepalived accepted, fulcrum accepted, fulcrum's stderr, keepalived's output)
fn verdicts(node: &fulcrum_testlab::netns::Node, file: &Path) -> (bool, bool, String, String) {
    let k = node
        .command("keepalived")
        .args(["-t", "-l", "-D", "-f"])
        .arg(file)
        .output()
        .expect("run keepalived -t");
    let f = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["check", "-f"])
        .arg(file)
        .output()
        .expect("run fulcrum check");
    (
        k.status.success(),
        f.status.success(),
        String::from_utf8_lossy(&f.stderr).into_owned(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&k.stdout),
            String::from_utf8_lossy(&k.stderr)
        ),
    )
}

fn instance(extra: &str, body: &str) -> String {
    format!(
        "global_defs {{\n  router_id t\n{extra}}}\n{body}vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  advert_int 1\n  virtual_ipaddress {{\n    10.99.200.1\n  }}\n}}\n"
    )
}

/// One case: a name, the file's text, the line fulcrum must name when refusing (None when
/// both accept).
struct Case {
    name: &'static str,
    text: String,
    refused_at: Option<u32>,
}

fn run_cases(dir: &Path, cases: &[Case]) {
    let lab = fulcrum_testlab::netns::Lab::new(1).expect("lab");
    let node = lab.node(0);
    let mut failures = Vec::new();
    for c in cases {
        let file = dir.join(format!("{}.conf", c.name));
        std::fs::write(&file, &c.text).unwrap();
        let (k_ok, f_ok, f_err, k_out) = verdicts(node, &file);
        eprintln!(
            "{:<40} keepalived -t: {:<8} fulcrum check: {}",
            c.name,
            if k_ok { "accepts" } else { "refuses" },
            if f_ok { "accepts" } else { "refuses" }
        );
        if k_ok != f_ok {
            failures.push(format!(
                "{}: keepalived {} but fulcrum {}\nkeepalived said: {k_out}\nfulcrum said: {f_err}",
                c.name,
                if k_ok { "accepts" } else { "refuses" },
                if f_ok { "accepts" } else { "refuses" }
            ));
            continue;
        }
        if k_ok != c.refused_at.is_none() {
            failures.push(format!(
                "{}: the case expects keepalived to {} it; keepalived said: {k_out}",
                c.name,
                if c.refused_at.is_none() {
                    "accept"
                } else {
                    "refuse"
                }
            ));
        }
        if let Some(line) = c.refused_at {
            let at = format!("{}:{line}: error", file.display());
            if !f_err.contains(&at) {
                failures.push(format!("{}: fulcrum did not name {at}:\n{f_err}", c.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn make_script(path: &Path, mode: u32) {
    std::fs::write(path, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn script_security_verdicts_match_keepalived() {
    if !fulcrum_testlab::netns::available("script_security_verdicts_match_keepalived")
        || !keepalived_present()
    {
        return;
    }
    let dir = Dir(std::env::temp_dir().join(format!("fulcrum-kv-sec-{}", std::process::id())));
    std::fs::create_dir_all(dir.0.join("open")).unwrap();
    std::fs::create_dir_all(dir.0.join("sticky")).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.0.join("open"), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(
        dir.0.join("sticky"),
        std::fs::Permissions::from_mode(0o1777),
    )
    .unwrap();
    let good = dir.0.join("good.sh");
    let world = dir.0.join("world.sh");
    let in_open = dir.0.join("open/chk.sh");
    let in_sticky = dir.0.join("sticky/chk.sh");
    make_script(&good, 0o755);
    make_script(&world, 0o757);
    make_script(&in_open, 0o755);
    make_script(&in_sticky, 0o755);
    let script = |path: &Path| {
        format!(
            "vrrp_script chk {{\n  script \"{}\"\n  interval 1\n}}\n",
            path.display()
        )
    };
    let tracked = |extra: &str, path: &Path| {
        instance(extra, &script(path)).replace(
            "  advert_int 1\n",
            "  advert_int 1\n  track_script {\n    chk\n  }\n",
        )
    };
    let secure_root = "  enable_script_security\n  script_user root\n";
    let cases = vec![
        Case {
            name: "secure_script",
            text: tracked(secure_root, &good),
            refused_at: None,
        },
        Case {
            name: "world_writable_script",
            text: tracked(secure_root, &world),
            refused_at: Some(6),
        },
        Case {
            name: "script_in_world_writable_dir",
            text: tracked(secure_root, &in_open),
            refused_at: Some(6),
        },
        Case {
            name: "script_in_sticky_dir",
            text: tracked(secure_root, &in_sticky),
            refused_at: None,
        },
    ];
    let mut cases = cases;
    // The default user: refused when keepalived_script does not exist (keepalived will not
    // fall back to root under enable_script_security), accepted when it does.
    let default_exists = nix::unistd::User::from_name("keepalived_script")
        .ok()
        .flatten()
        .is_some();
    if !default_exists {
        cases.push(Case {
            name: "security_without_script_user",
            text: tracked("  enable_script_security\n", &good),
            refused_at: Some(5),
        });
    }
    // A `user` inside the vrrp_script block overrides the default user.
    let own_user = |path: &Path| {
        tracked("  enable_script_security\n", path)
            .replace("  interval 1\n}", "  interval 1\n  user root\n}")
    };
    cases.push(Case {
        name: "script_with_own_user_secure",
        text: own_user(&good),
        refused_at: None,
    });
    cases.push(Case {
        name: "script_with_own_user_insecure",
        text: own_user(&world),
        refused_at: Some(5),
    });
    run_cases(&dir.0, &cases);
}

/// A virtual server whose one real server (line 12) carries `checkers` from line 13.
fn checkers_conf(dir: &Path, checkers: &str) -> String {
    format!(
        "global_defs {{\n  router_id t\n}}\ntrack_file tf {{\n  file {}/tf\n}}\n\
         virtual_server 10.99.9.9 80 {{\n  delay_loop 1\n  lvs_sched rr\n  lvs_method NAT\n  protocol TCP\n\
         real_server 127.0.0.1 80 {{\n{checkers}\n  }}\n}}\n",
        dir.display()
    )
}

/// Issue 15 deliverable 6: keepalived 2.2's checker options accepted and refused as
/// `keepalived -t` does (BFD_CHECK refused by name: keepalived refuses one naming no
/// bfd_instance too).
#[test]
fn checker_verdicts_match_keepalived() {
    if !fulcrum_testlab::netns::available("checker_verdicts_match_keepalived")
        || !keepalived_present()
    {
        return;
    }
    let dir = Dir(std::env::temp_dir().join(format!("fulcrum-kv-chk-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let every = "    virtualhost rs.example\n    SMTP_CHECK {\n      helo_name x\n      connect_ip 127.0.0.2\n      bindto 127.0.0.1\n    }\n\
        PING_CHECK {\n      connect_timeout 1\n    }\n\
        UDP_CHECK {\n      payload 0102\n      require_reply 01x\n      min_reply_length 1\n      max_reply_length 10\n    }\n\
        DNS_CHECK {\n      type AAAA\n      name example.com\n    }\n\
        FILE_CHECK {\n      track_file tf\n      weight 2 reverse\n    }\n\
        HTTP_GET {\n      http_protocol 1.0C\n      virtualhost a.b\n      fast_recovery\n      url {\n        path /\n        regex ok\n        regex_no_match\n        regex_options caseless\n        regex_min_offset 1\n        regex_max_offset 9\n        virtualhost c.d\n      }\n    }\n\
        SSL_GET {\n      enable_sni\n      http_protocol 1.1\n      url {\n        path /\n        status_code 200-299 301\n      }\n    }\n\
        SMTP_CHECK {\n      host {\n        connect_ip 127.0.0.3\n      }\n    }";
    let case = |name, checkers: &str, refused_at| Case {
        name,
        text: checkers_conf(&dir.0, checkers),
        refused_at,
    };
    let cases =
        vec![
        case("every_checker_and_option", every, None),
        case("bfd_check", "    BFD_CHECK {\n      name nope\n    }", Some(13)),
        case(
            "file_check_unknown_track_file",
            "    FILE_CHECK {\n      track_file nope\n    }",
            Some(13),
        ),
        case(
            "udp_min_over_max",
            "    UDP_CHECK {\n      min_reply_length 10\n      max_reply_length 5\n    }",
            Some(13),
        ),
        case("udp_bad_hex", "    UDP_CHECK {\n      payload zz\n    }", Some(14)),
        case("dns_bad_type", "    DNS_CHECK {\n      type BOGUS\n    }", Some(14)),
        case(
            "http_protocol_bad",
            "    HTTP_GET {\n      http_protocol 2.0\n      url {\n        path /\n      }\n    }",
            Some(14),
        ),
    ];
    run_cases(&dir.0, &cases);
}
