//! `bind ... tls-ticket-keys FILE`: two fulcrum nodes given the same key file (a VRRP pair)
//! resume each other's TLS sessions (TLS 1.2 and TLS 1.3 tickets) — a client that fails over
//! keeps its session; a node with other keys does not; a file with fewer than 3 keys is
//! refused by `fulcrum check` as by `haproxy -c`.

mod common;
mod tls_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require;
use std::path::Path;
use std::process::Command;
use tls_support::{s_client, s_client_request, Ca, Key};

const T: &str = "tls_ticket_keys";

fn config(cert: &Path, keys: &Path, port: u16) -> String {
    format!(
        "global\n nbthread 1\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend f\n bind 127.0.0.1:{port} ssl crt {} tls-ticket-keys {}\n\
         http-request return status 200 content-type text/plain string ok\n",
        cert.display(),
        keys.display()
    )
}

/// A key file of `n` keys made by `openssl rand 80 | openssl base64 -A` (HAProxy's advice).
fn key_file(dir: &Scratch, name: &str, n: usize) -> std::path::PathBuf {
    let mut text = String::new();
    for _ in 0..n {
        let out = Command::new("sh")
            .args(["-c", "openssl rand 80 | openssl base64 -A"])
            .output()
            .expect("openssl rand");
        text.push_str(String::from_utf8_lossy(&out.stdout).trim());
        text.push('\n');
    }
    dir.write(name, &text)
}

#[test]
fn nodes_with_the_same_keys_resume_each_others_sessions() {
    if !require::tool(T, "openssl", "openssl") {
        return;
    }
    let dir = Scratch::new("tls-ticket-keys");
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let cert = ca.issue("a.pem", "a.test", &["a.test"], Key::Ec, false);
    let shared = key_file(&dir, "shared.keys", 3);
    let other = key_file(&dir, "other.keys", 4);
    let ports = [free_port(), free_port(), free_port()];
    let mut nodes = Vec::new();
    for (i, keys) in [&shared, &shared, &other].into_iter().enumerate() {
        let cfg = dir.write(&format!("n{i}.cfg"), &config(&cert, keys, ports[i]));
        nodes.push(Fulcrum::start(&cfg));
    }
    let sess = dir.0.join("sess.pem");
    let sp = sess.to_str().expect("utf-8");
    for extra in [&["-tls1_2"][..], &["-tls1_3"][..]] {
        let _ = std::fs::remove_file(&sess);
        let mut a = vec!["-servername", "a.test", "-sess_out", sp];
        a.extend(extra);
        let first = s_client_request(ports[0], &a);
        assert!(first.contains("New, TLS"), "{extra:?}: {first}");
        let mut a = vec!["-servername", "a.test", "-sess_in", sp];
        a.extend(extra);
        let twin = s_client(ports[1], &a);
        assert!(
            twin.contains("Reused, TLS"),
            "{extra:?}: the node with the same keys did not resume: {twin}"
        );
        let stranger = s_client(ports[2], &a);
        assert!(
            stranger.contains("New, TLS"),
            "{extra:?}: a node with other keys resumed: {stranger}"
        );
    }
    drop(nodes);

    // Fewer than 3 keys: refused at the bind line, as haproxy -c refuses it.
    let few = key_file(&dir, "few.keys", 2);
    let cfg = dir.write("few.cfg", &config(&cert, &few, free_port()));
    let out = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["check", "-f"])
        .arg(&cfg)
        .output()
        .expect("fulcrum check");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("few.cfg:9:") && err.contains("at least 3 keys"),
        "{err}"
    );
    if require::tool(T, "haproxy", "haproxy") {
        let h = Command::new("haproxy")
            .args(["-c", "-f"])
            .arg(&cfg)
            .output()
            .expect("haproxy -c");
        let herr = String::from_utf8_lossy(&h.stderr);
        assert!(
            !h.status.success() && herr.contains("at least 3 keys"),
            "{herr}"
        );
    }
}
