//! The descriptor limit as HAProxy 2.6 sets it, fulcrum beside the real `haproxy` on the same
//! configurations, each started under `prlimit --nofile=1024:HARD` (the usual soft limit; the
//! hard one is the machine's, 20,000 here without CAP_SYS_RESOURCE):
//!
//! - `maxconn 5000`: the proxy raises its own limit to `Maxsock` and holds 3,000 clients, each
//!   connected through to a server (with the soft limit of 1024 it ran out past ~500).
//! - No `maxconn`: derived from the limit; `show info`'s `Maxconn`, `Maxsock`, `Ulimit-n`
//!   equal haproxy's.
//! - `strict-limits` (the default): a limit that cannot be raised, or an `ulimit-n` below
//!   `Maxsock`, refuses to start with HAProxy's words; `no strict-limits` starts all the same.

mod common;

use common::{free_port, Scratch};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The hard descriptor limit of this process (from /proc/self/limits).
fn hard_limit() -> u64 {
    let text = std::fs::read_to_string("/proc/self/limits").expect("limits");
    text.lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|v| v.parse().ok())
        .expect("hard limit of open files")
}

fn both(test: &str) -> bool {
    assert!(
        fulcrum_testlab::require::have("prlimit"),
        "prlimit (util-linux) is needed"
    );
    fulcrum_testlab::require::tool(test, "haproxy", "haproxy")
}

/// fulcrum (`haproxy` false) or haproxy on `cfg`, under `prlimit --nofile=SOFT:HARD`.
fn start(
    haproxy: bool,
    scratch: &Scratch,
    cfg: &str,
    nofile: (u64, u64),
) -> fulcrum_testlab::process::Child {
    let name = if haproxy { "haproxy" } else { "fulcrum" };
    let path = scratch.write(&format!("{name}.cfg"), cfg);
    let mut c = std::process::Command::new("prlimit");
    c.arg(format!("--nofile={}:{}", nofile.0, nofile.1));
    if haproxy {
        c.arg("haproxy").arg("-db");
    } else {
        c.arg(env!("CARGO_BIN_EXE_fulcrum")).arg("run");
    }
    c.arg("-f").arg(&path).env("FULCRUM_LOG", "info");
    fulcrum_testlab::process::Child::spawn(name, c, scratch.0.join(format!("{name}.log")))
        .expect("start proxy")
}

/// `show info` on the stats socket, once it answers (20 s at most).
fn show_info(sock: &Path) -> String {
    let mut out = String::new();
    let ok = fulcrum_testlab::wait::until(Duration::from_secs(20), || {
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(sock) else {
            return false;
        };
        out.clear();
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        s.write_all(b"show info\n").is_ok()
            && s.read_to_string(&mut out).is_ok()
            && out.contains("Maxsock")
    });
    assert!(ok.is_some(), "no show info on {}", sock.display());
    out
}

/// The `show info` fields about descriptors, in order.
fn figures(info: &str) -> Vec<String> {
    ["Ulimit-n", "Maxsock", "Maxconn", "Hard_maxconn", "Maxpipes"]
        .iter()
        .map(|k| {
            info.lines()
                .find(|l| l.starts_with(&format!("{k}: ")))
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// A server that accepts connections and holds them; counts them.
fn holding_server() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(Mutex::new(Vec::new()));
    let c = count.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten().take(10_000) {
            if let Ok(mut v) = held.lock() {
                v.push(s);
            }
            c.fetch_add(1, Ordering::Relaxed);
        }
    });
    (port, count)
}

/// This test process holds both ends of every connection: its own soft limit goes to the hard.
fn raise_own_limit(hard: u64) {
    let st = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={hard}:{hard}"))
        .status()
        .expect("prlimit");
    assert!(st.success(), "raise this test's own descriptor limit");
}

fn config(global: &str, sock: &Path, port: u16, server: u16) -> String {
    format!(
        "global\n    nbthread 2\n    stats socket {} level admin\n{global}\
         defaults\n    mode tcp\n    timeout client 30s\n    timeout server 30s\n    timeout connect 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:{server}\n",
        sock.display()
    )
}

#[test]
fn holds_3000_clients_under_a_soft_limit_of_1024() {
    const CLIENTS: usize = 3_000;
    let compare = both("fd_limit_vs_haproxy");
    let hard = hard_limit();
    assert!(
        hard >= 16_000,
        "the hard descriptor limit ({hard}) holds 3,000 clients both sides"
    );
    raise_own_limit(hard);
    let mut seen = Vec::new();
    for haproxy in [false, true] {
        if haproxy && !compare {
            continue;
        }
        let scratch = Scratch::new(&format!("fds-hold-{haproxy}"));
        let (server, count) = holding_server();
        let port = free_port();
        let sock = scratch.0.join("admin.sock");
        let cfg = config("    maxconn 5000\n", &sock, port, server);
        let mut p = start(haproxy, &scratch, &cfg, (1024, hard.min(65_536)));
        let info = show_info(&sock);
        let clients: Vec<TcpStream> = (0..CLIENTS)
            .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
            .collect();
        let through = fulcrum_testlab::wait::until(Duration::from_secs(60), || {
            count.load(Ordering::Relaxed) >= CLIENTS
        });
        eprintln!(
            "{}: {} clients connected, {} through to the server; {:?}",
            p.name,
            clients.len(),
            count.load(Ordering::Relaxed),
            figures(&info)
        );
        assert!(
            through.is_some(),
            "{}: {} of {CLIENTS} clients reached the server: {}",
            p.name,
            count.load(Ordering::Relaxed),
            p.output()
        );
        assert!(p.is_running(), "{} alive", p.name);
        assert!(info.contains("Ulimit-n: 10028\n"), "{}: {info}", p.name);
        seen.push(figures(&info));
    }
    if compare {
        assert_eq!(seen[0], seen[1], "fulcrum's figures, then haproxy's");
    }
}

#[test]
fn maxconn_derived_from_the_limit_as_haproxy() {
    let compare = both("fd_limit_vs_haproxy");
    let mut seen = Vec::new();
    for haproxy in [false, true] {
        if haproxy && !compare {
            continue;
        }
        let scratch = Scratch::new(&format!("fds-derived-{haproxy}"));
        let port = free_port();
        let sock = scratch.0.join("admin.sock");
        let cfg = config("", &sock, port, free_port());
        let p = start(haproxy, &scratch, &cfg, (1024, 4096));
        let info = show_info(&sock);
        eprintln!("{}: {:?}", p.name, figures(&info));
        // 4096 - 10 reserved - 1 listener - 11 stats socket - 3 per thread, 2 per connection
        assert!(info.contains("Maxconn: 2034\n"), "{}: {info}", p.name);
        seen.push(figures(&info));
    }
    if compare {
        assert_eq!(seen[0], seen[1], "fulcrum's figures, then haproxy's");
    }
}

/// Runs a proxy that should refuse to start; its output.
fn refused(haproxy: bool, scratch: &Scratch, cfg: &str, nofile: (u64, u64)) -> String {
    let mut p = start(haproxy, scratch, cfg, nofile);
    let status = p.wait_timeout(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| !s.success()),
        "{} refused to start ({status:?}): {}",
        p.name,
        p.output()
    );
    p.output()
}

#[test]
fn strict_limits_refuse_what_cannot_be_set() {
    let compare = both("fd_limit_vs_haproxy");
    for haproxy in [false, true] {
        if haproxy && !compare {
            continue;
        }
        let scratch = Scratch::new(&format!("fds-strict-{haproxy}"));
        let port = free_port();
        // Above the hard limit: cannot be raised.
        let sock = scratch.0.join("admin1.sock");
        let cfg = config(
            "    maxconn 5000\n    strict-limits\n",
            &sock,
            port,
            free_port(),
        );
        let out = refused(haproxy, &scratch, &cfg, (1024, 4096));
        assert!(
            out.contains("Cannot raise FD limit to 10028, limit is 1024"),
            "{haproxy}: {out}"
        );
        // `ulimit-n` below what maxconn needs.
        let sock = scratch.0.join("admin2.sock");
        let cfg = config(
            "    maxconn 3000\n    ulimit-n 2500\n    strict-limits\n",
            &sock,
            port,
            free_port(),
        );
        let out = refused(haproxy, &scratch, &cfg, (1024, 4096));
        assert!(
            out.contains("FD limit (2500) too low for maxconn=3000/maxsock=6028"),
            "{haproxy}: {out}"
        );
        // `no strict-limits`: the most the hard limit allows, and it serves.
        let sock = scratch.0.join("admin3.sock");
        let cfg = config(
            "    maxconn 5000\n    no strict-limits\n",
            &sock,
            port,
            free_port(),
        );
        let mut p = start(haproxy, &scratch, &cfg, (1024, 4096));
        let info = show_info(&sock);
        eprintln!("{}: no strict-limits: {:?}", p.name, figures(&info));
        assert!(info.contains("Ulimit-n: 4096\n"), "{}: {info}", p.name);
        assert!(info.contains("Maxsock: 10028\n"), "{}: {info}", p.name);
        assert!(p.is_running(), "{} serves", p.name);
    }
}
