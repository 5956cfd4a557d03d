//! `<BADREQ>` lines as HAProxy 2.6 writes them: a head that does not parse, one with an
//! invalid `Content-Length` (refused with the head, before any rule or backend), and a
//! connection closed before a request are logged without a request: `%r %HM %HU %HP %HPO
//! %HQ %HV` are `<BADREQ>`, `%hr %hs %hrl %hsl` write nothing (and `option httplog` with
//! captures leaves one blank where they are), the backend is the frontend, the server
//! `<NOSRV>`, the timers -1, `%B` and `%U` 0. A bad request after a good one on a keep-alive
//! connection reads nothing of the previous request or response. The same config is run by
//! fulcrum and by the real haproxy, the lines read from a UDP syslog socket and compared once
//! ports, dates and timers are masked. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails.

mod common;
use common::*;
use std::sync::Arc;

const VARS: &str = "HM=%HM|HU=%HU|HP=%HP|HPO=%HPO|HQ=%HQ|HV=%HV|hr=%hr|hrl=%hrl|hs=%hs|hsl=%hsl|\
     r=%r|Qr=%{+Q}r|ST=%ST|B=%B|U=%U|b=%b|s=%s|T=%TR/%Tw/%Tc/%Tr/%Ta|ts=%tsc|CC=%CC";

fn cfg(s: &Setup<'_>) -> String {
    let caps = "  capture request header Host len 10\n  capture response header X-Server len 10\n";
    format!(
        "{}frontend vars\n  bind 127.0.0.1:{}\n  log-format \"{VARS}\"\n{caps}  default_backend app\n\
         frontend caps\n  bind 127.0.0.1:{}\n  option httplog\n{caps}  default_backend app\n\
         frontend plain\n  bind 127.0.0.1:{}\n  option httplog\n  default_backend app\n\
         backend app\n  server s1 {}\n",
        s.head("http"),
        s.ports[0],
        s.ports[1],
        s.ports[2],
        s.backend
    )
}

const GARBAGE: &str = "GARBAGE\r\n\r\n";
const BAD_LENGTH: &str = "GET /x?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: zz\r\n\r\n";
/// A good request (answered, keep-alive) and then a bad one on the same connection.
const GOOD_THEN_BAD: &str = "GET /g?q=2 HTTP/1.1\r\nHost: good\r\n\r\n\
     GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: zz\r\n\r\n";

#[tokio::test]
async fn bad_requests_are_logged_as_haproxy() {
    let drive = |side: Arc<Side>| async move {
        let mut out = Vec::new();
        for i in 0..3 {
            let a = side.exchange(i, GARBAGE.as_bytes()).await;
            assert!(a.starts_with(b"HTTP/1.1 400"), "{}: {a:?}", side.who);
            out.push(mask_line(&side.line().await));
            let a = side.exchange(i, BAD_LENGTH.as_bytes()).await;
            assert!(a.starts_with(b"HTTP/1.1 400"), "{}: {a:?}", side.who);
            out.push(mask_line(&side.line().await));
            let a = side.exchange(i, GOOD_THEN_BAD.as_bytes()).await;
            let a = String::from_utf8_lossy(&a).into_owned();
            assert!(
                a.starts_with("HTTP/1.1 200") && a.contains("HTTP/1.1 400"),
                "{}: {a:?}",
                side.who
            );
            out.push(mask_line(&side.line().await));
            out.push(mask_line(&side.line().await));
            // A connection closed before a request (no `option dontlognull`).
            drop(
                tokio::net::TcpStream::connect(side.addr(i))
                    .await
                    .expect("connect"),
            );
            out.push(mask_line(&side.line().await));
        }
        out
    };
    let (ours, theirs) = side_by_side(3, cfg, drive).await;
    // Not vacuous without haproxy: what haproxy 2.6.12 writes.
    let badreq = "HM=<BADREQ>|HU=<BADREQ>|HP=<BADREQ>|HPO=<BADREQ>|HQ=<BADREQ>|HV=<BADREQ>|\
         hr=|hrl=|hs=|hsl=|r=<BADREQ>|Qr=\"<BADREQ>\"|ST=400|B=0|U=0|b=vars|s=<NOSRV>|\
         T=-1/-1/-1/-1/N|ts=";
    assert_eq!(ours[0], format!("{badreq}PR--|CC=-"));
    assert_eq!(ours[1], format!("{badreq}PR--|CC=-"));
    assert!(ours[2].starts_with("HM=GET|HU=/g?q=2|"), "{ours:?}");
    assert_eq!(ours[3], format!("{badreq}PR--|CC=-"));
    assert_eq!(ours[4], format!("{badreq}CR--|CC=-"));
    let caps = "127.0.0.1:PORT [DATE] caps caps/<NOSRV> -1/-1/-1/-1/N 400 0 - - PR-- 1/1/0/0/0 0/0 \"<BADREQ>\"";
    assert_eq!(ours[5], caps);
    assert_eq!(ours[6], caps);
    assert!(
        ours[7].ends_with(" {good} {app} \"GET /g?q=2 HTTP/1.1\""),
        "{ours:?}"
    );
    assert_eq!(ours[8], caps);
    assert_eq!(ours[9], caps.replace("PR--", "CR--"));
    assert_eq!(
        ours[14],
        caps.replace("caps", "plain").replace("PR--", "CR--")
    );
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}

/// The comparison's one allowance (`closing_still_counted`) is only haproxy's `%ac/%fc` one
/// more each, the rest of the line equal.
#[test]
fn only_a_connection_still_counted_is_allowed() {
    let ours = "127.0.0.1:PORT [DATE] caps caps/<NOSRV> -1/-1/-1/-1/N 400 0 - - PR-- 1/1/0/0/0 0/0 \"<BADREQ>\"";
    let allowed = ours.replace(" 1/1/0/0/0 ", " 2/2/0/0/0 ");
    assert!(closing_still_counted(ours, &allowed));
    for other in [
        ours.replace(" 1/1/0/0/0 ", " 3/2/0/0/0 "),
        ours.replace(" 1/1/0/0/0 ", " 2/1/0/0/0 "),
        ours.replace(" 1/1/0/0/0 ", " 2/2/1/0/0 "),
        ours.replace(" 1/1/0/0/0 ", " 0/0/0/0/0 "),
        allowed.replace("PR--", "CR--"),
        allowed.replace("400", "408"),
    ] {
        assert!(!closing_still_counted(ours, &other), "{other}");
    }
}
