//! Header names added by rules (`set-header`, `add-header` in `http-request`, `http-response`
//! and `http-after-response`) are written in lower case, as the real haproxy 2.6 writes them
//! (its HTX stores names in lower case): the names the server and the client read, compared
//! byte for byte with haproxy's on the same config. (The client's and the server's own names
//! are compared ignoring case: haproxy lower-cases them too, fulcrum forwards them as they
//! came; see the README.) Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

fn cfg(front: u16, app: SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{front}\n\
         \x20 http-request set-header X-Url %[url]\n\
         \x20 http-request add-header X-Added-Name foo\n\
         \x20 http-request set-header X-Client-Case replaced\n\
         \x20 http-response set-header X-Resp-Set bar\n\
         \x20 http-after-response add-header X-AFTER baz\n\
         \x20 default_backend b\n\
         backend b\n  server s {app}\n"
    )
}

/// The `x-` lines (names as written) of a head.
fn x_lines(head: &str) -> Vec<String> {
    head.lines()
        .filter(|l| l.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("x-")))
        .filter(|l| !l.to_ascii_lowercase().starts_with("x-server"))
        .map(str::to_string)
        .collect()
}

async fn run(front: u16, app: &Backend) -> (Vec<String>, Vec<String>) {
    let mut c = Client::connect(SocketAddr::from(([127, 0, 0, 1], front)))
        .await
        .expect("connect");
    c.send_raw(b"GET /p?q=1 HTTP/1.1\r\nHost: h\r\nX-Client-Case: mine\r\n\r\n")
        .await
        .expect("send");
    let r = c.read_response(false).await.expect("answer");
    assert_eq!(r.status, 200);
    let seen = app.heads().pop().unwrap_or_default();
    (x_lines(&seen), x_lines(&r.head))
}

#[tokio::test]
async fn rule_added_names_are_lower_case_as_haproxy_writes_them() {
    let app = Backend::start("app").await;
    let front = free_port();
    let h = start(&cfg(front, app.addr)).await;
    let ours = run(front, &app).await;
    h.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        ours.0,
        [
            "x-url: /p?q=1",
            "x-added-name: foo",
            "x-client-case: replaced"
        ],
        "{ours:?}"
    );
    assert_eq!(ours.1, ["x-resp-set: bar", "x-after: baz"], "{ours:?}");

    let app = Backend::start("app").await;
    let hfront = free_port();
    let at = SocketAddr::from(([127, 0, 0, 1], hfront));
    let Some(_haproxy) = Haproxy::start(&cfg(hfront, app.addr), at).await else {
        return;
    };
    let theirs = run(hfront, &app).await;
    assert_eq!(ours, theirs, "fulcrum (left) vs haproxy (right)");
}
