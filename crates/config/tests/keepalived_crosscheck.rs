//! Cross-check against the real keepalived: every config in `tests/keepalived_cases/` is judged
//! by `keepalived -t` and by fulcrum, and the verdicts must agree.
//!
//! File names say what is expected: `valid-*` both accept, `invalid-*` both reject (a
//! `! error at line N` comment makes fulcrum name that line), and
//! `lenient-*` are files keepalived 2.x's `-t` flags but still runs (or older keepalived ran):
//! fulcrum accepts them with warnings on purpose, and the test checks keepalived still rejects
//! them, so the list of deliberate differences stays true.
//!
//! keepalived checks interfaces, so it runs inside a network namespace this test creates with
//! a veth pair `ka0`/`ka1` (removed on drop). Needs root, `ip` and the Debian package
//! `keepalived`; without them the test skips loudly, unless FULCRUM_REQUIRE_NETNS=1.

mod keepalived_support;

use keepalived_support::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fulcrum_testlab::require::required;

fn skip(why: &str) {
    assert!(!required(), "FULCRUM_REQUIRE_NETNS=1 but {why}");
    // Straight to stderr, past the test harness's output capture, so the skip is seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED keepalived cross-check: {why} ***\n"
    );
}

fn find_keepalived() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/sbin"),
            PathBuf::from("/sbin"),
            PathBuf::from("/usr/local/sbin"),
        ])
        .map(|d| d.join("keepalived"))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A network namespace with a veth pair `ka0`/`ka1`, deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Result<Netns, String> {
        let name = format!("fk-ka-{}", std::process::id());
        let _ = ip(&["netns", "del", &name]);
        ip(&["netns", "add", &name])?;
        let ns = Netns(name);
        ip(&[
            "-n", &ns.0, "link", "add", "ka0", "type", "veth", "peer", "name", "ka1",
        ])?;
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.0]);
    }
}

/// keepalived's verdict: exit 0 of `keepalived -t` means the file is accepted. Bounded to 30 s.
fn keepalived_accepts(ns: &Netns, bin: &Path, file: &Path) -> (bool, String) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(bin)
        .args(["-t", "-l", "-D", "-f"])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start keepalived: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "keepalived -t on {} did not finish within 30 s",
                    file.display()
                );
            }
            Err(e) => panic!("waiting for keepalived: {e}"),
        }
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("keepalived output: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code() == Some(0),
        format!("exit {:?}: {}", out.status.code(), text.trim()),
    )
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keepalived_cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    files
}

#[test]
fn case_files_are_all_judged_by_fulcrum_as_named() {
    // Runs without keepalived: fulcrum's own verdicts on the case files.
    let files = cases();
    assert!(
        files.len() >= 20,
        "expected the case files, found {}",
        files.len()
    );
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (_, d) = parse_files(&[f]);
        let errs = errors(&d);
        if name.starts_with("invalid-") {
            assert!(
                !errs.is_empty(),
                "{name}: fulcrum accepted a file keepalived rejects:\n{}",
                show(&d)
            );
            // `! error at line N` in a case file: fulcrum must name that line.
            let text = std::fs::read_to_string(f).unwrap_or_default();
            for want in text
                .lines()
                .filter_map(|l| l.strip_prefix("! error at line "))
                .filter_map(|n| n.trim().parse::<u32>().ok())
            {
                assert!(
                    errs.iter().any(|e| e.span.line == want),
                    "{name}: no error at line {want}:\n{}",
                    show(&d)
                );
            }
        } else if name.starts_with("valid-") {
            assert!(
                errs.is_empty(),
                "{name}: fulcrum rejected a valid file:\n{}",
                show(&d)
            );
        } else {
            assert!(
                name.starts_with("lenient-"),
                "{name}: case names start with valid-, invalid- or lenient-"
            );
            assert!(
                errs.is_empty(),
                "{name}: fulcrum should accept this with warnings:\n{}",
                show(&d)
            );
            assert!(
                !warnings(&d).is_empty(),
                "{name}: a lenient file must get a warning"
            );
        }
    }
}

#[test]
fn same_verdict_as_keepalived_t() {
    let Some(bin) = find_keepalived() else {
        return skip("keepalived is not installed (apt-get install keepalived)");
    };
    if !is_root() {
        return skip("not root: cannot create the network namespace keepalived -t needs for its interface checks");
    }
    let ns = match Netns::new() {
        Ok(ns) => ns,
        Err(e) => return skip(&format!("cannot create a network namespace: {e}")),
    };
    let mut disagreements = Vec::new();
    for f in cases() {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (_, d) = parse_files(&[&f]);
        let fulcrum_accepts = errors(&d).is_empty();
        let (ka_accepts, ka_says) = keepalived_accepts(&ns, &bin, &f);
        let expected_ka = name.starts_with("valid-");
        if ka_accepts != expected_ka {
            disagreements.push(format!(
                "{name}: keepalived -t {} ({ka_says})",
                if ka_accepts { "accepts" } else { "rejects" }
            ));
        }
        let expected_fulcrum = !name.starts_with("invalid-");
        if fulcrum_accepts != expected_fulcrum {
            disagreements.push(format!(
                "{name}: fulcrum {}:\n{}",
                if fulcrum_accepts {
                    "accepts"
                } else {
                    "rejects"
                },
                show(&d)
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "verdicts differ:\n{}",
        disagreements.join("\n")
    );
}

/// The sample configs the Debian `keepalived` package ships: real files written for keepalived.
/// All read without error, except the one keepalived itself rejects (a sync group without its
/// `group { }` block) and the conditional one, which needs a config id (`-i high`).
#[test]
fn keepalived_package_samples_parse() {
    let dir = Path::new("/usr/share/doc/keepalived/samples");
    let Ok(entries) = std::fs::read_dir(dir) else {
        // The keepalived package ships them; under FULCRUM_REQUIRE_NETNS=1 (CI installs it)
        // their absence fails the test instead of comparing nothing.
        assert!(
            !required(),
            "FULCRUM_REQUIRE_NETNS=1 but /usr/share/doc/keepalived/samples is missing"
        );
        let _ = writeln!(std::io::stderr(), "\n*** SKIPPED keepalived samples: /usr/share/doc/keepalived/samples is not installed ***\n");
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("keepalived.conf."))
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the keepalived samples, found {}",
        files.len()
    );
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let mut d = fulcrum_config::Diagnostics::new();
        let mut p = fulcrum_config::keepalived::Parser::with_config_id("high");
        p.parse_file(&f.display().to_string(), &text, &mut d);
        let k = p.finish(&mut d);
        let d = d.into_vec();
        if name == "keepalived.conf.vrrp.lvs_syncd" {
            assert!(
                !errors(&d).is_empty(),
                "{name}: keepalived rejects this sample too"
            );
        } else {
            assert!(errors(&d).is_empty(), "{name}:\n{}", show(&d));
            let blocks = k.vrrp_instances.len() + k.virtual_servers.len();
            assert!(
                blocks > 0 || name.contains("virtual_server_group"),
                "{name}: nothing was read"
            );
        }
    }
}
