//! fulcrum as a drop-in `haproxy` / `keepalived`: their command lines, pid files, takeover.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("fulcrum-compat-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).expect("dir");
        }
        std::fs::write(&p, content).expect("write");
        p
    }
    /// A symlink to the fulcrum binary with a daemon's name, as operators install it.
    fn link(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_fulcrum"), &p).expect("symlink");
        p
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(exe: &Path, args: &[&str]) -> Output {
    Command::new(exe).args(args).output().expect("run")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const VALID: &str = "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\nbackend b\n server s 127.0.0.1:9\n";

#[test]
fn haproxy_dash_c_like_haproxy() {
    let t = TempDir::new("c");
    let haproxy = t.link("haproxy");
    let good = t.file("good.cfg", VALID);
    let bad = t.file("bad.cfg", "backend b\n server s 127.0.0.1:9 weight 900\n");
    let out = run(&haproxy, &["-c", "-f", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Configuration file is valid"));
    let out = run(&haproxy, &["-c", "-f", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&format!(
        "{}:2: error: weight must be between 0 and 256",
        bad.display()
    )));
    // The same through `fulcrum haproxy ARGS`.
    let out = run(
        Path::new(env!("CARGO_BIN_EXE_fulcrum")),
        &["haproxy", "-c", "-q", "-f", good.to_str().unwrap()],
    );
    assert!(out.status.success());
}

/// `.notice` is always printed, `.diag` only with `-dD`, `.warning` as a warning, as by the
/// real haproxy 2.6 (compared when it is installed: which messages each prints).
#[test]
fn preprocessor_messages_like_haproxy() {
    let t = TempDir::new("msgs");
    let haproxy = t.link("haproxy");
    let cfg = t.file(
        "m.cfg",
        &format!(".notice \"note here\"\n.diag \"diag here\"\n.warning \"warn here\"\n{VALID}frontend f\n bind 127.0.0.1:18399\n default_backend b\n"),
    );
    let cfg = cfg.to_str().unwrap();
    let seen = |exe: &Path, diag: bool| -> Vec<&'static str> {
        let mut args = vec!["-c", "-f", cfg];
        if diag {
            args.insert(1, "-dD");
        }
        let out = run(exe, &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let all = text(&out.stderr) + &text(&out.stdout);
        ["note here", "diag here", "warn here"]
            .into_iter()
            .filter(|m| all.contains(m))
            .collect()
    };
    assert_eq!(seen(&haproxy, false), ["note here", "warn here"]);
    assert_eq!(
        seen(&haproxy, true),
        ["note here", "diag here", "warn here"]
    );
    let out = run(&haproxy, &["-c", "-f", cfg]);
    assert!(text(&out.stderr).contains("m.cfg:1: notice: note here"));
    let real = Path::new("/usr/sbin/haproxy");
    if real.exists() {
        assert_eq!(seen(real, false), ["note here", "warn here"]);
        assert_eq!(seen(real, true), ["note here", "diag here", "warn here"]);
    } else {
        assert!(
            std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() != Ok("1"),
            "haproxy is not installed but FULCRUM_REQUIRE_NETNS=1 requires the comparison"
        );
        eprintln!("*** SKIPPING the comparison with the real haproxy: not installed ***");
    }
}

/// `haproxy -cc EXPR` evaluates a `.if` condition: exit 0 when true, 1 when false, 2 when
/// it does not parse, as the real haproxy 2.6 (compared when it is installed).
#[test]
fn check_condition_like_haproxy() {
    let t = TempDir::new("cc");
    let haproxy = t.link("haproxy");
    let cases = [
        ("version_atleast(2.6) && !defined(FULCRUM_COND_UNSET)", 0),
        ("version_atleast(2.7) || streq(a,b)", 1),
        ("(feature(OPENSSL) || 0) && version_before(2.6.13)", 0),
        ("version_atleast(2.6.13)", 1),
        ("foo(", 2),
        ("1 2", 2),
    ];
    let code = |exe: &Path, e: &str| {
        Command::new(exe)
            .args(["-cc", e])
            .env_remove("FULCRUM_COND_UNSET")
            .output()
            .expect("run")
            .status
            .code()
    };
    for (e, want) in cases {
        assert_eq!(code(&haproxy, e), Some(want), "fulcrum -cc {e:?}");
    }
    let real = Path::new("/usr/sbin/haproxy");
    if real.exists() {
        for (e, want) in cases {
            assert_eq!(code(real, e), Some(want), "haproxy -cc {e:?}");
        }
    } else {
        assert!(
            std::env::var("FULCRUM_REQUIRE_NETNS").as_deref() != Ok("1"),
            "haproxy is not installed but FULCRUM_REQUIRE_NETNS=1 requires the comparison"
        );
        eprintln!("*** SKIPPING the comparison with the real haproxy: not installed ***");
    }
}

#[test]
fn haproxy_dash_f_directory_loads_cfg_files_in_lexical_order() {
    let t = TempDir::new("dir");
    t.file(
        "conf.d/10-defaults.cfg",
        "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n",
    );
    t.file(
        "conf.d/20-backend.cfg",
        "backend b\n server s 127.0.0.1:9\n",
    );
    t.file("conf.d/README", "not a config");
    let out = run(
        Path::new(env!("CARGO_BIN_EXE_fulcrum")),
        &["haproxy", "-c", "-f", t.0.join("conf.d").to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // 20-backend.cfg inherits mode http from 10-defaults.cfg only if read second: no mode warning.
    assert!(!text(&out.stderr).contains("error"));
}

#[test]
fn haproxy_version_and_refused_flags() {
    let t = TempDir::new("v");
    let haproxy = t.link("haproxy");
    let out = run(&haproxy, &["-v"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("Implements HAProxy 2.6's configuration language"));
    let out = run(&haproxy, &["-f", "x.cfg", "-m", "100"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("option '-m'"));
    let out = run(&haproxy, &["-Q"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unknown option '-Q'"));
}

#[test]
fn keepalived_config_test() {
    let t = TempDir::new("k");
    let keepalived = t.link("keepalived");
    let good = t.file("k.conf", "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 9\n virtual_ipaddress {\n  10.99.9.1\n }\n}\n");
    let bad = t.file(
        "bad.conf",
        "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 300\n}\n",
    );
    let out = run(&keepalived, &["-t", "-f", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        &keepalived,
        &["--config-test", &format!("--use-file={}", bad.display())],
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "keepalived -t exits 5 on a configuration error"
    );
    assert!(
        text(&out.stderr).contains(&format!("{}:3: error:", bad.display())),
        "{}",
        text(&out.stderr)
    );
    // -i selects keepalived's `@ID` conditional lines.
    let cond = t.file("cond.conf", "@node1 vrrp_instance VI_1 {\n@node1 interface lo\n@node1 virtual_router_id 9\n@node1 virtual_ipaddress {\n@node1 192.0.2.9\n@node1 }\n@node1 }\n@node2 garbage\n");
    let out = run(
        &keepalived,
        &["-t", "-i", "node1", "-f", cond.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        &keepalived,
        &["-t", "-i", "node2", "-f", cond.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "node2 sees only the garbage line"
    );
    let out = run(&keepalived, &["-C", "-f", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("option '-C'"));
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn alive(pid: u32) -> bool {
    // A zombie still has /proc/PID; read its state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_whitespace().nth(2) != Some("Z"))
        .unwrap_or(false)
}

#[test]
fn pidfile_and_takeover_with_sf() {
    let t = TempDir::new("sf");
    let cfg = t.file("h.cfg", VALID);
    let pid_a = t.0.join("a.pid");
    let pid_b = t.0.join("b.pid");
    let exe = env!("CARGO_BIN_EXE_fulcrum");
    let mut a = Command::new(exe)
        .args([
            "haproxy",
            "-db",
            "-f",
            cfg.to_str().unwrap(),
            "-p",
            pid_a.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a");
    wait_for("a's pid file", Duration::from_secs(10), || {
        std::fs::read_to_string(&pid_a).is_ok_and(|s| s.trim() == a.id().to_string())
    });
    let mut b = Command::new(exe)
        .args([
            "haproxy",
            "-db",
            "-f",
            cfg.to_str().unwrap(),
            "-p",
            pid_b.to_str().unwrap(),
            "-sf",
            &a.id().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start b");
    // B serves, then A is told to finish and exits by itself.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = a.try_wait().expect("wait a") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "old process did not finish after -sf"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert!(!pid_a.exists(), "a removes its pid file on exit");
    assert!(std::fs::read_to_string(&pid_b).is_ok_and(|s| s.trim() == b.id().to_string()));
    let _ = Command::new("kill").arg(b.id().to_string()).status();
    let _ = b.wait();
    assert!(!pid_b.exists());
}

#[test]
fn haproxy_dash_d_goes_to_the_background() {
    let t = TempDir::new("daemon");
    let cfg = t.file("h.cfg", VALID);
    let pidfile = t.0.join("d.pid");
    let out = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args([
            "haproxy",
            "-D",
            "-f",
            cfg.to_str().unwrap(),
            "-p",
            pidfile.to_str().unwrap(),
        ])
        .output()
        .expect("run -D");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut pid = 0u32;
    wait_for("the daemon's pid file", Duration::from_secs(10), || {
        pid = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        pid != 0
    });
    assert!(alive(pid), "daemon {pid} is running");
    let _ = Command::new("kill").arg(pid.to_string()).status();
    wait_for("the daemon to stop", Duration::from_secs(10), || {
        !alive(pid)
    });
}

#[test]
fn systemd_notify_ready_reloading_stopping() {
    use std::os::unix::net::UnixDatagram;
    let t = TempDir::new("notify");
    let cfg = t.file("h.cfg", VALID);
    let sock_path = t.0.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["haproxy", "-Ws", "-f", cfg.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let mut buf = [0u8; 512];
    let mut recv = || {
        let n = sock.recv(&mut buf).expect("a notification within 10 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = recv();
    assert!(
        ready.contains("READY=1") && ready.contains(&format!("MAINPID={}", child.id())),
        "{ready}"
    );
    let _ = Command::new("kill")
        .args(["-USR2", &child.id().to_string()])
        .status();
    let reloading = recv();
    assert!(
        reloading.contains("RELOADING=1") && reloading.contains("MONOTONIC_USEC="),
        "{reloading}"
    );
    assert!(recv().contains("READY=1"));
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    assert!(recv().contains("STOPPING=1"));
    let status = child.wait().expect("wait");
    assert!(status.success());
}
