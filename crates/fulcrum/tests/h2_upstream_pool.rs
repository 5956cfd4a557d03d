//! `max-reuse`, `pool-max-conn` and `pool-purge-delay` on HTTP/2 server connections
//! (`server ... proto h2`), side by side with the real haproxy 2.6 on the same config: how many
//! connections a real HTTP/2 server (the h2 crate) sees for requests sent one after another
//! on one client connection, and when an idle connection is closed.

mod common;
mod h2_support;
mod h2_upstream_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::process::Child;
use fulcrum_testlab::require::tool;
use h2_support::run;
use h2_upstream_support::{server, Seen};
use std::time::{Duration, Instant};

fn config(port: u16, be: std::net::SocketAddr, server_opts: &str) -> String {
    format!(
        "defaults\n  mode http\n  timeout client 10s\n  timeout connect 2s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:{port}\n  default_backend be\n\
         backend be\n  server s1 {be} proto h2 {server_opts}\n"
    )
}

/// What the server saw when one proxy ran `server_opts`: `requests` GETs sent one after
/// another on one HTTP/1.1 client connection, then (`idle`) how long until every server
/// connection was closed (None: not within 8 s).
struct Seen2 {
    connections: usize,
    closed_after: Option<Duration>,
}

fn through(who: &str, scratch: &Scratch, server_opts: &str, requests: usize) -> Seen2 {
    let (be, seen): (_, Seen) = server(None);
    let port = free_port();
    let cfg = scratch.write(&format!("{who}.cfg"), &config(port, be, server_opts));
    let _proxy: Box<dyn std::any::Any> = if who == "fulcrum" {
        let f = Fulcrum::start(&cfg);
        assert!(fulcrum_testlab::wait::listening(
            port,
            Duration::from_secs(10)
        ));
        Box::new(f)
    } else {
        Box::new(Child::haproxy_listening(
            &cfg,
            scratch.0.join("haproxy.log"),
            port,
        ))
    };
    let url = format!("http://127.0.0.1:{port}/n");
    let mut args = vec!["-sS", "--http1.1", "--max-time", "20", "-o", "/dev/null"];
    for _ in 1..requests {
        args.extend_from_slice(&[&url, "-o", "/dev/null"]);
    }
    args.push(&url);
    let (ok, out) = run("curl", &args, 25);
    assert!(ok, "{who}: curl failed: {out}");
    let done = Instant::now();
    let got = || seen.requests.lock().map_or(0, |r| r.len());
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(5), || got() >= requests).is_some(),
        "{who}: the server got {} of {requests} requests",
        got()
    );
    let connections = seen.connections();
    let closed_after =
        fulcrum_testlab::wait::until(Duration::from_secs(8), || seen.closed() >= connections)
            .map(|_| done.elapsed());
    Seen2 {
        connections,
        closed_after,
    }
}

fn haproxy_and_fulcrum(test: &str, server_opts: &str, requests: usize) -> Option<(Seen2, Seen2)> {
    if !tool(test, "curl", "curl") || !tool(test, "haproxy", "haproxy") {
        return None;
    }
    let scratch = Scratch::new(test);
    let h = through("haproxy", &scratch, server_opts, requests);
    let f = through("fulcrum", &scratch, server_opts, requests);
    Some((h, f))
}

/// `max-reuse 2`: a connection carries three streams, then the next request opens another
/// (seven requests: three connections), as haproxy; each closes once its streams are done.
#[test]
fn max_reuse_limits_streams_per_connection_as_haproxy() {
    let Some((h, f)) = haproxy_and_fulcrum("h2_max_reuse", "max-reuse 2", 7) else {
        return;
    };
    assert_eq!(f.connections, 3, "fulcrum");
    assert_eq!(
        f.connections, h.connections,
        "server connections (haproxy: {})",
        h.connections
    );
}

/// `pool-max-conn 0`: no connection is kept without a stream: each request opens one, and
/// it is closed at once after its answer, as haproxy.
#[test]
fn pool_max_conn_zero_keeps_no_idle_connection_as_haproxy() {
    let Some((h, f)) = haproxy_and_fulcrum("h2_pool_max_conn", "pool-max-conn 0", 3) else {
        return;
    };
    assert_eq!(
        f.connections, h.connections,
        "server connections (haproxy: {})",
        h.connections
    );
    let closed = f.closed_after.expect("fulcrum closed its connections");
    assert!(
        closed < Duration::from_secs(2),
        "fulcrum closed after {closed:?}"
    );
    assert!(h.closed_after.is_some(), "haproxy closed its connections");
}

/// `pool-purge-delay 1s`: the idle connection is closed after about a second (not at once,
/// not after the 5 s default); haproxy closes it too.
#[test]
fn pool_purge_delay_closes_idle_connections_as_haproxy() {
    let Some((h, f)) = haproxy_and_fulcrum("h2_pool_purge", "pool-purge-delay 1s", 1) else {
        return;
    };
    assert_eq!((f.connections, h.connections), (1, 1));
    let closed = f.closed_after.expect("fulcrum closed the idle connection");
    assert!(
        closed >= Duration::from_millis(800) && closed < Duration::from_secs(4),
        "fulcrum closed after {closed:?}"
    );
    assert!(
        h.closed_after.is_some(),
        "haproxy closed the idle connection"
    );
}
