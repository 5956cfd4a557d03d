//! Certificates are reloaded by the in-process reload (SIGHUP) without failing a request:
//! under a load of keep-alive and one-shot HTTPS clients, the certificate file is swapped
//! five times; new handshakes get the new certificate, and no request fails.

mod common;
mod tls_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require;
use std::time::Duration;
use tls_support::{client_config, s_client, served_cn, Ca, Key, Load};

#[test]
fn certificate_swap_on_reload_fails_no_request() {
    if !require::tool("tls_reload", "openssl", "openssl") {
        return;
    }
    let dir = Scratch::new("tls-reload");
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let one = ca.issue("one.pem", "one.test", &["site.test"], Key::Ec, false);
    let two = ca.issue("two.pem", "two.test", &["site.test"], Key::Rsa, false);
    let live = dir.0.join("site.pem");
    std::fs::copy(&one, &live).expect("copy");
    let port = free_port();
    let cfg = dir.write(
        "r.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend f\n bind 127.0.0.1:{port} ssl crt {}\n\
             http-request return status 200 content-type text/plain string ok\n",
            live.display()
        ),
    );
    let f = Fulcrum::start(&cfg);
    let client = client_config(&ca.ca_pem());
    let load = Load::start(&client, port, 4);
    let pid = f.child.pid().to_string();
    for round in 0..5 {
        load.advance(20);
        let (src, cn) = if round % 2 == 0 {
            (&two, "two.test")
        } else {
            (&one, "one.test")
        };
        std::fs::copy(src, &live).expect("swap");
        let st = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill");
        assert!(st.success());
        let seen = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
            served_cn(&s_client(port, &["-servername", "site.test"])).as_deref() == Some(cn)
        });
        assert!(
            seen.is_some(),
            "round {round}: {cn} never served\n{}",
            f.log_text()
        );
    }
    load.advance(20);
    let (ok, failed) = load.finish();
    eprintln!("{ok} HTTPS requests succeeded, {failed} failed across 5 certificate swaps");
    assert_eq!(
        failed, 0,
        "no request may fail while certificates are reloaded"
    );
    assert!(ok > 120, "the load ran ({ok} requests)");
}
