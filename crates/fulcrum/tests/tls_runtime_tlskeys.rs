//! The runtime socket's ticket-key commands (`show tls-keys [ID|FILE|*]`, `set ssl tls-key
//! ID|FILE KEY`) answer as haproxy 2.6's on the same config and key files, byte for byte
//! (references numbered from the file named last, keys of 48 and 80 bytes, every error, on an
//! admin and a user socket: haproxy asks no level); and a rotation acts on both the same way: a
//! TLS 1.2 session sealed before one `set` still resumes, after a second one it does not.

mod runtime_support;
mod tls_support;

use runtime_support::{free_port, same_cli_answer, tool, wait_haproxy_cli, Fulcrum, Scratch};
use std::path::Path;
use tls_support::{s_client, s_client_request, tickets_received, Ca, Key};

/// A key file of `n` keys of `size` bytes (`openssl rand SIZE | openssl base64 -A`).
fn key_file(path: &Path, n: usize, size: usize) {
    let mut text = String::new();
    for _ in 0..n {
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("openssl rand {size} | openssl base64 -A")])
            .output()
            .expect("openssl rand");
        text.push_str(String::from_utf8_lossy(&out.stdout).trim());
        text.push('\n');
    }
    std::fs::write(path, text).expect("keys");
}

fn config(dir: &Path, cert: &Path, k1: &Path, k2: &Path, ports: [u16; 3]) -> String {
    format!(
        "global\n stats socket {admin} mode 600 level admin\n stats socket {user} mode 600 level user\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend f\n bind 127.0.0.1:{p0} ssl crt {c} tls-ticket-keys {k1}\n\
         bind 127.0.0.1:{p1} ssl crt {c} tls-ticket-keys {k2}\n\
         bind 127.0.0.1:{p2} ssl crt {c} tls-ticket-keys {k1}\n\
         http-request return status 200 content-type text/plain string ok\n",
        admin = dir.join("admin.sock").display(),
        user = dir.join("user.sock").display(),
        c = cert.display(),
        k1 = k1.display(),
        k2 = k2.display(),
        p0 = ports[0],
        p1 = ports[1],
        p2 = ports[2],
    )
}

/// Whether a TLS 1.2 session saved in `sess` resumes on `port`.
fn resumes(port: u16, sess: &Path) -> bool {
    let sp = sess.to_str().expect("utf-8");
    let out = s_client(port, &["-servername", "a.test", "-tls1_2", "-sess_in", sp]);
    assert!(out.contains(", TLS"), "{out}");
    out.contains("Reused, TLS")
}

/// Resumes the TLS 1.2 session saved in `sess` on `port`: (resumed, session tickets received
/// that hold a ticket: a renewal).
fn resumed_and_renewed(port: u16, sess: &Path) -> (bool, usize) {
    let sp = sess.to_str().expect("utf-8");
    let out = s_client_request(
        port,
        &["-servername", "a.test", "-tls1_2", "-msg", "-sess_in", sp],
    );
    assert!(out.contains(", TLS"), "{out}");
    (out.contains("Reused, TLS"), tickets_received(&out))
}

/// A new TLS 1.2 session on `port`, saved in `sess`.
fn new_session(port: u16, sess: &Path) {
    let _ = std::fs::remove_file(sess);
    let sp = sess.to_str().expect("utf-8");
    let out = s_client_request(port, &["-servername", "a.test", "-tls1_2", "-sess_out", sp]);
    assert!(out.contains("New, TLS"), "{out}");
}

#[test]
fn tls_key_commands_answer_and_rotate_as_haproxy() {
    let test = "tls_key_commands_answer_and_rotate_as_haproxy";
    if !tool(test, "haproxy", "haproxy") || !tool(test, "openssl", "openssl") {
        return;
    }
    let files = Scratch::new("tlskeys-files");
    let ca = Ca::new(&files.join("ca"), "Fulcrum Test CA");
    let cert = ca.issue("a.pem", "a.test", &["a.test"], Key::Ec, false);
    let (k1, k2) = (files.join("k1.keys"), files.join("k2.keys"));
    key_file(&k1, 4, 48);
    key_file(&k2, 3, 80);

    let hdir = Scratch::new("tlskeys-h");
    let hports = [free_port(), free_port(), free_port()];
    let hcfg = hdir.join("h.cfg");
    std::fs::write(&hcfg, config(&hdir, &cert, &k1, &k2, hports)).expect("write");
    let haproxy = fulcrum_testlab::process::Child::haproxy(&hcfg, hdir.join("haproxy.log"));
    let mut fports = [0; 3];
    let f = Fulcrum::start_bound("tlskeys-f", "admin.sock", |dir| {
        fports = [free_port(), free_port(), free_port()];
        config(dir, &cert, &k1, &k2, fports)
    });
    wait_haproxy_cli(&hdir, &haproxy);
    let ask = |sock: &str, line: &str| same_cli_answer(&hdir, &f, sock, line);

    let sess_h = files.join("h.sess");
    let sess_f = files.join("f.sess");
    new_session(hports[0], &sess_h);
    new_session(fports[0], &sess_f);
    // Resumed under the sealing key: the client keeps its ticket (none renewed).
    let h = resumed_and_renewed(hports[0], &sess_h);
    let f = resumed_and_renewed(fports[0], &sess_f);
    assert_eq!(f, h, "(resumed, renewed): fulcrum, haproxy");
    assert_eq!(f, (true, 0));
    // The same file on two binds is one set of keys: a session of one resumes on the other.
    assert!(resumes(hports[2], &sess_h), "haproxy");
    assert!(resumes(fports[2], &sess_f), "fulcrum");

    let k48 = "A".repeat(64);
    let k80 = format!("{}=", "B".repeat(107));
    let (p1, p2) = (k1.display().to_string(), k2.display().to_string());
    for line in [
        "show tls-keys".to_string(),
        "show tls-keys *".into(),
        "show tls-keys #0".into(),
        "show tls-keys #1".into(),
        format!("show tls-keys {p1}"),
        "show tls-keys #2".into(),
        "show tls-keys 0".into(),
        "show tls-keys k1.keys".into(),
        "set ssl tls-key".into(),
        "set ssl tls-key #1".into(),
        format!("set ssl tls-key #9 {k48}"),
        "set ssl tls-key #1 abc".into(),
        format!("set ssl tls-key #0 {k48}"),
        format!("set ssl tls-key #1 {k80}"),
        format!("set ssl tls-key #1 {k48}"),
        "show tls-keys *".into(),
        format!("set ssl tls-key {p2} {k80}"),
        format!("show tls-keys {p2}"),
    ] {
        ask("admin.sock", &line);
    }
    // One rotation: the key that sealed the session still opens it, and no longer seals: the
    // resumption renews the ticket (under the sealing key).
    let h = resumed_and_renewed(hports[0], &sess_h);
    let f = resumed_and_renewed(fports[0], &sess_f);
    assert_eq!(
        f, h,
        "(resumed, renewed) after one rotation: fulcrum, haproxy"
    );
    assert_eq!(f, (true, 1), "after one rotation");
    // A second one (from a user socket: haproxy asks no level): it is gone.
    let k48b = "C".repeat(64);
    ask("user.sock", "show tls-keys #1");
    let answer = ask("user.sock", &format!("set ssl tls-key {p1} {k48b}"));
    assert_eq!(answer, "TLS ticket key updated!\n\n");
    ask("user.sock", "show tls-keys *");
    assert!(!resumes(hports[0], &sess_h), "haproxy after two rotations");
    assert!(!resumes(fports[0], &sess_f), "fulcrum after two rotations");
    let _ = std::fs::remove_dir_all(&files);
    let _ = std::fs::remove_dir_all(&hdir);
}
