//! The LBaaS API's TLS: a TERMINATED_HTTPS listener whose default certificate comes from the
//! `certificates` directory and whose SNI certificate comes from a Barbican stub (a certificate
//! container with its secrets), served by fulcrum's TLS termination and reached with curl over
//! TLS (each name gets its certificate), kept across a restart; Octavia's errors for TLS refs;
//! a `tls_enabled` pool with HTTPS and TLS-HELLO monitors against a real TLS member
//! (`openssl s_server`); PROXY/PROXYV2 pools, PING monitors, http_version/domain_name and
//! timeout_tcp_inspect rendered and accepted by the real `haproxy -c`; `allowed_cidrs` on a TCP
//! listener refusing a client from another source address.

mod api_support;
mod common;

use api_support::{vip, wait_for};
use common::{app_server, free_port, Scratch};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A self-signed certificate for `name` (key and certificate PEM files), made by openssl.
fn cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (key, crt) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.crt")),
    );
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", &format!("subjectAltName=DNS:{name}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .stderr(Stdio::null())
        .status()
        .expect("openssl (scripts/install-deps.sh)")
        .success();
    assert!(ok, "openssl req");
    (key, crt)
}

/// A Barbican stub: `GET /v1/containers/ID` (a certificate container) and
/// `GET /v1/secrets/ID/payload`, from `secrets` (id → payload). Serves until the process ends.
fn barbican(secrets: Vec<(String, String)>, container: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming().take(200) {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let base = format!("http://127.0.0.1:{port}/v1/secrets");
            let body = if path == format!("/v1/containers/{container}") {
                Some(
                    json!({"type": "certificate", "status": "ACTIVE", "secret_refs": [
                    {"name": "certificate", "secret_ref": format!("{base}/cert")},
                    {"name": "private_key", "secret_ref": format!("{base}/key")}]})
                    .to_string(),
                )
            } else {
                secrets
                    .iter()
                    .find(|(id, _)| path == format!("/v1/secrets/{id}/payload"))
                    .map(|(_, p)| p.clone())
            };
            let answer = match body {
                Some(b) => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{b}", b.len()),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
            };
            let _ = s.write_all(answer.as_bytes());
        }
    });
    port
}

/// curl over TLS to `name:port` resolved to `vip`, trusting `ca`; (status, body).
fn https(name: &str, vip: &str, port: u16, ca: &Path) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-m", "5", "-w", "\n%{http_code}", "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("{name}:{port}:{vip}")])
        .arg(format!("https://{name}:{port}/"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn haproxy_accepts(scratch: &Scratch, api: &api_support::Api, lb: &str) -> String {
    let (code, cfg) = api.get(&format!("loadbalancers/{lb}/haproxy.cfg"));
    assert_eq!(code, 200, "{cfg}");
    let cfg = cfg.as_str().expect("text").to_string();
    api_support::haproxy_check(&scratch.0.join(format!("{lb}.cfg")), &cfg);
    cfg
}

#[test]
fn terminated_https_from_directory_and_barbican() {
    let scratch = Scratch::new("api-tls");
    let certs = scratch.0.join("certs");
    std::fs::create_dir_all(&certs).expect("certs dir");
    let (dkey, dcrt) = cert(&scratch.0, "default.example.test");
    let (skey, scrt) = cert(&scratch.0, "sni.example.test");
    // The directory: the ref's last segment names `ID.pem` (certificate and key).
    let pem = |k: &Path, c: &Path| {
        std::fs::read_to_string(c).expect("crt") + &std::fs::read_to_string(k).expect("key")
    };
    std::fs::write(certs.join("dflt.pem"), pem(&dkey, &dcrt)).expect("write pem");
    let bport = barbican(
        vec![
            ("cert".into(), std::fs::read_to_string(&scrt).expect("crt")),
            ("key".into(), std::fs::read_to_string(&skey).expect("key")),
        ],
        "c0ffee",
    );
    let p1 = free_port();
    let _m1 = app_server(&scratch, "member0", p1, 200);
    let api_port = api_support::port();
    let extra = format!(
        "    certificates {}\n    barbican http://127.0.0.1:{bport}\n",
        certs.display()
    );
    let vip = vip(31);
    let port = free_port();
    let sni_ref = format!("http://127.0.0.1:{bport}/v1/containers/c0ffee");
    let (lb, l) = {
        let api = api_support::start(&scratch, api_port, &extra);
        let lb = api.create(
            "loadbalancers",
            "loadbalancer",
            json!({"vip_address": vip, "vip_subnet_id": "lab"}),
        );
        api.wait_active(&lb);
        // Octavia's errors first.
        let listener = |extra: Value| {
            let mut b = json!({"loadbalancer_id": lb, "protocol": "TERMINATED_HTTPS", "protocol_port": port});
            for (k, v) in extra.as_object().expect("object") {
                b[k] = v.clone();
            }
            api.post("listeners", json!({ "listener": b }))
        };
        let (code, v) = listener(json!({}));
        assert_eq!(code, 400, "no certificate: {v}");
        let (code, v) = listener(
            json!({"default_tls_container_ref": "https://barbican.example/v1/containers/absent"}),
        );
        assert_eq!(code, 400, "unknown ref: {v}");
        assert!(
            v["faultstring"]
                .as_str()
                .is_some_and(|f| f.starts_with("Could not retrieve certificate")),
            "{v}"
        );
        let (code, v) = listener(
            json!({"default_tls_container_ref": "dflt", "insert_headers": {"X-SSL-Client-SHA2": "true"}}),
        );
        assert_eq!(code, 400, "an unknown X-SSL header: {v}");
        let (code, v) = api.post(
            "listeners",
            json!({"listener": {"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": port, "default_tls_container_ref": "dflt"}}),
        );
        assert_eq!(code, 400, "TLS refs on an HTTP listener: {v}");

        let l = api.create(
            "listeners",
            "listener",
            json!({"loadbalancer_id": lb, "protocol": "TERMINATED_HTTPS", "protocol_port": port,
                   "default_tls_container_ref": "https://barbican.example/v1/containers/dflt",
                   "sni_container_refs": [sni_ref],
                   "insert_headers": {"X-Forwarded-Proto": "true", "X-SSL-Client-Verify": "true", "X-SSL-Client-Has-Cert": "true", "X-SSL-Client-DN": "true"}}),
        );
        api.wait_active(&lb);
        let (_, got) = api.get(&format!("listeners/{l}"));
        assert!(
            got["listener"].get("_tls").is_none(),
            "PEMs are not shown: {got}"
        );
        assert_eq!(got["listener"]["sni_container_refs"], json!([sni_ref]));
        let (code, v) = api.post(
            "pools",
            json!({"pool": {"listener_id": l, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}}),
        );
        assert_eq!(code, 400, "a TCP pool on a TERMINATED_HTTPS listener: {v}");
        let pool = api.create(
            "pools",
            "pool",
            json!({"listener_id": l, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
        );
        api.wait_active(&lb);
        api.create(
            &format!("pools/{pool}/members"),
            "member",
            json!({"address": "127.0.0.1", "protocol_port": p1}),
        );
        api.wait_active(&lb);

        // Each name gets its own certificate (curl trusts only that one), through fulcrum's TLS.
        assert_eq!(
            https("default.example.test", &vip, port, &dcrt),
            (200, "member0".to_string()),
            "{}",
            api.fulcrum.log_text()
        );
        assert_eq!(
            https("sni.example.test", &vip, port, &scrt),
            (200, "member0".to_string())
        );
        // The SNI name is not served the default certificate, nor the other way round.
        assert_ne!(https("sni.example.test", &vip, port, &dcrt).0, 200);
        assert_ne!(https("default.example.test", &vip, port, &scrt).0, 200);
        // Plain HTTP on the TLS port is not answered as HTTP.
        let (code, _, _) = api_support::fetch(&format!("http://{vip}:{port}/"), None);
        assert_ne!(code, 200);

        let cfg = haproxy_accepts(&scratch, &api, &lb);
        assert!(
            cfg.contains(&format!(
                " ssl crt-list {}/{l}.crt-list\n",
                scratch.0.join("lbaas.db.certs").display()
            )) && cfg.contains("X-Forwarded-Proto https"),
            "{cfg}"
        );
        assert!(cfg.contains("X-SSL-Client-DN %{+Q}[ssl_c_s_dn]"), "{cfg}");
        (lb, l)
        // dropped: killed, as a crash
    };
    // A restart serves the same listener without asking Barbican or the directory again.
    std::fs::remove_file(certs.join("dflt.pem")).expect("rm");
    let api = api_support::start(&scratch, api_port, &extra);
    wait_for(
        "the listener back after a restart",
        Duration::from_secs(10),
        || https("default.example.test", &vip, port, &dcrt).0 == 200,
    );
    assert_eq!(https("sni.example.test", &vip, port, &scrt).0, 200);
    // Updating the SNI list away drops that certificate.
    let (code, v) = api.put(
        &format!("listeners/{l}"),
        json!({"listener": {"sni_container_refs": []}}),
    );
    assert_eq!(code, 200, "{v}");
    api.wait_active(&lb);
    wait_for("the SNI certificate gone", Duration::from_secs(5), || {
        https("sni.example.test", &vip, port, &scrt).0 != 200
    });
    assert_eq!(https("default.example.test", &vip, port, &dcrt).0, 200);
}

/// `openssl s_server -www`: a TLS member answering HTTP GETs with 200.
struct TlsMember(Child);
impl Drop for TlsMember {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tls_member(dir: &Path, port: u16) -> TlsMember {
    let (key, crt) = cert(dir, "member.example.test");
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &port.to_string()])
        .arg("-cert")
        .arg(&crt)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let m = TlsMember(child);
    wait_for("s_server listening", Duration::from_secs(5), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    m
}

#[test]
fn tls_pools_monitors_proxy_pools_and_cidrs() {
    let scratch = Scratch::new("api-tls-pools");
    let tls_port = free_port();
    let _tls = tls_member(&scratch.0, tls_port);
    let p1 = free_port();
    let _m1 = app_server(&scratch, "member0", p1, 200);
    let api = api_support::start(&scratch, api_support::port(), "");
    let vip = vip(32);
    let lb = api.create(
        "loadbalancers",
        "loadbalancer",
        json!({"vip_address": vip, "vip_subnet_id": "lab"}),
    );
    api.wait_active(&lb);

    // HTTP listener → tls_enabled pool (TLS to the member) with an HTTPS monitor.
    let (lport, tport, cport) = (free_port(), free_port(), free_port());
    let l = api.create(
        "listeners",
        "listener",
        json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": lport}),
    );
    api.wait_active(&lb);
    let pool = api.create("pools", "pool", json!({"listener_id": l, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "tls_enabled": true}));
    api.wait_active(&lb);
    let m = api.create(
        &format!("pools/{pool}/members"),
        "member",
        json!({"address": "127.0.0.1", "protocol_port": tls_port}),
    );
    api.wait_active(&lb);
    let (code, v) = api.post("healthmonitors", json!({"healthmonitor": {"pool_id": pool, "type": "HTTPS", "delay": 1, "timeout": 1, "max_retries": 1, "domain_name": "member.example.test"}}));
    assert_eq!(code, 400, "domain_name needs http_version 1.1: {v}");
    api.create("healthmonitors", "healthmonitor", json!({"pool_id": pool, "type": "HTTPS", "delay": 1, "timeout": 1, "max_retries": 1, "max_retries_down": 1, "http_version": "1.1", "domain_name": "member.example.test", "url_path": "/"}));
    api.wait_active(&lb);
    let member_status = |pool: &str, id: &str| {
        let (_, v) = api.get(&format!("pools/{pool}/members/{id}"));
        v["member"]["operating_status"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    wait_for(
        "the TLS member ONLINE by its HTTPS monitor",
        Duration::from_secs(10),
        || member_status(&pool, &m) == "ONLINE",
    );
    let (code, body, _) = api_support::fetch(&format!("http://{vip}:{lport}/"), None);
    assert_eq!(
        code,
        200,
        "through TLS to s_server: {body}\n{}",
        api.fulcrum.log_text()
    );
    assert!(body.contains("Ciphers"), "s_server's -www page: {body}");

    // TCP listener: TLS-HELLO monitor on the TLS member; allowed_cidrs; inspect delay.
    let tl = api.create("listeners", "listener", json!({"loadbalancer_id": lb, "protocol": "TCP", "protocol_port": tport, "timeout_tcp_inspect": 500}));
    api.wait_active(&lb);
    let tpool = api.create(
        "pools",
        "pool",
        json!({"listener_id": tl, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    api.wait_active(&lb);
    let tm = api.create(
        &format!("pools/{tpool}/members"),
        "member",
        json!({"address": "127.0.0.1", "protocol_port": tls_port}),
    );
    api.wait_active(&lb);
    api.create(
        "healthmonitors",
        "healthmonitor",
        json!({"pool_id": tpool, "type": "TLS-HELLO", "delay": 1, "timeout": 1, "max_retries": 1}),
    );
    api.wait_active(&lb);
    wait_for(
        "the TLS member ONLINE by TLS-HELLO",
        Duration::from_secs(10),
        || member_status(&tpool, &tm) == "ONLINE",
    );

    // allowed_cidrs on a TCP listener: 127.0.0.1 passes, 127.0.0.9 is refused.
    let cl = api.create("listeners", "listener", json!({"loadbalancer_id": lb, "protocol": "TCP", "protocol_port": cport, "allowed_cidrs": ["127.0.0.1/32"]}));
    api.wait_active(&lb);
    let cpool = api.create(
        "pools",
        "pool",
        json!({"listener_id": cl, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    api.wait_active(&lb);
    api.create(
        &format!("pools/{cpool}/members"),
        "member",
        json!({"address": "127.0.0.1", "protocol_port": p1}),
    );
    api.wait_active(&lb);
    let from = |src: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-m",
                "5",
                "--interface",
                src,
                "-w",
                "%{http_code}",
                "-o",
                "/dev/null",
            ])
            .arg(format!("http://{vip}:{cport}/"))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(from("127.0.0.1"), "200", "{}", api.fulcrum.log_text());
    assert_eq!(
        from("127.0.0.9"),
        "000",
        "a source outside allowed_cidrs is refused"
    );
    assert_eq!(from("127.0.0.1"), "200");

    // PROXY / PROXYV2 pools and a PING monitor: rendered as Octavia does, accepted by haproxy.
    for (proto, opt) in [("PROXY", "send-proxy"), ("PROXYV2", "send-proxy-v2")] {
        let pl = api.create(
            "listeners",
            "listener",
            json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": free_port()}),
        );
        api.wait_active(&lb);
        let p = api.create(
            "pools",
            "pool",
            json!({"listener_id": pl, "protocol": proto, "lb_algorithm": "ROUND_ROBIN"}),
        );
        api.wait_active(&lb);
        let id = api.create(
            &format!("pools/{p}/members"),
            "member",
            json!({"address": "127.0.0.1", "protocol_port": p1}),
        );
        api.wait_active(&lb);
        if proto == "PROXY" {
            api.create(
                "healthmonitors",
                "healthmonitor",
                json!({"pool_id": p, "type": "PING", "delay": 1, "timeout": 1, "max_retries": 1}),
            );
            api.wait_active(&lb);
            wait_for("the member ONLINE by PING", Duration::from_secs(10), || {
                member_status(&p, &id) == "ONLINE"
            });
            // The monitor runs the wrapper: one that fails turns the member ERROR, and the
            // next applied change writes Octavia's wrapper back (ONLINE again).
            let wrapper = scratch.0.join("lbaas.db.certs/ping-wrapper.sh");
            std::fs::write(&wrapper, "#!/bin/sh\nexit 1\n").expect("wrapper");
            wait_for(
                "the member ERROR by a failing PING",
                Duration::from_secs(10),
                || member_status(&p, &id) == "ERROR",
            );
            let (code, _) = api.put(
                &format!("pools/{p}/members/{id}"),
                json!({"member": {"name": "pinged"}}),
            );
            assert_eq!(code, 200);
            api.wait_active(&lb);
            assert!(std::fs::read_to_string(&wrapper).is_ok_and(|w| w.contains("/bin/ping")));
            wait_for("the member ONLINE again", Duration::from_secs(10), || {
                member_status(&p, &id) == "ONLINE"
            });
        }
        let cfg = haproxy_accepts(&scratch, &api, &lb);
        assert!(
            cfg.contains(&format!("{id} 127.0.0.1:{p1} weight 1")),
            "{cfg}"
        );
        let line = cfg.lines().find(|l| l.contains(&id)).unwrap_or("");
        assert!(line.split_whitespace().any(|w| w == opt), "{opt}: {line}");
    }
    let cfg = haproxy_accepts(&scratch, &api, &lb);
    let member_line =
        format!("{m} 127.0.0.1:{tls_port} weight 1 check check-ssl verify none inter 1s fall 1 rise 1 ssl verify none\n");
    for want in [
        member_line.as_str(),
        "option httpchk GET / HTTP/1.1\\r\\nHost:\\ member.example.test",
        "option ssl-hello-chk",
        "option external-check",
        "tcp-request inspect-delay 500",
        "tcp-request connection reject if !allowed-cidr",
    ] {
        assert!(cfg.contains(want), "{want}: {cfg}");
    }
}
