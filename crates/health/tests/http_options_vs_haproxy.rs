//! `http-check disable-on-404`, `http-check send-state` and `option spop-check`, run by the
//! real haproxy 2.6 and then by fulcrum on the same config against the same scripted HTTP
//! servers and SPOP agents (an AGENT-HELLO, a wrong version, HTTP, a close): the same
//! `option log-health-checks` and state lines ("conditionally succeeded", "is stopping") on a
//! UDP syslog socket, and byte-identical check requests (the `x-haproxy-server-state` header
//! included). Without haproxy the test skips loudly, and fails under FULCRUM_REQUIRE_NETNS=1.

mod common;

use common::closed_port;
use common::versus;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

/// An HTTP server answering every request with `status`, recording each request.
async fn http_server(status: &'static str, seen: Seen) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 2048];
                // the head, then a body of content-length bytes
                loop {
                    match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                    if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                seen.lock().expect("lock").push(got);
                let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}

/// An SPOP agent: records the first frame (or 300 ms of input), answers `answer`, closes.
async fn spop_agent(answer: &'static [u8], seen: Seen) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 2048];
                while got.len() < 4
                    || got.len() < 4 + u32::from_be_bytes([got[0], got[1], got[2], got[3]]) as usize
                {
                    match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                seen.lock().expect("lock").push(got);
                let _ = s.write_all(answer).await;
            });
        }
    });
    port
}

/// An AGENT-HELLO frame: `version`, `max-frame-size 16380`, `capabilities ""`.
fn agent_hello(version: &str) -> &'static [u8] {
    let mut b = vec![101u8, 0, 0, 0, 1, 0, 0, 7];
    b.extend_from_slice(b"version");
    b.extend_from_slice(&[8, version.len() as u8]);
    b.extend_from_slice(version.as_bytes());
    b.push(14);
    b.extend_from_slice(b"max-frame-size");
    b.extend_from_slice(&[3, 0xfc, 0xf0, 0x06, 12]);
    b.extend_from_slice(b"capabilities");
    b.extend_from_slice(&[8, 0]);
    let mut f = (b.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(&b);
    f.leak()
}

const AGENTS: &[&str] = &["spop_ok", "spop_v1", "spop_http", "spop_close"];

const SERVERS: &[(&str, &str)] = &[
    ("d404_s", "404 Not Found"),
    ("d404_t", "200 OK"),
    ("state_a", "200 OK"),
    ("state_b", "404 Not Found"),
];

fn cfg(ports: &BTreeMap<&str, u16>, log_port: u16, bind_port: u16) -> String {
    format!(
        "global\n    log 127.0.0.1:{log_port} local0\n    spread-checks 0\n    node lb1\n\
         defaults\n    mode http\n    log global\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 600ms\n    option log-health-checks\n\
         frontend fe\n    bind 127.0.0.1:{bind_port}\n    default_backend d404\n\
         backend d404\n    option httpchk GET /health\n    http-check disable-on-404\n\
         \x20   server s 127.0.0.1:{} check inter 300 fall 2 rise 2\n\
         \x20   server t 127.0.0.1:{} check inter 300 fall 2 rise 2\n\
         backend state\n    option httpchk\n    http-check send-state\n\
         \x20   http-check send meth POST uri /st ver HTTP/1.1 hdr Host x hdr X-A b body abc\n\
         \x20   server a 127.0.0.1:{} check inter 300 fall 2 rise 2 weight 3\n\
         \x20   server b 127.0.0.1:{} check inter 300 fall 3 rise 2\n\
         backend spop\n    mode tcp\n    option spop-check\n{}",
        ports["d404_s"],
        ports["d404_t"],
        ports["state_a"],
        ports["state_b"],
        AGENTS
            .iter()
            .map(|a| format!(
                "    server {a} 127.0.0.1:{} check inter 300 fall 2 rise 1\n",
                ports[a]
            ))
            .collect::<String>()
    )
}

/// The first `Health check for server ...` line per server and every `Server ...` state
/// line, durations blanked.
fn lines_of(raw: &[String]) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let dur = regex::Regex::new(r"check duration: [0-9]+ms").expect("re");
    let active = regex::Regex::new(r"[0-9]+ active").expect("re");
    let mut first = BTreeMap::new();
    let mut states = BTreeSet::new();
    for l in raw {
        let l = dur.replace(l, "check duration: Nms").into_owned();
        if let Some(rest) = l.strip_prefix("Health check for server ") {
            let server = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            first.entry(server).or_insert(l);
        } else if l.starts_with("Server spop/") {
            // the agents fail in whichever order their answers come: counts aside
            states.insert(active.replace(&l, "N active").into_owned());
        } else if l.starts_with("Server ") || l.starts_with("backend ") {
            states.insert(l);
        }
    }
    (first, states)
}

/// Each server's distinct requests.
fn take(seen: &BTreeMap<&str, Seen>) -> BTreeMap<String, BTreeSet<String>> {
    seen.iter()
        .map(|(k, v)| {
            let got = std::mem::take(&mut *v.lock().expect("lock"));
            (
                k.to_string(),
                got.iter()
                    .map(|r| String::from_utf8_lossy(r).into_owned())
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_on_404_and_send_state_as_haproxy() {
    if !versus::available("disable_on_404_and_send_state_as_haproxy", &[]) {
        return;
    }
    let tmp = versus::TempDir::new("http-options");
    let mut ports = BTreeMap::new();
    let mut seen = BTreeMap::new();
    for (name, status) in SERVERS {
        let s: Seen = Arc::default();
        ports.insert(*name, http_server(status, s.clone()).await);
        seen.insert(*name, s);
    }
    for (name, answer) in AGENTS.iter().zip([
        agent_hello("2.0"),
        agent_hello("1.0"),
        b"HTTP/1.0 400 Bad Request\r\n\r\n".as_slice(),
        b"".as_slice(),
    ]) {
        let s: Seen = Arc::default();
        ports.insert(*name, spop_agent(answer, s.clone()).await);
        seen.insert(*name, s);
    }
    let syslog = versus::Syslog::bind();
    let text = cfg(&ports, syslog.port(), closed_port());
    // ~2 s each: every server checked several times (inter 300), state lines settled
    let two_seconds = versus::Window {
        within: Duration::from_millis(2000),
        settle: Duration::ZERO,
    };
    let (theirs_raw, out) = versus::haproxy(&tmp.0, &text, &syslog, |_| false, two_seconds).await;
    let theirs_seen = take(&seen);

    let ours = versus::fulcrum("haproxy.cfg", &text, |_| false, two_seconds).await;
    let stopping: Vec<String> = ours
        .events
        .iter()
        .filter(|ev| ev.stopping)
        .map(|ev| format!("{}/{}", ev.backend, ev.server))
        .collect();
    let mut ours_raw = ours.lines.clone();
    ours_raw.extend(ours.event_lines());
    let ours_seen = take(&seen);

    let (theirs_first, theirs_states) = lines_of(&theirs_raw);
    let (ours_first, ours_states) = lines_of(&ours_raw);
    eprintln!("haproxy's lines: {theirs_first:#?}\n{theirs_states:#?}");
    assert_eq!(
        theirs_first.len(),
        8,
        "haproxy logged every server: {theirs_raw:#?}\n{out}"
    );
    assert!(
        theirs_first["d404/s"].contains("conditionally succeeded"),
        "{theirs_first:#?}"
    );
    assert!(
        theirs_states
            .iter()
            .any(|l| l.starts_with("Server d404/s is stopping. 1 active"))
            && theirs_states
                .iter()
                .any(|l| l.starts_with("Server state/b is DOWN.")),
        "{theirs_states:#?}"
    );
    assert!(
        theirs_seen["state_a"]
            .iter()
            .any(|r| r.contains("x-haproxy-server-state: UP; address=127.0.0.1; port=")),
        "{theirs_seen:#?}"
    );
    assert_eq!(ours_first, theirs_first, "the same log-health-checks lines");
    assert_eq!(ours_states, theirs_states, "the same state lines");
    assert_eq!(
        stopping,
        vec!["d404/s".to_string()],
        "NOLB told to the data plane"
    );
    assert!(
        theirs_first["spop/spop_ok"].contains("SPOA server is ok"),
        "{theirs_first:#?}"
    );
    for name in SERVERS.iter().map(|(n, _)| n).chain(AGENTS) {
        assert!(!theirs_seen[*name].is_empty(), "{name} checked by haproxy");
        assert_eq!(
            ours_seen[*name], theirs_seen[*name],
            "{name}: the same requests as haproxy's"
        );
    }
}
