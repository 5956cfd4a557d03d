//! Issue 15: health log lines go to the proxy's `log` targets as HAProxy sends them. The real
//! haproxy 2.6 and `fulcrum run` on the same config (ports aside), each logging to its own UDP
//! syslog socket: the same `option log-health-checks` lines, "Server ... is DOWN" and "backend
//! ... has no server available!" lines, at the same syslog priorities (notice, alert, emerg).
//! Without haproxy: a loud skip (a failure under FULCRUM_REQUIRE_NETNS=1).

mod common;

use common::free_port;
use std::collections::BTreeMap;
use std::net::{TcpListener, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

/// "<PRI>" + the text after "]: ", durations blanked; the first of each (priority, kind,
/// server) is kept.
fn collect(sock: &UdpSocket, want: usize, within: Duration) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    while out.len() < want && Instant::now() < deadline {
        let Ok(n) = sock.recv(&mut buf) else { continue };
        let msg = String::from_utf8_lossy(&buf[..n]).to_string();
        let (Some(pri), Some((_, text))) = (
            msg.strip_prefix('<')
                .and_then(|r| r.split_once('>'))
                .map(|(p, _)| p.to_string()),
            msg.split_once("]: "),
        ) else {
            continue;
        };
        let text = blank_after(text.trim_end(), "check duration: ");
        let key: String = text.split(", ").next().unwrap_or_default().to_string();
        out.entry(key).or_insert(format!("<{pri}> {text}"));
    }
    out
}

/// `text` with the number after `prefix` replaced by N.
fn blank_after(text: &str, prefix: &str) -> String {
    match text.find(prefix) {
        Some(i) => {
            let start = i + prefix.len();
            let end = text[start..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(text.len(), |e| start + e);
            format!("{}N{}", &text[..start], &text[end..])
        }
        None => text.to_string(),
    }
}

fn config(log_port: u16, up_port: u16, down_port: u16) -> String {
    format!(
        "global\n    log 127.0.0.1:{log_port} local0\n\
         defaults\n    mode tcp\n    log global\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    option log-health-checks\n\
         frontend fe\n    bind 127.0.0.1:{}\n    default_backend b\n\
         backend b\n    server up 127.0.0.1:{up_port} check inter 200 fall 1 rise 1\n    server down 127.0.0.1:{down_port} check inter 200 fall 1 rise 1\n\
         backend lonely\n    server gone 127.0.0.1:{down_port} check inter 200 fall 1 rise 1\n",
        free_port()
    )
}

/// Lines: b/up succeeded, b/down failed, Server b/down is DOWN, lonely/gone failed, Server
/// lonely/gone is DOWN, backend lonely has no server available!
const LINES: usize = 6;

#[test]
fn health_lines_reach_syslog_like_haproxy() {
    if !fulcrum_testlab::require::tool(
        "health_lines_reach_syslog_like_haproxy",
        "haproxy",
        "haproxy",
    ) {
        return;
    }
    let up = TcpListener::bind("127.0.0.1:0").expect("bind");
    let up_port = up.local_addr().expect("addr").port();
    let down_port = free_port();
    let dir = std::env::temp_dir().join(format!("fulcrum-health-syslog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut seen = Vec::new();
    for bin in ["haproxy", env!("CARGO_BIN_EXE_fulcrum")] {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("udp");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let cfg = dir.join("h.cfg");
        std::fs::write(
            &cfg,
            config(sock.local_addr().expect("addr").port(), up_port, down_port),
        )
        .expect("cfg");
        let mut cmd = Command::new(bin);
        if bin == "haproxy" {
            cmd.arg("-db");
        } else {
            cmd.arg("run");
        }
        cmd.arg("-f").arg(&cfg);
        let child =
            fulcrum_testlab::process::Child::spawn(bin, cmd, dir.join("out.log")).expect("runs");
        let lines = collect(&sock, LINES, Duration::from_secs(8));
        let out = child.output();
        drop(child);
        assert_eq!(
            lines.len(),
            LINES,
            "{bin} sent every line: {lines:#?}\n{out}"
        );
        seen.push(lines);
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop(up);
    eprintln!("haproxy: {:#?}\nfulcrum: {:#?}", seen[0], seen[1]);
    assert_eq!(
        seen[1], seen[0],
        "fulcrum's syslog lines and priorities are haproxy's"
    );
}
