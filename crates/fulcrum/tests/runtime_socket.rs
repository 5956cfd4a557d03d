//! The runtime API (`stats socket`) of a real `fulcrum run`, driven over a plain UnixStream,
//! `socat` (unix and TCP) and `hatop` under tmux. Every admin command is checked by its effect
//! on real requests: a server in MAINT or DRAIN receives none, a weight change changes the
//! distribution, `disable health` stops the probes reaching the server; a `user` socket
//! refuses changes with HAProxy's "Permission denied".

mod runtime_support;

use runtime_support::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

struct Lab {
    f: Fulcrum,
    servers: Vec<CountingServer>,
    port: u16,
    admin: std::path::PathBuf,
    user: std::path::PathBuf,
    tcp: u16,
}

fn config(
    dir: &std::path::Path,
    port: u16,
    tcp: u16,
    servers: &[CountingServer],
    extra_socket: &str,
) -> String {
    let mut c = format!(
        "global\n stats socket {admin} mode 600 level admin\n stats socket {user} level user\n \
         stats socket ipv4@127.0.0.1:{tcp} level operator\n{extra_socket} stats timeout 5s\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend web\n bind 127.0.0.1:{port}\n default_backend app\n\
         backend app\n balance roundrobin\n option httpchk GET /health\n",
        admin = dir.join("admin.sock").display(),
        user = dir.join("user.sock").display(),
    );
    for s in servers {
        c.push_str(&format!(
            " server {} 127.0.0.1:{} check inter 200ms\n",
            s.name, s.port
        ));
    }
    c
}

fn lab(test: &str) -> Lab {
    let servers: Vec<CountingServer> = ["s1", "s2", "s3"]
        .iter()
        .map(|n| CountingServer::start(n))
        .collect();
    let (mut port, mut tcp) = (0, 0);
    let f = Fulcrum::start_bound(test, "admin.sock", |dir| {
        (port, tcp) = (free_port(), free_port());
        config(dir, port, tcp, &servers, "")
    });
    let (admin, user) = (f.dir.join("admin.sock"), f.dir.join("user.sock"));
    f.wait_socket(&user);
    let all_up = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        servers.iter().all(|s| s.count("/health") >= 2)
    });
    assert!(
        all_up.is_some(),
        "health checks never reached every server\n{}",
        f.log()
    );
    Lab {
        f,
        servers,
        port,
        admin,
        user,
        tcp,
    }
}

fn count(d: &HashMap<String, usize>, name: &str) -> usize {
    d.get(name).copied().unwrap_or(0)
}

#[test]
fn show_commands_answer_in_haproxy_formats() {
    let l = lab("rt-show");
    let info = query(&l.admin, "show info").expect("show info");
    assert!(
        info.contains(&format!("\nPid: {}\n", l.f.child.pid())),
        "{info}"
    );
    for key in [
        "Name: fulcrum\n",
        "Nbproc: 1\n",
        "Process_num: 1\n",
        "Uptime: 0d ",
        "Maxconn: ",
        "CurrConns: ",
        "node: ",
    ] {
        assert!(info.contains(key), "show info lacks {key:?}: {info}");
    }
    assert!(info.ends_with("\n\n"), "an answer ends with an empty line");
    let typed = query(&l.admin, "show info typed").expect("typed");
    assert!(typed.starts_with("0.Name.1:POS:str:fulcrum\n"), "{typed}");

    assert_eq!(
        query(&l.user, "show backend").expect("backend"),
        "# name\napp\n\n"
    );
    assert_eq!(
        query(&l.user, "get weight app/s2").expect("get weight"),
        "1 (initial 1)\n\n"
    );
    assert_eq!(
        query(&l.user, "get weight app/nope").expect("no server"),
        "No such server.\n\n"
    );
    assert_eq!(
        query(&l.user, "get weight nope/s1").expect("no backend"),
        "No such backend.\n\n"
    );
    assert_eq!(
        query(&l.user, "get weight app").expect("no slash"),
        "Require 'backend/server'.\n\n"
    );
    let state = query(&l.user, "show servers state").expect("servers state");
    let lines: Vec<&str> = state.lines().collect();
    assert_eq!(lines[0], "1", "{state}");
    assert!(
        lines[1]
            .starts_with("# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state"),
        "{state}"
    );
    for (i, s) in l.servers.iter().enumerate() {
        let want = format!("3 app {} {} 127.0.0.1 2 0 1 1 ", i + 1, s.name);
        assert!(
            lines
                .iter()
                .any(|x| x.starts_with(&want) && x.contains(&format!(" - {} - 0 0 - - 0", s.port))),
            "{want}: {state}"
        );
    }
    assert_eq!(
        query(&l.user, "show servers state nope").expect("x"),
        "Can't find backend.\n\n"
    );
    let unknown = query(&l.user, "show foo").expect("unknown");
    assert!(
        unknown.starts_with(
            "Unknown command, but maybe one of the following ones is a better match:\n"
        ),
        "{unknown}"
    );
    let help = query(&l.user, "help").expect("help");
    assert!(help.contains("  set server <bk>/<srv> [opts]            : change a server's state, weight, address or ssl\n"), "{help}");
    // show stat: HAProxy's CSV, its filters (hatop's `iid type sid`), typed, and no server
    // address for a user-level socket, as HAProxy.
    let stat = query(&l.admin, "show stat").expect("show stat");
    assert!(
        stat.starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,"),
        "{stat}"
    );
    for s in &l.servers {
        let row = stat
            .lines()
            .find(|x| x.starts_with(&format!("app,{},", s.name)))
            .unwrap_or_else(|| panic!("{stat}"));
        assert!(
            row.contains(",UP,") && row.contains(&format!(",127.0.0.1:{},", s.port)),
            "{row}"
        );
    }
    assert!(
        stat.lines().any(|x| x.starts_with("web,FRONTEND,"))
            && stat.lines().any(|x| x.starts_with("app,BACKEND,"))
    );
    let user_stat = query(&l.user, "show stat").expect("user stat");
    assert!(
        user_stat.contains("app,s1,") && !user_stat.contains("127.0.0.1:"),
        "{user_stat}"
    );
    // `app` is proxy 3: with a stats socket HAProxy's own CLI proxy is number 1
    let servers_only = query(&l.admin, "show stat 3 4 -1").expect("filtered");
    let rows: Vec<&str> = servers_only
        .lines()
        .filter(|x| !x.is_empty() && !x.starts_with('#'))
        .collect();
    assert_eq!(rows.len(), 3, "{servers_only}");
    assert!(
        rows.iter().all(|x| x.starts_with("app,s")),
        "{servers_only}"
    );
    let typed = query(&l.admin, "show stat typed").expect("typed");
    assert!(
        typed.lines().any(|x| x == "S.3.1.1.svname.1:KNS:str:s1"),
        "{typed}"
    );
    // Several commands on one line, as HAProxy.
    assert_eq!(
        query(&l.admin, "get weight app/s1;show cli level").expect("two"),
        "1 (initial 1)\n\nadmin\n\n"
    );

    if tool("show_commands_answer_in_haproxy_formats", "socat", "socat") {
        let via_socat = socat(&format!("{}", l.admin.display()), "show backend");
        assert_eq!(via_socat, "# name\napp\n\n");
        let via_tcp = socat(&format!("tcp:127.0.0.1:{}", l.tcp), "show cli level");
        assert_eq!(via_tcp, "operator\n\n");
        // operator: may list sessions, may not change servers.
        let sess = socat(&format!("tcp:127.0.0.1:{}", l.tcp), "show sess");
        assert!(
            sess.starts_with("# frontend current_connections\nweb "),
            "{sess}"
        );
        assert_eq!(
            socat(&format!("tcp:127.0.0.1:{}", l.tcp), "set weight app/s1 2"),
            "Permission denied\n\n"
        );
    }
}

#[test]
fn admin_commands_change_what_real_requests_reach() {
    let l = lab("rt-admin");
    let [s1, s2, s3] = [&l.servers[0], &l.servers[1], &l.servers[2]];
    let d = distribution(l.port, 30);
    assert_eq!(
        (count(&d, "s1"), count(&d, "s2"), count(&d, "s3")),
        (10, 10, 10),
        "roundrobin to start with: {d:?}"
    );

    // disable server: MAINT, no request reaches it.
    assert_eq!(
        query(&l.admin, "disable server app/s2").expect("disable"),
        "\n"
    );
    let before = s2.traffic();
    let d = distribution(l.port, 30);
    assert_eq!(count(&d, "<failed>"), 0, "{d:?}");
    assert_eq!(
        s2.traffic(),
        before,
        "a server in MAINT receives no request: {d:?}"
    );
    let state = query(&l.admin, "show servers state app").expect("state");
    assert!(
        state
            .lines()
            .any(|x| x.starts_with("3 app 2 s2 127.0.0.1 0 1 ")),
        "s2 stopped, forced MAINT: {state}"
    );
    let stat = query(&l.admin, "show stat").expect("stat");
    assert!(
        stat.lines()
            .any(|x| x.starts_with("app,s2,") && x.contains(",MAINT,")),
        "{stat}"
    );
    for filter in ["show stat no-maint", "show stat up"] {
        let stat = query(&l.admin, filter).expect("stat");
        assert!(
            !stat.contains("app,s2,") && stat.contains("app,s1,") && stat.contains("app,BACKEND,"),
            "{filter}: {stat}"
        );
    }
    assert_eq!(
        query(&l.admin, "enable server app/s2").expect("enable"),
        "\n"
    );
    let d = distribution(l.port, 30);
    assert_eq!(count(&d, "s2"), 10, "back in rotation: {d:?}");

    // set server state drain / maint / ready.
    assert_eq!(
        query(&l.admin, "set server app/s3 state drain").expect("drain"),
        "\n"
    );
    let d = distribution(l.port, 20);
    assert_eq!(
        (count(&d, "s3"), count(&d, "s1") + count(&d, "s2")),
        (0, 20),
        "DRAIN takes no new request: {d:?}"
    );
    assert_eq!(
        query(&l.admin, "set server app/s3 state maint").expect("maint"),
        "\n"
    );
    assert_eq!(count(&distribution(l.port, 10), "s3"), 0);
    // enable server leaves MAINT only: a server in DRAIN stays DRAIN (HAProxy).
    assert_eq!(
        query(
            &l.admin,
            "set server app/s3 state drain;enable server app/s3"
        )
        .expect("x"),
        "\n\n"
    );
    assert_eq!(count(&distribution(l.port, 10), "s3"), 0);
    let state = query(&l.admin, "show servers state app").expect("state");
    assert!(
        state
            .lines()
            .any(|x| x.starts_with("3 app 3 s3 127.0.0.1 2 8 ")),
        "s3 running, forced DRAIN: {state}"
    );
    assert_eq!(
        query(&l.admin, "set server app/s3 state ready").expect("ready"),
        "\n"
    );
    assert_eq!(count(&distribution(l.port, 30), "s3"), 10);
    assert_eq!(
        query(&l.admin, "set server app/s3 state sleepy").expect("bad"),
        "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"
    );

    // Weights: 3:1:1, then 0 (no request), then back with a percentage of the initial weight.
    assert_eq!(
        query(&l.admin, "set weight app/s1 3").expect("weight"),
        "\n"
    );
    assert_eq!(
        query(&l.admin, "get weight app/s1").expect("get"),
        "3 (initial 1)\n\n"
    );
    let d = distribution(l.port, 50);
    assert_eq!(
        (count(&d, "s1"), count(&d, "s2"), count(&d, "s3")),
        (30, 10, 10),
        "weights 3:1:1: {d:?}"
    );
    assert_eq!(
        query(&l.admin, "set server app/s1 weight 0").expect("weight 0"),
        "\n"
    );
    let before = s1.traffic();
    let d = distribution(l.port, 20);
    assert_eq!(s1.traffic(), before, "weight 0: no request: {d:?}");
    assert_eq!(
        query(&l.admin, "set weight app/s1 100%").expect("100%"),
        "\n"
    );
    assert_eq!(
        query(&l.admin, "get weight app/s1").expect("get"),
        "1 (initial 1)\n\n"
    );
    assert_eq!(
        query(&l.admin, "set weight app/s1 300").expect("300"),
        "Absolute weight can only be between 0 and 256 inclusive.\n\n"
    );

    // A user-level socket changes nothing.
    assert_eq!(
        query(&l.user, "disable server app/s2").expect("denied"),
        "Permission denied\n\n"
    );
    assert_eq!(
        query(&l.user, "set server app/s2 state maint").expect("denied"),
        "Permission denied\n\n"
    );
    assert_eq!(
        query(&l.user, "set weight app/s2 0").expect("denied"),
        "Permission denied\n\n"
    );
    assert_eq!(
        query(&l.user, "disable health app/s2").expect("denied"),
        "Permission denied\n\n"
    );
    assert_eq!(
        query(&l.user, "show sess").expect("denied"),
        "Permission denied\n\n"
    );
    let d = distribution(l.port, 30);
    assert_eq!(
        count(&d, "s2"),
        10,
        "s2 still serves after the refused commands: {d:?}"
    );
    // Lowering the level inside an admin session applies to the commands after it.
    assert_eq!(
        query(&l.admin, "user;disable server app/s2").expect("lowered"),
        "\nPermission denied\n\n"
    );
    assert_eq!(count(&distribution(l.port, 30), "s2"), 10);

    // disable health: the probes stop reaching the server; enable health: they come back.
    assert_eq!(
        query(&l.admin, "disable health app/s3").expect("disable health"),
        "\n"
    );
    std::thread::sleep(Duration::from_millis(500)); // a probe in flight may still land
    let probes = s3.count("/health");
    std::thread::sleep(Duration::from_millis(1500)); // 7 intervals of 200 ms
    assert_eq!(
        s3.count("/health"),
        probes,
        "no probe while health checks are disabled\n{}",
        l.f.log()
    );
    assert!(s1.count("/health") > 0 && s2.count("/health") > 0);
    assert_eq!(
        count(&distribution(l.port, 30), "s3"),
        10,
        "the server keeps its state (UP) and serves"
    );
    assert_eq!(
        query(&l.admin, "enable health app/s3").expect("enable health"),
        "\n"
    );
    let back =
        fulcrum_testlab::wait::until(Duration::from_secs(5), || s3.count("/health") > probes);
    assert!(
        back.is_some(),
        "probes resume after enable health\n{}",
        l.f.log()
    );
}

#[test]
fn prompt_mode_timeout_and_reload() {
    let l = lab("rt-prompt");
    let mut s = UnixStream::connect(&l.admin).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"prompt\n").expect("write");
    assert_eq!(read_prompt(&mut s), "\n> ");
    s.write_all(b"show cli level\n").expect("write");
    assert_eq!(read_prompt(&mut s), "admin\n\n> ");
    s.write_all(b"get weight app/s1; show backend\n")
        .expect("write");
    assert_eq!(read_prompt(&mut s), "1 (initial 1)\n\n> # name\napp\n\n> ");
    s.write_all(b"quit\n").expect("write");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("closed after quit");
    assert!(rest.is_empty());

    // `set timeout cli`: an idle interactive session is closed.
    let mut s = UnixStream::connect(&l.admin).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"prompt\nset timeout cli 1\n").expect("write");
    read_prompt(&mut s);
    let mut rest = Vec::new();
    let closed = s.read_to_end(&mut rest);
    assert!(
        closed.is_ok(),
        "the idle session is closed by the server, not by our 10 s read timeout: {closed:?}"
    );

    // At most 10 sessions per socket at once (HAProxy's default `stats maxconn`): the 11th
    // is answered once one of them ends.
    let mut held: Vec<UnixStream> = (0..10)
        .map(|_| {
            let mut c = UnixStream::connect(&l.admin).expect("connect");
            c.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            c.write_all(b"prompt\n").expect("write");
            read_prompt(&mut c);
            c
        })
        .collect();
    let mut eleventh = UnixStream::connect(&l.admin).expect("connect 11th");
    eleventh.write_all(b"show cli level\n").expect("write");
    eleventh
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    assert!(
        eleventh.read(&mut buf).is_err(),
        "the 11th session waits for a free slot"
    );
    held.pop();
    eleventh
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = String::new();
    eleventh
        .read_to_string(&mut answer)
        .expect("answered once a slot is free");
    assert_eq!(answer, "admin\n\n");
    drop(held);

    // A reload with another set of sockets re-creates them.
    let extra = l.f.dir.join("extra.sock");
    let text = config(
        &l.f.dir,
        l.port,
        l.tcp,
        &l.servers,
        &format!(" stats socket {} level user\n", extra.display()),
    );
    std::fs::write(&l.f.cfg, text).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["reload", "--control"])
        .arg(&l.f.control)
        .output()
        .expect("reload");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        l.f.log()
    );
    l.f.wait_socket(&extra);
    assert_eq!(query(&extra, "show cli level").expect("extra"), "user\n\n");
    assert_eq!(
        query(&l.admin, "show cli level").expect("admin still"),
        "admin\n\n"
    );
}

#[test]
fn hatop_shows_the_servers() {
    if !tool("hatop_shows_the_servers", "hatop", "hatop")
        || !tool("hatop_shows_the_servers", "tmux", "tmux")
    {
        return;
    }
    let l = lab("rt-hatop");
    let session = format!("fulcrum-hatop-{}", std::process::id());
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .args(["-L", &session])
            .args(args)
            .output()
            .expect("tmux")
    };
    let cmd = format!("hatop -s {}", l.admin.display());
    let out = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "200",
        "-y",
        "50",
        &cmd,
    ]);
    assert!(
        out.status.success(),
        "tmux: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut screen = String::new();
    let shown = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
        screen = String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout)
            .into_owned();
        ["s1", "s2", "s3", "app"].iter().all(|n| screen.contains(n))
    });
    if shown.is_none() {
        let _ = tmux(&["kill-server"]);
        panic!("hatop did not show the servers:\n{screen}\n{}", l.f.log());
    }
    assert!(screen.contains("UP"), "{screen}");
    // hatop's embedded CLI (mode 5) drives the admin commands through the same socket.
    let _ = tmux(&["send-keys", "-t", &session, "5"]);
    std::thread::sleep(Duration::from_millis(300));
    let _ = tmux(&["send-keys", "-t", &session, "-l", "disable server app/s2"]);
    let _ = tmux(&["send-keys", "-t", &session, "Enter"]);
    let _ = tmux(&["send-keys", "-t", &session, "-l", "get weight app/s1"]);
    let _ = tmux(&["send-keys", "-t", &session, "Enter"]);
    let answered = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        screen = String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout)
            .into_owned();
        screen.contains("1 (initial 1)")
    });
    let _ = tmux(&["kill-server"]);
    assert!(answered.is_some(), "hatop's CLI got no answer:\n{screen}");
    let state = query(&l.admin, "show servers state app").expect("state");
    assert!(
        state
            .lines()
            .any(|x| x.starts_with("3 app 2 s2 127.0.0.1 0 1 ")),
        "hatop's disable server applied: {state}"
    );
    let before = l.servers[1].traffic();
    let d = distribution(l.port, 20);
    assert_eq!(
        l.servers[1].traffic(),
        before,
        "s2 in MAINT from hatop receives nothing: {d:?}"
    );
}

#[test]
fn a_stats_socket_that_cannot_be_opened_stops_the_start() {
    let dir = Scratch::new("rt-nobind");
    let cfg = format!(
        "global\n stats socket {}/missing-dir/admin.sock level admin\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend web\n bind 127.0.0.1:{}\n http-request return status 200\n",
        dir.display(),
        free_port()
    );
    let mut f = Fulcrum::start(dir.clone(), &cfg);
    let status = f.child.wait_timeout(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.code() == Some(1)),
        "fulcrum must exit 1: {status:?}\n{}",
        f.log()
    );
    let log = f.log();
    assert!(
        log.contains(&format!(
            "stats socket {}/missing-dir/admin.sock: cannot bind",
            dir.display()
        )),
        "{log}"
    );
}
