//! Issue 13: keywords refused until now that clients see, run side by side with the real
//! HAProxy 2.6 on the same config: `errorloc302`/`errorloc303`, `http-error`, `disabled`
//! (a frontend that does not listen, a backend that answers 503), `server-template` with
//! `http-send-name-header` (which server each request reached and the header it carried),
//! and global `setenv`/`presetenv`/`unsetenv` seen by later lines and by `env()`.

mod common;

use common::{free_port, Fulcrum, Running, Scratch};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Answers each request with the request's header lines (names lower-cased), in order.
fn echo_server(listener: TcpListener) {
    for conn in listener.incoming() {
        let Ok(mut c) = conn else { continue };
        std::thread::spawn(move || {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut b = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut b) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&b[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head).to_string();
            let mut body = String::new();
            for l in text.lines().skip(1).filter(|l| !l.is_empty()) {
                let (n, v) = l.split_once(':').unwrap_or((l, ""));
                body.push_str(&format!(
                    "{}: {}\n",
                    n.trim().to_ascii_lowercase(),
                    v.trim()
                ));
            }
            let out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = c.write_all(out.as_bytes());
        });
    }
}

/// One request on a new connection; the whole answer as text (nothing if refused).
fn request(port: u16, path: &str, extra: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return "refused".into();
    };
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n").as_bytes(),
    )
    .expect("send");
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    all
}

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} never listened on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Ports {
    main: u16,
    off: u16,
}

fn config(p: &Ports, app: u16, dead: u16) -> String {
    format!(
        "global\n setenv KW_APP 127.0.0.1:{app}\n presetenv KW_APP 127.0.0.1:1\n presetenv KW_NEW fresh\n\
         setenv KW_GONE x\n unsetenv KW_GONE\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend f\n bind 127.0.0.1:{main}\n\
         use_backend off if {{ path_beg /off }}\n use_backend down if {{ path_beg /down }}\n\
         use_backend deny if {{ path_beg /deny }}\n use_backend nf if {{ path_beg /nf }}\n\
         use_backend env if {{ path_beg /env }}\n default_backend tpl\n\
         frontend g\n bind 127.0.0.1:{off}\n disabled\n default_backend tpl\n\
         backend tpl\n balance roundrobin\n http-send-name-header X-Server\n\
         server-template w 1-3 \"${{KW_APP}}\"\n\
         backend off\n disabled\n server s 127.0.0.1:{app}\n\
         backend down\n errorloc302 503 http://example.com/sorry\n server s 127.0.0.1:{dead}\n\
         backend deny\n errorloc303 403 /forbidden\n http-request deny\n server s 127.0.0.1:{app}\n\
         backend nf\n http-error status 404 content-type text/plain string \"not here\" hdr X-A b\n\
         http-request deny deny_status 404\n server s 127.0.0.1:{app}\n\
         backend env\n http-request return status 200 content-type text/plain lf-string \"[%[env(KW_NEW)]][%[env(KW_GONE)]][%[env(KW_APP)]]\"\n",
        main = p.main,
        off = p.off,
    )
}

#[test]
fn keywords_act_as_haproxy() {
    if !fulcrum_testlab::require::tool("keywords_vs_haproxy", "haproxy", "haproxy") {
        return;
    }
    let app_l = TcpListener::bind("127.0.0.1:0").expect("bind app");
    let app = app_l.local_addr().expect("addr").port();
    std::thread::spawn(move || echo_server(app_l));
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let scratch = Scratch::new("keywords13");
    let fp = Ports {
        main: free_port(),
        off: free_port(),
    };
    let hp = Ports {
        main: free_port(),
        off: free_port(),
    };
    let fcfg = scratch.write("f.cfg", &config(&fp, app, dead));
    let hcfg = scratch.write("h.cfg", &config(&hp, app, dead));
    let _f = Fulcrum::start(&fcfg);
    let _h = Running(
        Command::new("haproxy")
            .args(["-db", "-f", hcfg.to_str().expect("utf-8 path")])
            .env_remove("KW_APP")
            .env_remove("KW_NEW")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start haproxy"),
    );
    wait_port(fp.main, "fulcrum");
    wait_port(hp.main, "haproxy");

    // whole answers: local pages, the disabled backend's 503, env() after setenv. haproxy
    // adds `connection: close` to a local answer when the client asked for close; fulcrum's
    // local answers do not yet (issue 12's, a known difference of every local answer):
    // compared without it.
    let unclosed = |a: String| a.replacen("connection: close\r\n", "", 1);
    let mut seen = Vec::new();
    for path in ["/down", "/deny", "/nf", "/off", "/env"] {
        let f = unclosed(request(fp.main, path, ""));
        let h = unclosed(request(hp.main, path, ""));
        assert_eq!(f, h, "{path}: the whole answer");
        seen.push(f);
    }
    assert!(
        seen[0].starts_with("HTTP/1.1 302 Found\r\n")
            && seen[0].contains("location: http://example.com/sorry\r\n"),
        "{}",
        seen[0]
    );
    assert!(
        seen[1].starts_with("HTTP/1.1 303 See Other\r\n"),
        "{}",
        seen[1]
    );
    assert!(
        seen[2].contains("x-a: b\r\n") && seen[2].ends_with("not here"),
        "{}",
        seen[2]
    );
    assert!(seen[3].starts_with("HTTP/1.1 503"), "{}", seen[3]);
    assert!(
        seen[4].ends_with(&format!("[fresh][][127.0.0.1:{app}]")),
        "{}",
        seen[4]
    );

    // the disabled frontend does not listen on either
    assert_eq!(request(fp.off, "/", ""), "refused");
    assert_eq!(request(hp.off, "/", ""), "refused");

    // server-template + http-send-name-header: round robin over w1..w3, the header set (a
    // forged one replaced), in the same place among the headers the server receives
    let headers = |answer: &str| -> String {
        answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    };
    let mut servers = Vec::new();
    for _ in 0..6 {
        let f = headers(&request(fp.main, "/", "X-Server: forged\r\nX-Other: 1\r\n"));
        let h = headers(&request(hp.main, "/", "X-Server: forged\r\nX-Other: 1\r\n"));
        assert_eq!(f, h, "headers the server received");
        servers.push(
            f.lines()
                .find_map(|l| l.strip_prefix("x-server: "))
                .unwrap_or("none")
                .to_string(),
        );
    }
    let mut sorted = servers.clone();
    sorted.sort();
    assert_eq!(sorted, ["w1", "w1", "w2", "w2", "w3", "w3"], "{servers:?}");
}
