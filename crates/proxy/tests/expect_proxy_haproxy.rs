//! `tcp-request connection expect-proxy layer4 [if COND]` side by side with the real haproxy
//! 2.6: where the rule matches, the connection must start with a PROXY header whose
//! addresses are the client's after (the log line's `%ci:%cp` and `%fi:%fp`), a request
//! without one gets no answer; where the condition does not match, a plain request is
//! served. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend p\n  bind 127.0.0.1:{}\n  log-format \"p %ci:%cp %fi:%fp %ST\"\n\
         \x20 tcp-request connection expect-proxy layer4 if {{ src 127.0.0.1 }}\n\
         \x20 default_backend b\n\
         frontend n\n  bind 127.0.0.1:{}\n  log-format \"n %ci %ST\"\n\
         \x20 tcp-request connection expect-proxy layer4 if {{ src 10.9.9.9 }}\n\
         \x20 default_backend b\n\
         backend b\n  server s {}\n",
        s.head("http"),
        s.ports[0],
        s.ports[1],
        s.backend
    )
}

async fn drive(side: Arc<Side>) -> Vec<String> {
    let mut out = Vec::new();
    let req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let with = format!("PROXY TCP4 10.1.2.3 10.4.5.6 1111 80\r\n{req}");
    let got = side.exchange(0, with.as_bytes()).await;
    out.push(status_line(&got));
    out.push(side.line().await);
    let got = side.exchange(0, req.as_bytes()).await;
    out.push(format!("without: {}", status_line(&got)));
    // the connection error line (haproxy's fixed text), its date left out
    let line = mask_ports(&side.line().await);
    let date = regex::Regex::new(r"\[[^]]*\] ").expect("re");
    out.push(date.replace(&line, "").into_owned());
    let got = side.exchange(1, req.as_bytes()).await;
    out.push(status_line(&got));
    out.push(side.line().await);
    out
}

fn status_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .lines()
        .next()
        .unwrap_or("nothing")
        .to_string()
}

#[tokio::test]
async fn expect_proxy_as_haproxy() {
    let (ours, theirs) = side_by_side(2, cfg, drive).await;
    assert_eq!(ours[0], "HTTP/1.1 200 OK", "{ours:?}");
    assert_eq!(ours[1], "p 10.1.2.3:1111 10.4.5.6:80 200", "{ours:?}");
    assert_eq!(ours[2], "without: nothing", "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
