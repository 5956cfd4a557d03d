//! Connection retries and redispatches are logged and counted as the real HAProxy 2.6 does on
//! the same config: `%rc` in the `option httplog` / `option tcplog` lines (the count, `+`
//! before it when the stream moved to another server), the line's syslog level under `option
//! dontlog-normal` + `option log-separate-errors` (a redispatch makes the line an error), and
//! `show stat`'s `wretr`/`wredis` per server and backend. Cases, HTTP and TCP: one server
//! refusing with `retries N` (`N` on the `SC` line), two servers with `option redispatch 1`
//! where the first refuses (`+1`, answered by the second), and two refusing servers with
//! `option redispatch` (`+3` on the `SC` line); and `retry-on 503` (HAProxy's layer-7
//! retries) on one server, and on two with `option redispatch`. The log lines are read from a UDP syslog socket
//! and compared whole, with the client port, the date, the timers and the connection counts
//! masked. fulcrum's side always runs and is checked against what haproxy 2.6.12 writes;
//! haproxy's side runs when it is installed (required under FULCRUM_REQUIRE_NETNS=1).

mod common;

use common::{free_port, get_status, head_server, show_stat, stat_field, Fulcrum, Scratch};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::time::Duration;

/// The app's answer (HTTP frontends and TCP ones alike: it closes after it).
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

/// The failing app's answer (`retry-on 503`).
const UNAVAILABLE: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n";

/// The apps: answering 200, answering 503.
#[derive(Clone, Copy)]
struct Apps {
    ok: u16,
    unavailable: u16,
}

/// One proxy's config: `ports` h, e, t, t2, t3; `dead`: two ports nothing listens on.
fn config(syslog: u16, sock: &Path, ports: [u16; 5], apps: Apps, dead: [u16; 2]) -> String {
    let [h, e, t, t2, t3] = ports;
    let (app, bad) = (apps.ok, apps.unavailable);
    let [d1, d2] = dead;
    format!(
        "global\n log 127.0.0.1:{syslog} local0\n stats socket {sock} level admin\n\
         defaults\n mode http\n log global\n timeout connect 100ms\n timeout client 5s\n timeout server 5s\n\
         frontend h\n bind 127.0.0.1:{h}\n option httplog\n option dontlognull\n\
         \x20use_backend redisp1 if {{ path_beg /redisp1 }}\n use_backend both if {{ path_beg /both }}\n\
         \x20use_backend l7same if {{ path_beg /l7same }}\n use_backend l7redisp if {{ path_beg /l7redisp }}\n\
         \x20use_backend l7both if {{ path_beg /l7both }}\n\
         \x20default_backend one\n\
         frontend e\n bind 127.0.0.1:{e}\n option httplog\n option dontlog-normal\n option log-separate-errors\n\
         \x20use_backend ok if {{ path_beg /ok }}\n default_backend redisp1e\n\
         frontend t\n mode tcp\n bind 127.0.0.1:{t}\n option tcplog\n default_backend t_one\n\
         frontend t2\n mode tcp\n bind 127.0.0.1:{t2}\n option tcplog\n default_backend t_redisp1\n\
         frontend t3\n mode tcp\n bind 127.0.0.1:{t3}\n option tcplog\n default_backend t_both\n\
         backend one\n retries 3\n server s1 127.0.0.1:{d1}\n\
         backend redisp1\n retries 3\n option redispatch 1\n server s1 127.0.0.1:{d1}\n server s2 127.0.0.1:{app}\n\
         backend both\n retries 3\n option redispatch\n server s1 127.0.0.1:{d1}\n server s2 127.0.0.1:{d2}\n\
         backend redisp1e\n retries 3\n option redispatch 1\n server s1 127.0.0.1:{d1}\n server s2 127.0.0.1:{app}\n\
         backend ok\n server s 127.0.0.1:{app}\n\
         backend l7same\n retries 2\n retry-on 503\n server s1 127.0.0.1:{bad}\n\
         backend l7redisp\n retries 3\n retry-on 503\n option redispatch 1\n server s1 127.0.0.1:{bad}\n server s2 127.0.0.1:{app}\n\
         backend l7both\n retries 2\n retry-on 503\n option redispatch\n server s1 127.0.0.1:{bad}\n server s2 127.0.0.1:{bad}\n\
         backend t_one\n mode tcp\n retries 2\n server s1 127.0.0.1:{d1}\n\
         backend t_redisp1\n mode tcp\n retries 3\n option redispatch 1\n server s1 127.0.0.1:{d1}\n server s2 127.0.0.1:{app}\n\
         backend t_both\n mode tcp\n retries 3\n option redispatch\n server s1 127.0.0.1:{d1}\n server s2 127.0.0.1:{d2}\n",
        sock = sock.display()
    )
}

/// The next syslog datagram within 10 s: (`<PRI>`, the line after the `]: ` of its header).
fn datagram(s: &UdpSocket) -> (String, String) {
    let mut b = [0u8; 4096];
    let n = s.recv(&mut b).expect("a log line within 10 s");
    let text = String::from_utf8_lossy(&b[..n]).trim_end().to_string();
    let pri = text.split('>').next().unwrap_or("").to_string() + ">";
    let line = text
        .split_once("]: ")
        .map_or(text.clone(), |x| x.1.to_string());
    (pri, line)
}

/// A line with the client port, the date, the timers (the first `/`-separated field after
/// the server) and `%ac/%fc` masked: the rest must be the same on both sides.
fn mask(line: &str) -> String {
    let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
    if let Some(w) = words.first_mut() {
        *w = w.split(':').next().unwrap_or("").to_string() + ":PORT";
    }
    if let Some(w) = words.get_mut(1) {
        *w = "[DATE]".into();
    }
    if let Some(w) = words.get_mut(4) {
        *w = "TIMERS".into();
    }
    // `%ac/%fc/%bc/%sc/%rc`: the first field with four slashes after the timers
    if let Some(w) = words
        .iter_mut()
        .skip(5)
        .find(|w| w.matches('/').count() == 4)
    {
        let rest: Vec<&str> = w.splitn(3, '/').collect();
        *w = format!("AC/FC/{}", rest.get(2).unwrap_or(&""));
    }
    words.join(" ")
}

/// The same request through a `mode tcp` frontend: what came back.
fn tcp(port: u16) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    all
}

/// `show stat`'s `wretr/wredis` of every server and backend row of the config's backends.
fn counts(sock: &Path) -> Vec<String> {
    let backends = [
        "one",
        "redisp1",
        "both",
        "redisp1e",
        "l7same",
        "l7redisp",
        "l7both",
        "t_one",
        "t_redisp1",
        "t_both",
    ];
    show_stat(sock)
        .iter()
        .filter(|r| backends.contains(&stat_field(r, "pxname")))
        .map(|r| {
            let f = |c| stat_field(r, c);
            format!(
                "{}/{} {} {}",
                f("pxname"),
                f("svname"),
                f("wretr"),
                f("wredis")
            )
        })
        .collect()
}

/// What one side logged and counted: the lines (masked), the `e` frontend's line with its
/// syslog `<PRI>`, the TCP answers' sizes, the counters.
#[derive(Debug, PartialEq)]
struct Seen {
    lines: Vec<String>,
    error_line: (String, String),
    answers: Vec<usize>,
    counts: Vec<String>,
}

fn drive(ports: [u16; 5], log: &UdpSocket, sock: &Path) -> Seen {
    let [h, e, t, t2, t3] = ports;
    let mut lines = Vec::new();
    for (path, status) in [
        ("/one", "503"),
        ("/redisp1", "200"),
        ("/both", "503"),
        ("/l7same", "503"),
        ("/l7redisp", "200"),
        ("/l7both", "503"),
    ] {
        assert_eq!(get_status(h, path).0, status, "{path}");
        lines.push(mask(&datagram(log).1));
    }
    // `option dontlog-normal`: the plain 200 is not logged, the redispatched one is, at `err`
    // (`option log-separate-errors`)
    assert_eq!(get_status(e, "/ok").0, "200");
    assert_eq!(get_status(e, "/redisp1e").0, "200");
    let (pri, line) = datagram(log);
    let error_line = (pri, mask(&line));
    let mut answers = Vec::new();
    for port in [t, t2, t3] {
        answers.push(tcp(port).len());
        lines.push(mask(&datagram(log).1));
    }
    Seen {
        lines,
        error_line,
        answers,
        counts: counts(sock),
    }
}

/// One proxy on its own ports, syslog socket and stats socket: what it logged and counted.
fn run(haproxy: bool, scratch: &Scratch, apps: Apps, dead: [u16; 2]) -> Seen {
    let who = if haproxy { "h" } else { "f" };
    let log = UdpSocket::bind("127.0.0.1:0").expect("udp");
    log.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let syslog = log.local_addr().expect("addr").port();
    let ports = [(); 5].map(|_| free_port());
    let sock = scratch.0.join(format!("{who}.sock"));
    let cfg = scratch.write(
        &format!("{who}.cfg"),
        &config(syslog, &sock, ports, apps, dead),
    );
    if haproxy {
        let _h = fulcrum_testlab::process::Child::haproxy_listening(
            &cfg,
            cfg.with_extension("log"),
            ports[0],
        );
        drive(ports, &log, &sock)
    } else {
        let _f = Fulcrum::start(&cfg);
        assert!(fulcrum_testlab::wait::listening(
            ports[0],
            Duration::from_secs(10)
        ));
        drive(ports, &log, &sock)
    }
}

#[test]
fn retries_and_redispatches_logged_and_counted_as_haproxy() {
    let scratch = Scratch::new("retries_vs_haproxy");
    let app = |answer: &'static [u8]| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || head_server(listener, move |_| answer.to_vec()));
        port
    };
    let apps = Apps {
        ok: app(ANSWER),
        unavailable: app(UNAVAILABLE),
    };
    let dead = [free_port(), free_port()];
    let ours = run(false, &scratch, apps, dead);
    // Not vacuous without haproxy: what haproxy 2.6.12 writes and counts.
    let want_lines = [
        r#"127.0.0.1:PORT [DATE] h one/s1 TIMERS 503 217 - - SC-- AC/FC/0/0/3 0/0 "GET /one HTTP/1.1""#,
        r#"127.0.0.1:PORT [DATE] h redisp1/s2 TIMERS 200 52 - - ---- AC/FC/0/0/+1 0/0 "GET /redisp1 HTTP/1.1""#,
        r#"127.0.0.1:PORT [DATE] h both/s2 TIMERS 503 217 - - SC-- AC/FC/0/0/+3 0/0 "GET /both HTTP/1.1""#,
        r#"127.0.0.1:PORT [DATE] h l7same/s1 TIMERS 503 69 - - ---- AC/FC/0/0/2 0/0 "GET /l7same HTTP/1.1""#,
        r#"127.0.0.1:PORT [DATE] h l7redisp/s2 TIMERS 200 52 - - ---- AC/FC/0/0/+1 0/0 "GET /l7redisp HTTP/1.1""#,
        r#"127.0.0.1:PORT [DATE] h l7both/s1 TIMERS 503 69 - - ---- AC/FC/0/0/+2 0/0 "GET /l7both HTTP/1.1""#,
        "127.0.0.1:PORT [DATE] t t_one/s1 TIMERS 0 SC AC/FC/0/0/2 0/0",
        "127.0.0.1:PORT [DATE] t2 t_redisp1/s2 TIMERS 60 -- AC/FC/0/0/+1 0/0",
        "127.0.0.1:PORT [DATE] t3 t_both/s2 TIMERS 0 SC AC/FC/0/0/+3 0/0",
    ];
    assert_eq!(ours.lines, want_lines);
    assert_eq!(
        ours.error_line,
        (
            "<131>".to_string(),
            r#"127.0.0.1:PORT [DATE] e redisp1e/s2 TIMERS 200 52 - - ---- AC/FC/0/0/+1 0/0 "GET /redisp1e HTTP/1.1""#
                .to_string()
        )
    );
    assert_eq!(ours.answers, [0, ANSWER.len(), 0]);
    let want_counts = [
        "one/s1 3 0",
        "one/BACKEND 3 0",
        "redisp1/s1 0 1",
        "redisp1/s2 0 0",
        "redisp1/BACKEND 0 1",
        "both/s1 0 2",
        "both/s2 0 1",
        "both/BACKEND 0 3",
        "redisp1e/s1 0 1",
        "redisp1e/s2 0 0",
        "redisp1e/BACKEND 0 1",
        "l7same/s1 4 0",
        "l7same/BACKEND 4 0",
        "l7redisp/s1 1 1",
        "l7redisp/s2 0 0",
        "l7redisp/BACKEND 1 1",
        "l7both/s1 1 1",
        "l7both/s2 1 1",
        "l7both/BACKEND 2 2",
        "t_one/s1 2 0",
        "t_one/BACKEND 2 0",
        "t_redisp1/s1 0 1",
        "t_redisp1/s2 0 0",
        "t_redisp1/BACKEND 0 1",
        "t_both/s1 0 2",
        "t_both/s2 0 1",
        "t_both/BACKEND 0 3",
    ];
    assert_eq!(ours.counts, want_counts);
    if fulcrum_testlab::require::tool("retries_vs_haproxy", "haproxy", "haproxy") {
        let theirs = run(true, &scratch, apps, dead);
        assert_eq!(ours, theirs, "fulcrum (left) vs haproxy (right)");
    }
}
