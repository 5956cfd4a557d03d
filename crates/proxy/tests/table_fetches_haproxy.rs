//! `table_cnt([T])` and `table_avl([T])` (entries in use, free entries) side by side with the
//! real haproxy 2.6: a frontend's and a backend's own table (no argument) and a named one, as
//! entries are added up to a full table, in request and response rules (a backend's rules
//! read the backend's table); the values are read in the headers the server and the client
//! get.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

mod common;
use common::*;
use std::sync::Arc;

fn cfg(s: &Setup<'_>) -> String {
    format!(
        "{}frontend f\n  bind 127.0.0.1:{}\n\
         \x20 stick-table type string len 8 size 3 expire 30s store http_req_cnt\n\
         \x20 http-request track-sc0 req.hdr(x-k)\n\
         \x20 http-request set-header X-F %[table_cnt]/%[table_avl]/%[table_cnt(b)]/%[table_avl(b)]\n\
         \x20 http-response set-header X-FR %[table_cnt]\n\
         \x20 default_backend b\n\
         backend b\n  server s {}\n\
         \x20 stick-table type string len 8 size 5 expire 30s store http_req_cnt\n\
         \x20 http-request track-sc1 req.hdr(x-k),lower\n\
         \x20 http-request set-header X-B %[table_cnt]/%[table_avl]\n\
         \x20 http-response set-header X-BR %[table_avl]\n",
        s.head("http"),
        s.ports[0],
        s.backend
    )
}

#[tokio::test]
async fn table_cnt_and_avl_as_haproxy() {
    let drive = |side: Arc<Side>| async move {
        let mut answers = Vec::new();
        for k in ["a", "b", "a", "C", "d", "e"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: h\r\nX-K: {k}\r\nConnection: close\r\n\r\n");
            let answer = side.exchange(0, raw.as_bytes()).await;
            assert!(answer.starts_with(b"HTTP/1.1 200"), "{}: {k}", side.who);
            answers.extend(x_fields_but(
                &String::from_utf8_lossy(&answer),
                &["x-server"],
            ));
        }
        let mut seen: Vec<String> = side
            .backend
            .heads()
            .iter()
            .flat_map(|h| x_fields_but(h, &["x-k"]))
            .collect();
        seen.extend(answers);
        seen
    };
    let (ours, theirs) = side_by_side(1, cfg, drive).await;
    assert_eq!(ours[0], "x-f=1/2/0/5", "{ours:?}");
    assert_eq!(ours[1], "x-b=1/4", "{ours:?}");
    assert_eq!(ours[12], "x-br=4", "{ours:?}");
    assert_eq!(ours[13], "x-fr=1", "{ours:?}");
    if let Some(theirs) = theirs {
        assert_same(&ours, &theirs);
    }
}
