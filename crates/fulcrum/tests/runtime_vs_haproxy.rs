//! The runtime API answers as the real HAProxy 2.6 does: the same command lines sent to
//! `haproxy` and to `fulcrum run` with the same config (each with its own `stats socket`)
//! get byte-identical answers — values, errors, permission refusals, level changes — and the
//! same `show servers state` lines once the ids and the seconds since the last change are set
//! aside.

mod runtime_support;

use runtime_support::*;
use std::path::Path;
use std::time::Duration;

fn config(dir: &Path, port: u16, s1: u16, s2: u16, dead: u16) -> String {
    format!(
        "global\n stats socket {admin} mode 600 level admin\n stats socket {user} mode 600 level user\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend web\n bind 127.0.0.1:{port}\n default_backend app\n\
         backend app\n balance roundrobin\n server s1 127.0.0.1:{s1}\n server s2 127.0.0.1:{s2} weight 3\n\
         backend fixed\n balance static-rr\n server f1 127.0.0.1:{s1} weight 2\n\
         backend checked\n server c1 127.0.0.1:{s1} check inter 100ms\n server c2 127.0.0.1:{dead} check inter 100ms\n\
         backend unixes\n server u unix@{unix}\n server a abns@fulcrum-rt-vs-haproxy-none\n",
        admin = dir.join("admin.sock").display(),
        unix = dir.join("no-server.sock").display(),
        user = dir.join("user.sock").display(),
    )
}

/// Every line is sent on a fresh connection, in order, to both; the answers must match.
const ADMIN_LINES: &[&str] = &[
    "get weight app/s2",
    "get weight app/nope",
    "get weight nope/s1",
    "get weight app",
    "get weight app/",
    "set weight app/s2",
    "set weight app/s2 300",
    "set weight app/s2 -1%",
    "set weight app/s2 5",
    "get weight app/s2",
    "set weight app/s2 50%",
    "get weight app/s2",
    "set server app/s2 weight 7",
    "get weight app/s2",
    "set weight fixed/f1 3",
    "set weight fixed/f1 0%",
    "get weight fixed/f1",
    "set weight fixed/f1 100%",
    "set server app/s2",
    "set server app/s2 foo",
    "set server app/s2 state",
    "set server app/s2 state sleepy",
    "set server app/s2 state drain",
    "set server app/s2 state maint",
    "set server app/s2 state ready",
    "disable server app",
    "disable server app/s1",
    "enable server app/s1",
    "show backend",
    "show servers state nope",
    "show cli level",
    "operator;show cli level;set weight app/s2 1;user;show cli level;operator",
    "set timeout",
    "set timeout cli",
    "set timeout cli x",
    "set timeout foo 3",
    "set timeout cli 30",
    "get weight app/s1;get weight app/s2;show cli level",
];

const USER_LINES: &[&str] = &[
    "disable server app/s1",
    "enable server app/s1",
    "set weight app/s2 1",
    "set server app/s2 state maint",
    "set server app/s2 weight 1",
    "disable health app/s1",
    "enable health app/s1",
    "show sess",
    "get weight app/s2",
    "show cli level",
    "operator",
];

/// `show servers state` without the columns that legitimately differ: be_id (HAProxy counts
/// an internal proxy first) and the seconds since the last change.
fn servers_state(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let mut w: Vec<&str> = l.split(' ').collect();
            if w.len() > 10 && !l.starts_with('#') {
                w[0] = "ID";
                w[9] = "T";
            }
            w.join(" ")
        })
        .collect()
}

#[test]
fn same_answers_as_haproxy() {
    if !tool("same_answers_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let (s1, s2) = (CountingServer::start("s1"), CountingServer::start("s2"));
    let hdir = Scratch::new("rt-vs-haproxy-h");
    let hcfg = hdir.join("h.cfg");
    let dead = free_port();
    std::fs::write(&hcfg, config(&hdir, free_port(), s1.port, s2.port, dead)).expect("write");
    let haproxy = fulcrum_testlab::process::Child::haproxy(&hcfg, hdir.join("haproxy.log"));
    let f = Fulcrum::start_bound("rt-vs-haproxy-f", "admin.sock", |dir| {
        config(dir, free_port(), s1.port, s2.port, dead)
    });
    let fdir = f.dir.clone();
    wait_haproxy_cli(&hdir, &haproxy);

    for (sock, lines) in [("admin.sock", ADMIN_LINES), ("user.sock", USER_LINES)] {
        for line in lines {
            let want = query(&hdir.join(sock), line).expect("haproxy answer");
            let got = query(&fdir.join(sock), line).expect("fulcrum answer");
            assert_eq!(got, want, "{sock}: '{line}'");
        }
    }
    // Checked servers settle (c1 UP with full health, c2 DOWN after `fall` failures) within a
    // second at `inter 100ms`.
    let (mut want, mut got) = (Vec::new(), Vec::new());
    let same = fulcrum_testlab::wait::until(Duration::from_secs(5), || {
        want =
            servers_state(&query(&hdir.join("admin.sock"), "show servers state").expect("haproxy"));
        got =
            servers_state(&query(&fdir.join("admin.sock"), "show servers state").expect("fulcrum"));
        got == want
    });
    assert!(
        same.is_some(),
        "show servers state differs:\nfulcrum {got:#?}\nhaproxy {want:#?}"
    );
    assert!(
        want.iter()
            .any(|l| l.starts_with("ID checked 2 c2 127.0.0.1 0 0 ")),
        "c2 DOWN: {want:#?}"
    );
    assert!(
        want.iter().any(|l| l.starts_with("ID unixes 1 u - 2 0 ")),
        "a server on a unix socket: {want:#?}"
    );
    // disable health: the check is no longer enabled (srv_check_state), the state is kept.
    for sock in [&hdir, &fdir] {
        assert_eq!(
            query(&sock.join("admin.sock"), "disable health checked/c2").expect("disable health"),
            "\n"
        );
    }
    let same = fulcrum_testlab::wait::until(Duration::from_secs(5), || {
        want = servers_state(
            &query(&hdir.join("admin.sock"), "show servers state checked").expect("haproxy"),
        );
        got = servers_state(
            &query(&fdir.join("admin.sock"), "show servers state checked").expect("fulcrum"),
        );
        got == want
    });
    assert!(
        same.is_some(),
        "after disable health:\nfulcrum {got:#?}\nhaproxy {want:#?}"
    );
    assert!(
        want.iter()
            .any(|l| l.starts_with("ID checked 2 c2 127.0.0.1 0 0 1 1 T 8 2 0 2 ")),
        "{want:#?}"
    );
    // show info: the same fields in the same order; typed: the same field numbers and tags.
    let keys = |t: &str| {
        t.lines()
            .map(|l| l.split(':').next().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    let hinfo = query(&hdir.join("admin.sock"), "show info").expect("haproxy");
    let finfo = query(&fdir.join("admin.sock"), "show info").expect("fulcrum");
    assert_eq!(keys(&finfo), keys(&hinfo));
    let tags = |t: &str| {
        t.lines()
            .map(|l| l.rsplit_once(':').map_or("", |x| x.0).to_string())
            .collect::<Vec<_>>()
    };
    let htyped = query(&hdir.join("admin.sock"), "show info typed").expect("haproxy");
    let ftyped = query(&fdir.join("admin.sock"), "show info typed").expect("fulcrum");
    assert_eq!(tags(&ftyped), tags(&htyped));
    // An interactive session, byte for byte: the prompt after each answer, leaving with `prompt`.
    let transcript = |sock: &Path| -> String {
        use std::io::{Read, Write};
        let mut c = std::os::unix::net::UnixStream::connect(sock).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut out = String::new();
        for line in [
            "prompt",
            "get weight app/s1",
            "get weight app/s1; show cli level",
            "set timeout cli 30",
            "show servers state nope",
            "operator",
        ] {
            c.write_all(format!("{line}\n").as_bytes()).expect("write");
            out.push_str(&read_prompt(&mut c));
        }
        c.write_all(b"prompt\n").expect("write");
        c.read_to_string(&mut out)
            .expect("closed after leaving prompt mode");
        out
    };
    assert_eq!(
        transcript(&fdir.join("admin.sock")),
        transcript(&hdir.join("admin.sock"))
    );
    // show info json: the same fields, positions, tags and value types.
    let shape = |t: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(t).expect("json");
        v.as_array()
            .expect("array")
            .iter()
            .map(|e| format!("{} {} {}", e["field"], e["tags"], e["value"]["type"]))
            .collect()
    };
    let hjson = query(&hdir.join("admin.sock"), "show info json").expect("haproxy");
    let fjson = query(&fdir.join("admin.sock"), "show info json").expect("fulcrum");
    assert_eq!(shape(&fjson), shape(&hjson));
    // show stat json: one array per line, as many lines.
    let lines = |t: &str| {
        serde_json::from_str::<serde_json::Value>(t)
            .expect("json")
            .as_array()
            .map_or(0, Vec::len)
    };
    let hsj = query(&hdir.join("admin.sock"), "show stat json").expect("haproxy");
    let fsj = query(&fdir.join("admin.sock"), "show stat json").expect("fulcrum");
    assert_eq!(lines(&fsj), lines(&hsj));
    // show stat: the same header; the same rows (proxy, server) in the same order.
    let hstat = query(&hdir.join("admin.sock"), "show stat").expect("haproxy");
    let fstat = query(&fdir.join("admin.sock"), "show stat").expect("fulcrum");
    assert_eq!(fstat.lines().next(), hstat.lines().next());
    let names = |t: &str| {
        t.lines()
            .skip(1)
            .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&fstat), names(&hstat));
    // help: every line fulcrum prints is HAProxy's own (but for show sess, a summary here).
    let hhelp = query(&hdir.join("admin.sock"), "help").expect("haproxy");
    let fhelp = query(&fdir.join("admin.sock"), "help").expect("fulcrum");
    for l in fhelp.lines().filter(|l| !l.starts_with("  show sess")) {
        assert!(
            hhelp.lines().any(|h| h == l),
            "not HAProxy's help line: {l:?}"
        );
    }
    drop(haproxy);
    let _ = std::fs::remove_dir_all(&hdir);
}
