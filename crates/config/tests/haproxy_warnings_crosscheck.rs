//! fulcrum warns where the real `haproxy -c` 2.6 warns, with its words, on configs whose rules
//! stand in an order HAProxy does not run them in (a `tcp-request` rule after an
//! `http-request` one, an `http-request` rule after `redirect`, `use_backend`, `use-server`,
//! `monitor fail`...), after a final action without a condition ("further entries are
//! NOOP"), whose conditions read layer-6 fetches in an HTTP proxy ("L6 sample fetches
//! ignored on HTTP proxies") or whose HTTP log-format strings do ("L6 sample fetch <...>
//! ignored in HTTP log-format string."), or log formats that do not apply (in a backend, HTTP formats in
//! TCP mode, no log target), whose rule values read HTTP in a proxy not in `mode http` ("HTTP
//! log/header format not usable with frontend 'f' (needs 'mode http')."), and nowhere else on them: the set of (line, message) of every warning is compared,
//! so `zero-warning` gives the same verdict. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy
//! fails the test; without it the expected sets written here are still checked.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const HEAD: &str =
    "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n";

/// (name, the config after `HEAD`, the lines fulcrum and haproxy warn at).
const CASES: &[(&str, &str, &[usize])] = &[
    (
        "final-deny",
        "frontend f\n  bind 127.0.0.1:8080\n  http-request deny\n  http-request set-header x 1\n  default_backend b\nbackend b\n  server s 127.0.0.1:8081\n",
        &[9],
    ),
    (
        "final-with-condition",
        "frontend f\n  bind 127.0.0.1:8080\n  http-request deny if { path /a }\n  http-request set-header x 1\n  http-request return status 200 unless { path /b }\n  http-request set-header x 1\n  default_backend b\nbackend b\n  server s 127.0.0.1:8081\n",
        &[],
    ),
    (
        "final-kinds",
        "frontend f\n  bind 127.0.0.1:8080\n  http-request allow\n  http-request redirect location /x\n  http-request tarpit\n  http-request auth realm r\n  http-request return status 200\n  http-request deny deny_status 400\n  http-request set-header x 1\n  default_backend b\nbackend b\n  server s 127.0.0.1:8081\n",
        &[9, 10, 11, 12, 13, 14],
    ),
    (
        "not-final-kinds",
        "frontend f\n  bind 127.0.0.1:8080\n  http-request reject\n  http-request silent-drop\n  http-request set-header x 1\n  default_backend b\nbackend b\n  server s 127.0.0.1:8081\n",
        &[],
    ),
    (
        "final-response-lists",
        "frontend f\n  bind 127.0.0.1:8080\n  http-response allow\n  http-response set-header x 1\n  http-response deny\n  http-response set-header x 1\n  http-after-response allow\n  http-after-response set-header x 1\n  default_backend b\nbackend b\n  server s 127.0.0.1:8081\n",
        &[9, 11, 13],
    ),
    (
        "tcp-after-http",
        "frontend f\n  bind 127.0.0.1:8080\n  http-request set-header x 1\n  tcp-request content accept\n  tcp-request connection accept\n  tcp-request session accept\n  default_backend b\nbackend b\n  server s 127.0.0.1:8081\n",
        &[9, 10, 11],
    ),
    (
        "tcp-phases",
        "frontend f\n  mode tcp\n  bind 127.0.0.1:8080\n  tcp-request content accept\n  tcp-request session accept\n  tcp-request connection accept\n  default_backend b\nbackend b\n  mode tcp\n  server s 127.0.0.1:8081\n",
        &[10, 11],
    ),
    (
        "tcp-after-session",
        "frontend f\n  mode tcp\n  bind 127.0.0.1:8080\n  tcp-request session accept\n  tcp-request connection accept\n  default_backend b\nbackend b\n  mode tcp\n  server s 127.0.0.1:8081\n",
        &[10],
    ),
    (
        "after-redirect-and-use-backend",
        "frontend f\n  bind 127.0.0.1:8080\n  redirect location /x if { path /r }\n  use_backend b if { path /b }\n  http-request set-header x 1\n  redirect location /y if { path /s }\n  default_backend b\nbackend b\n  server s 127.0.0.1:8081\n",
        &[10, 11],
    ),
    (
        "monitor-fail",
        "frontend f\n  bind 127.0.0.1:8080\n  monitor-uri /m\n  http-request set-header x 1\n  monitor fail if { path /f }\n  tcp-request content accept\n  default_backend b\nbackend b\n  server s 127.0.0.1:8081\n",
        &[10, 11],
    ),
    (
        "backend-use-server",
        "frontend f\n  bind 127.0.0.1:8080\n  default_backend b\nbackend b\n  use-server s if { path /s }\n  http-request set-header x 1\n  redirect location /x if { path /r }\n  server s 127.0.0.1:8081\n",
        &[11, 12],
    ),
    (
        "in-order",
        "frontend f\n  bind 127.0.0.1:8080\n  tcp-request connection accept\n  tcp-request session accept\n  tcp-request content accept\n  monitor-uri /m\n  monitor fail if { path /f }\n  http-request set-header x 1\n  redirect location /x if { path /r }\n  use_backend b if { path /b }\n  default_backend b\nbackend b\n  use-server s if { path /s }\n  server s 127.0.0.1:8081\n",
        &[],
    ),
    (
        "l6-fetches-on-http",
        "frontend f\n  bind 127.0.0.1:8080\n  acl big req.len gt 100000\n  acl bigres res.len gt 1\n  tcp-request content accept if big\n  http-request deny if big\n  http-response deny if bigres\n  http-after-response set-header x 1 if bigres\n  redirect location /x if big\n  monitor-uri /m\n  use_backend b if big\n  default_backend b\nbackend b\n  acl big req.len gt 100000\n  acl bigres res.len gt 1\n  stick-table type ip size 1k\n  stick on src if big\n  stick store-request src if big\n  stick match src if big\n  stick store-response src if bigres\n  use-server s if { req.payload(0,1) -m found }\n  tcp-response content accept if { res.len gt 0 }\n  http-request deny if REQ_CONTENT\n  server s 127.0.0.1:8081\n",
        &[10, 11, 12, 13, 16, 22, 23, 24, 26, 27, 28, 28],
    ),
    (
        "l6-fetches-on-tcp",
        "listen l\n  mode tcp\n  bind 127.0.0.1:8080\n  tcp-request inspect-delay 1s\n  tcp-request content accept if { req.len gt 0 }\n  tcp-response content accept if { res.len gt 0 }\n  server s 127.0.0.1:8081\n",
        &[],
    ),
    (
        // HTTP actions' log-format values and `unique-id-format`, in any mode; not
        // `set-var-fmt` nor a `use_backend` name.
        "l6-fetches-in-http-formats",
        "frontend f\n  bind 127.0.0.1:8080\n  unique-id-format %[req.len]\n  http-request set-header X-L \"a %[req.len,add(1)] b\"\n  http-request set-var-fmt(txn.a) %[req.len]\n  http-request return status 200 content-type text/plain lf-string \"%[req.len]\" if { path /r }\n  http-request redirect location /%[req.payload(0,1),hex] if { path /x }\n  http-response set-header X-L %[res.len]\n  http-after-response set-header X-A %[res.len]\n  use_backend b%[req.len] if { path /z }\n  default_backend b\nbackend b\n  http-request set-header X-B \"%[req.hdr(host)] %[req.ssl_sni]\"\n  server s 127.0.0.1:8081\nfrontend t\n  mode tcp\n  bind 127.0.0.1:8082\n  unique-id-format t%[req.len]\n  tcp-request content set-var-fmt(sess.x) %[req.len]\n  default_backend bt\nbackend bt\n  mode tcp\n  server s 127.0.0.1:8081\n",
        &[8, 9, 11, 12, 13, 14, 18, 23],
    ),
    (
        // A named `defaults` section's: its rule once, its `unique-id-format` for each
        // proxy that takes it, at its line.
        "l6-fetches-in-defaults-formats",
        "defaults named\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n  unique-id-format %[req.len]n\n  http-request set-header X-D %[req.len]\nfrontend h from named\n  bind 127.0.0.1:8080\n  default_backend b\nfrontend h2 from named\n  bind 127.0.0.1:8081\n  unique-id-format h2%[req.len]\n  default_backend b\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\nbackend b\n  server s 127.0.0.1:8082\n",
        &[11, 12, 18],
    ),
    (
        "log-formats-without-log",
        "listen t\n  mode tcp\n  bind 127.0.0.1:8080\n  option httplog\n  server s 127.0.0.1:8081\nfrontend f\n  mode tcp\n  bind 127.0.0.1:8082\n  option httpslog\n  default_backend w\nbackend w\n  mode tcp\n  option httplog clf\n  option tcplog\n  server s 127.0.0.1:8081\nbackend w2\n  log-format \"%ci\"\n  server s 127.0.0.1:8081\nfrontend h\n  bind 127.0.0.1:8083\n  option httplog\n  default_backend w2\n",
        &[0, 0, 0, 9, 14, 18, 19, 22],
    ),
    (
        "log-formats-with-log",
        "listen t\n  mode tcp\n  log 127.0.0.1:5514 local0\n  bind 127.0.0.1:8080\n  option httplog clf\n  server s 127.0.0.1:8081\nfrontend h\n  bind 127.0.0.1:8083\n  log 127.0.0.1:5514 local0\n  option httplog\n  default_backend w2\nbackend w2\n  log-format \"%ci\"\n  server s 127.0.0.1:8081\n",
        &[10, 18],
    ),
    (
        "defaults-rule-order",
        "defaults d\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 1s\n  http-request deny if { path /x }\n  tcp-request content accept\n  http-request return status 200\n  http-request set-header a b\nfrontend f from d\n  bind 127.0.0.1:8080\n",
        &[12, 14],
    ),
    (
        // A proxy not in `mode http` whose rule values read a sample once something read
        // HTTP (a condition, a capture, the value itself), or `%ST`: at the last line that
        // gave a log-format string.
        "http-formats-after-switch-mode",
        "frontend f\n  mode tcp\n  bind 127.0.0.1:8080\n  tcp-request inspect-delay 1s\n  tcp-request content switch-mode http if HTTP\n  http-request set-header X-A \"%[src]\"\n  http-request set-header X-B \"x\"\n  default_backend b\nbackend b\n  server s 127.0.0.1:8081\n",
        &[12],
    ),
    (
        "http-formats-own-fetch-and-order",
        "frontend f\n  mode tcp\n  bind 127.0.0.1:8080\n  tcp-request content set-var-fmt(txn.x) \"%[req.hdr(host)]\"\n  option tcplog\n  default_backend b\nfrontend g\n  mode tcp\n  bind 127.0.0.1:8082\n  tcp-request content set-var-fmt(txn.x) \"%[src]\" if { path /x }\n  default_backend b\nfrontend h\n  mode tcp\n  bind 127.0.0.1:8083\n  tcp-request content set-var-fmt(txn.x) \"%[src]\" if { path /x }\n  tcp-request content set-var-fmt(txn.y) \"%[src]\"\n  default_backend b\nbackend b\n  mode tcp\n  server s 127.0.0.1:8081\n",
        &[0, 10, 21],
    ),
    (
        "http-formats-status-acl-capture",
        "frontend f\n  mode tcp\n  bind 127.0.0.1:8080\n  tcp-request content set-var-fmt(txn.x) \"%ST\"\n  default_backend b\nfrontend g\n  mode tcp\n  bind 127.0.0.1:8082\n  acl h req.hdr(host) x\n  tcp-request content set-var-fmt(txn.y) \"%[src]\" if h\n  tcp-request content set-var-fmt(txn.z) \"%[src]\"\n  default_backend b\nfrontend h\n  mode tcp\n  bind 127.0.0.1:8083\n  tcp-request inspect-delay 1s\n  tcp-request content capture req.hdr(host) len 10\n  tcp-request content set-var-fmt(txn.y) \"%[src]\"\n  default_backend b\nlisten l\n  mode tcp\n  bind 127.0.0.1:8084\n  tcp-request content set-var-fmt(txn.x) \"%[req.len]\"\n  tcp-request content set-var(txn.x) req.hdr(host)\n  tcp-request content set-var-fmt(txn.y) \"%[src]\"\n  tcp-request content set-var-fmt(txn.y) \"%hr\" if METH_GET\n  server s 127.0.0.1:8081\nbackend b\n  mode tcp\n  server s 127.0.0.1:8081\n",
        &[9, 16, 23],
    ),
];

/// The start of the warnings haproxy gives without a line (0 in the sets compared).
const LINELESS: &str = "log format ignored for ";

/// (line, message) of each warning haproxy prints for `file`; `None` without haproxy.
fn haproxy_warnings(file: &Path) -> Option<BTreeSet<(usize, String)>> {
    let out = Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(file)
        .output()
        .ok()?;
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "haproxy refuses {}:\n{text}",
        file.display()
    );
    let re = regex::Regex::new(r"\[WARNING\].*parsing \[[^:]+:([0-9]+)\] ?: (.*)$").expect("re");
    // Warnings given once the proxy is read name their line at the end.
    let declared =
        regex::Regex::new(r"\[WARNING\].*config : (.*\(declared at [^:]+:([0-9]+)\)\.)$")
            .expect("re");
    let lineless =
        regex::Regex::new(r"\[WARNING\].*config : (log format ignored .*)$").expect("re");
    Some(
        text.lines()
            .filter_map(|l| {
                if let Some(c) = re.captures(l) {
                    return Some((c[1].parse().expect("line"), c[2].trim().to_string()));
                }
                if let Some(c) = declared.captures(l) {
                    return Some((c[2].parse().expect("line"), c[1].to_string()));
                }
                let c = lineless.captures(l)?;
                Some((0, c[1].to_string()))
            })
            .collect(),
    )
}

/// (line, message) of each warning fulcrum gives for `file`.
fn fulcrum_warnings(file: &Path) -> BTreeSet<(usize, String)> {
    let loaded = fulcrum_config::load_files(&[file]);
    let errors: Vec<String> = loaded.diagnostics.errors().map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    loaded
        .diagnostics
        .warnings()
        .map(|d| {
            let s = d.to_string();
            let (place, msg) = s
                .split_once(": warning: ")
                .expect("FILE:LINE: warning: MSG");
            let line = place.rsplit(':').next().and_then(|l| l.parse().ok());
            // haproxy names no line for these: compared by their words only
            let line = if msg.starts_with(LINELESS) {
                Some(0)
            } else {
                line
            };
            (line.expect("a line"), msg.to_string())
        })
        .collect()
}

#[test]
fn warned_lines_match_haproxy() {
    let dir = std::env::temp_dir().join(format!("fulcrum-warnings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let have = fulcrum_testlab::require::tool("HAProxy comparison", "haproxy", "haproxy");
    for (name, body, lines) in CASES {
        let file = dir.join(format!("{name}.cfg"));
        std::fs::write(&file, format!("{HEAD}{body}")).expect("write");
        let ours = fulcrum_warnings(&file);
        let at: Vec<usize> = ours.iter().map(|(l, _)| *l).collect();
        assert_eq!(&at, lines, "{name}: fulcrum's warnings {ours:#?}");
        if have {
            let theirs = haproxy_warnings(&file).expect("haproxy runs");
            assert_eq!(ours, theirs, "{name}: fulcrum (left) vs haproxy -c (right)");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
