//! `tune.ssl.lifetime`: a TLS session (a TLS 1.2 session id, a TLS 1.2 ticket, a TLS 1.3
//! ticket) is resumed within the lifetime and not after it, on fulcrum as on haproxy 2.6 with
//! the same config. (The lifetime is a time limit, so this test waits it out: 1 s.)

mod common;
mod tls_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require;
use std::time::{Duration, Instant};
use tls_support::{s_client, s_client_request, Ca, Key};

const T: &str = "tls_lifetime";

fn config(cert: &std::path::Path, port: u16) -> String {
    format!(
        "global\n nbthread 1\n tune.ssl.lifetime 1s\n\
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

#[test]
fn sessions_expire_after_tune_ssl_lifetime_as_haproxy() {
    if !require::tool(T, "openssl", "openssl") || !require::tool(T, "haproxy", "haproxy") {
        return;
    }
    let dir = Scratch::new("tls-lifetime");
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let cert = ca.issue("a.pem", "a.test", &["a.test"], Key::Ec, false);
    let (hport, fport) = (free_port(), free_port());
    let hcfg = dir.write("h.cfg", &config(&cert, hport));
    let fcfg = dir.write("f.cfg", &config(&cert, fport));
    let _haproxy =
        fulcrum_testlab::process::Child::haproxy_listening(&hcfg, dir.0.join("haproxy.log"), hport);
    let _fulcrum = Fulcrum::start(&fcfg);
    let sess = dir.0.join("sess.pem");
    for extra in [
        &["-tls1_2", "-no_ticket"][..],
        &["-tls1_2"][..],
        &["-tls1_3"][..],
    ] {
        let h = resumption(hport, &sess, extra);
        let f = resumption(fport, &sess, extra);
        assert_eq!(
            f, h,
            "{extra:?}: (resumed at once, after the lifetime), haproxy's first"
        );
        assert_eq!(f, (true, false), "{extra:?}");
    }
}
