//! The global `set-var proc.NAME EXPR` and `set-var-fmt proc.NAME FMT` side by side with the
//! real HAProxy 2.6: set once at start, in order (one reads another), typed (an integer adds),
//! read by the traffic's rules (`var(proc.NAME)` in a `return` body); and a reload starts from
//! them alone.

mod runtime_support;

use runtime_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn config(port: u16) -> String {
    format!(
        "global\n set-var proc.a int(41)\n set-var-fmt proc.b \"x-%[var(proc.a)]-%[str(y),upper]\"\n\
         \x20set-var proc.c str(abc),upper\n set-var proc.d env(FULCRUM_GLOBAL_VARS_UNSET)\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n\
         \x20http-request return status 200 content-type text/plain lf-string \"%[var(proc.a),add(1)] %[var(proc.b)] %[var(proc.c)] [%[var(proc.d)]]\"\n"
    )
}

fn body(port: u16) -> String {
    body_of(port, "/")
}

fn body_of(port: u16, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return "no connection".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

#[test]
fn global_set_var_as_haproxy() {
    if !tool("global_set_var_as_haproxy", "haproxy", "haproxy") {
        return;
    }
    let hdir = Scratch::new("gvars-h");
    let hcfg = hdir.join("h.cfg");
    let hport = free_port();
    std::fs::write(&hcfg, config(hport)).expect("write");
    let _h = fulcrum_testlab::process::Child::haproxy_listening(&hcfg, hdir.join("h.log"), hport);
    let fport = free_port();
    let _f = Fulcrum::start(Fulcrum::dir("gvars-f"), &config(fport));
    assert!(
        fulcrum_testlab::wait::listening(fport, Duration::from_secs(10)),
        "fulcrum never listened"
    );
    let want = body(hport);
    assert_eq!(want, "42 x-41-Y ABC []", "haproxy's answer");
    assert_eq!(body(fport), want);
}

/// A `proc.` variable a rule changed at run time does not survive a reload: the new
/// configuration starts from its own global values, as haproxy's new process does (fulcrum
/// only: a reloaded haproxy is a fresh process, which holds nothing of the old one's).
#[test]
fn run_time_proc_variables_start_over_on_reload() {
    let port = free_port();
    let cfg = format!(
        "global\n set-var proc.base int(100)\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{port}\n\
         \x20http-request set-var(proc.seen) str(yes) if {{ path /mark }}\n\
         \x20http-request set-var(proc.base) var(proc.base),add(1)\n\
         \x20http-request return status 200 content-type text/plain lf-string \"[%[var(proc.seen)]] %[var(proc.base)]\"\n"
    );
    let f = Fulcrum::start(Fulcrum::dir("gvars-reload"), &cfg);
    assert!(
        fulcrum_testlab::wait::listening(port, Duration::from_secs(10)),
        "fulcrum never listened"
    );
    assert_eq!(body(port), "[] 101");
    assert_eq!(body_of(port, "/mark"), "[yes] 102");
    assert_eq!(body(port), "[yes] 103");
    f.wait_socket(&f.control);
    let answer = query(&f.control, "reload").expect("control socket");
    assert_eq!(answer.trim(), "ok", "{}", f.log());
    assert_eq!(body(port), "[] 101", "after the reload{}", f.log());
}
