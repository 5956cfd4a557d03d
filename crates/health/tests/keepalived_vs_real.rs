//! keepalived 2.2's checkers against the real keepalived on the same keepalived.conf: SMTP_CHECK,
//! DNS_CHECK, UDP_CHECK, PING_CHECK, FILE_CHECK and HTTP_GET's regex / regex_no_match /
//! status ranges / http_protocol / virtualhost. Real servers (scripted SMTP, DNS, UDP and HTTP
//! servers, files, an address nobody answers for) live in a lab namespace; the real
//! `keepalived -C` runs there with testlab's fake IPVS (this kernel has none) and fulcrum's
//! monitor runs there on the same file. Both must keep the same real servers, and send the
//! same HTTP requests and SMTP greetings. Needs root, keepalived and a C compiler: otherwise a
//! loud skip (a failure under FULCRUM_REQUIRE_NETNS=1).

use fulcrum_health::HealthMonitor;
use fulcrum_testlab::keepalived::KeepalivedChecker;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};

type Seen = Arc<Mutex<Vec<String>>>;

/// An SMTP responder: `greeting` first, then 250 to HELO and 221 to QUIT; records the lines.
async fn smtp(greeting: &'static str, seen: Seen) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(greeting.as_bytes()).await;
                while let Ok(Some(line)) = lines.next_line().await {
                    seen.lock().expect("lock").push(line.clone());
                    let answer: &[u8] = if line.starts_with("HELO") {
                        b"250 pleased to meet you\r\n"
                    } else if line.starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else {
                        b"500 what\r\n"
                    };
                    let _ = w.write_all(answer).await;
                }
            });
        }
    });
    port
}

/// A DNS responder answering every query with `rcode` (same id, QR set, question echoed).
async fn dns(rcode: u8) -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").await.expect("bind dns");
    let port = s.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            if n < 12 {
                continue;
            }
            let mut r = buf[..n].to_vec();
            r[2] = 0x81;
            r[3] = 0x80 | rcode;
            let _ = s.send_to(&r, from).await;
        }
    });
    port
}

/// A UDP server that echoes (or, `silent`, reads and never answers).
async fn udp(silent: bool) -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
    let port = s.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            if !silent {
                let _ = s.send_to(&buf[..n], from).await;
            }
        }
    });
    port
}

/// A closed UDP port (bound, then released): the kernel answers port unreachable.
fn closed_udp() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

/// An HTTP/1.0 server answering `body` with 200; records each request head.
async fn http(body: &'static str, seen: Seen) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 1024];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                seen.lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&got).into_owned());
                let _ = s
                    .write_all(
                        format!("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n{body}")
                            .as_bytes(),
                    )
                    .await;
            });
        }
    });
    port
}

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the servers saw, for comparing the two checkers' bytes.
#[derive(Default, Clone)]
struct Seens {
    smtp: Seen,
    http: Seen,
}

fn real_server(port: u16, checker: &str) -> String {
    format!("  real_server 127.0.0.1 {port} {{\n    {checker}\n  }}\n")
}

/// Starts every real server (inside the namespace) and returns the config and the real
/// servers expected UP.
async fn scene(dir: &std::path::Path, seen: &Seens) -> (String, BTreeSet<String>, String) {
    let t = "connect_timeout 1\n      retry 0\n      delay_before_retry 0.2";
    let mut up = BTreeSet::new();
    let mut body = String::new();
    let mut add = |port: u16, checker: String, is_up: bool| {
        body.push_str(&real_server(port, &checker));
        if is_up {
            up.insert(format!("127.0.0.1:{port}"));
        }
    };
    let p = smtp("220 mail.test ESMTP\r\n", seen.smtp.clone()).await;
    add(
        p,
        format!("SMTP_CHECK {{\n      {t}\n      helo_name probe.fulcrum.test\n    }}"),
        true,
    );
    let p = smtp("554 no service here\r\n", seen.smtp.clone()).await;
    add(p, format!("SMTP_CHECK {{\n      {t}\n    }}"), false);
    let p = dns(0).await;
    add(
        p,
        format!("DNS_CHECK {{\n      {t}\n      type A\n      name www.example.com\n    }}"),
        true,
    );
    let p = dns(2).await;
    add(p, format!("DNS_CHECK {{\n      {t}\n    }}"), false);
    add(
        closed_udp(),
        format!("DNS_CHECK {{\n      {t}\n    }}"),
        false,
    );
    let p = udp(false).await;
    add(
        p,
        format!(
            "UDP_CHECK {{\n      {t}\n      payload 01 02 0a\n      require_reply 0102x\n    }}"
        ),
        true,
    );
    let p = udp(false).await;
    add(
        p,
        format!("UDP_CHECK {{\n      {t}\n      payload 0102\n      require_reply ff\n    }}"),
        false,
    );
    let mismatch = format!("127.0.0.1:{p}");
    let p = udp(true).await;
    add(p, format!("UDP_CHECK {{\n      {t}\n    }}"), true);
    add(
        closed_udp(),
        format!("UDP_CHECK {{\n      {t}\n    }}"),
        false,
    );
    let url = |extra: &str| {
        format!(
            "HTTP_GET {{\n      {t}\n      url {{\n        path /health\n{extra}      }}\n    }}"
        )
    };
    let p = http("status: ok\n", seen.http.clone()).await;
    add(p, url("        regex \"status: ok\"\n"), true);
    let p = http("status: down\n", seen.http.clone()).await;
    add(p, url("        regex \"status: ok\"\n"), false);
    let p = http("status: ok\n", seen.http.clone()).await;
    add(
        p,
        url("        regex \"status: ok\"\n        regex_no_match\n"),
        false,
    );
    let p = http("status: ok\n", seen.http.clone()).await;
    add(p, url("        status_code 300-399 500\n"), false);
    let p = http("status: ok\n", seen.http.clone()).await;
    add(
        p,
        format!(
            "HTTP_GET {{\n      {t}\n      http_protocol 1.1\n      virtualhost www.example.com\n      url {{\n        path /ready\n        status_code 200-299\n      }}\n    }}"
        ),
        true,
    );
    add(20001, format!("PING_CHECK {{\n      {t}\n    }}"), true);
    let zero = dir.join("zero");
    let one = dir.join("one");
    std::fs::write(&zero, "0\n").expect("write");
    std::fs::write(&one, "1\n").expect("write");
    add(
        20003,
        "FILE_CHECK {\n      track_file zero\n    }".to_string(),
        true,
    );
    add(
        20004,
        "FILE_CHECK {\n      track_file one\n    }".to_string(),
        false,
    );
    // weighted track files: 1 + 3*2 = 7; 1 - 5 = -4 → weight 0, kept in service
    let three = dir.join("three");
    let minus = dir.join("minus");
    std::fs::write(&three, "3\n").expect("write");
    std::fs::write(&minus, "-5\n").expect("write");
    add(
        20005,
        "FILE_CHECK {\n      track_file three\n      weight 2\n    }".to_string(),
        true,
    );
    add(
        20006,
        "FILE_CHECK {\n      track_file minus\n    }".to_string(),
        true,
    );
    body.push_str(&format!(
        "  real_server 10.99.0.222 20002 {{\n    PING_CHECK {{\n      {t}\n    }}\n  }}\n"
    ));
    let text = format!(
        "global_defs {{\n  router_id fulcrum_test\n}}\n\
         track_file zero {{\n  file \"{}\"\n  weight 0\n}}\n\
         track_file one {{\n  file \"{}\"\n  weight 0\n}}\n\
         track_file three {{\n  file \"{}\"\n}}\n\
         track_file minus {{\n  file \"{}\"\n}}\n\
         virtual_server 10.99.9.9 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n{body}}}\n",
        zero.display(),
        one.display(),
        three.display(),
        minus.display()
    );
    (text, up, mismatch)
}

#[test]
fn keepalived_checkers_keep_the_same_real_servers_as_keepalived() {
    let test = "keepalived_checkers_keep_the_same_real_servers_as_keepalived";
    if !fulcrum_testlab::netns::available(test)
        || !fulcrum_testlab::require::tool(test, "keepalived", "keepalived")
        || !fulcrum_testlab::require::tool(test, "cc", "gcc")
    {
        return;
    }
    let dir = Dir(std::env::temp_dir().join(format!("fulcrum-kvr-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("dir");
    let lab = fulcrum_testlab::netns::Lab::new(1).expect("lab");
    let node = lab.node(0).clone();
    let path = dir.0.clone();
    let report = lab
        .node(0)
        .in_thread(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(compare(&node, &path))
        })
        .join()
        .expect("test thread");
    if let Err(e) = report {
        panic!("{e}");
    }
}

/// Runs keepalived then fulcrum on the same scene; Err with a readable report on a mismatch.
async fn compare(node: &fulcrum_testlab::netns::Node, dir: &std::path::Path) -> Result<(), String> {
    let ka_seen = Seens::default();
    let (text, expected_up, mismatch) = scene(dir, &ka_seen).await;
    // The one known difference: keepalived 2.2.7 keeps a UDP_CHECK real server whose reply
    // does not match `require_reply HEX`, against its own keepalived.conf(5) ("the reply data
    // will be checked against the HEX_STR"); fulcrum does as documented and fails it.
    let mut ka_expected_up = expected_up.clone();
    ka_expected_up.insert(mismatch.clone());
    let conf = dir.join("keepalived.conf");
    std::fs::write(&conf, &text).expect("write conf");
    eprintln!("{text}");

    // keepalived first (its own servers' view recorded), until it keeps what we expect, bounded
    let keepalived = KeepalivedChecker::start(node, &conf, dir)?;
    let wait = Duration::from_secs(20);
    let start = Instant::now();
    let mut ka_kept: BTreeMap<String, u32>;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        ka_kept = keepalived.kept();
        let up: BTreeSet<String> = ka_kept.keys().cloned().collect();
        if (keepalived.started() && up == ka_expected_up) || start.elapsed() > wait {
            break;
        }
    }
    // one more round of every checker so nothing is mid-way
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ka_kept = keepalived.kept();
    let ka_out = keepalived.output();
    drop(keepalived);
    let ka_up: BTreeSet<String> = ka_kept.keys().cloned().collect();
    let mut ka_up_as_documented = ka_up.clone();
    ka_up_as_documented.remove(&mismatch);
    let ka_smtp: BTreeSet<String> = ka_seen.smtp.lock().expect("lock").iter().cloned().collect();
    let ka_http: BTreeSet<String> = ka_seen.http.lock().expect("lock").iter().cloned().collect();
    ka_seen.smtp.lock().expect("lock").clear();
    ka_seen.http.lock().expect("lock").clear();

    // fulcrum on the same file (the same servers)
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: &conf.display().to_string(),
        text: &text,
    }]);
    if !loaded.is_ok() {
        return Err(format!(
            "fulcrum refused the config: {:?}",
            loaded.diagnostics
        ));
    }
    let (handle, mut rx) = HealthMonitor::start(&loaded.config);
    let mut down = BTreeSet::new();
    let mut weights: BTreeMap<String, u32> = BTreeMap::new();
    let all: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("real_server "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            format!("{}:{}", w[0], w[1])
        })
        .collect();
    let start = Instant::now();
    let fulcrum_up = loop {
        if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            if let Some(w) = ev.weight {
                weights.insert(ev.server.clone(), w);
            }
            if ev.up {
                down.remove(&ev.server);
            } else {
                down.insert(ev.server.clone());
            }
        }
        let up: BTreeSet<String> = all.difference(&down).cloned().collect();
        if up == ka_up_as_documented || start.elapsed() > wait {
            // settle: a further second of checks must not change it
            let until = Instant::now() + Duration::from_millis(1500);
            while let Ok(Ok(Some(ev))) =
                tokio::time::timeout(until.saturating_duration_since(Instant::now()), rx.recv())
                    .await
                    .map(Ok::<_, ()>)
            {
                if let Some(w) = ev.weight {
                    weights.insert(ev.server.clone(), w);
                }
                if ev.up {
                    down.remove(&ev.server);
                } else {
                    down.insert(ev.server.clone());
                }
            }
            break all.difference(&down).cloned().collect::<BTreeSet<String>>();
        }
    };
    handle.shutdown().await;
    let f_smtp: BTreeSet<String> = ka_seen.smtp.lock().expect("lock").iter().cloned().collect();
    let f_http: BTreeSet<String> = ka_seen.http.lock().expect("lock").iter().cloned().collect();

    eprintln!("keepalived keeps: {ka_up:?}\nfulcrum keeps:    {fulcrum_up:?}");
    eprintln!("keepalived's HTTP requests: {ka_http:?}\nfulcrum's:                  {f_http:?}");
    eprintln!("SMTP lines to keepalived's: {ka_smtp:?}\nfulcrum's:                  {f_smtp:?}");
    let mut problems = Vec::new();
    if ka_up != ka_expected_up {
        problems.push(format!(
            "keepalived did not keep what the test expects: {ka_up:?} vs {expected_up:?}\n{ka_out}"
        ));
    }
    if fulcrum_up != ka_up_as_documented {
        problems.push(format!(
            "fulcrum keeps {fulcrum_up:?}, keepalived keeps {ka_up:?} (known difference: {mismatch})"
        ));
    }
    for port in [20005, 20006] {
        let rs = format!("127.0.0.1:{port}");
        let (k, f) = (ka_kept.get(&rs).copied(), weights.get(&rs).copied());
        eprintln!("FILE_CHECK weight of {rs}: keepalived {k:?}, fulcrum {f:?}");
        if k != f {
            problems.push(format!(
                "FILE_CHECK weight of {rs}: keepalived {k:?}, fulcrum {f:?}"
            ));
        }
    }
    if f_http != ka_http {
        problems.push("the HTTP requests differ".to_string());
    }
    if f_smtp != ka_smtp {
        problems.push("the SMTP conversations differ".to_string());
    }
    if ka_http.is_empty() || ka_smtp.is_empty() {
        problems.push("keepalived's checkers never reached the servers".to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}
