//! Issue 13: keywords refused until now that clients see, run side by side with the real
//! HAProxy 2.6 on the same config: `errorloc302`/`errorloc303`, `http-error`, `disabled`
//! (a frontend that does not listen, a backend that answers 503), `server-template` with
//! `http-send-name-header` (which server each request reached and the header it carried),
//! and global `setenv`/`presetenv`/`unsetenv` seen by later lines and by `env()`.

mod common;

use common::{free_port, head_server, header_lines, Fulcrum, Running, Scratch};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Answers each request with the request's header lines (names lower-cased), in order.
fn echo(text: &str) -> Vec<u8> {
    let body = header_lines(text);
    // `?s=STATUS&Name=Value...`: the answer's status and extra headers
    let target = text.split(' ').nth(1).unwrap_or("/");
    let (mut status, mut extra) = (200, String::new());
    for kv in target.split_once('?').map_or("", |(_, q)| q).split('&') {
        match kv.split_once('=') {
            Some(("s", v)) => status = v.parse().unwrap_or(200),
            Some((n, v)) => {
                let v = v.replace("%20", " ").replace("%3D", "=");
                extra.push_str(&format!("{n}: {v}\r\n"));
            }
            None => {}
        }
    }
    format!(
        "HTTP/1.1 {status} X\r\n{extra}Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One GET on a new connection; the whole answer as text ("refused" if refused).
fn request(port: u16, path: &str, extra: &str) -> String {
    request_as(port, "GET", path, extra)
}

fn request_as(port: u16, method: &str, path: &str, extra: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return "refused".into();
    };
    // Generous: `backend down` answers after haproxy's 3 retries to a closed port, about a
    // second apart, and a loaded CI machine once saw both proxies silent at 10 s.
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.write_all(
        format!("{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .expect("send");
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    all
}

fn wait_port(port: u16, what: &str) {
    let up = fulcrum_testlab::wait::listening(port, Duration::from_secs(10));
    assert!(up, "{what} never listened on {port}");
}

struct Ports {
    main: u16,
    off: u16,
    limited: u16,
}

fn config(p: &Ports, app: u16, dead: u16) -> String {
    format!(
        "global\n setenv KW_APP 127.0.0.1:{app}\n presetenv KW_APP 127.0.0.1:1\n presetenv KW_NEW fresh\n\
         setenv KW_GONE x\n unsetenv KW_GONE\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend f\n bind 127.0.0.1:{main}\n\
         use_backend off if {{ path_beg /off }}\n use_backend down if {{ path_beg /down }}\n\
         use_backend deny if {{ path_beg /deny }}\n use_backend nf if {{ path_beg /nf }}\n\
         use_backend env if {{ path_beg /env }}\n use_backend opt if {{ path_beg /opt }}\n\
         use_backend strict if {{ path_beg /strict }}\n use_backend us if {{ path_beg /us }}\n\
         default_backend tpl\n\
         frontend g\n bind 127.0.0.1:{off}\n disabled\n default_backend tpl\n\
         listen rl\n bind 127.0.0.1:{limited}\n rate-limit sessions 4\n http-request return status 200\n\
         backend tpl\n balance roundrobin\n http-send-name-header X-Server\n\
         server-template w 1-3 \"${{KW_APP}}\"\n\
         backend off\n disabled\n server s 127.0.0.1:{app}\n\
         backend down\n errorloc302 503 http://example.com/sorry\n server s 127.0.0.1:{dead}\n\
         backend deny\n errorloc303 403 /forbidden\n http-request deny\n server s 127.0.0.1:{app}\n\
         backend nf\n http-error status 404 content-type text/plain string \"not here\" hdr X-A b\n\
         http-request deny deny_status 404\n server s 127.0.0.1:{app}\n\
         backend env\n http-request return status 200 content-type text/plain lf-string \"[%[env(KW_NEW)]][%[env(KW_GONE)]][%[env(KW_APP)]]\"\n\
         backend opt\n option http-server-close\n option http-pretend-keepalive\n option checkcache\n\
         option http-restrict-req-hdr-names delete\n http-request set-header X-Seen \"%[req.hdr(x_y)]\"\n\
         server s 127.0.0.1:{app}\n\
         backend strict\n option http-restrict-req-hdr-names reject\n server s 127.0.0.1:{app}\n\
         backend us\n balance first\n retries 0\n cookie SRV insert indirect nocache\n http-send-name-header X-Server\n\
         ignore-persist if {{ path_beg /us/static }}\n force-persist if {{ req.hdr(x-force) 1 }}\n\
         use-server u2 if {{ path_beg /us/two }}\n use-server dead if {{ path_beg /us/dead }}\n\
         use-server u1 if {{ path_beg /us/dead }}\n\
         server u1 127.0.0.1:{app} cookie c1\n server u2 127.0.0.1:{app} cookie c2\n\
         server dead 127.0.0.1:{dead} cookie cd check inter 100ms fall 1 rise 1\n",
        main = p.main,
        off = p.off,
        limited = p.limited,
    )
}

#[test]
fn keywords_act_as_haproxy() {
    if !fulcrum_testlab::require::tool("keywords_vs_haproxy", "haproxy", "haproxy") {
        return;
    }
    let app_l = TcpListener::bind("127.0.0.1:0").expect("bind app");
    let app = app_l.local_addr().expect("addr").port();
    std::thread::spawn(move || head_server(app_l, echo));
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let scratch = Scratch::new("keywords13");
    let fp = Ports {
        main: free_port(),
        off: free_port(),
        limited: free_port(),
    };
    let hp = Ports {
        main: free_port(),
        off: free_port(),
        limited: free_port(),
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

    // options: pretend-keepalive (no `connection: close` to the server), header names
    // deleted after the rules saw them, or refused; checkcache's verdicts and answers
    let ck = "Set-Cookie=a%3D1";
    let cases: Vec<(&str, String, &str)> = vec![
        ("GET", "/opt".into(), "x_y: 1\r\nX.Z: 2\r\nX-Ok: 3\r\n"),
        ("GET", "/strict".into(), "x_y: 1\r\n"),
        ("GET", "/strict/ok".into(), "X-Ok: 1\r\n"),
        ("GET", format!("/opt?{ck}&Cache-Control=max-age=10"), ""),
        ("HEAD", format!("/opt?{ck}&Cache-Control=max-age=10"), ""),
        (
            "POST",
            format!("/opt?{ck}&Cache-Control=max-age=10"),
            "Content-Length: 0\r\n",
        ),
        ("DELETE", format!("/opt?{ck}&Cache-Control=max-age=10"), ""),
        ("GET", format!("/opt?s=404&{ck}&Expires=0"), ""),
        ("GET", format!("/opt?s=203&{ck}&ETag=x"), ""),
        (
            "GET",
            format!("/opt?s=302&{ck}&Cache-Control=max-age=10"),
            "",
        ),
        ("GET", format!("/opt?{ck}&Cache-Control=public"), ""),
        (
            "GET",
            format!("/opt?{ck}&Cache-Control=public,%20max-age=5"),
            "",
        ),
        (
            "GET",
            format!("/opt?{ck}&Cache-Control=max-age=10&Cache-Control=private"),
            "",
        ),
        (
            "GET",
            format!("/opt?{ck}&Last-Modified=x&Pragma=no-cache"),
            "",
        ),
        (
            "GET",
            format!("/opt?{ck}&Cache-Control=max-age=10&Vary=accept"),
            "",
        ),
    ];
    // haproxy sends relayed header names in lower case, fulcrum as the server wrote them
    // (a difference of every relayed answer, not of these keywords): compared lower-cased
    let norm = |a: String| match a.split_once("\r\n\r\n") {
        Some((head, body)) => format!("{}\r\n\r\n{body}", head.to_ascii_lowercase()),
        None => a,
    };
    let mut blocked = Vec::new();
    for (i, (method, path, extra)) in cases.iter().enumerate() {
        let mut f = norm(unclosed(request_as(fp.main, method, path, extra)));
        let h = norm(unclosed(request_as(hp.main, method, path, extra)));
        if *method == "HEAD" {
            // fulcrum's error pages carry their body even to a HEAD request (every local
            // error answer does: reported, not this keyword's): the heads are compared
            if let Some(end) = f.find("\r\n\r\n") {
                f.truncate(end + 4);
            }
        }
        assert_eq!(f, h, "{method} {path}: the whole answer");
        // haproxy's own pages say `cache-control: no-cache` and are text/html
        if f.contains("content-type: text/html") {
            blocked.push(i);
        }
        seen.push(f);
    }
    let opt = &seen[5];
    assert!(
        opt.contains("x-seen: 1\n") && opt.contains("x-ok: 3\n"),
        "{opt}"
    );
    assert!(
        !opt.contains("x_y") && !opt.contains("x.z") && !opt.contains("connection:"),
        "{opt}"
    );
    assert!(seen[6].starts_with("http/1.1 403"), "{}", seen[6]);
    assert!(seen[7].starts_with("http/1.1 200"), "{}", seen[7]);
    assert!(seen[8].contains("Service ready."), "{}", seen[8]);
    assert_eq!(
        blocked,
        [1, 3, 4, 7, 8, 11, 14],
        "checkcache refusals (and /strict)"
    );

    // use-server, force-persist, ignore-persist: once both see the server `dead` DOWN
    let deadline = Instant::now() + Duration::from_secs(10);
    for port in [fp.main, hp.main] {
        while !request(port, "/us/dead", "").contains("x-server: u1") {
            assert!(
                Instant::now() < deadline,
                "{port}: server dead never went DOWN"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let cases = [
        ("/us/two", ""),
        ("/us/x", "Cookie: SRV=c2\r\n"),
        ("/us/static/x", "Cookie: SRV=c2\r\n"),
        ("/us/dead", ""),
        ("/us/dead", "X-Force: 1\r\n"),
        ("/us/x", "Cookie: SRV=cd\r\n"),
        ("/us/x", "Cookie: SRV=cd\r\nX-Force: 1\r\n"),
    ];
    let mut reached = Vec::new();
    for (path, extra) in cases {
        let f = norm(unclosed(request(fp.main, path, extra)));
        let h = norm(unclosed(request(hp.main, path, extra)));
        assert_eq!(f, h, "{path} {extra:?}: the whole answer");
        reached.push(
            f.lines()
                .find_map(|l| l.strip_prefix("x-server: "))
                .unwrap_or(&f[..12])
                .to_string(),
        );
    }
    assert_eq!(
        reached,
        ["u2", "u2", "u1", "u1", "http/1.1 503", "u1", "http/1.1 503"],
        "which server each request reached"
    );

    // rate-limit sessions 4: 12 connections opened at once are all answered, the last no
    // sooner than the limit allows (a lower bound only: a loaded machine is only slower)
    for port in [fp.limited, hp.limited] {
        let t0 = Instant::now();
        let clients: Vec<_> = (0..12)
            .map(|_| std::thread::spawn(move || request(port, "/", "")))
            .collect();
        for c in clients {
            let answer = c.join().expect("client thread");
            assert!(answer.starts_with("HTTP/1.1 200"), "{port}: {answer}");
        }
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(1500),
            "{port}: 12 sessions at 4/s took only {took:?}"
        );
    }

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

/// One command (with its payload, if any) on the runtime socket; the whole answer.
fn cli(sock: &std::path::Path, text: &str) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(sock).expect("stats socket");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(text.as_bytes()).expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// `add map REF <<` with a payload: the same answers, entries and lookups as haproxy 2.6
/// (including its reading of a key line without a value, and a payload winning over KEY VALUE
/// words).
#[test]
fn add_map_payload_as_haproxy() {
    if !fulcrum_testlab::require::tool("keywords_vs_haproxy", "haproxy", "haproxy") {
        return;
    }
    let scratch = Scratch::new("keywords13-map");
    let map = scratch.write("hosts.map", "a.com be1\n");
    let (fport, hport) = (free_port(), free_port());
    let cfg = |sock: &std::path::Path, port: u16| {
        format!(
            "global\n stats socket {} level admin\n\
             defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend f\n bind 127.0.0.1:{port}\n\
             http-request return status 200 content-type text/plain lf-string \"%[req.hdr(x-host),map({},none)]\"\n",
            sock.display(),
            map.display()
        )
    };
    let (fsock, hsock) = (scratch.0.join("f.sock"), scratch.0.join("h.sock"));
    let fcfg = scratch.write("f.cfg", &cfg(&fsock, fport));
    let hcfg = scratch.write("h.cfg", &cfg(&hsock, hport));
    let _f = Fulcrum::start(&fcfg);
    let _h = fulcrum_testlab::process::Child::haproxy(&hcfg, hcfg.with_extension("log"));
    wait_port(fport, "fulcrum");
    wait_port(hport, "haproxy");
    let m = map.display();
    let commands = [
        format!("add map {m} <<\nb.com be2\nc.com   be3 x\n\n"),
        format!("add map {m} <<\nd.com\ne.com be5\n\n"),
        format!("add map {m} b.com <<\nf.com be6\n\n"),
        format!("add map {m} <<\ng.com be7\nlonely\n\n"),
        format!("add acl {m} <<\nx\n\n"),
        "add map #99 <<\nz a\n\n".to_string(),
        format!("add map {m} <<\n\n"),
        format!("show map {m}\n"),
    ];
    // entries print an address first (haproxy's pointer, fulcrum's id): compared without it
    let strip = |answer: String| -> String {
        // and the config file each was started with
        answer
            .replace("/f.cfg'", "/X.cfg'")
            .replace("/h.cfg'", "/X.cfg'")
            .lines()
            .map(|l| match l.split_once(' ') {
                Some((id, rest)) if id.starts_with("0x") => rest.to_string(),
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut answers = Vec::new();
    for c in &commands {
        let f = strip(cli(&fsock, c));
        let h = strip(cli(&hsock, c));
        assert_eq!(f, h, "{c:?}");
        answers.push(f);
    }
    assert!(
        answers[7].contains("c.com be3 x") && answers[7].contains("f.com be6"),
        "{}",
        answers[7]
    );
    assert!(
        answers[3].contains("Missing value for key 'lonely'"),
        "{}",
        answers[3]
    );
    let lookups = |hosts: &[&str]| -> Vec<String> {
        let body = |a: String| {
            a.split_once("\r\n\r\n")
                .map_or(a.clone(), |(_, b)| b.to_string())
        };
        hosts
            .iter()
            .map(|host| {
                let f = body(request(fport, "/", &format!("X-Host: {host}\r\n")));
                let h = body(request(hport, "/", &format!("X-Host: {host}\r\n")));
                assert_eq!(f, h, "{host}");
                f
            })
            .collect()
    };
    assert_eq!(
        lookups(&["b.com", "c.com", "f.com", "g.com", "e.com"]),
        ["be2", "be3 x", "be6", "be7", "none"]
    );

    // versions: prepare, fill, show, commit (traffic changes only then), errors
    let versioned = [
        format!("prepare map {m}\n"),
        format!("prepare map {m}\n"),
        "show map\n".to_string(),
        format!("add map @1 {m} v1.com one\n"),
        format!("add map @2 {m} <<\nv2.com two\nw2.com   two b\n\n"),
        format!("add map @5 {m} z z\n"),
        format!("show map @1 {m}\n"),
        format!("show map @2 {m}\n"),
        format!("get map {m} v2.com\n"),
    ];
    for c in &versioned {
        assert_eq!(strip(cli(&fsock, c)), strip(cli(&hsock, c)), "{c:?}");
    }
    assert_eq!(
        lookups(&["v2.com", "b.com"]),
        ["none", "be2"],
        "before commit"
    );
    let committing = [
        format!("commit map {m}\n"),
        format!("commit map @2 {m}\n"),
        format!("show map {m}\n"),
        "show map\n".to_string(),
        format!("show map @1 {m}\n"),
        format!("commit map @1 {m}\n"),
        "prepare map #99\n".to_string(),
    ];
    let mut after = Vec::new();
    for c in &committing {
        let f = strip(cli(&fsock, c));
        assert_eq!(f, strip(cli(&hsock, c)), "{c:?}");
        after.push(f);
    }
    assert!(after[3].contains("curr_ver=2 next_ver=2"), "{}", after[3]);
    assert_eq!(
        lookups(&["v2.com", "w2.com", "v1.com", "b.com"]),
        ["two", "two b", "none", "none"],
        "after commit"
    );
}
