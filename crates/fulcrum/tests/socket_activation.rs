//! Socket activation with Debian's `systemd-socket-activate` (package `systemd`), running the
//! shipped `packaging/fulcrum.service` command lines on `examples/socket-activated.cfg`:
//! the first client request starts fulcrum and is answered through the activated socket,
//! a unix socket path is taken over too, a socket no bind wants is closed with a warning,
//! READY=1 / RELOADING=1 reach $NOTIFY_SOCKET (Type=notify), ExecReload applies a new
//! configuration with no failed request, and the socket file systemd made is left in place.

mod compat_support;

use compat_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// The `KEY=` lines of a unit file, in order.
fn unit_lines(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix(&format!("{key}="))
                .map(str::to_string)
        })
        .collect()
}

/// A unit command line with `$FILES` / `$CONTROL` expanded and the binary swapped for ours.
fn command_line(line: &str, files: &str, control: &str) -> Vec<String> {
    line.replace("$FILES", files)
        .replace("$CONTROL", control)
        .split_whitespace()
        .map(|w| {
            if w == "/usr/bin/fulcrum" {
                fulcrum().to_string()
            } else {
                w.to_string()
            }
        })
        .collect()
}

/// One `GET /`: the body of a 200 answer, else None.
fn get_body(port: u16, timeout: Duration) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let _ = s.set_read_timeout(Some(timeout));
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.starts_with("HTTP/1.1 200").then_some(text)
}

fn get_tcp(port: u16, body: &str, timeout: Duration) -> bool {
    get_body(port, timeout).is_some_and(|t| t.contains(body))
}

fn recv_until(sock: &UnixDatagram, what: &str) -> Option<String> {
    let mut buf = [0u8; 4096];
    for _ in 0..20 {
        match sock.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                if msg.contains(what) {
                    return Some(msg);
                }
            }
            Err(_) => return None,
        }
    }
    None
}

#[test]
fn systemd_socket_activate_runs_the_packaged_unit() {
    let Some(activate) = tool("systemd-socket-activate") else {
        return skip(
            "socket activation",
            "systemd-socket-activate is not installed (Debian package systemd)",
        );
    };
    let t = TempDir::new("sockact");
    let (port, demo, spare) = (free_port(), free_port(), free_port());
    let path = t.path("web.sock");
    let example =
        std::fs::read_to_string(repo("examples/socket-activated.cfg")).expect("example config");
    let cfg_text = |greeting: &str| {
        example
            .replace("127.0.0.1:8480", &format!("127.0.0.1:{port}"))
            .replace("127.0.0.1:8481", &format!("127.0.0.1:{demo}"))
            .replace("/tmp/fulcrum-example.sock", path.to_str().expect("utf8"))
            .replace("hello from a socket-activated fulcrum", greeting)
    };
    let cfg = t.file("haproxy.cfg", &cfg_text("generation one"));
    let service = std::fs::read_to_string(repo("packaging/fulcrum.service"))
        .expect("packaging/fulcrum.service");
    let socket = std::fs::read_to_string(repo("packaging/fulcrum.socket"))
        .expect("packaging/fulcrum.socket");
    assert!(
        !unit_lines(&socket, "ListenStream").is_empty(),
        "fulcrum.socket listens on nothing"
    );
    assert_eq!(unit_lines(&service, "Type"), vec!["notify"]);
    let files = format!("-f {}", cfg.display());
    let control = t.path("control.sock");
    let control = control.to_str().expect("utf8");
    let start = command_line(&unit_lines(&service, "ExecStart")[0], &files, control);
    let pre = command_line(&unit_lines(&service, "ExecStartPre")[0], &files, control);
    let reload = command_line(&unit_lines(&service, "ExecReload")[0], &files, control);

    // ExecStartPre: the configuration check passes.
    let out = Command::new(&pre[0])
        .args(&pre[1..])
        .output()
        .expect("ExecStartPre");
    assert!(
        out.status.success(),
        "ExecStartPre failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let notify_path = t.path("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    notify
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut cmd = Command::new(activate);
    cmd.args([
        "-l",
        &format!("127.0.0.1:{port}"),
        "-l",
        path.to_str().expect("utf8"),
        "-l",
        &format!("127.0.0.1:{spare}"),
    ])
    .arg("--fdname=http:local:spare")
    // The activator passes its children only LISTEN_* and what -E names (systemd itself
    // sets NOTIFY_SOCKET for a Type=notify service).
    .arg(format!("--setenv=NOTIFY_SOCKET={}", notify_path.display()))
    .args(&start);
    let mut f = Running::spawn(cmd, t.path("log"));
    // Wait for the activator's sockets, then the first request starts fulcrum and is answered.
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::metadata(&path).is_ok()),
        "systemd-socket-activate did not listen: {}",
        f.output()
    );
    assert!(
        get_tcp(port, "generation one", Duration::from_secs(15)),
        "first request not served: {}",
        f.output()
    );
    let ready = recv_until(&notify, "READY=1").unwrap_or_default();
    assert!(
        ready.contains(&format!("MAINPID={}", f.pid())),
        "no READY=1 from the activated process: {ready:?}"
    );
    assert!(
        get_unix(&path),
        "the activated unix socket is not served: {}",
        f.output()
    );
    let log = f.output();
    assert!(
        log.contains("socket activation: 3 socket(s) received"),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "('spare', 127.0.0.1:{spare}) matches no 'bind' address; closing it"
        )),
        "no warning for the unused socket: {log}"
    );
    // fulcrum took over the activated socket instead of binding its own.
    assert!(!log.contains("cannot bind"), "{log}");
    assert!(
        wait_until(Duration::from_secs(5), || TcpStream::connect((
            "127.0.0.1",
            spare
        ))
        .is_err()),
        "the unused socket is still open"
    );

    // ExecReload under a bounded load on the activated socket: zero failed requests.
    std::fs::write(&cfg, cfg_text("generation two")).expect("rewrite");
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = progress.clone();
    let load = std::thread::spawn(move || {
        let (mut sent, mut failed, mut two) = (0u32, 0u32, 0u32);
        while sent < 3000 && two < 50 {
            sent += 1;
            seen.store(sent, std::sync::atomic::Ordering::Relaxed);
            match get_body(port, Duration::from_secs(5)) {
                Some(b) if b.contains("generation two") => two += 1,
                Some(b) if b.contains("generation one") => {}
                _ => failed += 1,
            }
        }
        (sent, failed, two)
    });
    // The reload happens under load that has observably started.
    assert!(
        wait_until(Duration::from_secs(10), || progress
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 10),
        "the load loop did not start"
    );
    let out = Command::new(&reload[0])
        .args(&reload[1..])
        .output()
        .expect("ExecReload");
    assert!(
        out.status.success(),
        "ExecReload failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        recv_until(&notify, "RELOADING=1").is_some(),
        "no RELOADING=1"
    );
    let (sent, failed, two) = load.join().expect("load");
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests failed across the reload"
    );
    assert_eq!(
        two,
        50,
        "the reloaded configuration was not served: {}",
        f.output()
    );

    // Stop: fulcrum exits; the socket file systemd made is not removed by fulcrum.
    f.signal("TERM");
    assert!(
        f.wait_exit(Duration::from_secs(15)).is_some(),
        "fulcrum did not stop: {}",
        f.output()
    );
    assert!(
        path.exists(),
        "fulcrum removed the unix socket file it inherited"
    );
}

/// `bind fd@3` takes systemd's first socket by number, whatever its address.
#[test]
fn activated_socket_taken_by_fd_number() {
    let Some(activate) = tool("systemd-socket-activate") else {
        return skip(
            "socket activation (fd@3)",
            "systemd-socket-activate is not installed (Debian package systemd)",
        );
    };
    let t = TempDir::new("sockact-fd");
    let port = free_port();
    let cfg = t.file(
        "f.cfg",
        &format!("{DEFAULTS}frontend web\n  bind fd@3\n  http-request return status 200 content-type text/plain string \"by number\"\n"),
    );
    let mut cmd = Command::new(activate);
    cmd.args(["-l", &format!("127.0.0.1:{port}"), fulcrum(), "run", "-f"])
        .arg(&cfg)
        .arg("--control")
        .arg(t.path("control.sock"));
    let f = Running::spawn(cmd, t.path("log"));
    assert!(
        wait_until(Duration::from_secs(10), || get_tcp(
            port,
            "by number",
            Duration::from_secs(10)
        )),
        "fd@3 from socket activation not served: {}",
        f.output()
    );
    assert!(
        !f.output().contains("matches no 'bind' address"),
        "{}",
        f.output()
    );
}
