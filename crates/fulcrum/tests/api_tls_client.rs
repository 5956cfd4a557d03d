//! The LBaaS API's client certificates, with a CA, client certificates and a CRL made by
//! openssl: a TERMINATED_HTTPS listener with `client_ca_tls_container_ref`,
//! `client_authentication` MANDATORY and `client_crl_container_ref` (rendered as Octavia's
//! `ca-file ... verify required crl-file ...`) admits a client certificate the CA signed,
//! refuses a client without one and a revoked one, and inserts X-SSL-Client-SHA1/-Not-Before/
//! -Not-After/-CN/-DN with the same values as the real haproxy 2.6 on the same rendered config
//! (and as openssl computes them); a `tls_enabled` pool with `tls_container_ref` (the
//! certificate fulcrum presents) and `ca_tls_container_ref` (`verify required`) reaches a
//! member (`openssl s_server -Verify`) that demands a client certificate, and a CA that did
//! not sign the member's certificate fails the member's traffic. Octavia's validation errors.

mod api_support;
mod common;

use api_support::{vip, wait_for};
use common::{free_port, Scratch};
use serde_json::json;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("openssl (scripts/install-deps.sh)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).expect(name)
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/// A CA `NAME` (NAME.key, NAME.crt) in `dir`.
fn ca(dir: &Path, name: &str) {
    let mut a = vec!["req", "-x509"];
    a.extend(EC);
    let (key, crt, subj) = (
        format!("{name}.key"),
        format!("{name}.crt"),
        format!("/CN={name}"),
    );
    a.extend([
        "-nodes", "-days", "2", "-subj", &subj, "-keyout", &key, "-out", &crt,
    ]);
    openssl(dir, &a);
}

/// A certificate `NAME` (NAME.key, NAME.crt) for `subject`, signed by CA `ca`.
fn signed(dir: &Path, ca: &str, name: &str, subject: &str, dns: &str) {
    std::fs::write(
        dir.join(format!("{name}.ext")),
        format!("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth,serverAuth\nsubjectAltName=DNS:{dns}\n"),
    )
    .expect("ext");
    let (key, csr, crt, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.ext"),
    );
    let mut a = vec!["req", "-new"];
    a.extend(EC);
    a.extend(["-nodes", "-subj", subject, "-keyout", &key, "-out", &csr]);
    openssl(dir, &a);
    let (cacrt, cakey) = (format!("{ca}.crt"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &cacrt,
            "-CAkey",
            &cakey,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &crt,
        ],
    );
}

/// Revokes `name` and writes the CA's CRL as `ca.crl`.
fn revoke(dir: &Path, name: &str) {
    std::fs::write(dir.join("index.txt"), "").expect("index");
    std::fs::write(dir.join("crlnumber"), "01\n").expect("crlnumber");
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=2\n",
    )
    .expect("ca.cnf");
    let base = [
        "ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt",
    ];
    let crt = format!("{name}.crt");
    let mut a = base.to_vec();
    a.extend(["-revoke", &crt]);
    openssl(dir, &a);
    let mut a = base.to_vec();
    a.extend(["-gencrl", "-out", "ca.crl"]);
    openssl(dir, &a);
}

/// A member answering every request with its request head as the body.
fn echo_member() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming().take(500) {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                head.len()
            );
            let _ = s.write_all(answer.as_bytes());
            let _ = s.write_all(&head);
        }
    });
    port
}

/// curl over TLS to `lb.example.test:port` at `vip`, with an optional client certificate:
/// (status, body); status 0 when the handshake fails.
fn https(dir: &Path, vip: &str, port: u16, client: Option<&str>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-m", "5", "-w", "\n%{http_code}", "--cacert"])
        .arg(dir.join("lb.crt"))
        .args(["--resolve", &format!("lb.example.test:{port}:{vip}")]);
    if let Some(c) = client {
        cmd.arg("--cert")
            .arg(dir.join(format!("{c}.crt")))
            .arg("--key")
            .arg(dir.join(format!("{c}.key")));
    }
    let out = cmd
        .arg(format!("https://lb.example.test:{port}/"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// The X-SSL-* lines of a request head, in order.
fn ssl_headers(head: &str) -> Vec<String> {
    head.lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("x-ssl-"))
        .map(str::to_string)
        .collect()
}

/// `notBefore=Dec  5 05:52:49 2026 GMT` → `261205055249Z` (HAProxy's `ssl_c_notbefore`).
fn asn1_time(openssl_line: &str) -> String {
    let t = openssl_line.split_once('=').map_or("", |(_, t)| t);
    let w: Vec<&str> = t.split_whitespace().collect();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == w[0])
    .expect("month")
        + 1;
    let day: u32 = w[1].parse().expect("day");
    let hms = w[2].replace(':', "");
    format!("{}{month:02}{day:02}{hms}Z", &w[3][2..])
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn client_certificates_on_listeners_and_pools() {
    let scratch = Scratch::new("api-tls-client");
    let dir = scratch.0.join("pki");
    std::fs::create_dir_all(&dir).expect("pki");
    let certs = scratch.0.join("certs");
    std::fs::create_dir_all(&certs).expect("certs");
    ca(&dir, "ca");
    ca(&dir, "other-ca");
    signed(&dir, "ca", "lb", "/CN=lb.example.test", "lb.example.test");
    let subject = "/C=FR/O=Example/OU=a/OU=b/CN=client1";
    signed(&dir, "ca", "client1", subject, "client1");
    signed(&dir, "ca", "client2", "/CN=client2", "client2");
    signed(&dir, "ca", "member", "/CN=member", "member");
    revoke(&dir, "client2");
    // The refs, read from the `certificates` directory (ID.pem).
    let put = |id: &str, pem: String| std::fs::write(certs.join(format!("{id}.pem")), pem);
    put("lb", read(&dir, "lb.crt") + &read(&dir, "lb.key")).expect("lb");
    put("client-ca", read(&dir, "ca.crt")).expect("ca");
    put("other-ca", read(&dir, "other-ca.crt")).expect("other ca");
    put("client-crl", read(&dir, "ca.crl")).expect("crl");
    put(
        "fulcrum-client",
        read(&dir, "client1.crt") + &read(&dir, "client1.key"),
    )
    .expect("client");

    let api = api_support::start(
        &scratch,
        api_support::port(),
        &format!("    certificates {}\n", certs.display()),
    );
    let vip = vip(41);
    let lb = api.create(
        "loadbalancers",
        "loadbalancer",
        json!({"vip_address": vip, "vip_subnet_id": "lab"}),
    );
    api.wait_active(&lb);
    let port = free_port();

    // Octavia's validation.
    let listener = |extra: serde_json::Value| {
        let mut b = json!({"loadbalancer_id": lb, "protocol": "TERMINATED_HTTPS",
                           "protocol_port": port, "default_tls_container_ref": "lb"});
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        api.post("listeners", json!({ "listener": b }))
    };
    let (code, v) = listener(json!({"client_authentication": "MANDATORY"}));
    assert_eq!(code, 400, "MANDATORY without a CA: {v}");
    let (code, v) = listener(json!({"client_crl_container_ref": "client-crl"}));
    assert_eq!(code, 400, "a CRL without a CA: {v}");
    let (code, v) = listener(json!({"client_ca_tls_container_ref": "absent"}));
    assert_eq!(code, 400, "an unreadable CA: {v}");
    let (code, v) = listener(json!({"client_ca_tls_container_ref": "client-crl"}));
    assert_eq!(code, 400, "a CRL is not a CA: {v}");
    let (code, v) = listener(json!({"client_authentication": "SOMETIMES"}));
    assert_eq!(code, 400, "{v}");

    let headers = json!({"X-SSL-Client-Verify": "true", "X-SSL-Client-Has-Cert": "true",
        "X-SSL-Client-DN": "true", "X-SSL-Client-CN": "true", "X-SSL-Issuer": "true",
        "X-SSL-Client-SHA1": "true", "X-SSL-Client-Not-Before": "true",
        "X-SSL-Client-Not-After": "true"});
    let l = api.create(
        "listeners",
        "listener",
        json!({"loadbalancer_id": lb, "protocol": "TERMINATED_HTTPS", "protocol_port": port,
               "default_tls_container_ref": "lb", "client_ca_tls_container_ref": "client-ca",
               "client_authentication": "MANDATORY", "client_crl_container_ref": "client-crl",
               "insert_headers": headers}),
    );
    api.wait_active(&lb);
    let pool = api.create(
        "pools",
        "pool",
        json!({"listener_id": l, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    api.wait_active(&lb);
    let echo = echo_member();
    api.create(
        &format!("pools/{pool}/members"),
        "member",
        json!({"address": "127.0.0.1", "protocol_port": echo}),
    );
    api.wait_active(&lb);

    // The rendering, as Octavia's (and accepted by haproxy -c).
    let (code, cfg) = api.get(&format!("loadbalancers/{lb}/haproxy.cfg"));
    assert_eq!(code, 200, "{cfg}");
    let cfg = cfg.as_str().expect("text").to_string();
    let out = scratch.0.join("lbaas.db.certs");
    let bind = format!(
        "    bind {vip}:{port} ssl crt-list {o}/{l}.crt-list ca-file {o}/{l}.client_ca_tls_container_ref.pem verify required crl-file {o}/{l}.client_crl_container_ref.pem\n",
        o = out.display()
    );
    assert!(cfg.contains(&bind), "{cfg}");
    api_support::haproxy_check(&scratch.0.join("rendered.cfg"), &cfg);

    // A certificate the CA signed is admitted; the headers carry it.
    let (code, head) = https(&dir, &vip, port, Some("client1"));
    assert_eq!(code, 200, "{head}\n{}", api.fulcrum.log_text());
    let fulcrum_headers = ssl_headers(&head);
    let x509 = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-fingerprint",
            "-sha1",
            "-startdate",
            "-enddate",
            "-in",
        ])
        .arg(dir.join("client1.crt"))
        .output()
        .expect("openssl x509");
    let x509 = String::from_utf8_lossy(&x509.stdout).into_owned();
    let mut lines = x509.lines();
    let sha1 = lines
        .next()
        .and_then(|l| l.split_once('='))
        .map(|(_, f)| f.replace(':', ""))
        .expect("fingerprint");
    let (nb, na) = (
        asn1_time(lines.next().expect("startdate")),
        asn1_time(lines.next().expect("enddate")),
    );
    for want in [
        "x-ssl-client-verify: 0".to_string(),
        "x-ssl-client-has-cert: 1".into(),
        // `%{+Q}` quotes nothing in a header value (as haproxy 2.6).
        format!("x-ssl-client-dn: {subject}"),
        "x-ssl-client-cn: client1".into(),
        "x-ssl-issuer: /CN=ca".into(),
        format!("x-ssl-client-sha1: {sha1}"),
        format!("x-ssl-client-not-before: {nb}"),
        format!("x-ssl-client-not-after: {na}"),
    ] {
        assert!(
            fulcrum_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&want)),
            "missing {want}: {fulcrum_headers:?}"
        );
    }
    // MANDATORY: no certificate, no request; a revoked certificate neither.
    assert_ne!(https(&dir, &vip, port, None).0, 200);
    assert_ne!(https(&dir, &vip, port, Some("client2")).0, 200);

    // The real haproxy on the same rendered config (another port) sends the same headers.
    if let Some(haproxy) = api_support::haproxy() {
        let hport = free_port();
        // (The global maxconn asks for more file descriptors than a test may raise.)
        let hcfg = cfg
            .replace(&format!("{vip}:{port} "), &format!("{vip}:{hport} "))
            .replace("global\n    maxconn 50000", "global\n    maxconn 1000");
        let path = scratch.write("haproxy.cfg", &hcfg);
        let errors = scratch.0.join("haproxy.err");
        let _h = Proc(
            Command::new(haproxy)
                .args(["-db", "-f"])
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&errors).expect("haproxy.err"))
                .spawn()
                .expect("haproxy"),
        );
        let mut got = (0, String::new());
        let start = std::time::Instant::now();
        while got.0 != 200 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "haproxy never answered {got:?}: {}\n{hcfg}",
                std::fs::read_to_string(&errors).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
            got = https(&dir, &vip, hport, Some("client1"));
        }
        // haproxy writes header names in lower case; the values must be identical.
        let lower = |h: &[String]| -> Vec<String> {
            h.iter()
                .map(|l| match l.split_once(':') {
                    Some((n, v)) => format!("{}:{v}", n.to_ascii_lowercase()),
                    None => l.clone(),
                })
                .collect()
        };
        assert_eq!(
            lower(&ssl_headers(&got.1)),
            lower(&fulcrum_headers),
            "haproxy's X-SSL-* headers (left) differ from fulcrum's"
        );
        assert_ne!(https(&dir, &vip, hport, Some("client2")).0, 200);
        eprintln!(
            "api_tls_client: X-SSL-* headers identical to haproxy 2.6's: {fulcrum_headers:?}"
        );
    }

    // Pools: fulcrum presents client1's certificate to a member that demands one signed by
    // the CA, and checks the member's certificate against the pool's CA.
    let mport = free_port();
    let mdir = dir.display().to_string();
    let _member = Proc(
        Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-www",
                "-Verify",
                "1",
                "-accept",
                &mport.to_string(),
            ])
            .args(["-CAfile", &format!("{mdir}/ca.crt")])
            .args(["-cert", &format!("{mdir}/member.crt")])
            .args(["-key", &format!("{mdir}/member.key")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server"),
    );
    wait_for("s_server listening", Duration::from_secs(5), || {
        std::net::TcpStream::connect(("127.0.0.1", mport)).is_ok()
    });
    let hport = free_port();
    let hl = api.create(
        "listeners",
        "listener",
        json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": hport}),
    );
    api.wait_active(&lb);
    let (code, v) = api.post(
        "pools",
        json!({"pool": {"listener_id": hl, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                        "tls_enabled": true, "crl_container_ref": "client-crl"}}),
    );
    assert_eq!(code, 400, "a pool CRL without a CA: {v}");
    let tp = api.create(
        "pools",
        "pool",
        json!({"listener_id": hl, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
               "tls_enabled": true, "tls_container_ref": "fulcrum-client",
               "ca_tls_container_ref": "client-ca"}),
    );
    api.wait_active(&lb);
    api.create(
        &format!("pools/{tp}/members"),
        "member",
        json!({"address": "127.0.0.1", "protocol_port": mport}),
    );
    api.wait_active(&lb);
    let url = format!("http://{vip}:{hport}/");
    let (code, body, _) = api_support::fetch(&url, None);
    assert_eq!(code, 200, "{body}\n{}", api.fulcrum.log_text());
    let (_, cfg) = api.get(&format!("loadbalancers/{lb}/haproxy.cfg"));
    let cfg = cfg.as_str().expect("text").to_string();
    let server = format!(
        " ssl crt {o}/{tp}.tls_container_ref.pem ca-file {o}/{tp}.ca_tls_container_ref.pem verify required",
        o = out.display()
    );
    assert!(cfg.contains(&server), "{cfg}");
    api_support::haproxy_check(&scratch.0.join("rendered2.cfg"), &cfg);
    // A CA that did not sign the member's certificate: fulcrum refuses the member.
    let (code, v) = api.put(
        &format!("pools/{tp}"),
        json!({"pool": {"ca_tls_container_ref": "other-ca"}}),
    );
    assert_eq!(code, 200, "{v}");
    api.wait_active(&lb);
    wait_for(
        "fulcrum refusing the member",
        Duration::from_secs(10),
        || api_support::fetch(&url, None).0 != 200,
    );
    // Back to the right CA: served again.
    let (code, v) = api.put(
        &format!("pools/{tp}"),
        json!({"pool": {"ca_tls_container_ref": "client-ca"}}),
    );
    assert_eq!(code, 200, "{v}");
    api.wait_active(&lb);
    wait_for("served again", Duration::from_secs(10), || {
        api_support::fetch(&url, None).0 == 200
    });
    // Without the client certificate the member refuses fulcrum.
    let (code, v) = api.put(
        &format!("pools/{tp}"),
        json!({"pool": {"tls_container_ref": null}}),
    );
    assert_eq!(code, 200, "{v}");
    api.wait_active(&lb);
    wait_for(
        "the member refusing fulcrum",
        Duration::from_secs(10),
        || api_support::fetch(&url, None).0 != 200,
    );
}
