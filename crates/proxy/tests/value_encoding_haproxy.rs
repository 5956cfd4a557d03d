//! Control bytes from samples in HTTP values, side by side with the real haproxy 2.6 on the
//! same config: a client header `x-in: p%0D%0ASet-Cookie: evil=1%00z%09t%7F%22%5C%5D`
//! decoded by `url_dec`, and a request body with CR, LF and NUL (`req.body`), written by
//! `http-request set-header` (directly, through `set-var` and `set-var-fmt`, under `+E`),
//! `set-path`, `set-query`, `set-uri`, `http-response set-header`, `redirect location`,
//! `return hdr` and `lf-string`, and `unique-id-format`; binary samples with NUL
//! (`a%[bin(00)]b` is `ab`, and the rules after it still run); a log line of the same
//! value; the same response headers over HTTP/2 (curl, h2c). haproxy writes every control byte but TAB as `%XX` in HTTP values, so no sample
//! ends a header line or the request line; log lines get the bytes as they are, up to a NUL.
//! Compared: the request line and `x-` / injected lines the server gets, the status line and
//! the `x-` / injected lines and body the client gets, and the log line.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend f\n  bind 127.0.0.1:{}\n  bind 127.0.0.1:{} proto h2\n\
         \x20 log-format \"LOG %[var(txn.v)] %{{+Q}}[var(txn.v)] %{{+E}}[var(txn.v)]\"\n\
         \x20 option http-buffer-request\n\
         \x20 unique-id-format \"u%[req.hdr(x-in),url_dec]%[req.hdr(x-none)]|\"\n\
         \x20 unique-id-header X-UID\n\
         \x20 http-request set-var(txn.v) req.hdr(x-in),url_dec\n\
         \x20 http-request set-var-fmt(txn.f) \"%[req.hdr(x-in),url_dec]\"\n\
         \x20 http-request set-header X-H \"%[req.hdr(x-in),url_dec]\"\n\
         \x20 http-request set-header X-V \"%[var(txn.v)]\"\n\
         \x20 http-request set-header X-F \"%[var(txn.f)]\"\n\
         \x20 http-request set-header X-FL \"%[var(txn.f),length]\"\n\
         \x20 http-request set-header X-B \"%[req.body]\"\n\
         \x20 http-request set-header X-Q \"a%[bin(00)]b\"\n\
         \x20 http-request set-header X-R \"%[bin(41420043)]\"\n\
         \x20 http-request set-header X-S \"%[req.hdr(x-hi),url_dec]\"\n\
         \x20 http-request set-header X-E \"%{{+E}}[req.hdr(x-in),url_dec]\"\n\
         \x20 http-request set-header X-Last z\n\
         \x20 http-request set-path \"/p%[req.hdr(x-in),url_dec]\" if {{ path /setpath }}\n\
         \x20 http-request set-query \"q%[req.hdr(x-in),url_dec]\" if {{ path /setquery }}\n\
         \x20 http-request set-uri \"/u%[req.hdr(x-in),url_dec]\" if {{ path /seturi }}\n\
         \x20 http-request redirect location \"/l%[req.hdr(x-in),url_dec]\" if {{ path /redir }}\n\
         \x20 http-request return status 200 content-type text/plain hdr X-Ret \"%[req.hdr(x-in),url_dec]\" lf-string \"body%[req.hdr(x-in),url_dec]\" if {{ path /ret }}\n\
         \x20 http-response set-header X-RV \"%[var(txn.v)]\"\n\
         \x20 http-response set-header X-RQ \"a%[bin(00)]b\"\n\
         \x20 http-response set-header X-RLast z\n\
         \x20 default_backend b\n\
         backend b\n  server s {}\n",
        s.head("http"),
        s.ports[0],
        s.ports[1],
        s.backend
    )
}

/// The lines of a head (split at CRLF) a test compares: the first, the `x-` fields (names
/// lower-cased), `location`, and any line a value injected (`set-cookie`, or no colon at all).
fn lines(head: &str) -> Vec<String> {
    let mut it = head.split("\r\n");
    let first = it.next().unwrap_or("").to_string();
    let mut out = vec![first];
    for l in it.take_while(|l| !l.is_empty()) {
        match l.split_once(':') {
            Some((n, v)) => {
                let n = n.to_ascii_lowercase();
                let kept = n.starts_with("x-") && n != "x-forwarded-for";
                if kept || n == "set-cookie" || n == "location" {
                    out.push(format!("{n}:{}", v.trim()));
                }
            }
            None => out.push(format!("injected line {l:?}")),
        }
    }
    out
}

/// A raw answer: its compared lines and its body.
fn answer(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut out = lines(head);
    out.push(format!("body {body:?}"));
    out
}

const REQ: &str = "x-in: p%0D%0ASet-Cookie: evil=1%00z%09t%7F%22%5C%5D\r\n\
                   x-hi: %80%FF%00%0d\r\nContent-Length: 6\r\nConnection: close\r\n\r\nA\r\nB\0c";

async fn drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    for path in ["/", "/setpath", "/setquery", "/seturi", "/redir", "/ret"] {
        let raw = format!("POST {path} HTTP/1.1\r\nHost: x\r\n{REQ}");
        let before = side.backend.heads().len();
        let got = side.exchange(0, raw.as_bytes()).await;
        out.push(format!("{path}: client gets"));
        out.extend(answer(&got));
        let heads = side.backend.heads();
        if heads.len() > before {
            out.push(format!("{path}: server gets"));
            out.extend(
                lines(&heads[heads.len() - 1])
                    .iter()
                    .map(|l| format!("{l:?}")),
            );
        }
        out.push(format!("log {:?}", side.line().await));
    }
    // HTTP/2 to the client (h2c): a value http::HeaderValue refuses (a NUL) would be
    // dropped by the HTTP/2 encoder; encoded, each header is there.
    let url = format!("http://127.0.0.1:{}/", side.port(1));
    let got = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args([
                "-s",
                "-D",
                "-",
                "-o",
                "/dev/null",
                "--http2-prior-knowledge",
            ])
            .args(["-H", "x-in: p%0D%0ASet-Cookie: evil=1%00z%09t%7F%22%5C%5D"])
            .arg(&url)
            .output()
    })
    .await
    .expect("join")
    .expect("curl runs (scripts/install-deps.sh installs it)");
    out.push("h2: client gets".into());
    out.extend(answer(&got.stdout));
    out.push(format!("log {:?}", side.line().await));
    out
}

#[tokio::test]
async fn control_bytes_from_samples_are_encoded_as_haproxy() {
    let (ours, theirs) = side_by_side(2, cfg, drive).await;
    let all = ours.join("\n");
    // Not vacuous, and never an injected line: the values are there, encoded.
    assert!(
        all.contains("x-h:p%0D%0ASet-Cookie: evil=1%00z\\tt%7F"),
        "{all}"
    );
    assert!(all.contains("x-q:ab") && all.contains("x-last:z"), "{all}");
    assert!(
        all.contains("x-rq:ab") && all.contains("x-rlast:z"),
        "{all}"
    );
    assert!(
        all.contains("POST /pp%0D%0ASet-Cookie: evil=1%00z\\tt%7F"),
        "{all}"
    );
    assert!(
        all.contains("location:/lp%0D%0ASet-Cookie: evil=1%00z\tt%7F"),
        "{all}"
    );
    assert!(!all.contains("injected line"), "{all}");
    assert!(!all.contains("set-cookie:"), "{all}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
