//! `option originalto`, `option http-ignore-probes`, `dispatch` and `retry-on` act as in the
//! real HAProxy 2.6 on the same config: the headers a server receives, which address a
//! dispatch backend reaches, what a silent connection gets, and the retries counted (`show
//! stat`'s `wretr`) for a dead server with `retry-on none` and without; `dispatch` beside
//! servers (persistence picks a server, everything else the dispatch address; with `balance`
//! the dispatch is ignored) and `server NAME *:PORT` (the address the client connected to).

mod common;

use common::{free_port, get_status as get, head_server, header_lines, Fulcrum, Scratch};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// A server answering each request with the request's header fields (lower-cased) as body.
fn echo_server(listener: TcpListener, name: &'static str) {
    head_server(listener, move |text| {
        let body = format!("server {name}\n{}", header_lines(text));
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
}

/// Ports of one proxy's config.
struct Ports {
    port: u16,
    probes: u16,
    /// A frontend bound on 127.0.0.3, whose backend's server is `*:{app3}`.
    dst: u16,
}

fn config(sock: &Path, p: &Ports, app: u16, other: u16, dead: u16, app3: u16) -> String {
    let Ports { port, probes, dst } = *p;
    format!(
        "global\n stats socket {sock} level admin\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n timeout http-request 300ms\n\
         frontend f\n bind 127.0.0.1:{port}\n option originalto\n\
         http-request set-dst hdr(x-to) if {{ path_beg /o6 }}\n\
         http-request return status 200 content-type text/plain lf-string \"n=%[nbsrv(d)] m=%[nbsrv(ds)]\" if {{ path_beg /nb }}\n\
         use_backend st if {{ path_beg /st }}\n\
         use_backend ds if {{ path_beg /ds }}\n use_backend db if {{ path_beg /db }}\n\
         use_backend d if {{ path_beg /d }}\n use_backend x if {{ path_beg /x }}\n use_backend y if {{ path_beg /y }}\n\
         default_backend b\n\
         frontend p\n bind 127.0.0.1:{probes}\n option http-ignore-probes\n default_backend b\n\
         backend b\n option originalto except 10.0.0.0/8 header X-Dst\n server s 127.0.0.1:{app}\n\
         backend d\n dispatch 127.0.0.1:{other}\n\
         backend ds\n cookie SRV insert\n dispatch 127.0.0.1:{other}\n server s 127.0.0.1:{app} cookie s\n\
         backend db\n balance roundrobin\n dispatch 127.0.0.1:{other}\n server s 127.0.0.1:{app}\n\
         frontend g\n bind 127.0.0.3:{dst}\n default_backend star\n\
         backend star\n server any *:{app3}\n\
         backend st\n stats enable\n stats uri /st\n http-after-response set-header x-after stats\n\
         backend x\n retry-on none\n retries 2\n timeout connect 200ms\n server dead 127.0.0.1:{dead}\n\
         backend y\n retries 2\n timeout connect 200ms\n server dead 127.0.0.1:{dead}\n",
        sock = sock.display()
    )
}

/// One GET with extra header lines; (server line of the body, `Set-Cookie` values, the
/// `x-dst`/`x-original-to` lines the server received).
fn get_with(addr: &str, port: u16, path: &str, extra: &str) -> (String, Vec<String>, Vec<String>) {
    let mut s = TcpStream::connect((addr, port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n").as_bytes(),
    )
    .expect("send");
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    let server = all
        .lines()
        .find(|l| l.starts_with("server "))
        .unwrap_or("")
        .to_string();
    let cookies = all
        .lines()
        .filter_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        })
        .map(|(_, v)| v.trim().to_string())
        .collect();
    let dst = all
        .lines()
        .filter(|l| l.starts_with("x-dst") || l.starts_with("x-original-to"))
        .map(str::to_string)
        .collect();
    (server, cookies, dst)
}

/// What a connection that sends nothing gets before it is closed.
fn silent(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    String::from_utf8_lossy(&all)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// `show stat`'s `wretr` of BACKEND/SERVER.
fn retries(sock: &Path, backend: &str, server: &str) -> String {
    common::stat(sock, backend, server, &["wretr"]).remove(0)
}

fn wait_port(port: u16, what: &str) {
    let up = fulcrum_testlab::wait::listening(port, Duration::from_secs(10));
    assert!(up, "{what} never listened on {port}");
}

#[test]
fn proxy_keywords_act_as_haproxy() {
    if !fulcrum_testlab::require::tool("proxy_keywords_vs_haproxy", "haproxy", "haproxy") {
        return;
    }
    let app_l = TcpListener::bind("127.0.0.1:0").expect("bind app");
    let app = app_l.local_addr().expect("addr").port();
    std::thread::spawn(move || echo_server(app_l, "app"));
    let other_l = TcpListener::bind("127.0.0.1:0").expect("bind other");
    let other = other_l.local_addr().expect("addr").port();
    std::thread::spawn(move || echo_server(other_l, "dispatched"));
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    // only on 127.0.0.3: `*:PORT` must reach the client's destination, not the local host
    let app3_l = TcpListener::bind("127.0.0.3:0").expect("bind app3");
    let app3 = app3_l.local_addr().expect("addr").port();
    std::thread::spawn(move || echo_server(app3_l, "app3"));
    let scratch = Scratch::new("proxy-keywords");
    let (fsock, hsock) = (scratch.0.join("f.sock"), scratch.0.join("h.sock"));
    let (fport, fprobe, hport, hprobe) = (free_port(), free_port(), free_port(), free_port());
    let (fdst, hdst) = (free_port(), free_port());
    let fp = Ports {
        port: fport,
        probes: fprobe,
        dst: fdst,
    };
    let hp = Ports {
        port: hport,
        probes: hprobe,
        dst: hdst,
    };
    let fcfg = scratch.write("f.cfg", &config(&fsock, &fp, app, other, dead, app3));
    let hcfg = scratch.write("h.cfg", &config(&hsock, &hp, app, other, dead, app3));
    let _f = Fulcrum::start(&fcfg);
    let _h = fulcrum_testlab::process::Child::haproxy(&hcfg, hcfg.with_extension("log"));
    for p in [hport, hprobe, fport, fprobe] {
        wait_port(p, "proxy");
    }
    for p in [hdst, fdst] {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.3", p)).is_err() {
            assert!(
                Instant::now() < deadline,
                "proxy never listened on 127.0.0.3:{p}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // headers the server receives, and where `dispatch` sends
    for path in ["/b", "/d"] {
        let (hs, hb) = get(hport, path);
        let (fs, fb) = get(fport, path);
        assert_eq!(fs, hs, "{path}: status");
        let pick = |b: &str| -> Vec<String> {
            b.lines()
                .filter(|l| {
                    l.starts_with("server ")
                        || l.starts_with("x-original-to")
                        || l.starts_with("x-dst")
                })
                .map(str::to_string)
                .collect()
        };
        assert_eq!(pick(&fb), pick(&hb), "{path}: what the server saw");
        assert_eq!(hs, "200", "{path}");
    }
    let (_, b) = get(fport, "/b");
    assert!(
        b.contains("x-dst: 127.0.0.1") && !b.contains("x-original-to"),
        "{b}"
    );
    let (_, d) = get(fport, "/d");
    assert!(
        d.contains("server dispatched") && d.contains("x-original-to: 127.0.0.1"),
        "{d}"
    );

    // `dispatch` beside servers: the cookie's server, else the dispatch address (no cookie
    // inserted); with `balance`, the dispatch is ignored
    for (path, extra) in [
        ("/ds", ""),
        ("/ds", "Cookie: SRV=s\r\n"),
        ("/ds", "Cookie: SRV=zz\r\n"),
        ("/db", ""),
        ("/db", ""),
    ] {
        let h = get_with("127.0.0.1", hport, path, extra);
        let f = get_with("127.0.0.1", fport, path, extra);
        assert_eq!(f, h, "{path} {extra:?}");
    }
    assert_eq!(
        get_with("127.0.0.1", fport, "/ds", "").0,
        "server dispatched"
    );
    assert_eq!(
        get_with("127.0.0.1", fport, "/ds", "Cookie: SRV=s\r\n").0,
        "server app"
    );
    assert_eq!(get_with("127.0.0.1", fport, "/db", "").0, "server app");
    // a dispatch address is no server to `nbsrv` (0 for `d`, 1 for `ds`'s one server)
    let (want, got) = (get(hport, "/nb"), get(fport, "/nb"));
    assert_eq!(got, want, "nbsrv of dispatch backends");
    assert_eq!(got.1, "n=0 m=1");
    // `option originalto` with IPv6 destinations (set by `set-dst`), as haproxy 2.6.12
    for dst in ["::2", "2001:db8::1", "10.1.2.3", "127.0.0.9"] {
        let extra = format!("x-to: {dst}\r\n");
        let h = get_with("127.0.0.1", hport, "/o6", &extra);
        let f = get_with("127.0.0.1", fport, "/o6", &extra);
        assert_eq!(f, h, "originalto, destination {dst}");
    }
    assert_eq!(
        get_with("127.0.0.1", fport, "/o6", "x-to: ::2\r\n").2,
        ["x-dst: ::2"]
    );

    // `http-after-response` on the stats page
    let after = |port: u16| -> Vec<String> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.write_all(b"GET /st HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .expect("send");
        let mut all = String::new();
        let _ = s.read_to_string(&mut all);
        all.lines()
            .take_while(|l| !l.is_empty())
            .filter(|l| l.starts_with("HTTP/") || l.to_ascii_lowercase().starts_with("x-after"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(after(fport), after(hport), "stats page");
    assert_eq!(after(fport), ["HTTP/1.1 200 OK", "x-after: stats"]);

    // `server any *:PORT`: the address the client connected to (127.0.0.3)
    for _ in 0..2 {
        let h = get_with("127.0.0.3", hdst, "/", "");
        let f = get_with("127.0.0.3", fdst, "/", "");
        assert_eq!(f, h, "*:PORT");
        assert_eq!(f.0, "server app3");
    }

    // a connection that sends nothing: 408, or nothing with http-ignore-probes
    assert_eq!(silent(fport), silent(hport), "silent connection");
    assert!(silent(fport).contains("408"));
    assert_eq!(
        silent(fprobe),
        silent(hprobe),
        "silent connection, http-ignore-probes"
    );
    assert_eq!(silent(fprobe), "");

    // retry-on none: a dead server is not retried; without it, `retries` times
    for path in ["/x", "/y"] {
        assert_eq!(get(fport, path).0, get(hport, path).0, "{path}: status");
    }
    for backend in ["x", "y"] {
        assert_eq!(
            retries(&fsock, backend, "dead"),
            retries(&hsock, backend, "dead"),
            "{backend}: wretr"
        );
    }
    assert_eq!(retries(&fsock, "x", "dead"), "0");
    assert_eq!(retries(&fsock, "y", "dead"), "2");
}

/// `http-errors` sections and `errorfiles NAME [CODE...]`, mixed with `errorfile` lines in
/// both orders: the client gets the same error pages from fulcrum and haproxy.
#[test]
fn errorfiles_answer_as_haproxy() {
    if !fulcrum_testlab::require::tool("proxy_keywords_vs_haproxy", "haproxy", "haproxy") {
        return;
    }
    let scratch = Scratch::new("errorfiles");
    let page = |name: &str, status: &str, body: &str| {
        scratch.write(
            name,
            &format!(
                "HTTP/1.0 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let a = page("a.http", "503 Service Unavailable", "FROM-A\n");
    let s = page("s.http", "503 Service Unavailable", "FROM-S\n");
    let d = page("d.http", "403 Forbidden", "S-403!\n");
    let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
    let cfg = |i: usize| {
        let p = |k: usize| if i == 0 { ports[k].0 } else { ports[k].1 };
        format!(
            "http-errors S\n errorfile 503 {s}\n errorfile 403 {d}\n\
             defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend f1\n bind 127.0.0.1:{p0}\n errorfile 503 {a}\n errorfiles S\n default_backend none\n\
             frontend f2\n bind 127.0.0.1:{p1}\n errorfiles S\n errorfile 503 {a}\n default_backend none\n\
             frontend f3\n bind 127.0.0.1:{p2}\n errorfiles S 403\n http-request deny if {{ path_beg /deny }}\n default_backend none\n\
             backend none\n server s 127.0.0.1:1 disabled\n",
            s = s.display(),
            a = a.display(),
            d = d.display(),
            p0 = p(0),
            p1 = p(1),
            p2 = p(2),
        )
    };
    let fcfg = scratch.write("f.cfg", &cfg(0));
    let hcfg = scratch.write("h.cfg", &cfg(1));
    let _f = Fulcrum::start(&fcfg);
    let _h = fulcrum_testlab::process::Child::haproxy(&hcfg, hcfg.with_extension("log"));
    for (f, h) in &ports {
        wait_port(*f, "fulcrum");
        wait_port(*h, "haproxy");
    }
    let mut bodies = Vec::new();
    for (f, h) in &ports {
        for path in ["/x", "/deny"] {
            let (fs, fb) = get(*f, path);
            let (hs, hb) = get(*h, path);
            assert_eq!(
                (fs.as_str(), fb.as_str()),
                (hs.as_str(), hb.as_str()),
                "{path} on {f}/{h}"
            );
            bodies.push(fb);
        }
    }
    // the comparison saw each page: the imported one, the proxy's own, a listed code only
    assert_eq!(bodies[0], "FROM-S\n");
    assert_eq!(bodies[2], "FROM-A\n");
    assert_eq!(bodies[5], "S-403!\n");
    assert!(bodies[4].contains("503"), "{}", bodies[4]);
}
