//! The runtime socket's crt-list commands (`show ssl crt-list [-n] [LIST]`, `add ssl crt-list`
//! with an argument or a one-line payload, `del ssl crt-list LIST CERT[:LINE]`) and
//! `del ssl cert` answer as haproxy 2.6's on the same config, crt-list and certificate files,
//! byte for byte (the bind lines haproxy names by config file are compared with the file's
//! path masked); both serve an added line's certificate to the next handshake for its names
//! and stop after a delete; and adds and deletes under a load of keep-alive and one-shot HTTPS
//! clients fail no request.

mod runtime_support;
mod tls_support;

use runtime_support::{free_port, query, tool, wait_haproxy_cli, Fulcrum, Scratch};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tls_support::{client_config, s_client, served_cn, Ca, Key, Load};

/// Certificates a.pem (a.test), b.pem (b.test, *.b.test), d.pem (d.test, added at runtime),
/// a directory `dir/` with c.pem (c.test), and the crt-list `list.txt`.
struct Files {
    root: PathBuf,
    ca: Ca,
    list: PathBuf,
    dir: PathBuf,
}

impl Files {
    fn new(test: &str) -> Files {
        let root = Fulcrum::dir(test);
        let ca = Ca::new(&root.join("ca"), "Fulcrum Test CA");
        let dir = root.join("dir");
        std::fs::create_dir_all(&dir).expect("dir");
        for (name, cn, sans) in [
            ("a.pem", "a.test", vec!["a.test", "site.test"]),
            ("b.pem", "b.test", vec!["b.test", "*.b.test"]),
            ("c.pem", "c.test", vec!["c.test"]),
            ("d.pem", "d.test", vec!["d.test"]),
            ("e.pem", "e.test", vec!["e.test"]),
        ] {
            let p = ca.issue(name, cn, &sans, Key::Ec, false);
            let to = if name == "c.pem" {
                dir.join(name)
            } else {
                root.join(name)
            };
            std::fs::copy(&p, &to).expect("copy");
        }
        let r = root.display();
        let list = root.join("list.txt");
        std::fs::write(
            &list,
            format!(
                "# runtime crt-list test\n{r}/a.pem\n\
                 {r}/b.pem [alpn h2,http/1.1 ssl-min-ver TLSv1.2 verify none] b.test *.b.test !x.b.test\n\
                 {r}/a.pem other.test\n"
            ),
        )
        .expect("list");
        Files {
            root,
            ca,
            list,
            dir,
        }
    }

    fn pem(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

fn config(dir: &Path, f: &Files, ports: [u16; 3]) -> String {
    format!(
        "global\n stats socket {admin} mode 600 level admin\n stats socket {oper} mode 600 level operator\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend f\n bind 127.0.0.1:{p0} ssl crt-list {list}\n bind 127.0.0.1:{p1} ssl crt-list {list}\n\
         bind 127.0.0.1:{p2} ssl crt {dir}\n\
         http-request return status 200 content-type text/plain string ok\n",
        admin = dir.join("admin.sock").display(),
        oper = dir.join("oper.sock").display(),
        list = f.list.display(),
        dir = f.dir.display(),
        p0 = ports[0],
        p1 = ports[1],
        p2 = ports[2],
    )
}

/// The CN served at `port` for SNI `name` once there is one (bounded wait).
fn served(port: u16, name: &str) -> String {
    let mut cn = None;
    fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        cn = served_cn(&s_client(port, &["-servername", name]));
        cn.is_some()
    });
    cn.unwrap_or_default()
}

#[test]
fn crt_list_commands_answer_as_haproxy() {
    let test = "crt_list_commands_answer_as_haproxy";
    if !tool(test, "haproxy", "haproxy") || !tool(test, "openssl", "openssl") {
        return;
    }
    let files = Files::new("crtlist-files");
    let hdir = Scratch::new("crtlist-h");
    let hports = [free_port(), free_port(), free_port()];
    let hcfg = hdir.join("h.cfg");
    std::fs::write(&hcfg, config(&hdir, &files, hports)).expect("write");
    let haproxy = fulcrum_testlab::process::Child::haproxy(&hcfg, hdir.join("haproxy.log"));
    let mut fports = [0; 3];
    let f = Fulcrum::start_bound("crtlist-f", "admin.sock", |dir| {
        fports = [free_port(), free_port(), free_port()];
        config(dir, &files, fports)
    });
    wait_haproxy_cli(&hdir, &haproxy);

    let list = files.list.display().to_string();
    let dir = files.dir.display().to_string();
    let (a, d, e) = (
        files.pem("a.pem").display().to_string(),
        files.pem("d.pem").display().to_string(),
        format!("{dir}/e.pem"),
    );
    let d_text = std::fs::read_to_string(files.pem("d.pem")).expect("d");
    let e_text = std::fs::read_to_string(files.pem("e.pem")).expect("e");
    // Before: d.test is not a name of any certificate: the default (a.pem) answers.
    for p in [hports[0], fports[0]] {
        assert_eq!(served(p, "b.test"), "b.test");
        assert_eq!(served(p, "d.test"), "a.test");
    }
    let ask = |sock: &str, line: &str| {
        let want = query(&hdir.join(sock), line).expect("haproxy answer");
        let got = query(&f.dir.join(sock), line).expect("fulcrum answer");
        let mask = |s: String, cfg: &Path| s.replace(&cfg.display().to_string(), "CFG");
        let first = line.lines().next().unwrap_or("");
        assert_eq!(
            mask(got, &f.cfg),
            mask(want, &hcfg),
            "{sock}: '{first}'\n{}",
            f.log()
        );
    };
    for line in [
        "show ssl crt-list".to_string(),
        format!("show ssl crt-list {list}"),
        format!("show ssl crt-list -n {list}"),
        format!("show ssl crt-list -n {dir}/"),
        "show ssl crt-list -n".into(),
        "show ssl crt-list /nope.txt".into(),
        format!("add ssl crt-list {list} {d}"),
        format!("new ssl cert {d}"),
        format!("add ssl crt-list {list} {d}"),
        format!("set ssl cert {d} <<\n{d_text}"),
        format!("commit ssl cert {d}"),
        format!("add ssl crt-list {list} {d}"),
        format!("add ssl crt-list {list} <<\n{d} [alpn http/1.1 ciphers ECDHE+AESGCM ssl-max-ver TLSv1.3 curves P-256] dd.test\n"),
        format!("show ssl crt-list -n {list}"),
        format!("add ssl crt-list /nope.txt {d}"),
        format!("add ssl crt-list {list}"),
        format!("add ssl crt-list {dir} {d}"),
        format!("add ssl crt-list {list} <<\n{d}\n{d}\n"),
        format!("add ssl crt-list {list} <<\n{d} [bogus x]\n"),
        format!("del ssl crt-list {list} {d}"),
        format!("del ssl crt-list {list} {d}:9"),
        format!("del ssl crt-list {list} {d}:x"),
        format!("del ssl cert {d}"),
        format!("del ssl crt-list {list} {a}:1"),
        format!("del ssl crt-list {list} {a}:2"),
        format!("del ssl crt-list {list} {a}"),
        format!("del ssl crt-list {list}"),
        format!("del ssl crt-list /nope.txt {a}"),
        format!("del ssl crt-list {list} /nope.pem"),
        format!("del ssl crt-list {list} {dir}/c.pem"),
        "del ssl cert".into(),
        format!("del ssl cert {a}"),
        format!("new ssl cert {e}"),
        format!("set ssl cert {e} <<\n{e_text}"),
        format!("del ssl cert {e}"),
        format!("commit ssl cert {e}"),
        format!("add ssl crt-list {dir} {e}"),
        format!("add ssl crt-list {dir} {e}"),
        format!("add ssl crt-list {dir} <<\n{e} [alpn h2]\n"),
        format!("show ssl crt-list -n {dir}"),
        format!("del ssl crt-list {dir} {dir}/c.pem"),
    ] {
        ask("admin.sock", &line);
    }
    // The added lines answer for their names on both binds of the list, and the directory's
    // bind for e.test.
    for (hp, fp) in hports.iter().zip(fports) {
        assert_eq!(served(*hp, "d.test"), served(fp, "d.test"));
    }
    assert_eq!(served(fports[0], "d.test"), "d.test");
    assert_eq!(served(fports[1], "dd.test"), "d.test");
    assert_eq!(served(fports[2], "e.test"), "e.test");
    for line in [
        format!("del ssl crt-list {list} {d}:5"),
        format!("show ssl crt-list -n {list}"),
        format!("del ssl crt-list {dir} {e}"),
        format!("del ssl cert {e}"),
        "show ssl cert".into(),
        "show ssl crt-list".into(),
    ] {
        ask("admin.sock", &line);
    }
    // Line 5 (d.test) is gone, line 6 (dd.test) stays (the list's first line is a comment).
    for (hp, fp) in hports.iter().zip(fports) {
        assert_eq!(served(*hp, "d.test"), served(fp, "d.test"));
        assert_eq!(served(*hp, "e.test"), served(fp, "e.test"));
    }
    assert_eq!(served(fports[0], "d.test"), "a.test");
    assert_eq!(served(fports[0], "dd.test"), "d.test");
    assert_eq!(served(fports[2], "e.test"), "c.test");
    for line in [
        "show ssl crt-list".to_string(),
        format!("add ssl crt-list {list} {d}"),
        format!("del ssl crt-list {list} {d}:6"),
        format!("del ssl cert {d}"),
    ] {
        ask("oper.sock", &line);
    }
    drop(haproxy);
    let _ = std::fs::remove_dir_all(&hdir);
    let _ = std::fs::remove_dir_all(&files.root);
}

#[test]
fn crt_list_changes_under_load_fail_no_request() {
    let test = "crt_list_changes_under_load_fail_no_request";
    if !tool(test, "openssl", "openssl") {
        return;
    }
    let files = Files::new("crtlist-load-files");
    // The load asks for site.test: a.pem (the default) answers it, before and after each change.
    let mut ports = [0; 3];
    let f = Fulcrum::start_bound("crtlist-load", "admin.sock", |dir| {
        ports = [free_port(), free_port(), free_port()];
        config(dir, &files, ports)
    });
    let load = Load::start(&client_config(&files.ca.ca_pem()), ports[0], 4);
    let sock = f.dir.join("admin.sock");
    let list = files.list.display().to_string();
    let d = files.pem("d.pem").display().to_string();
    let d_text = std::fs::read_to_string(&d).expect("d");
    let ask = |line: &str| query(&sock, line).expect("answer");
    assert_eq!(
        ask(&format!("new ssl cert {d}")),
        format!("New empty certificate store '{d}'!\n\n")
    );
    ask(&format!("set ssl cert {d} <<\n{d_text}"));
    assert!(ask(&format!("commit ssl cert {d}")).ends_with("Success!\n\n"));
    for round in 0..4 {
        load.advance(20);
        assert_eq!(
            ask(&format!("add ssl crt-list {list} {d}")),
            format!("Inserting certificate '{d}' in crt-list '{list}'..\nSuccess!\n\n")
        );
        assert_eq!(served(ports[0], "d.test"), "d.test", "round {round}");
        load.advance(20);
        assert_eq!(
            ask(&format!("del ssl crt-list {list} {d}")),
            format!("Entry '{d}' deleted in crtlist '{list}'!\n\n")
        );
        assert_eq!(served(ports[0], "d.test"), "a.test", "round {round}");
    }
    load.advance(20);
    let (ok, failed) = load.finish();
    eprintln!("{ok} HTTPS requests succeeded, {failed} failed across 4 adds and deletes");
    assert_eq!(failed, 0, "no request may fail while crt-lists change");
    assert!(ok > 100, "the load ran ({ok} requests)");
    let _ = std::fs::remove_dir_all(&files.root);
}

/// A crt-list line's options apply over its bind's: what the line does not write (here
/// `alpn`) is the bind's, on fulcrum as on haproxy 2.6 (fulcrum lost it before).
#[test]
fn crt_list_lines_inherit_the_binds_settings_as_haproxy() {
    let test = "crt_list_lines_inherit_the_binds_settings_as_haproxy";
    if !tool(test, "haproxy", "haproxy") || !tool(test, "openssl", "openssl") {
        return;
    }
    let files = Files::new("crtlist-inherit-files");
    let list = files.root.join("inherit.txt");
    std::fs::write(
        &list,
        format!(
            "{b} [ssl-min-ver TLSv1.2] b.test\n{a}\n",
            b = files.pem("b.pem").display(),
            a = files.pem("a.pem").display()
        ),
    )
    .expect("list");
    let cfg = |dir: &Path, port: u16| {
        format!(
            "global\n stats socket {admin} mode 600 level admin\n\
             defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend f\n bind 127.0.0.1:{port} ssl crt-list {list} alpn h2,http/1.1\n\
             http-request return status 200 content-type text/plain string ok\n",
            admin = dir.join("admin.sock").display(),
            list = list.display(),
        )
    };
    let hdir = Scratch::new("crtlist-inherit-h");
    let hport = free_port();
    std::fs::write(hdir.join("h.cfg"), cfg(&hdir, hport)).expect("write");
    let haproxy = fulcrum_testlab::process::Child::haproxy_listening(
        &hdir.join("h.cfg"),
        hdir.join("haproxy.log"),
        hport,
    );
    let mut fport = 0;
    let _f = Fulcrum::start_bound("crtlist-inherit-f", "admin.sock", |dir| {
        fport = free_port();
        cfg(dir, fport)
    });
    let alpn = |port: u16| {
        s_client(port, &["-servername", "b.test", "-alpn", "h2,http/1.1"])
            .lines()
            .find(|l| l.contains("ALPN"))
            .unwrap_or("")
            .to_string()
    };
    let (h, f) = (alpn(hport), alpn(fport));
    assert_eq!(f, h, "haproxy: {}", haproxy.output());
    assert_eq!(f, "ALPN protocol: h2");
    drop(haproxy);
    let _ = std::fs::remove_dir_all(&hdir);
    let _ = std::fs::remove_dir_all(&files.root);
}
