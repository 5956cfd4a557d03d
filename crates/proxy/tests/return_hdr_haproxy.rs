//! `http-request return ... hdr NAME FMT` values and `http-request redirect` targets are
//! log-format strings (`%[fetch,conv]` samples and `%` variables) rendered per request, as
//! haproxy 2.6 renders them: the same config run by fulcrum and by the real haproxy, the
//! answers' status lines, `Location` and `x-` headers and bodies compared. Under
//! FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend f\n  bind 127.0.0.1:{}\n\
         \x20 http-request return status 200 hdr X-P \"%[path]-%[req.hdr(x-a),upper]\" hdr X-M \"%HM %HU\" hdr X-None \"%[req.hdr(nope)]\" content-type text/plain lf-string \"p=%[path]\" if {{ path_beg /ret }}\n\
         \x20 http-request redirect location /r%[path]?q=%[req.hdr(x-a)] code 302 if {{ path_beg /red }}\n\
         \x20 http-request redirect prefix /pre%[req.hdr(x-a)] code 307 if {{ path_beg /pfx }}\n\
         \x20 default_backend app\nbackend app\n  server s1 {}\n",
        s.head("http"),
        s.ports[0],
        s.backend
    )
}

/// The status line, `location`, the `x-` fields (sorted) and the body of an answer.
fn shape(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("").to_string();
    let mut fields: Vec<String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(n, _)| n.starts_with("x-") || n == "location")
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    fields.sort();
    format!("{status} | {} | {body}", fields.join(" "))
}

#[tokio::test]
async fn return_hdr_values_and_redirect_targets_as_haproxy() {
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        for (path, xa) in [("/ret/a?z=1", "v1"), ("/red/b", "v2"), ("/pfx/c?d", "v3")] {
            let raw =
                format!("GET {path} HTTP/1.1\r\nHost: h\r\nX-A: {xa}\r\nConnection: close\r\n\r\n");
            out.push(shape(&side.exchange(0, raw.as_bytes()).await));
        }
        out
    };
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    // Not vacuous without haproxy: the values are rendered.
    assert_eq!(
        ours[0],
        "HTTP/1.1 200 OK | x-m=GET /ret/a?z=1 x-p=/ret/a-V1 | p=/ret/a"
    );
    assert!(ours[1].contains("location=/r/red/b?q=v2"), "{ours:?}");
    assert!(ours[2].contains("location=/prev3/pfx/c?d"), "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
