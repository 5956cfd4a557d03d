//! The health-check columns of `show stat` (`status check_status check_code check_desc
//! last_chk check_rise check_fall check_health`) read through the runtime API of the real
//! haproxy 2.6 and of `fulcrum run` on the same config: a TCP check that passes and one that
//! is refused, an HTTP check that passes, one whose status does not match and a `tcp-check`
//! sequence that fails at its expect step. Durations (`check_duration`) are times and are not
//! compared.

mod runtime_support;

use runtime_support::*;
use std::path::Path;
use std::time::Duration;

fn config(dir: &Path, port: u16, live: u16, dead: u16) -> String {
    let srv = |name: &str, to: u16| {
        format!(" server {name} 127.0.0.1:{to} check inter 200 rise 2 fall 3\n")
    };
    format!(
        "global\n stats socket {admin} mode 600 level admin\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n timeout check 1s\n\
         frontend web\n bind 127.0.0.1:{port}\n default_backend tcp\n\
         backend tcp\n{}{}\
         backend http\n option httpchk GET /health\n{}\
         backend wrong\n option httpchk GET /health\n http-check expect status 201\n{}\
         backend seq\n option tcp-check\n tcp-check send PING\\r\\n\n tcp-check expect string +PONG\n{}",
        srv("up", live),
        srv("refused", dead),
        srv("ok", live),
        srv("sts", live),
        srv("nopong", live),
        admin = dir.join("admin.sock").display(),
    )
}

/// The check columns of every server row, one line per server.
fn check_columns(csv: &str) -> Vec<String> {
    let cols = [
        "pxname",
        "svname",
        "status",
        "check_status",
        "check_code",
        "check_desc",
        "last_chk",
        "check_rise",
        "check_fall",
        "check_health",
    ];
    csv_columns(
        csv,
        |l| {
            let sv = l.split(',').nth(1).unwrap_or_default();
            !l.is_empty() && sv != "FRONTEND" && sv != "BACKEND"
        },
        &cols,
    )
}

#[test]
fn check_columns_as_haproxy() {
    if !tool("check_columns_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let server = CountingServer::start("s");
    let dead = free_port();
    let hdir = Scratch::new("check-columns-h");
    let hcfg = hdir.join("h.cfg");
    std::fs::write(&hcfg, config(&hdir, free_port(), server.port, dead)).expect("write");
    let haproxy = fulcrum_testlab::process::Child::haproxy(&hcfg, hdir.join("haproxy.log"));
    let f = Fulcrum::start_bound("check-columns-f", "admin.sock", |dir| {
        config(dir, free_port(), server.port, dead)
    });
    let fdir = f.dir.clone();
    let (mut want, mut got) = (Vec::new(), Vec::new());
    // both settled: every server past its rise/fall (UP or DOWN, not going up or down)
    let settled = |rows: &[String]| {
        rows.len() == 5
            && rows
                .iter()
                .all(|r| r.contains("status=UP ") || r.contains("status=DOWN "))
    };
    let same = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        let (Ok(h), Ok(f)) = (
            query(&hdir.join("admin.sock"), "show stat"),
            query(&fdir.join("admin.sock"), "show stat"),
        ) else {
            return false;
        };
        want = check_columns(&h);
        got = check_columns(&f);
        settled(&want) && got == want
    });
    assert!(
        same.is_some(),
        "check columns differ:\nfulcrum {got:#?}\nhaproxy {want:#?}\n{}",
        haproxy.output()
    );
    for expected in [
        "check_status=L4OK",
        "check_status=L4CON",
        "check_status=L7OK",
        "check_status=L7STS",
    ] {
        assert!(
            want.iter().any(|r| r.contains(expected)),
            "{expected}: {want:#?}"
        );
    }
    eprintln!("compared: {want:#?}");
    drop(haproxy);
    let _ = std::fs::remove_dir_all(&hdir);
}
