//! TLS termination on `bind ... ssl` against real clients (curl, `openssl s_client`) with a
//! private CA the test makes: SNI selection (exact, wildcard, default, `strict-sni`), ALPN,
//! client certificates (`verify required|optional`, `crl-file`), the `ssl_fc*`/`ssl_c_*`
//! fetches, `redirect scheme https if !{ ssl_fc }`, session resumption (tickets and ids),
//! OCSP stapling, `mode tcp` offload and `fulcrum check` errors with FILE:LINE.

mod common;
mod tls_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require;
use std::process::Command;
use tls_support::{curl, s_client, s_client_request, served_cn, Ca, Key};

const T: &str = "tls_bind";

fn tools() -> bool {
    require::tool(T, "openssl", "openssl") && require::tool(T, "curl", "curl")
}

const BODY: &str = "ssl=%[ssl_fc] sni=%[ssl_fc_sni] v=%[ssl_fc_protocol] c=%[ssl_fc_cipher] alpn=%[ssl_fc_alpn] used=%[ssl_c_used] dn=%[ssl_c_s_dn] idn=%[ssl_c_i_dn]";

struct Setup {
    _dir: Scratch,
    ca: Ca,
    client: std::path::PathBuf,
    fulcrum: Fulcrum,
    /// crt dir, strict-sni, verify required, verify optional, plain, verify required + CRL.
    ports: [u16; 6],
}

fn setup(tag: &str) -> Setup {
    let dir = Scratch::new(tag);
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let certs = dir.0.join("certs");
    std::fs::create_dir_all(&certs).expect("certs dir");
    let a = ca.issue("a.pem", "a.test", &["a.test"], Key::Ec, false);
    let b = ca.issue(
        "wild.pem",
        "b.test",
        &["*.b.test", "b.test"],
        Key::Rsa,
        false,
    );
    std::fs::copy(&a, certs.join("a.pem")).expect("copy");
    std::fs::copy(&b, certs.join("wild.pem")).expect("copy");
    ca.ocsp_response(&certs.join("a.pem"));
    let client = ca.issue("client.pem", "client one", &[], Key::Ec, true);
    let revoked = ca.issue("revoked.pem", "client two", &[], Key::Ec, true);
    let crl = ca.revoke(&revoked);
    let ports = [
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    ];
    let c = certs.display();
    let cap = ca.ca_pem();
    let cap = cap.display();
    let cfg = dir.write(
        "f.cfg",
        &format!(
            "global\n nbthread 1\n crt-base {c}\n\
             defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend f\n\
              bind 127.0.0.1:{p0} ssl crt {c} alpn http/1.1\n\
              bind 127.0.0.1:{p1} ssl crt a.pem strict-sni\n\
              bind 127.0.0.1:{p2} ssl crt a.pem ca-file {cap} verify required\n\
              bind 127.0.0.1:{p3} ssl crt a.pem ca-file {cap} verify optional\n\
              bind 127.0.0.1:{p4}\n\
              bind 127.0.0.1:{p5} ssl crt a.pem ca-file {cap} verify required crl-file {crl}\n\
              http-request redirect scheme https if !{{ ssl_fc }}\n\
              http-request return status 200 content-type text/plain lf-string \"{BODY}\"\n",
            p0 = ports[0],
            p1 = ports[1],
            p2 = ports[2],
            p3 = ports[3],
            p4 = ports[4],
            p5 = ports[5],
            crl = crl.display(),
        ),
    );
    let check = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["check", "-f"])
        .arg(&cfg)
        .output()
        .expect("fulcrum check");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let fulcrum = Fulcrum::start(&cfg);
    Setup {
        _dir: dir,
        ca,
        client,
        fulcrum,
        ports,
    }
}

#[test]
fn sni_alpn_fetches_and_redirect() {
    if !tools() {
        return;
    }
    let s = setup("tls-sni");
    let ca = s.ca.ca_pem();
    let p = s.ports[0];
    // Exact name: the ECDSA certificate; the fetches see the handshake.
    let (rc, body) = curl(&ca, "a.test", p, &["--http1.1"]);
    assert_eq!(rc, 0, "{}", s.fulcrum.log_text());
    assert!(
        body.starts_with("ssl=1 sni=a.test v=TLSv1.3 c=TLS_"),
        "{body}"
    );
    assert!(body.contains("alpn=http/1.1 used=0 dn= idn="), "{body}");
    // Wildcard: x.b.test gets the RSA *.b.test certificate (curl verifies the name).
    let (rc, body) = curl(&ca, "x.b.test", p, &["--tlsv1.2", "--tls-max", "1.2"]);
    assert_eq!(rc, 0);
    assert!(
        body.contains("sni=x.b.test v=TLSv1.2 c=ECDHE-RSA-"),
        "{body}"
    );
    // Unknown name and no SNI: the first certificate of the directory (a.pem).
    assert_eq!(
        served_cn(&s_client(p, &["-servername", "nope.test"])).as_deref(),
        Some("a.test")
    );
    assert_eq!(
        served_cn(&s_client(p, &["-noservername"])).as_deref(),
        Some("a.test")
    );
    assert_eq!(
        served_cn(&s_client(p, &["-servername", "y.b.test"])).as_deref(),
        Some("b.test")
    );
    // ALPN: http/1.1 is chosen; h2 alone is not (fulcrum does not advertise it).
    let out = s_client(p, &["-servername", "a.test", "-alpn", "h2,http/1.1"]);
    assert!(out.contains("ALPN protocol: http/1.1"), "{out}");
    let out = s_client(p, &["-servername", "a.test", "-alpn", "h2"]);
    assert!(!out.contains("ALPN protocol: h2"), "{out}");
    // strict-sni: a name without a certificate, or no name, is refused.
    assert_eq!(
        served_cn(&s_client(s.ports[1], &["-servername", "a.test"])).as_deref(),
        Some("a.test")
    );
    assert_eq!(
        served_cn(&s_client(s.ports[1], &["-servername", "nope.test"])),
        None
    );
    assert_eq!(served_cn(&s_client(s.ports[1], &["-noservername"])), None);
    // Plain HTTP is redirected to https by `redirect scheme https if !{ ssl_fc }`.
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            "--max-time",
            "5",
        ])
        .arg(format!("http://127.0.0.1:{}/x", s.ports[4]))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        format!("302 https://127.0.0.1:{}/x", s.ports[4]),
        "{text}"
    );
}

#[test]
fn client_certificates_required_optional_and_revoked() {
    if !tools() {
        return;
    }
    let s = setup("tls-client");
    let ca = s.ca.ca_pem();
    let cert = s.client.to_str().expect("utf-8").to_string();
    // required: no certificate, no handshake; with one, its names are fetched.
    let (rc, _) = curl(&ca, "a.test", s.ports[2], &[]);
    assert_ne!(
        rc, 0,
        "a client without certificate got through verify required"
    );
    let (rc, body) = curl(&ca, "a.test", s.ports[2], &["--cert", &cert]);
    assert_eq!(rc, 0, "{}", s.fulcrum.log_text());
    assert!(
        body.contains(
            "used=1 dn=/C=FR/O=Fulcrum Test/CN=client one idn=/O=Fulcrum Test/CN=Fulcrum Test CA"
        ),
        "{body}"
    );
    // optional: both get through; a certificate from another CA does not.
    let (rc, body) = curl(&ca, "a.test", s.ports[3], &[]);
    assert_eq!(rc, 0);
    assert!(body.contains("used=0"), "{body}");
    let (rc, body) = curl(&ca, "a.test", s.ports[3], &["--cert", &cert]);
    assert_eq!(rc, 0);
    assert!(body.contains("used=1"), "{body}");
    let other = Ca::new(&s.ca.dir.join("other"), "Other CA");
    let stranger = other.issue("stranger.pem", "stranger", &[], Key::Ec, true);
    let (rc, _) = curl(
        &ca,
        "a.test",
        s.ports[3],
        &["--cert", stranger.to_str().expect("utf-8")],
    );
    assert_ne!(
        rc, 0,
        "a certificate from an unknown CA got through verify optional"
    );
    // crl-file: the revoked certificate is refused, the good one accepted.
    let revoked = s.ca.dir.join("revoked.pem");
    let (rc, _) = curl(
        &ca,
        "a.test",
        s.ports[5],
        &["--cert", revoked.to_str().expect("utf-8")],
    );
    assert_ne!(rc, 0, "a revoked certificate got through");
    let (rc, _) = curl(&ca, "a.test", s.ports[5], &["--cert", &cert]);
    assert_eq!(rc, 0);
}

#[test]
fn sessions_resume_and_ocsp_is_stapled() {
    if !tools() {
        return;
    }
    let s = setup("tls-resume");
    let p = s.ports[0];
    let sess = s.ca.dir.join("sess.pem");
    let sp = sess.to_str().expect("utf-8");
    for extra in [
        &["-tls1_2"][..],
        &["-tls1_2", "-no_ticket"][..],
        &["-tls1_3"][..],
    ] {
        let _ = std::fs::remove_file(&sess);
        let mut a = vec!["-servername", "a.test", "-sess_out", sp];
        a.extend(extra);
        // A request, so the TLS 1.3 ticket (sent after the handshake) is read before it leaves.
        let first = s_client_request(p, &a);
        assert!(first.contains("New, TLS"), "{extra:?}: {first}");
        let mut a = vec!["-servername", "a.test", "-sess_in", sp];
        a.extend(extra);
        let second = s_client(p, &a);
        assert!(
            second.contains("Reused, TLS"),
            "{extra:?}: session not resumed: {second}"
        );
    }
    // OCSP: a.pem.ocsp is stapled; the RSA certificate has none.
    let out = s_client(p, &["-servername", "a.test", "-status"]);
    assert!(out.contains("OCSP Response Status: successful"), "{out}");
    assert!(out.contains("Cert Status: good"), "{out}");
    let out = s_client(p, &["-servername", "x.b.test", "-status"]);
    assert!(out.contains("OCSP response: no response sent"), "{out}");
}

#[test]
fn tcp_mode_offload() {
    if !tools() {
        return;
    }
    let dir = Scratch::new("tls-tcp");
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let a = ca.issue("a.pem", "a.test", &["a.test"], Key::Ec, false);
    let app = free_port();
    let _server = common::app_server(&dir, "plainapp", app, 200);
    let port = free_port();
    let cfg = dir.write(
        "t.cfg",
        &format!(
            "defaults\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             listen t\n mode tcp\n bind 127.0.0.1:{port} ssl crt {}\n server s 127.0.0.1:{app}\n",
            a.display()
        ),
    );
    let f = Fulcrum::start(&cfg);
    let (rc, body) = curl(&ca.ca_pem(), "a.test", port, &[]);
    assert_eq!(rc, 0, "{}", f.log_text());
    assert_eq!(body, "plainapp");
}

#[test]
fn check_reports_tls_problems_with_their_line() {
    let dir = Scratch::new("tls-check");
    let cfg = dir.write(
        "c.cfg",
        "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
         frontend f\n bind 127.0.0.1:1 ssl crt /nonexistent/x.pem\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["check", "-f"])
        .arg(&cfg)
        .output()
        .expect("check");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("c.cfg:7: error: cannot read certificate '/nonexistent/x.pem'"),
        "{err}"
    );
    let cfg = dir.write(
        "d.cfg",
        "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
         frontend f\n bind 127.0.0.1:1 ssl crt /nonexistent/x.pem alpn h2,http/1.1\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["check", "-f"])
        .arg(&cfg)
        .output()
        .expect("check");
    let err = String::from_utf8_lossy(&out.stderr);
    // `alpn h2` is served now: only the certificate is wrong.
    assert!(
        err.contains("d.cfg:7: error: cannot read certificate '/nonexistent/x.pem'")
            && !err.contains("alpn"),
        "{err}"
    );
}

/// A client whose SNI is an IP address (wrk sends the one it dials; RFC 6066 allows host names
/// only): the name is ignored and the handshake served with the default certificate, as by
/// haproxy, and fulcrum's log at `warn` stays quiet (rustls warned once per such handshake).
#[test]
fn an_ip_address_as_sni_is_ignored_without_a_log_line() {
    if !tools() {
        return;
    }
    let dir = Scratch::new("tls-ip-sni");
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let cert = ca.issue("a.pem", "a.test", &["a.test"], Key::Ec, false);
    let port = free_port();
    let cfg = dir.write(
        "f.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend f\n bind 127.0.0.1:{port} ssl crt {}\n\
             http-request return status 200 content-type text/plain string ok\n",
            cert.display()
        ),
    );
    let fulcrum = Fulcrum::start(&cfg);
    for _ in 0..3 {
        let out = s_client_request(port, &["-servername", "127.0.0.1"]);
        assert!(out.contains("HTTP/1.1 200"), "{out}");
        assert_eq!(served_cn(&out).as_deref(), Some("a.test"), "{out}");
    }
    // A line logged after the handshakes (a reload's): every line before it has been read.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(fulcrum.child.pid() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("SIGHUP");
    assert!(
        fulcrum
            .wait_line("configuration reloaded", std::time::Duration::from_secs(20))
            .is_some(),
        "reload: {}",
        fulcrum.log_text()
    );
    let log = fulcrum.log_text();
    assert!(!log.contains("SNI"), "{log}");
}
