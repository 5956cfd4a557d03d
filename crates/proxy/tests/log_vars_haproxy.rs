//! The `%` variables of `log-format` added after the first set (`%si %sp %H %Ts %T %hrl %hsl`) are written as the real HAProxy 2.6 writes them: the same config run by both
//! proxies, each logging to a UDP syslog socket of the test, the same requests, the lines
//! compared byte for byte once client ports, the host name and the dates are masked (the
//! dates are checked against the clock, the host name against the kernel's).
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

const HTTP_FORMAT: &str = "%ci si=%si sp=%sp H=%H Ts=%Ts T=%T hrl=%hrl hsl=%hsl q=%{+Q}hr end";
const TCP_FORMAT: &str = "%ci si=%si sp=%sp Ts=%Ts end";

fn mask(line: &str) -> String {
    // Client ports, the host name and the dates differ between the runs (checked apart).
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let ts = regex::Regex::new(r"Ts=([0-9]+)").expect("re");
    let t = ts.captures(line).expect("a %Ts field")[1]
        .parse::<u64>()
        .expect("seconds");
    assert!(t.abs_diff(now) <= 5, "%Ts {t} vs now {now}: {line}");
    assert!(
        !line.contains("H=") || line.contains(&format!("H={} ", host.trim())),
        "%H: {line}"
    );
    let line = ts.replace_all(line, "Ts=N").into_owned();
    let line =
        regex::Regex::new(r"T=[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} \+0000")
            .expect("re")
            .replace_all(&line, "T=DATE")
            .into_owned();
    mask_ports(&line)
}

const REQUESTS: &[&str] = &[
    "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: Example.COM\r\nUser-Agent: ua \"quoted\"\r\nX-Esc: a\"b]c\r\nConnection: close\r\n\r\n",
    "HEAD /plain HTTP/1.0\r\nHost: h\r\n\r\n",
];

#[tokio::test]
async fn log_variables_match_haproxy() {
    let raw = hello_server().await;
    let cfg = |s: &Setup<'_>| {
        format!(
            "{}  option dontlognull\n\
             frontend web\n  bind 127.0.0.1:{}\n  log-format \"{HTTP_FORMAT}\"\n  default_backend app\n\
             \x20 capture request header Host len 20\n  capture request header X-None len 5\n\
             \x20 capture request header User-Agent len 4\n  capture response header X-Server len 10\n\
             backend app\n  server s1 {}\n\
             listen raw\n  mode tcp\n  bind 127.0.0.1:{}\n  log-format \"{TCP_FORMAT}\"\n  server s1 {raw}\n",
            s.head("http"),
            s.ports[0],
            s.backend,
            s.ports[1]
        )
    };
    let drive = |side: Arc<Side>| async move {
        let sp = side.backend.addr.port();
        let mut out = Vec::new();
        for raw in REQUESTS {
            let line = side.request_line(0, raw).await;
            out.push(mask(&line).replace(&format!("sp={sp} "), "sp=SP "));
        }
        assert_eq!(side.exchange(1, b"hello").await, b"world");
        out.push(mask(&side.line().await));
        out
    };
    let (ours, theirs) = side_by_side(2, cfg, drive).await;
    // Not vacuous: the variables are written.
    assert!(
        ours[0].contains("si=127.0.0.1 sp=SP ") && ours[0].contains("T=DATE"),
        "{ours:?}"
    );
    assert!(
        ours[0].contains("hrl=Example.COM - ua #22 hsl=app"),
        "{ours:?}"
    );
    assert!(ours[2].contains(" si=127.0.0.1 sp="), "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
