//! The runtime socket's CA-file and CRL-file commands (`show|new|set|commit|abort|del ssl
//! ca-file` and `... ssl crl-file`) answer as haproxy 2.6's on the same config and the same
//! files, byte for byte (lists with the transaction, details of one file and of one index,
//! the store's order of three CAs, `@system-ca`, every error, a `user` socket); and a commit
//! acts on both the same way: the next handshakes verify client certificates with the
//! committed CA file (a client of the new CA gets in, one of the old no more) and the
//! committed CRL (a revoked client no more). A server line's CA file is listed unused and
//! committed without a dot by both; fulcrum's next server handshakes verify with it, haproxy
//! 2.6's (a server without `crt`) keep the old one.

mod runtime_support;
mod tls_support;

use runtime_support::{free_port, same_cli_answer, tool, wait_haproxy_cli, Fulcrum, Scratch};
use std::path::Path;
use std::time::Duration;
use tls_support::{curl, Ca, Key};

/// Two binds verify client certificates with the same CA file; the second checks a CRL too.
/// A third bind asks no certificate; a server line reaches it over TLS, verifying it with
/// `srvca`, from the plain HTTP frontend on the fourth port.
fn config(dir: &Path, site: &Path, ca: &Path, crl: &Path, srvca: &Path, ports: [u16; 4]) -> String {
    format!(
        "global\n stats socket {admin} mode 600 level admin\n stats socket {user} mode 600 level user\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend f\n bind 127.0.0.1:{p0} ssl crt {site} ca-file {ca} verify required\n\
         bind 127.0.0.1:{p1} ssl crt {site} ca-file {ca} crl-file {crl} verify required\n\
         bind 127.0.0.1:{p2} ssl crt {site}\n\
         http-request return status 200 content-type text/plain string ok\n\
         frontend g\n bind 127.0.0.1:{p3}\n default_backend be\n\
         backend be\n http-reuse never\n\
         server s 127.0.0.1:{p2} ssl verify required ca-file {srvca} sni str(site.test) no-ssl-reuse\n",
        p0 = ports[0],
        p1 = ports[1],
        p2 = ports[2],
        p3 = ports[3],
        srvca = srvca.display(),
        admin = dir.join("admin.sock").display(),
        user = dir.join("user.sock").display(),
        site = site.display(),
        ca = ca.display(),
        crl = crl.display(),
    )
}

/// Whether a client with certificate `client` gets an answer on `port` (bounded wait for
/// `want`: a commit acts on the next handshakes).
fn admitted(server_ca: &Path, port: u16, client: &Path, want: bool) -> bool {
    let c = client.to_str().expect("utf-8");
    fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        let (code, body) = curl(server_ca, "site.test", port, &["--cert", c]);
        (code == 0 && body == "ok") == want
    })
    .is_some()
}

#[test]
fn ca_and_crl_file_commands_answer_and_act_as_haproxy() {
    let test = "ca_and_crl_file_commands_answer_and_act_as_haproxy";
    if !tool(test, "haproxy", "haproxy")
        || !tool(test, "openssl", "openssl")
        || !tool(test, "curl", "curl")
    {
        return;
    }
    let files = Scratch::new("cafile-files");
    let ca_a = Ca::new(&files.join("a"), "Client CA A");
    let ca_b = Ca::new(&files.join("b"), "B");
    let site_ca = Ca::new(&files.join("s"), "Site CA");
    let site = site_ca.issue("site.pem", "site.test", &["site.test"], Key::Ec, false);
    let client_a = ca_a.issue("client.pem", "client a", &[], Key::Ec, true);
    let other_a = ca_a.issue("other.pem", "other a", &[], Key::Ec, true);
    let client_b = ca_b.issue("client.pem", "client b", &[], Key::Ec, true);
    // The bind's CRL revokes another client of A; a second one revokes client A too.
    let crl = files.join("bind.crl");
    std::fs::copy(ca_a.revoke(&other_a), &crl).expect("crl");
    let crl2 = std::fs::read_to_string(ca_a.revoke(&client_a)).expect("crl2");
    let ca_file = files.join("clients.pem");
    std::fs::copy(ca_a.ca_pem(), &ca_file).expect("ca file");
    let text = |p: &Path| std::fs::read_to_string(p).expect("pem");
    let third = Ca::new(&files.join("z"), "Zed");
    // Three CAs in the order Alpha (longest name), Zed, B: the store shows them sorted but for
    // the last added.
    let three = format!(
        "{}{}{}",
        text(&ca_a.ca_pem()),
        text(&third.ca_pem()),
        text(&ca_b.ca_pem())
    );

    let hdir = Scratch::new("cafile-h");
    let srvca = files.join("servers.pem");
    std::fs::copy(site_ca.ca_pem(), &srvca).expect("server ca file");
    let hports = [free_port(), free_port(), free_port(), free_port()];
    let hcfg = hdir.join("h.cfg");
    std::fs::write(&hcfg, config(&hdir, &site, &ca_file, &crl, &srvca, hports)).expect("write");
    let haproxy = fulcrum_testlab::process::Child::haproxy(&hcfg, hdir.join("haproxy.log"));
    let mut fports = [0; 4];
    let f = Fulcrum::start_bound("cafile-f", "admin.sock", |dir| {
        fports = [free_port(), free_port(), free_port(), free_port()];
        config(dir, &site, &ca_file, &crl, &srvca, fports)
    });
    wait_haproxy_cli(&hdir, &haproxy);
    let ask = |sock: &str, line: &str| same_cli_answer(&hdir, &f, sock, line);
    let server_ca = site_ca.ca_pem();
    for [p0, p1, _, _] in [hports, fports] {
        assert!(
            admitted(&server_ca, p0, &client_a, true),
            "client A on {p0}"
        );
        assert!(
            admitted(&server_ca, p0, &client_b, false),
            "client B on {p0}"
        );
        assert!(
            admitted(&server_ca, p0, &other_a, true),
            "other A on {p0} (no CRL)"
        );
        assert!(
            admitted(&server_ca, p1, &client_a, true),
            "client A on {p1}"
        );
        assert!(
            admitted(&server_ca, p1, &other_a, false),
            "revoked client on {p1}"
        );
    }

    let (ca, crlp) = (ca_file.display().to_string(), crl.display().to_string());
    let new = files.join("new.pem").display().to_string();
    let new_crl = files.join("new.crl").display().to_string();
    let b_text = text(&ca_b.ca_pem());
    for line in [
        "show ssl ca-file".to_string(),
        format!("show ssl ca-file {ca}"),
        format!("show ssl ca-file {ca}:1"),
        format!("show ssl ca-file {ca}:0"),
        format!("show ssl ca-file {ca}:x"),
        format!("show ssl ca-file {ca}:2"),
        "show ssl ca-file nope.pem".into(),
        format!("show ssl ca-file {crlp}"),
        "show ssl crl-file".into(),
        format!("show ssl crl-file {crlp}"),
        format!("show ssl crl-file {crlp}:1"),
        format!("show ssl crl-file {crlp}:2"),
        format!("show ssl crl-file {crlp}:-1"),
        format!("show ssl crl-file {ca}"),
        "new ssl ca-file".into(),
        format!("new ssl ca-file {new}"),
        format!("new ssl ca-file {new}"),
        format!("new ssl ca-file {crlp}"),
        "show ssl ca-file".into(),
        format!("show ssl ca-file {new}"),
        "set ssl ca-file".into(),
        format!("set ssl ca-file {new}"),
        format!("set ssl ca-file {new} <<\ngarbage\n"),
        format!("set ssl ca-file {new} <<\n{three}"),
        format!("set ssl ca-file {new} <<\n{three}"),
        format!("set ssl ca-file {ca} <<\n{b_text}"),
        "show ssl ca-file".into(),
        format!("show ssl ca-file *{new}"),
        format!("show ssl ca-file *{new}:3"),
        format!("show ssl ca-file {new}"),
        format!("commit ssl ca-file {ca}"),
        format!("abort ssl ca-file {ca}"),
        "commit ssl ca-file".into(),
        format!("commit ssl ca-file {new}"),
        format!("commit ssl ca-file {new}"),
        format!("show ssl ca-file {new}"),
        format!("del ssl ca-file {new}"),
        format!("del ssl ca-file {new}"),
        format!("del ssl ca-file {ca}"),
        format!("new ssl crl-file {new_crl}"),
        format!("show ssl crl-file {new_crl}"),
        format!("set ssl crl-file {new_crl} <<\n{b_text}"),
        format!("abort ssl crl-file {new_crl}"),
        format!("del ssl crl-file {ca}"),
        format!("del ssl crl-file {crlp}"),
        format!("del ssl crl-file {new_crl}"),
        "show ssl crl-file".into(),
    ] {
        ask("admin.sock", &line);
    }
    for line in [
        "show ssl ca-file",
        "show ssl crl-file",
        "new ssl ca-file /x.pem",
        "del ssl crl-file /x",
    ] {
        ask("user.sock", line);
    }

    // The bind's CA file becomes B's: B's client gets in, A's no more.
    ask("admin.sock", &format!("set ssl ca-file {ca} <<\n{b_text}"));
    let answer = ask("admin.sock", &format!("commit ssl ca-file {ca}"));
    assert_eq!(
        answer,
        format!("Committing {ca}..\nSuccess!\n\n"),
        "one dot a bind"
    );
    ask("admin.sock", &format!("show ssl ca-file {ca}"));
    for [p0, _, _, _] in [hports, fports] {
        assert!(
            admitted(&server_ca, p0, &client_b, true),
            "client B on {p0} after commit"
        );
        assert!(
            admitted(&server_ca, p0, &client_a, false),
            "client A on {p0} after commit"
        );
    }
    // Back to A's CA, and a CRL that revokes client A too.
    ask(
        "admin.sock",
        &format!("set ssl ca-file {ca} <<\n{}", text(&ca_a.ca_pem())),
    );
    ask("admin.sock", &format!("commit ssl ca-file {ca}"));
    for [p0, p1, _, _] in [hports, fports] {
        assert!(
            admitted(&server_ca, p0, &client_a, true),
            "client A on {p0} again"
        );
        assert!(
            admitted(&server_ca, p1, &client_a, true),
            "client A on {p1} again"
        );
    }
    ask("admin.sock", &format!("set ssl crl-file {crlp} <<\n{crl2}"));
    ask("admin.sock", "show ssl crl-file");
    ask("admin.sock", &format!("show ssl crl-file *{crlp}"));
    ask("admin.sock", &format!("commit ssl crl-file {crlp}"));
    ask("admin.sock", &format!("show ssl crl-file {crlp}"));
    for [p0, p1, _, _] in [hports, fports] {
        assert!(
            admitted(&server_ca, p1, &client_a, false),
            "revoked client A on {p1}"
        );
        assert!(
            admitted(&server_ca, p0, &client_a, true),
            "client A on {p0} (no CRL)"
        );
    }

    // A server line's CA file: listed unused and committed without a dot by both (haproxy 2.6
    // links a server's files only when it has a client certificate); fulcrum's next server
    // handshakes verify with the committed file, haproxy's keep the old one.
    let status = |port: u16| {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "5",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .arg(format!("http://127.0.0.1:{port}/"))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for [_, _, _, p3] in [hports, fports] {
        assert_eq!(status(p3), "200", "through the server on {p3}");
    }
    let sp = srvca.display().to_string();
    ask("admin.sock", &format!("show ssl ca-file {sp}:1"));
    ask("admin.sock", &format!("set ssl ca-file {sp} <<\n{b_text}"));
    let answer = ask("admin.sock", &format!("commit ssl ca-file {sp}"));
    assert_eq!(answer, format!("Committing {sp}\nSuccess!\n\n"));
    assert_eq!(status(hports[3]), "200", "haproxy keeps the old file");
    let refused =
        fulcrum_testlab::wait::until(Duration::from_secs(10), || status(fports[3]) == "503");
    assert!(
        refused.is_some(),
        "fulcrum verifies with the committed file: {}",
        status(fports[3])
    );
}
