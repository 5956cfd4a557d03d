//! `fulcrum reload` over the control socket: a valid new config serves at once; an invalid one
//! is refused with every error, and the running config keeps serving.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child, PathBuf);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn get(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

fn config(port: u16, answer: &str) -> String {
    format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend f\n bind 127.0.0.1:{port}\n http-request return status 200 content-type text/plain string \"{answer}\"\n"
    )
}

#[test]
fn reload_command_applies_or_refuses_with_reasons() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let dir = std::env::temp_dir().join(format!("fulcrum-control-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("h.cfg");
    let control = dir.join("control.sock");
    std::fs::write(&cfg, config(port, "v1")).expect("write");
    let child = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args([
            "run",
            "-f",
            cfg.to_str().expect("path"),
            "--control",
            control.to_str().expect("path"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let _guard = Running(child, dir.clone());
    let start = Instant::now();
    while !(control.exists() && get(port).is_ok()) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "fulcrum did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(get(port).expect("v1").ends_with("v1"));
    let reload = || {
        Command::new(env!("CARGO_BIN_EXE_fulcrum"))
            .args(["reload", "--control", control.to_str().expect("path")])
            .output()
            .expect("reload")
    };

    std::fs::write(&cfg, config(port, "v2")).expect("write");
    let out = reload();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        get(port).expect("v2").ends_with("v2"),
        "the new config serves as soon as reload returns"
    );

    std::fs::write(&cfg, format!("{}\n bogus_keyword\n", config(port, "v3"))).expect("write");
    let out = reload();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:10: error: unknown keyword 'bogus_keyword'",
            cfg.display()
        )),
        "{err}"
    );
    assert!(
        get(port).expect("still v2").ends_with("v2"),
        "the running config keeps serving"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["reload", "--control", "/nonexistent/fulcrum.sock"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach fulcrum"));
}
