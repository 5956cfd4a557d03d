//! TLS session resumption side by side with haproxy 2.6 on the same config: `tune.ssl.lifetime`
//! (a TLS 1.2 session id, a TLS 1.2 ticket, a TLS 1.3 ticket is resumed within the lifetime and
//! not after it; the lifetime is a time limit, so that test waits it out: 1 s), and the TLS 1.3
//! tickets sent after a handshake (two after a full one, one after a resumed one), and a TLS 1.2
//! resumption from a ticket leaving the client its ticket (no new one sealed).

mod common;
mod tls_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require;
use std::time::{Duration, Instant};
use tls_support::{s_client, s_client_request, tickets_received, Ca, Key};

const T: &str = "tls_lifetime";

/// `global_extra`: more `global` lines.
fn config(cert: &std::path::Path, port: u16, global_extra: &str) -> String {
    format!(
        "global\n nbthread 1\n{global_extra}\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend f\n bind 127.0.0.1:{port} ssl crt {}\n\
         http-request return status 200 content-type text/plain string ok\n",
        cert.display()
    )
}

/// (resumed right away, resumed after the lifetime) for one kind of session at `port`.
fn resumption(port: u16, sess: &std::path::Path, extra: &[&str]) -> (bool, bool) {
    let sp = sess.to_str().expect("utf-8");
    let _ = std::fs::remove_file(sess);
    let mut a = vec!["-servername", "a.test", "-sess_out", sp];
    a.extend(extra);
    let first = s_client_request(port, &a);
    assert!(first.contains("New, TLS"), "{extra:?}: {first}");
    let made = Instant::now();
    let mut a = vec!["-servername", "a.test", "-sess_in", sp];
    a.extend(extra);
    let soon = s_client(port, &a).contains("Reused, TLS");
    // Past the 1 s lifetime (with a second of margin: both proxies count whole seconds).
    std::thread::sleep(Duration::from_millis(2_500).saturating_sub(made.elapsed()));
    let late = s_client(port, &a).contains("Reused, TLS");
    (soon, late)
}

/// haproxy and fulcrum on the same config (`global_extra` in `global`): their ports, and what
/// must live while the test runs.
struct Pair {
    hport: u16,
    fport: u16,
    sess: std::path::PathBuf,
    _procs: (fulcrum_testlab::process::Child, Fulcrum, Scratch),
}

/// `None`: a tool is missing (and FULCRUM_REQUIRE_NETNS is not set).
fn pair(tag: &str, global_extra: &str) -> Option<Pair> {
    if !require::tool(T, "openssl", "openssl") || !require::tool(T, "haproxy", "haproxy") {
        return None;
    }
    let dir = Scratch::new(tag);
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let cert = ca.issue("a.pem", "a.test", &["a.test"], Key::Ec, false);
    let (hport, fport) = (free_port(), free_port());
    let hcfg = dir.write("h.cfg", &config(&cert, hport, global_extra));
    let fcfg = dir.write("f.cfg", &config(&cert, fport, global_extra));
    let haproxy =
        fulcrum_testlab::process::Child::haproxy_listening(&hcfg, dir.0.join("haproxy.log"), hport);
    let fulcrum = Fulcrum::start(&fcfg);
    Some(Pair {
        hport,
        fport,
        sess: dir.0.join("sess.pem"),
        _procs: (haproxy, fulcrum, dir),
    })
}

#[test]
fn sessions_expire_after_tune_ssl_lifetime_as_haproxy() {
    // Bound whole: a pattern leaving `_procs` out would drop the proxies at once.
    let Some(p) = pair("tls-lifetime", " tune.ssl.lifetime 1s\n") else {
        return;
    };
    let (hport, fport, sess) = (p.hport, p.fport, &p.sess);
    for extra in [
        &["-tls1_2", "-no_ticket"][..],
        &["-tls1_2"][..],
        &["-tls1_3"][..],
    ] {
        let h = resumption(hport, sess, extra);
        let f = resumption(fport, sess, extra);
        assert_eq!(
            f, h,
            "{extra:?}: (resumed at once, after the lifetime), haproxy's first"
        );
        assert_eq!(f, (true, false), "{extra:?}");
    }
}

/// (resumed, session tickets received) of a full handshake saving its session to `sess`, then
/// of one resuming it, with `version` (`-tls1_2`, `-tls1_3`); each sends a request and reads
/// to the server's close, so every ticket is in. Empty tickets are not counted
/// (`tls_support::tickets_received`).
fn tickets(port: u16, sess: &std::path::Path, version: &str) -> [(bool, usize); 2] {
    let sp = sess.to_str().expect("utf-8 path");
    let _ = std::fs::remove_file(sess);
    ["-sess_out", "-sess_in"].map(|flag| {
        let out = s_client_request(port, &[version, "-msg", "-servername", "a.test", flag, sp]);
        assert!(out.contains("HTTP/1.1 200"), "{flag}: {out}");
        (out.contains("Reused, TLS"), tickets_received(&out))
    })
}

#[test]
fn tls13_tickets_after_full_and_resumed_handshakes_as_haproxy() {
    let Some(p) = pair("tls-tickets", "") else {
        return;
    };
    let h = tickets(p.hport, &p.sess, "-tls1_3");
    let f = tickets(p.fport, &p.sess, "-tls1_3");
    assert_eq!(
        f, h,
        "(resumed, tickets) full then resumed: fulcrum, haproxy"
    );
    assert_eq!(f, [(false, 2), (true, 1)]);
}

#[test]
fn tls12_resumption_keeps_the_clients_ticket_as_haproxy() {
    let Some(p) = pair("tls12-ticket-kept", "") else {
        return;
    };
    // A resumption's ticket would be the renewal haproxy does not send (an empty one is
    // "keep yours").
    let h = tickets(p.hport, &p.sess, "-tls1_2");
    let f = tickets(p.fport, &p.sess, "-tls1_2");
    assert_eq!(
        f, h,
        "(resumed, tickets) full then resumed: fulcrum, haproxy"
    );
    assert_eq!(f, [(false, 1), (true, 0)]);
}
