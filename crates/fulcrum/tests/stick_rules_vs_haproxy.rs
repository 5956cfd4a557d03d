//! HAProxy 2.6's stick tables beyond the basics, side by side with the real haproxy on the
//! same config: the store types `sess_cnt sess_rate http_fail_cnt http_fail_rate` and the
//! `gpt(N) gpc(N) gpc_rate(N,P)` arrays with the actions `sc-inc-gpc(IDX,N)`,
//! `sc-set-gpt(IDX,N)` (an integer and an expression), the legacy `sc-inc-gpc0`/`sc-set-gpt0`
//! reaching the arrays' first elements, their fetches and converters; `show table` / `set
//! table` / `clear table` with the new columns; stick rules with `if` conditions naming
//! another proxy's table (HTTP and TCP mode), `store-response` in TCP mode on the bytes
//! `tcp-response content` rules read, `non-stick` servers; `track-sc* ... table T`;
//! `id` on servers and proxies (`srv_id`, `be_id`, `fe_id`, the `server_id` a stick rule
//! stores).

mod runtime_support;

use runtime_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// The counter fetches and converters, answered in a `return` body.
const FETCHES: &str = "%[sc_get_gpt(2,0)] %[sc_get_gpc(1,0)] %[sc_gpc_rate(0,0)] \
    %[src_get_gpt(0,fe)] %[src,table_gpt(2,fe)] %[src,table_gpc(1,fe)] \
    %[src,table_gpc_rate(1,fe)] %[sc0_sess_cnt] %[sc_http_fail_cnt(0)] %[src_sess_rate] \
    %[sc_inc_gpc(1,0)] %[sc0_get_gpt0] %[sc0_get_gpc0] %[sc_get_gpt(1,0)] %[sc_tracked(1)] \
    %[sc2_tracked] %[src_clr_gpc(1,fe)] %[src,table_sess_cnt(fe)] %[src,table_http_fail_rate(fe)] \
    %[src_updt_conn_cnt] %[str(1.2.3.4),table_expire(fe,-1)] %[str(1.2.3.4),table_idle(fe,-2)] \
    %[src,table_expire(fe),div(20000)] %[src,table_idle(fe),div(20000)]";

fn config(dir: &Path, ports: [u16; 4], a: u16, b: u16) -> String {
    format!(
        "global\n stats socket {admin} mode 600 level admin\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:{p0}\n\
         \x20stick-table type ip size 1k expire 30s store sess_cnt,sess_rate(10s),http_fail_cnt,http_fail_rate(10s),gpt(3),gpc(2),gpc_rate(2,10s),conn_cnt\n\
         \x20tcp-request session track-sc1 src\n\
         \x20http-request track-sc0 src\n\
         \x20http-request sc-inc-gpc(1,0)\n\
         \x20http-request sc-inc-gpc(0,1) if {{ path /v }}\n\
         \x20http-request sc-set-gpt(2,0) 42\n\
         \x20http-request sc-set-gpt(1,1) req.hdr(x-n)\n\
         \x20http-request sc-set-gpt0(1) 7\n\
         \x20http-request sc-inc-gpc0(0)\n\
         \x20http-request return status 200 content-type text/plain lf-string \"{FETCHES}\" if {{ path /v }}\n\
         \x20default_backend dead\n\
         backend dead\n\
         \x20retries 0\n\
         \x20server gone 127.0.0.1:1\n\
         frontend fe2\n bind 127.0.0.1:{p1}\n\
         \x20http-request set-var(txn.fe) fe_id\n\
         \x20http-response set-header x-fe %[var(txn.fe)]\n\
         \x20http-request track-sc2 src table tab3\n\
         \x20http-request sc-inc-gpc(0,2)\n\
         \x20default_backend web\n\
         backend tab3\n\
         \x20stick-table type ip size 1k expire 30s store http_req_cnt,gpc(1),conn_cnt\n\
         backend st\n\
         \x20id 7\n\
         \x20stick-table type ip size 1k expire 30s\n\
         backend tab2\n\
         \x20stick-table type string len 32 size 1k expire 30s store gpc0\n\
         backend web\n\
         \x20balance roundrobin\n\
         \x20acl stickme req.hdr(x-stick) -m found\n\
         \x20stick match req.hdr(x-sess) table tab2\n\
         \x20stick on src table st if stickme\n\
         \x20stick store-response res.hdr(content-length) table tab2 if {{ status 200 }}\n\
         \x20http-response set-header x-ids \"%[be_id] %[srv_id] %[srv_name]\"\n\
         \x20server a 127.0.0.1:{a}\n\
         \x20server bb 127.0.0.1:{b} id 1\n\
         \x20server c 127.0.0.1:{a} non-stick\n\
         listen tcpl\n\
         \x20mode tcp\n\
         \x20bind 127.0.0.1:{p2}\n\
         \x20balance roundrobin\n\
         \x20tcp-request content track-sc1 src table tab3\n\
         \x20stick on src table st2 if {{ src 127.0.0.1 }}\n\
         \x20server a 127.0.0.1:{a} id 5\n\
         \x20server bb 127.0.0.1:{b}\n\
         backend st2\n\
         \x20stick-table type ip size 1k expire 30s\n\
         listen tcpr\n\
         \x20mode tcp\n\
         \x20bind 127.0.0.1:{p3}\n\
         \x20balance roundrobin\n\
         \x20tcp-response inspect-delay 1s\n\
         \x20tcp-response content accept if {{ res.len gt 0 }}\n\
         \x20stick-table type ip size 1k expire 30s\n\
         \x20stick match src\n\
         \x20stick store-response src if {{ res.payload(0,4) -m str HTTP }}\n\
         \x20server a 127.0.0.1:{a}\n\
         \x20server bb 127.0.0.1:{b}\n",
        admin = dir.join("admin.sock").display(),
        p0 = ports[0],
        p1 = ports[1],
        p2 = ports[2],
        p3 = ports[3],
    )
}

/// One request; the status line's code, the `x-` headers and the body.
fn request(port: u16, path: &str, headers: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return String::new();
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
        .to_string();
    let x: Vec<String> = lines
        .filter(|l| l.to_ascii_lowercase().starts_with("x-"))
        .map(|l| l.to_ascii_lowercase())
        .collect();
    format!("{status} [{}] {body}", x.join("; "))
}

#[test]
fn counters_arrays_stick_conditions_and_ids_as_haproxy() {
    if !tool("stick rules versus haproxy", "haproxy", "haproxy") {
        return;
    }
    // names of different lengths: `res.hdr(content-length)` tells the servers apart
    let (a, b) = (CountingServer::start("a"), CountingServer::start("bb"));
    let hports = [free_port(), free_port(), free_port(), free_port()];
    let fports = [free_port(), free_port(), free_port(), free_port()];
    let (hdir, haproxy, f) = versus(
        "stick-rules",
        |dir| config(dir, hports, a.port, b.port),
        |dir| config(dir, fports, a.port, b.port),
    );

    let ask = |dir: &Path, line: &str| {
        table_normal(&query(&dir.join("admin.sock"), line).expect("answer"))
    };
    let both = |line: &str| same_table_answer(&hdir, &f.dir, line);
    let same = |i: usize, path: &str, headers: &str| -> String {
        let want = request(hports[i], path, headers);
        let got = request(fports[i], path, headers);
        assert_eq!(got, want, "GET {path} {headers:?} (fulcrum, haproxy)");
        assert!(!got.is_empty(), "GET {path} answered");
        got
    };
    // `show table T` once every tracked entry is released on both sides.
    let settled = |t: &str| -> String {
        let line = format!("show table {t}");
        let idle = fulcrum_testlab::wait::until(Duration::from_secs(5), || {
            [&hdir, &f.dir].iter().all(|d| {
                let t = ask(d, &line);
                !t.contains("use=1") && !t.contains("use=2")
            })
        });
        assert!(idle.is_some(), "an entry stayed in use");
        both(&line)
    };

    // Counters: the arrays, the legacy actions on their first elements, sessions.
    both("show table");
    let v = same(0, "/v", "x-n: 3\r\n");
    assert_eq!(
        v, "200 [] 42 1 2 7 42 1 1 1 0 1 2 7 2 3 1 0 2 1 0 3 -1 -2 1 0",
        "haproxy's answer"
    );
    // the server is down: 503, which is not a server's failure (http_fail_cnt stays 0)
    assert!(same(0, "/x", "").starts_with("503"));
    let t = settled("fe");
    assert!(
        t.contains("conn_cnt=5 sess_cnt=2 sess_rate(10000)=2 http_fail_cnt=0 http_fail_rate(10000)=0 gpt0=7 gpt1=3 gpt2=42 gpc0=3 gpc1=1 gpc0_rate(10000)=3 gpc1_rate(10000)=3"),
        "{t}"
    );
    for line in [
        "set table fe key 127.0.0.1 data.gpt0 5",
        "set table fe key 127.0.0.1 data.gpt 6",
        "set table fe key 127.0.0.1 data.gpt1 6",
        "set table fe key 127.0.0.1 data.gpc1 9",
        "set table fe key 127.0.0.1 data.gpc_rate 9",
        "set table fe key 127.0.0.1 data.sess_cnt 11",
        "set table fe key 127.0.0.1 data.http_fail_rate 3",
        "set table fe key 127.0.0.1 data.conn_cur 3",
        "set table fe key 127.0.0.2 data.gpc 3",
        "show table fe",
        "show table fe data.gpc0 gt 1",
        "show table fe data.gpc gt 3",
        "show table fe data.gpc_rate eq 9",
        "show table fe data.sess_cnt eq 11",
        "show table fe data.nope eq 1",
        "clear table fe data.gpt eq 6",
        "show table fe",
        "clear table fe",
        "show table fe",
    ] {
        both(line);
    }

    // Stick rules with conditions, on other proxies' tables; server ids.
    assert_eq!(same(1, "/", ""), "200 [x-ids: 9 2 a; x-fe: 4] a");
    assert_eq!(same(1, "/", ""), "200 [x-ids: 9 1 bb; x-fe: 4] bb");
    // `c` is `non-stick`: not stored, the next request is balanced again
    assert_eq!(
        same(1, "/", "x-stick: 1\r\n"),
        "200 [x-ids: 9 4 c; x-fe: 4] a"
    );
    assert_eq!(
        same(1, "/", "x-stick: 1\r\n"),
        "200 [x-ids: 9 2 a; x-fe: 4] a"
    );
    same(1, "/", "x-stick: 1\r\n");
    same(1, "/", "x-stick: 1\r\n");
    for _ in 0..2 {
        assert_eq!(
            same(1, "/", "x-sess: 2\r\n"),
            "200 [x-ids: 9 1 bb; x-fe: 4] bb"
        );
        assert_eq!(
            same(1, "/", "x-sess: 1\r\n"),
            "200 [x-ids: 9 2 a; x-fe: 4] a"
        );
    }
    let st = settled("st");
    assert!(st.contains("server_id=2 server_key=a"), "{st}");
    let tab = settled("tab2");
    assert!(
        tab.contains("key=2 use=0 exp=E server_id=1 gpc0=0 server_key=bb"),
        "{tab}"
    );
    both("show table");
    // TCP mode: `stick on src` with a condition, on another proxy's table.
    let first = same(2, "/", "");
    for _ in 0..3 {
        assert_eq!(same(2, "/", ""), first, "stuck");
    }
    let st2 = settled("st2");
    assert!(st2.contains("server_id=5 server_key=a"), "{st2}");
    // `track-sc2 ... table tab3` (HTTP) and `track-sc1 ... table tab3` (TCP content)
    let tab3 = settled("tab3");
    assert!(
        tab3.contains("conn_cnt=14 http_req_cnt=10 gpc0=10"),
        "{tab3}"
    );
    // TCP mode: `stick store-response` on the bytes `tcp-response content` rules read.
    let first = same(3, "/", "");
    for _ in 0..3 {
        assert_eq!(same(3, "/", ""), first, "stored from the response, matched");
    }
    let tcpr = settled("tcpr");
    assert!(
        tcpr.contains("key=127.0.0.1 use=0 exp=E server_id="),
        "{tcpr}"
    );
    // `show servers state`: ids and their "forced" flags (columns 1-4, 16-17)
    let ids = |dir: &Path| -> Vec<String> {
        let all = query(&dir.join("admin.sock"), "show servers state").expect("answer");
        all.lines()
            .skip(2)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let w: Vec<&str> = l.split(' ').collect();
                let pick = [0, 1, 2, 3, 15, 16].map(|i| w.get(i).copied().unwrap_or(""));
                pick.join(" ")
            })
            .collect()
    };
    let want = ids(&hdir);
    assert_eq!(ids(&f.dir), want, "show servers state (fulcrum, haproxy)");
    assert!(want.contains(&"9 web 1 bb 0 1".to_string()), "{want:?}");
    // `show stat`: the proxies in configuration order with their ids (pxname, svname, iid, sid)
    let stat = |dir: &Path| -> Vec<String> {
        let all = query(&dir.join("admin.sock"), "show stat").expect("answer");
        all.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let w: Vec<&str> = l.split(',').collect();
                [0, 1, 27, 28]
                    .map(|i| w.get(i).copied().unwrap_or(""))
                    .join(",")
            })
            .collect()
    };
    let want = stat(&hdir);
    assert_eq!(stat(&f.dir), want, "show stat (fulcrum, haproxy)");
    assert!(want.contains(&"st,BACKEND,7,0".to_string()), "{want:?}");
    drop(haproxy);
}

/// A server answering `GET /CODE` with that status (`/999`: bytes that are no HTTP answer).
fn status_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    l.set_nonblocking(true).expect("nonblocking");
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            let Ok((mut c, _)) = l.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let _ = c.set_nonblocking(false);
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 2048];
            let n = c.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let code = head
                .split(' ')
                .nth(1)
                .and_then(|p| p.trim_start_matches('/').parse::<u16>().ok())
                .unwrap_or(200);
            let answer = if code == 999 {
                "garbage\r\n\r\n".to_string()
            } else {
                format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            };
            let _ = c.write_all(answer.as_bytes());
        }
    });
    (port, stop)
}

#[test]
fn server_failures_count_as_haproxy() {
    if !tool("http_fail versus haproxy", "haproxy", "haproxy") {
        return;
    }
    let (srv, stop) = status_server();
    let cfg = |dir: &Path, port: u16| {
        format!(
            "global\n stats socket {admin} mode 600 level admin\n\
             defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n retries 0\n\
             frontend fe\n bind 127.0.0.1:{port}\n\
             \x20stick-table type ip size 1k expire 30s store http_fail_cnt,http_fail_rate(10s),http_err_cnt,http_req_cnt\n\
             \x20http-request track-sc0 src\n\
             \x20default_backend be\n\
             backend be\n server s 127.0.0.1:{srv}\n",
            admin = dir.join("admin.sock").display(),
        )
    };
    let (hport, fport) = (free_port(), free_port());
    let (hdir, haproxy, f) = versus("http-fail", |dir| cfg(dir, hport), |dir| cfg(dir, fport));
    for code in ["200", "404", "500", "501", "503", "505", "502", "999"] {
        let path = format!("/{code}");
        let want = request(hport, &path, "");
        assert_eq!(request(fport, &path, ""), want, "GET {path}");
    }
    let ask = |dir: &Path| {
        table_normal(&query(&dir.join("admin.sock"), "show table fe").expect("answer"))
    };
    let (mut want, mut got) = (String::new(), String::new());
    let same = fulcrum_testlab::wait::until(Duration::from_secs(5), || {
        (want, got) = (ask(&hdir), ask(&f.dir));
        want == got && got.contains("use=0")
    });
    assert!(same.is_some(), "fulcrum {got}\nhaproxy {want}");
    // a server's 500, 503, 502 and a garbled answer; not 501, 505, nor 4xx (http_err)
    assert!(
        want.contains("http_req_cnt=8 http_err_cnt=1 http_fail_cnt=4 http_fail_rate(10000)=4"),
        "{want}"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(haproxy);
}
