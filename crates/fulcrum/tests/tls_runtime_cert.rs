//! The runtime socket's certificate commands (`show/new/set/commit/abort ssl cert`) answer as
//! haproxy 2.6's on the same config and the same certificate files, byte for byte; a committed
//! certificate is served to the next handshake by both; and commits under a load of keep-alive
//! and one-shot HTTPS clients fail no request.

mod runtime_support;
mod tls_support;

use runtime_support::{free_port, query, tool, wait_haproxy_cli, Fulcrum, Scratch};
use std::path::Path;
use std::time::Duration;
use tls_support::{client_config, s_client, served_cn, Ca, Key, Load};

fn config(dir: &Path, site: &Path, port: u16, port2: u16) -> String {
    format!(
        "global\n stats socket {admin} mode 600 level admin\n stats socket {oper} mode 600 level operator\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend f\n bind 127.0.0.1:{port} ssl crt {site}\n bind 127.0.0.1:{port2} ssl crt {site}\n\
         http-request return status 200 content-type text/plain string ok\n",
        admin = dir.join("admin.sock").display(),
        oper = dir.join("oper.sock").display(),
        site = site.display(),
    )
}

/// The served certificate's CN at `port` once it is `cn` (bounded wait).
fn serves(port: u16, cn: &str) -> bool {
    fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        served_cn(&s_client(port, &["-servername", "site.test"])).as_deref() == Some(cn)
    })
    .is_some()
}

#[test]
fn ssl_cert_commands_answer_as_haproxy() {
    if !tool("ssl_cert_commands_answer_as_haproxy", "haproxy", "haproxy")
        || !tool("ssl_cert_commands_answer_as_haproxy", "openssl", "openssl")
    {
        return;
    }
    let certs = Scratch::new("ssl-cert-files");
    let ca = Ca::new(&certs.join("ca"), "Fulcrum Test CA");
    let site = ca.issue("site.pem", "one.test", &["site.test"], Key::Ec, false);
    let two = ca.issue(
        "two.pem",
        "two.test",
        &["site.test", "two.test"],
        Key::Rsa,
        false,
    );
    let two_text = std::fs::read_to_string(&two).expect("two");
    let ca_text = std::fs::read_to_string(ca.ca_pem()).expect("ca");
    // The new certificate with its chain (leaf, CA, then the key).
    let (leaf, key) = two_text.split_at(
        two_text
            .find("-----BEGIN PRIVATE KEY")
            .expect("a key in the PEM"),
    );
    let with_chain = format!("{leaf}{ca_text}{key}");
    let cert_only = leaf.to_string();
    let name = site.display().to_string();
    let new = certs.join("new.pem").display().to_string();

    let hdir = Scratch::new("ssl-cert-h");
    let (hport, hport2) = (free_port(), free_port());
    std::fs::write(hdir.join("h.cfg"), config(&hdir, &site, hport, hport2)).expect("write");
    let haproxy =
        fulcrum_testlab::process::Child::haproxy(&hdir.join("h.cfg"), hdir.join("haproxy.log"));
    let mut fport = 0;
    let f = Fulcrum::start_bound("ssl-cert-f", "admin.sock", |dir| {
        fport = free_port();
        config(dir, &site, fport, free_port())
    });
    wait_haproxy_cli(&hdir, &haproxy);
    assert!(serves(hport, "one.test") && serves(fport, "one.test"));

    let admin: Vec<String> = vec![
        "show ssl cert".into(),
        format!("show ssl cert {name}"),
        "show ssl cert /nope.pem".into(),
        format!("commit ssl cert {name}"),
        format!("abort ssl cert {name}"),
        "new ssl cert".into(),
        format!("new ssl cert {new}"),
        format!("new ssl cert {new}"),
        format!("show ssl cert {new}"),
        "show ssl cert".into(),
        format!("set ssl cert {name} <<\ngarbage\n"),
        format!("set ssl cert {}/nope.pem <<\n{two_text}", certs.display()),
        format!("set ssl cert {name} <<\n{cert_only}"),
        format!("commit ssl cert {name}"),
        format!("abort ssl cert {name}"),
        format!("set ssl cert {name} <<\n{two_text}"),
        format!("set ssl cert {name} <<\n{with_chain}"),
        "show ssl cert".into(),
        format!("show ssl cert *{name}"),
        format!("show ssl cert *{new}"),
        format!("commit ssl cert {new}"),
        format!("abort ssl cert {new}"),
        "commit ssl cert".into(),
        "abort ssl cert".into(),
        "set ssl cert".into(),
        format!("commit ssl cert {name}"),
        format!("show ssl cert {name}"),
        "show ssl cert".into(),
        format!("set ssl cert {new} <<\n{two_text}"),
        format!("commit ssl cert {new}"),
        format!("show ssl cert {new}"),
    ];
    let oper: Vec<String> = vec![
        "show ssl cert".into(),
        format!("new ssl cert {new}.x"),
        format!("set ssl cert {name} <<\n{two_text}"),
        format!("commit ssl cert {name}"),
        format!("abort ssl cert {name}"),
    ];
    for (sock, lines) in [("admin.sock", &admin), ("oper.sock", &oper)] {
        for line in lines {
            let want = query(&hdir.join(sock), line).expect("haproxy answer");
            let got = query(&f.dir.join(sock), line).expect("fulcrum answer");
            let first = line.lines().next().unwrap_or("");
            assert_eq!(got, want, "{sock}: '{first}'");
        }
    }
    // The committed certificate is what both serve now, on both binds.
    assert!(serves(hport, "two.test"), "haproxy serves the commit");
    assert!(serves(fport, "two.test"), "fulcrum serves the commit");
    drop(haproxy);
    let _ = std::fs::remove_dir_all(&hdir);
    let _ = std::fs::remove_dir_all(&certs);
}

#[test]
fn commits_under_load_fail_no_request() {
    if !tool("commits_under_load_fail_no_request", "openssl", "openssl") {
        return;
    }
    let certs = Scratch::new("ssl-cert-load-files");
    let ca = Ca::new(&certs.join("ca"), "Fulcrum Test CA");
    let site = ca.issue("site.pem", "one.test", &["site.test"], Key::Ec, false);
    let two = ca.issue("two.pem", "two.test", &["site.test"], Key::Rsa, false);
    let texts = [
        std::fs::read_to_string(&two).expect("two"),
        std::fs::read_to_string(&site).expect("one"),
    ];
    let mut port = 0;
    let f = Fulcrum::start_bound("ssl-cert-load", "admin.sock", |dir| {
        port = free_port();
        config(dir, &site, port, free_port())
    });
    let load = Load::start(&client_config(&ca.ca_pem()), port, 4);
    let sock = f.dir.join("admin.sock");
    for round in 0..4 {
        load.advance(20);
        let (text, cn) = (&texts[round % 2], ["two.test", "one.test"][round % 2]);
        let set = query(
            &sock,
            &format!("set ssl cert {} <<\n{text}", site.display()),
        )
        .expect("set");
        assert_eq!(
            set,
            format!(
                "Transaction created for certificate {}!\n\n",
                site.display()
            )
        );
        let commit = query(&sock, &format!("commit ssl cert {}", site.display())).expect("commit");
        assert_eq!(
            commit,
            format!("Committing {}..\nSuccess!\n\n", site.display())
        );
        assert!(
            serves(port, cn),
            "round {round}: {cn} never served\n{}",
            f.log()
        );
    }
    load.advance(20);
    let (ok, failed) = load.finish();
    eprintln!("{ok} HTTPS requests succeeded, {failed} failed across 4 commits");
    assert_eq!(
        failed, 0,
        "no request may fail while certificates are committed"
    );
    assert!(ok > 100, "the load ran ({ok} requests)");
    let _ = std::fs::remove_dir_all(&certs);
}

/// After `commit ssl cert`, a bind selects the certificate by the new certificate's names
/// (haproxy 2.6 updates its SNI tree): the new name gets it, the old one falls back to the
/// default certificate, on fulcrum as on haproxy.
#[test]
fn commit_reindexes_sni_names_as_haproxy() {
    let test = "commit_reindexes_sni_names_as_haproxy";
    if !tool(test, "haproxy", "haproxy") || !tool(test, "openssl", "openssl") {
        return;
    }
    let certs = Scratch::new("ssl-cert-sni-files");
    let ca = Ca::new(&certs.join("ca"), "Fulcrum Test CA");
    let one = ca.issue("one.pem", "one.test", &["one.test"], Key::Ec, false);
    let two = ca.issue("two.pem", "two.test", &["two.test"], Key::Ec, false);
    let three = ca.issue("three.pem", "three.test", &["three.test"], Key::Ec, false);
    let three_text = std::fs::read_to_string(&three).expect("three");
    let cfg = |dir: &Path, port: u16| {
        format!(
            "global\n stats socket {admin} mode 600 level admin\n\
             defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend f\n bind 127.0.0.1:{port} ssl crt {one} crt {two}\n\
             http-request return status 200 content-type text/plain string ok\n",
            admin = dir.join("admin.sock").display(),
            one = one.display(),
            two = two.display(),
        )
    };
    let hdir = Scratch::new("ssl-cert-sni-h");
    let hport = free_port();
    std::fs::write(hdir.join("h.cfg"), cfg(&hdir, hport)).expect("write");
    let haproxy = fulcrum_testlab::process::Child::spawn(
        "haproxy",
        {
            let mut c = std::process::Command::new("haproxy");
            c.arg("-db").arg("-f").arg(hdir.join("h.cfg"));
            c
        },
        hdir.join("haproxy.log"),
    )
    .expect("haproxy");
    let mut fport = 0;
    let f = Fulcrum::start_bound("ssl-cert-sni-f", "admin.sock", |dir| {
        fport = free_port();
        cfg(dir, fport)
    });
    wait_haproxy_cli(&hdir, &haproxy);
    let served = |port: u16, name: &str| {
        let mut cn = None;
        fulcrum_testlab::wait::until(Duration::from_secs(10), || {
            cn = served_cn(&s_client(port, &["-servername", name]));
            cn.is_some()
        });
        cn.unwrap_or_default()
    };
    for port in [hport, fport] {
        assert_eq!(served(port, "two.test"), "two.test");
        assert_eq!(served(port, "three.test"), "one.test");
    }
    let two_name = two.display().to_string();
    for line in [
        format!("set ssl cert {two_name} <<\n{three_text}"),
        format!("commit ssl cert {two_name}"),
    ] {
        let want = query(&hdir.join("admin.sock"), &line).expect("haproxy answer");
        let got = query(&f.dir.join("admin.sock"), &line).expect("fulcrum answer");
        assert_eq!(got, want, "'{}'", line.lines().next().unwrap_or(""));
    }
    let mut seen = Vec::new();
    for port in [hport, fport] {
        seen.push((served(port, "three.test"), served(port, "two.test")));
    }
    assert_eq!(
        seen[0], seen[1],
        "haproxy, then fulcrum: (three.test, two.test)"
    );
    assert_eq!(seen[1], ("three.test".to_string(), "one.test".to_string()));
    drop(haproxy);
    let _ = std::fs::remove_dir_all(&hdir);
    let _ = std::fs::remove_dir_all(&certs);
}
