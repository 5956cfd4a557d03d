//! An agent's reply applied as HAProxy 2.6 applies it, seen through the runtime API of the
//! real haproxy and of `fulcrum run` on the same config: `up 50% maxconn:30` halves the weight
//! and sets the server's limit (`slim`), an unreachable agent changes nothing; the agent
//! columns of `show stat` (`agent_status agent_code agent_duration agent_desc last_agt
//! agent_rise agent_fall agent_health`) and the agent fields of `show servers state`
//! (`srv_agent_state srv_agent_addr srv_agent_port`) are the same.

mod runtime_support;

use runtime_support::*;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// A TCP agent: every connection gets `reply` and is closed.
fn agent(reply: &'static [u8]) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind agent");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.write_all(reply);
        }
    });
    port
}

fn config(dir: &Path, port: u16, server: u16, agent: u16, dead: u16) -> String {
    format!(
        "global\n stats socket {admin} mode 600 level admin\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend web\n bind 127.0.0.1:{port}\n default_backend agents\n\
         backend agents\n\
         \x20server s1 127.0.0.1:{server} check inter 200 agent-check agent-port {agent} agent-inter 200 weight 10 maxconn 5\n\
         \x20server s2 127.0.0.1:{server} check inter 200 agent-check agent-addr 127.0.0.1 agent-port {dead} agent-inter 200 rise 3 fall 4\n\
         \x20server s3 127.0.0.1:{server} check inter 200\n",
        admin = dir.join("admin.sock").display(),
    )
}

/// `show servers state` without be_id and the seconds since the last change.
fn servers_state(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.split(' ').count() > 10)
        .map(|l| {
            let mut w: Vec<&str> = l.split(' ').collect();
            w[0] = "ID";
            w[9] = "T";
            w.join(" ")
        })
        .collect()
}

/// The server rows' columns that an agent sets.
fn agent_columns(csv: &str) -> Vec<String> {
    let cols = [
        "svname",
        "slim",
        "weight",
        "last_agt",
        "agent_status",
        "agent_code",
        "agent_duration",
        "agent_desc",
        "agent_rise",
        "agent_fall",
        "agent_health",
    ];
    csv_columns(csv, |l| l.starts_with("agents,s"), &cols)
}

#[test]
fn agent_replies_and_columns_as_haproxy() {
    if !tool("agent_replies_and_columns_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let server = CountingServer::start("s");
    let agent_port = agent(b"up 50% maxconn:30\n");
    let dead = free_port();
    let hdir = Scratch::new("agent-vs-haproxy-h");
    let hcfg = hdir.join("h.cfg");
    std::fs::write(
        &hcfg,
        config(&hdir, free_port(), server.port, agent_port, dead),
    )
    .expect("write");
    let haproxy = fulcrum_testlab::process::Child::haproxy(&hcfg, hdir.join("haproxy.log"));
    let f = Fulcrum::start_bound("agent-vs-haproxy-f", "admin.sock", |dir| {
        config(dir, free_port(), server.port, agent_port, dead)
    });
    let fdir = f.dir.clone();
    let (mut want, mut got) = (Vec::new(), Vec::new());
    let same = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        let (Ok(h), Ok(f)) = (
            query(&hdir.join("admin.sock"), "show stat"),
            query(&fdir.join("admin.sock"), "show stat"),
        ) else {
            return false;
        };
        want = agent_columns(&h);
        got = agent_columns(&f);
        // the agent durations are times: equal when both are 0 ms, as here on loopback
        got == want && want.iter().any(|l| l.contains("agent_status=L7OK"))
    });
    assert!(
        same.is_some(),
        "agent columns differ:\nfulcrum {got:#?}\nhaproxy {want:#?}\n{}",
        haproxy.output()
    );
    assert!(
        want.iter()
            .any(|l| l.starts_with("svname=s1 slim=30 weight=5 last_agt=via agent : up")),
        "{want:#?}"
    );
    eprintln!("compared: {want:#?}");
    let same = fulcrum_testlab::wait::until(Duration::from_secs(5), || {
        want = servers_state(
            &query(&hdir.join("admin.sock"), "show servers state agents").unwrap_or_default(),
        );
        got = servers_state(
            &query(&fdir.join("admin.sock"), "show servers state agents").unwrap_or_default(),
        );
        got == want && !want.is_empty()
    });
    assert!(
        same.is_some(),
        "show servers state differs:\nfulcrum {got:#?}\nhaproxy {want:#?}"
    );
    eprintln!("compared: {want:#?}");
    drop(haproxy);
    let _ = std::fs::remove_dir_all(&hdir);
}
