//! The sample language inside checks, run by the real haproxy 2.6 and then by fulcrum on the
//! same config against the same real sockets: `tcp-check set-var(check.x)` / `unset-var`,
//! `connect port var(...)`, `send-lf` / `send-binary-lf` with `%[...]`, `expect ... on-success
//! / on-error "%[res.payload(...)]"`, `status-code res.payload(0,3)`, and `http-check set-var`
//! with `send uri-lf / body-lf`, `http-check expect` with `ok-status`, `error-status`,
//! `on-success` / `on-error "%[status]"` and `status-code`; `set-var(NAME,COND...)` conditions,
//! `proc.` variables, `expect string-lf` / `binary-lf` / `! string-lf` and `http-check expect
//! string-lf` / `min-recv`, `http-check send hdr` values with `%[...]`, `expect hdr name-lf /
//! value-lf`, `set-var-fmt`, control bytes from a sample in `uri-lf`/`hdr`/`body-lf`.
//! Each server must receive the same bytes from both, and both must log the same
//! `option log-health-checks` lines (durations aside) and the same UP/DOWN.
//! Without haproxy the test skips loudly, and fails under FULCRUM_REQUIRE_NETNS=1.

mod common;

use common::versus::{self, first_lines, state_lines};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

#[derive(Clone, Copy)]
enum Kind {
    /// Reads a line, answers `+PONG`.
    Pong,
    /// An SMTP banner on connect.
    Banner,
    /// Reads an HTTP request (head and `content-length` body), answers 200.
    Http,
    /// Answers 200 with the body "hello world" in two parts 300 ms apart.
    SlowHttp,
}

async fn read_until(s: &mut tokio::net::TcpStream, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !done(&got) {
        match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    got
}

/// A complete HTTP request: the head, then `content-length` bytes.
fn http_complete(b: &[u8]) -> bool {
    let Some(end) = b.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&b[..end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    b.len() >= end + 4 + len
}

async fn server(kind: Kind, seen: Seen) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let record = |b: Vec<u8>| seen.lock().expect("lock").push(b);
                match kind {
                    Kind::Pong => {
                        let got = read_until(&mut s, |b| b.ends_with(b"\n")).await;
                        if !got.is_empty() {
                            record(got);
                            let _ = s.write_all(b"+PONG\r\n").await;
                        }
                    }
                    Kind::Banner => {
                        let _ = s.write_all(b"220 mx.test ESMTP ready\r\n").await;
                        let _ = read_until(&mut s, |_| false).await;
                    }
                    Kind::SlowHttp => {
                        let got = read_until(&mut s, http_complete).await;
                        if !got.is_empty() {
                            let _ = s
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello ")
                                .await;
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            let _ = s.write_all(b"world").await;
                        }
                    }
                    Kind::Http => {
                        let got = read_until(&mut s, http_complete).await;
                        if !got.is_empty() {
                            record(got);
                            let _ = s
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                                .await;
                        }
                    }
                }
            });
        }
    });
    port
}

fn cfg(log_port: u16, pong: u16, banner: u16, http: u16, other_pong: u16, slow: u16) -> String {
    let srv = |port: u16| format!("    server s 127.0.0.1:{port} check inter 300 fall 2 rise 1\n");
    let mut c = versus::head(log_port, "tcp", "600ms", "vars");
    // the server line names another port: the check goes where the variable says
    c += &format!(
        "backend vars\n    option tcp-check\n    tcp-check set-var(check.port) int({pong})\n    tcp-check connect port var(check.port)\n    tcp-check set-var(check.cmd) str(PING)\n    tcp-check send-lf \"%[var(check.cmd)] %[var(check.port)]\\r\\n\"\n    tcp-check expect string +PONG on-success \"got %[res.payload(0,5)]\"\n"
    );
    c += &srv(other_pong);
    c += "backend binlf\n    option tcp-check\n    tcp-check set-var(check.hex) str(50494e47)\n    tcp-check send-binary-lf \"%[var(check.hex)]0d0a\"\n    tcp-check expect string +PONG\n";
    c += &srv(pong);
    c += "backend unset\n    option tcp-check\n    tcp-check set-var(check.x) str(A)\n    tcp-check unset-var(check.x)\n    tcp-check send-lf \"X%[var(check.x)]Y\\r\\n\"\n    tcp-check expect string +PONG\n";
    c += &srv(pong);
    c += "backend code\n    option tcp-check\n    tcp-check expect rstring ^220 status-code res.payload(0,3) on-success \"banner %[res.payload(4,7)]\"\n";
    c += &srv(banner);
    c += "backend codefail\n    option tcp-check\n    tcp-check expect string 250 status-code res.payload(0,3) error-status L7STS on-error \"said %[res.payload(0,3)]\"\n";
    c += &srv(banner);
    c += "backend httplf\n    option httpchk\n    http-check set-var(check.path) str(/lf)\n    http-check send meth POST uri-lf \"%[var(check.path)]?x=1\" body-lf \"n=%[var(check.path)]\"\n    http-check expect status 200\n";
    c += &srv(http);
    c += "backend condpass\n    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG ok-status L7OKC\n";
    c += &srv(pong);
    c += "backend httpok\n    option httpchk GET /ok\n    http-check expect status 200 ok-status L4OK on-success \"st=%[status]\"\n";
    c += &srv(http);
    c += "backend httpfail\n    option httpchk GET /fail\n    http-check expect status 500 error-status L7STS on-error \"got %[status]\" status-code int(599)\n";
    c += &srv(http);
    // set-var conditions (haproxy 2.6 creates the variable before testing most of them) and
    // a `proc.` variable, all sent to the server
    c += "backend conds\n    option tcp-check\n\
          \x20   tcp-check set-var(check.a,ifexists) str(A1)\n    tcp-check set-var(check.b,ifnotexists) str(B1)\n    tcp-check set-var(check.b,ifnotexists) str(B2)\n\
          \x20   tcp-check set-var(check.c) int(5)\n    tcp-check set-var(check.c,ifgt) int(3)\n    tcp-check set-var(check.d) int(5)\n    tcp-check set-var(check.d,iflt) int(3)\n\
          \x20   tcp-check set-var(check.j,ifnotempty) str(x),ltrim(x)\n    tcp-check set-var(check.j,ifexists) str(JE)\n    tcp-check set-var(check.m,ifnotset,ifnotempty) str(M)\n\
          \x20   tcp-check set-var(proc.pv) int(9)\n    tcp-check set-var(proc.pv,ifgt) int(4)\n\
          \x20   tcp-check send-lf \"a=%[var(check.a)] b=%[var(check.b)] c=%[var(check.c)] d=%[var(check.d)] j=%[var(check.j)] m=%[var(check.m)] pv=%[var(proc.pv)]\\r\\n\"\n\
          \x20   tcp-check expect string +PONG\n";
    c += &srv(pong);
    // log-format expect patterns
    c += "backend strlf\n    option tcp-check\n    tcp-check set-var(check.w) str(PONG)\n    tcp-check send PING\\r\\n\n    tcp-check expect string-lf \"+%[var(check.w)]\"\n";
    c += &srv(pong);
    c += "backend expbinlf\n    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect binary-lf \"%[str(+PONG),hex]\"\n";
    c += &srv(pong);
    c += "backend strlffail\n    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect string-lf \"%[str(NOPE)]\"\n";
    c += &srv(pong);
    c += "backend notstrlf\n    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect ! string-lf \"+PO%[str(NG)]\"\n";
    c += &srv(pong);
    c += "backend binlfbad\n    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check expect binary-lf \"zz%[str(x)]\"\n";
    c += &srv(pong);
    c += "backend httpstrlf\n    option httpchk GET /lf\n    http-check set-var(check.b) str(ok)\n    http-check expect string-lf \"%[var(check.b)]\"\n";
    c += &srv(http);
    // min-recv: judged on the first part of the body (fails), without it on the whole body
    c += "backend minrecv\n    option httpchk GET /min\n    http-check expect min-recv 3 string world\n";
    c += &srv(slow);
    c += "backend nominrecv\n    option httpchk GET /nomin\n    http-check expect string world\n";
    c += &srv(slow);
    // set-var-fmt: the variable gets the rendered text
    c += "backend varfmt\n    option tcp-check\n    tcp-check set-var-fmt(check.f) \"x-%[str(y)]-%[int(3)]\"\n    tcp-check set-var-fmt(check.f,ifnotexists) zz\n    tcp-check send-lf \"F %[var(check.f)]\\r\\n\"\n    tcp-check expect string +PONG\n";
    c += &srv(pong);
    c += "backend httpvarfmt\n    option httpchk\n    http-check set-var-fmt(check.u) \"/fmt-%[str(u)]\"\n    http-check send meth GET uri-lf \"%[var(check.u)]\"\n    http-check expect status 200\n";
    c += &srv(http);
    // the failure wording of binary and regex patterns
    for (name, rule) in [
        ("binfail", "expect binary FFEE"),
        ("rbinfail", "expect rbinary ^FF"),
        ("notrbin", "expect ! rbinary ^2B"),
    ] {
        c += &format!("backend {name}\n    option tcp-check\n    tcp-check send PING\\r\\n\n    tcp-check {rule}\n");
        c += &srv(pong);
    }
    for (name, rule) in [
        ("hnotstr", "! string ok"),
        ("hnotrstr", "! rstring ^o"),
        ("hrstr", "rstring ^zz"),
        ("hrstatus", "rstatus ^5"),
        ("hhdr", "hdr name x-nope"),
        ("hnothdr", "! hdr name content-length"),
    ] {
        c += &format!(
            "backend {name}\n    option httpchk GET /{name}\n    http-check expect {rule}\n"
        );
        c += &srv(http);
    }
    // header values of `http-check send` are log-format strings; `hdr name-lf / value-lf`
    c += "backend hdrlf\n    option httpchk GET /h\n    http-check set-var(check.v) str(abc)\n    http-check send hdr X-V \"v=%[var(check.v)]\" hdr X-Plain plain\n    http-check expect hdr name-lf \"content-%[str(length)]\" value-lf \"%[str(2)]\"\n";
    c += &srv(http);
    // control bytes from a sample: haproxy 2.6 sends checks' values as they are, up to a NUL
    // (not `%XX` as in the proxy's HTTP values: measured)
    c += "backend ctl\n    option httpchk\n    http-check set-var(check.x) str(a%0D%0AX-Evil:%201%00z),url_dec\n    http-check send meth GET uri-lf \"/c%[var(check.x)]\" hdr X-C \"%[var(check.x)]\" body-lf \"B%[var(check.x)]\"\n    http-check expect status 200\n";
    c += &srv(http);
    c += "backend hdrlffail\n    option httpchk GET /hf\n    http-check expect fhdr name content-length value-lf \"%[str(3)]\"\n";
    c += &srv(http);
    c
}

const BACKENDS: usize = 32;

fn take(seen: &BTreeMap<&str, Seen>) -> BTreeMap<String, BTreeSet<Vec<u8>>> {
    seen.iter()
        .map(|(k, v)| {
            let got: BTreeSet<Vec<u8>> = std::mem::take(&mut *v.lock().expect("lock"))
                .into_iter()
                .collect();
            (k.to_string(), got)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_language_in_checks_as_haproxy() {
    if !versus::available("sample_language_in_checks_as_haproxy", &[]) {
        return;
    }
    let dir = versus::TempDir::new("lf-checks");
    let mut seen: BTreeMap<&str, Seen> = BTreeMap::new();
    for k in ["pong", "other_pong", "http"] {
        seen.insert(k, Seen::default());
    }
    let pong = server(Kind::Pong, seen["pong"].clone()).await;
    let other_pong = server(Kind::Pong, seen["other_pong"].clone()).await;
    let banner = server(Kind::Banner, Seen::default()).await;
    let http = server(Kind::Http, seen["http"].clone()).await;
    let slow = server(Kind::SlowHttp, Seen::default()).await;
    let syslog = versus::Syslog::bind();
    let text = cfg(syslog.port(), pong, banner, http, other_pong, slow);
    let done = |l: &[String]| first_lines(l).len() == BACKENDS;
    let (theirs_raw, out) =
        versus::haproxy(&dir.0, &text, &syslog, done, versus::Window::default()).await;
    let theirs_seen = take(&seen);
    let theirs = first_lines(&theirs_raw);
    assert_eq!(theirs.len(), BACKENDS, "{theirs_raw:#?}\n{out}");
    // haproxy judges `min-recv 3` on the body's first part, and without it on the whole body
    assert!(
        theirs["minrecv/s"].contains(" failed, ") && theirs["nominrecv/s"].contains(" succeeded, "),
        "{theirs:#?}"
    );
    assert!(
        theirs["hdrlf/s"].contains(" succeeded, ") && theirs["hdrlffail/s"].contains(" failed, "),
        "{theirs:#?}"
    );
    assert!(
        theirs_seen["http"]
            .iter()
            .any(|r| r.windows(10).any(|w| w == b"x-v: v=abc")),
        "haproxy renders the header value: {theirs_seen:?}"
    );
    assert!(
        theirs_seen["http"]
            .iter()
            .any(|r| r.starts_with(b"GET /ca\r\nX-Evil: 1 HTTP/1.0\r\n")),
        "haproxy sends a check's CR LF as they are, cut at the NUL: {theirs_seen:?}"
    );
    assert!(
        theirs_seen["pong"].contains(b"F x-y-3\r\n".as_slice()),
        "haproxy's set-var-fmt: {theirs_seen:?}"
    );
    assert!(
        theirs["strlffail/s"].contains("(log-format string)")
            && theirs["binlfbad/s"].contains("Failed to parse hexastring"),
        "{theirs:#?}"
    );

    let ours = versus::fulcrum("haproxy.cfg", &text, done, versus::Window::default()).await;
    let ours_seen = take(&seen);

    assert_eq!(
        first_lines(&ours.lines),
        theirs,
        "the same log-health-checks lines"
    );
    let theirs_states = state_lines(&theirs_raw);
    assert!(
        theirs_states
            .iter()
            .any(|l| l.starts_with("Server condpass/s is stopping")),
        "haproxy: L7OKC puts the server in NOLB: {theirs_states:?}"
    );
    assert_eq!(
        state_lines(&ours.event_lines()),
        theirs_states,
        "the same state changes"
    );
    for (name, got) in &theirs_seen {
        // `vars` connects where its variable says, never to the server line's port
        assert_eq!(
            got.is_empty(),
            *name == "other_pong",
            "{name} checked by haproxy: {got:?}"
        );
        assert_eq!(&ours_seen[name], got, "{name}: the same bytes from both");
    }
}
