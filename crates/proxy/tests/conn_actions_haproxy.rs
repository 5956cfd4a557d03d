//! `set-mark`, `set-tos` (in `http-request`, `http-response`, `tcp-request connection`,
//! `tcp-request content` and `tcp-response content` rules, HTTP and TCP mode), `set-nice`,
//! `wait-for-handshake` (nothing to wait for: no early data) and `early-hint` side by side with the real
//! haproxy 2.6 on the same config: the client socket's `fwmark` and `tos` as `ss -e --tos`
//! shows them while the connection is open, the `103 Early Hints` answers and the final
//! answer's status a client reads, and the log line (status, bytes, termination state).
//! `SO_MARK` needs CAP_NET_ADMIN: unprivileged, neither proxy can set it (both show none).
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy or `ss` fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend f\n  bind 127.0.0.1:{}\n  option httplog\n\
         \x20 http-request wait-for-handshake\n\
         \x20 http-request set-tos 0x28 if {{ path /tos }}\n\
         \x20 http-request set-mark 0x77 if {{ path /mark }}\n\
         \x20 http-request set-nice 100 if {{ path /nice }}\n\
         \x20 http-request set-var(txn.p) path\n\
         \x20 http-response set-tos 0x10 if {{ var(txn.p) -m str /rtos }}\n\
         \x20 http-response set-mark 0x99 if {{ var(txn.p) -m str /rmark }}\n\
         \x20 http-request early-hint link \"</a.css>; rel=preload\" if {{ path /hint }}\n\
         \x20 http-request early-hint Link \"</b.js>; p=%[path]\" if {{ path_beg /hint }}\n\
         \x20 http-request set-header x-between 1\n\
         \x20 http-request early-hint x-other v if {{ path_beg /hint }}\n\
         \x20 http-request early-hint x-empty \"%[req.hdr(nope)]\" if {{ path_beg /hint }}\n\
         \x20 http-request deny deny_status 403 if {{ path /hint-deny }}\n\
         \x20 default_backend app\n\
         backend app\n  server s {}\n\
         \x20 tcp-response content set-tos 0x30 if {{ var(txn.p) -m str /ttos }}\n\
         \x20 tcp-response content set-mark 0x31 if {{ var(txn.p) -m str /tmark }}\n\
         listen t\n  mode tcp\n  bind 127.0.0.1:{}\n\
         \x20 tcp-request connection set-mark 0x42\n\
         \x20 tcp-request content set-tos 0x48\n\
         \x20 server s {}\n\
         listen u\n  mode tcp\n  bind 127.0.0.1:{}\n\
         \x20 tcp-response content set-mark 0x52\n\
         \x20 tcp-response content set-nice 7\n\
         \x20 tcp-response content set-tos 0x58\n\
         \x20 server s {}\n",
        s.head("http"),
        s.ports[0],
        s.backend,
        s.ports[1],
        s.backend,
        s.ports[2],
        s.backend
    )
}

/// `fwmark:` and `tos:` of the proxy's side of the open connection from `client`.
fn sock_marks(proxy_port: u16, client: std::net::SocketAddr) -> String {
    let filter = format!("( sport = :{proxy_port} and dport = :{} )", client.port());
    let out = std::process::Command::new("ss")
        .args(["-tnHe", "--tos", "state", "established", &filter])
        .output();
    let Ok(out) = out else {
        assert!(
            std::env::var_os("FULCRUM_REQUIRE_NETNS").is_none(),
            "ss is missing"
        );
        return "no ss".into();
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let pick = |key: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or("-")
            .to_string()
    };
    format!("fwmark {} tos {}", pick("fwmark:"), pick("tos:"))
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    for path in [
        "/plain", "/tos", "/mark", "/nice", "/rtos", "/rmark", "/ttos", "/tmark",
    ] {
        let mut c = Client::connect(side.addr(0)).await.expect("connect");
        let r = c.get(path).await.expect("answer");
        let me = c.s.local_addr().expect("addr");
        out.push(format!(
            "{path}: {} {}",
            r.status,
            sock_marks(side.port(0), me)
        ));
        out.push(status_bytes_state(&side.line().await));
    }
    for path in ["/hint", "/hint-x", "/hint-deny"] {
        let mut c = Client::connect(side.addr(0)).await.expect("connect");
        c.send_raw(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .await
            .expect("send");
        loop {
            let r = c.read_response(false).await.expect("answer");
            out.push(format!("{path}: {} {}", r.status, r.head.to_lowercase()));
            if r.status >= 200 {
                break;
            }
        }
        out.push(status_bytes_state(&side.line().await));
    }
    // HTTP/1.0: no early hints (haproxy 2.6)
    let got = side
        .exchange(0, b"GET /hint HTTP/1.0\r\nHost: t\r\n\r\n")
        .await;
    let first = String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    out.push(format!("1.0: {first}"));
    out.push(status_bytes_state(&side.line().await));
    // TCP proxies: `tcp-request connection set-mark`, `tcp-request content set-tos`;
    // `tcp-response content set-mark|set-nice|set-tos`
    for (port, what) in [(1, "tcp"), (2, "tcp-response")] {
        let mut c = Client::connect(side.addr(port)).await.expect("connect");
        let r = c.get(&format!("/{what}")).await.expect("answer");
        let me = c.s.local_addr().expect("addr");
        out.push(format!(
            "{what}: {} {}",
            r.status,
            sock_marks(side.port(port), me)
        ));
    }
    out
}

#[tokio::test]
async fn marks_tos_and_early_hints_as_haproxy() {
    let (ours, theirs) = side_by_side(3, cfg, drive).await;
    assert!(ours[2].contains("tos 0x28"), "{ours:?}");
    assert!(ours[12].contains("tos 0x30"), "{ours:?}");
    assert!(
        ours.last().is_some_and(|l| l.contains("tos 0x58")),
        "{ours:?}"
    );
    assert!(
        ours.iter().any(|l| l.starts_with("/hint: 103 ")),
        "{ours:?}"
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
