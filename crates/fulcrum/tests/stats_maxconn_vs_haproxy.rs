//! `stats maxconn N`: a runtime socket serves at most N sessions at once, as HAProxy 2.6's does.
//! With N sessions held open (connected, nothing sent), the next client's command waits in
//! the listen backlog; it is answered once one of them leaves. The same steps against haproxy
//! and fulcrum on the same config.

mod runtime_support;

use runtime_support::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

fn config(dir: &Path) -> String {
    format!(
        "global\n stats socket {} mode 600 level admin\n stats maxconn 2\n stats timeout 30s\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend web\n bind 127.0.0.1:{}\n default_backend app\n\
         backend app\n server s1 127.0.0.1:{}\n",
        dir.join("admin.sock").display(),
        free_port(),
        free_port(),
    )
}

/// What a client that sent `show cli level` reads within `wait` (the socket closes after the
/// answer in non-interactive mode); empty when nothing came.
fn read_within(s: &mut UnixStream, wait: Duration) -> String {
    s.set_read_timeout(Some(wait)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// The steps on one proxy's socket: (answer while two sessions are held, answer after one
/// left).
fn held_then_freed(sock: &Path) -> (String, String) {
    let held: Vec<UnixStream> = (0..2)
        .map(|_| UnixStream::connect(sock).expect("connect"))
        .collect();
    // The listen backlog is first in, first out: the two held connections are the ones
    // accepted, the third waits behind them.
    let mut third = UnixStream::connect(sock).expect("third connects (backlog)");
    third.write_all(b"show cli level\n").expect("send");
    let while_held = read_within(&mut third, Duration::from_millis(700));
    drop(held);
    let after = read_within(&mut third, Duration::from_secs(5));
    (while_held, after)
}

#[test]
fn a_full_stats_socket_makes_the_next_client_wait_as_haproxy() {
    if !fulcrum_testlab::require::tool("stats maxconn vs haproxy", "haproxy", "haproxy") {
        return;
    }
    let (hdir, _haproxy, f) = versus("stats-maxconn", config, config);
    let want = held_then_freed(&hdir.join("admin.sock"));
    let got = held_then_freed(&f.dir.join("admin.sock"));
    assert_eq!(
        want.0, "",
        "haproxy answered a third client while two were held"
    );
    assert_eq!(want.1, "admin\n\n", "haproxy's answer once one left");
    assert_eq!(
        got,
        want,
        "fulcrum (while held, after one left)\n{}",
        f.log()
    );
}
