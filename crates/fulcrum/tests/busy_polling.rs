//! `busy-polling` (global), side by side with haproxy 2.6 on the same configuration: both say
//! `BusyPolling: 1` in `show info` and their event loop never sleeps (with no client at all,
//! the thread keeps running: its CPU time grows with the wall clock); a reload of fulcrum to
//! `no busy-polling` says `BusyPolling: 0` and lets its worker sleep again.

mod runtime_support;

use runtime_support::*;
use std::path::Path;
use std::time::Duration;

fn config(dir: &Path, port: u16, busy: &str) -> String {
    format!(
        "global\n nbthread 1\n {busy}\n stats socket {sock} level admin\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend web\n bind 127.0.0.1:{port}\n http-request return status 200\n",
        sock = dir.join("admin.sock").display(),
    )
}

/// The task of process `pid` whose name is `name` (`None`: the process's main thread).
fn task(pid: u32, name: Option<&str>) -> Option<std::path::PathBuf> {
    let Some(name) = name else {
        return Some(format!("/proc/{pid}/task/{pid}").into());
    };
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|t| std::fs::read_to_string(t.join("comm")).is_ok_and(|c| c.trim() == name))
}

/// The nanoseconds the task has run so far (`schedstat`'s first field).
fn ran_ns(task: &Path) -> u64 {
    std::fs::read_to_string(task.join("schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The task's state letter (`R` running or runnable, `S` sleeping, ...).
fn state(task: &Path) -> char {
    let stat = std::fs::read_to_string(task.join("stat")).unwrap_or_default();
    // After the parenthesised name: " S ...".
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .unwrap_or('?')
}

/// Waits (20 s at most) until `task` has run `ns` more than when called.
fn runs(task: &Path, ns: u64) -> bool {
    let from = ran_ns(task);
    fulcrum_testlab::wait::until(Duration::from_secs(20), || ran_ns(task) >= from + ns).is_some()
}

fn busy_polling(sock: &Path) -> Option<String> {
    let info = query(sock, "show info").ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("BusyPolling: "))
        .map(str::to_string)
}

#[test]
fn busy_polling_keeps_the_loop_running_as_haproxys_and_a_reload_lets_it_sleep() {
    let mut port = 0;
    let (hdir, haproxy, f) = versus(
        "busy-polling",
        |d| config(d, free_port(), "busy-polling"),
        |d| {
            port = free_port();
            config(d, port, "busy-polling")
        },
    );
    let fsock = f.dir.join("admin.sock");
    assert_eq!(busy_polling(&hdir.join("admin.sock")).as_deref(), Some("1"));
    assert_eq!(busy_polling(&fsock).as_deref(), Some("1"), "{}", f.log());

    // No client connects: a loop asleep in epoll_wait would not run 300 ms in 20 s.
    let h = task(haproxy.pid(), None).expect("haproxy's thread");
    assert!(runs(&h, 300_000_000), "haproxy's thread slept");
    let w = task(f.child.pid(), Some("fulcrum-w0")).expect("fulcrum's worker thread");
    assert!(runs(&w, 300_000_000), "fulcrum's worker slept\n{}", f.log());

    // Reloaded without it, the worker sleeps: seen asleep, then running less than 50 ms
    // while haproxy's busy loop runs 300 ms.
    std::fs::write(&f.cfg, config(&f.dir, port, "no busy-polling")).expect("write");
    f.child.signal(fulcrum_testlab::process::Sig::SIGHUP);
    let off = fulcrum_testlab::wait::until(Duration::from_secs(15), || {
        busy_polling(&fsock).as_deref() == Some("0")
    });
    assert!(
        off.is_some(),
        "the reload did not turn busy polling off\n{}",
        f.log()
    );
    let asleep = fulcrum_testlab::wait::until(Duration::from_secs(10), || state(&w) == 'S');
    assert!(
        asleep.is_some(),
        "fulcrum's worker never slept after the reload"
    );
    let from = ran_ns(&w);
    assert!(runs(&h, 300_000_000), "haproxy's thread slept");
    let ran = ran_ns(&w) - from;
    assert!(
        ran < 50_000_000,
        "fulcrum's worker ran {ran} ns while idle without busy polling"
    );
}
