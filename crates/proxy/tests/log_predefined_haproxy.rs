//! `option httplog`, `option httplog clf` and `option tcplog` (also on an HTTP frontend)
//! are HAProxy 2.6's predefined log-format strings rendered by the one format engine, and
//! the `%` variables added with them (`%U %Th %Ti %Tq %Td %lc %Tl %trg %trl %{+Q}hrl`
//! `%sslv`) are written as haproxy writes them: the same config run by fulcrum and by the
//! real haproxy, the lines read from a UDP syslog socket and compared byte for byte once the
//! client ports, dates and timers are masked.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

const VARS: &str = "U=%U Th=%Th  Ti=%Ti Tq=%Tq Td=%Td lc=%lc Tl=%Tl trg=%trg trl=%trl \
     hrl=%{+Q}hrl sslv=%sslv sslc=%sslc end";

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}  option dontlognull\n\
         frontend vars\n  bind 127.0.0.1:{}\n  log-format \"{VARS}\"\n\
         \x20 capture request header Host len 10\n  capture request header X-None len 5\n\
         \x20 default_backend app\n\
         frontend http\n  bind 127.0.0.1:{}\n  option httplog\n  default_backend app\n\
         frontend clf\n  bind 127.0.0.1:{}\n  option httplog clf\n  default_backend app\n\
         \x20 capture request header Host len 10\n\
         frontend tcplog\n  bind 127.0.0.1:{}\n  option tcplog\n  default_backend app\n\
         backend app\n  server s1 {}\n",
        s.head("http"),
        s.ports[0],
        s.ports[1],
        s.ports[2],
        s.ports[3],
        s.backend
    )
}

/// Masks the client ports, dates, millisecond timers and the process id.
fn mask(line: &str) -> String {
    let line = mask_ports(line);
    let date = regex::Regex::new(
        r"[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?( \+0000)?",
    )
    .expect("re");
    let line = date.replace_all(&line, "DATE");
    // Timers vary by run; `%Ti` too: haproxy measures the idle time before a request's first
    // byte (a few ms under load), fulcrum writes 0 (README).
    let timers = regex::Regex::new(r"\b(Ti|Tq|Td)=-?[0-9]+").expect("re");
    let line = timers.replace_all(&line, "$1=N");
    // httplog / tcplog timer groups and the clf line's separate timers and milliseconds.
    let groups = regex::Regex::new(r" -?[0-9]+(/-?[0-9]+){2,4} ").expect("re");
    let line = groups.replace_all(&line, " TIMERS ");
    let clf =
        regex::Regex::new(r#" [0-9]+ [0-9]+ "clf" "app" "s1" [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ "#)
            .expect("re");
    clf.replace_all(&line, r#" CP MS "clf" "app" "s1" T T T T T "#)
        .into_owned()
}

const GET: &str = "GET /a?b=1 HTTP/1.1\r\nHost: h.example\r\nConnection: close\r\n\r\n";
const POST: &str =
    "POST /p HTTP/1.1\r\nHost: hh\r\nContent-Length: 5\r\nX-A: 1\r\nConnection: close\r\n\r\nhello";

#[tokio::test]
async fn predefined_formats_and_variables_as_haproxy() {
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        for (i, raw) in [(0, GET), (0, POST), (1, GET), (2, GET), (3, GET)] {
            out.push(mask(&side.request_line(i, raw).await));
        }
        out
    };
    let (ours, theirs) = side_by_side(4, cfg, drive).await;
    // Not vacuous: the values are there.
    assert_eq!(
        ours[0],
        "U=51 Th=0 Ti=N Tq=N Td=N lc=0 Tl=DATE trg=DATE trl=DATE hrl=\"h.example\" \"\" sslv=- sslc=- end"
    );
    assert!(
        ours[1].starts_with("U=65 ") && ours[1].contains(" lc=1 "),
        "{ours:?}"
    );
    assert!(ours[2].ends_with(" \"GET /a?b=1 HTTP/1.1\""), "{ours:?}");
    assert!(
        ours[3].starts_with("127.0.0.1 - - [DATE] \"GET /a?b=1 HTTP/1.1\" 200 63 \"\" \"\" CP MS \"clf\" \"app\" \"s1\" T T T T T ---- "),
        "{ours:?}"
    );
    assert!(ours[4].contains(" tcplog app/s1 TIMERS "), "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}

/// `%U` whatever the request says about its connection (haproxy 2.6 counts the head's HTX
/// size: a `Connection` field's `close` / `keep-alive` tokens are not in it) and with a
/// chunked body (counted without its framing). The requests are pipelined on one
/// connection, the last one asking to close; a curl-like request and a `Connection` field
/// with another token come on their own connections.
#[tokio::test]
async fn request_bytes_with_any_connection_field_as_haproxy() {
    let cfg = |s: &Setup<'_>| {
        format!(
            "{}frontend u\n  bind 127.0.0.1:{}\n  log-format \"U=%U %HM %HU\"\n\
             \x20 default_backend app\nbackend app\n  server s1 {}\n",
            s.head("http"),
            s.ports[0],
            s.backend
        )
    };
    let pipelined = "GET /none HTTP/1.1\r\nHost: h\r\n\r\n\
         GET /ka HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n\
         POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n\
         GET /http10 HTTP/1.0\r\nHost: h\r\n\r\n";
    let curl = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n";
    let other = "GET /o HTTP/1.1\r\nHost: h\r\nConnection: Foo, close\r\n\r\n";
    let drive = |side: Arc<Side>| async move {
        let answer = side.exchange(0, pipelined.as_bytes()).await;
        let answers = String::from_utf8_lossy(&answer)
            .matches("HTTP/1.1 200")
            .count();
        assert_eq!(answers, 4, "{}: {answer:?}", side.who);
        let mut out = Vec::new();
        for _ in 0..4 {
            out.push(side.line().await);
        }
        out.push(side.request_line(0, curl).await);
        out.push(side.request_line(0, other).await);
        out
    };
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    // The figures haproxy 2.6.12 logs (not vacuous without haproxy).
    assert_eq!(
        ours,
        [
            "U=42 GET /none",
            "U=40 GET /ka",
            "U=79 POST /chunked",
            "U=44 GET /http10",
            "U=81 GET /",
            "U=52 GET /o",
        ]
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
