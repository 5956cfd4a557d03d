//! `server ... ssl sni EXPR` with a sample expression (not a constant `str(NAME)`), side by
//! side with haproxy 2.6 on the same config: the SNI each new server connection sends is the
//! expression's value on the request that opens it (`req.hdr(host)` over plain HTTP,
//! `ssl_fc_sni` behind a TLS bind), none when it has no value; `verify required` checks the
//! server's certificate against that SNI (a name it does not cover is refused: 503); and a
//! keep-alive client switching names never rides a server connection opened for another one.

mod common;
mod tls_support;

use common::{free_port, Fulcrum, Scratch};
use fulcrum_testlab::require;
use std::path::Path;
use std::process::{Command, Stdio};
use tls_support::{Ca, Key};

const T: &str = "tls_server_sni";

fn haproxy(dir: &Path, cfg: &str, port: u16) -> fulcrum_testlab::process::Child {
    let path = dir.join("h.cfg");
    std::fs::write(&path, cfg).expect("write");
    fulcrum_testlab::process::Child::haproxy_listening(&path, dir.join("h.log"), port)
}

/// `curl` over plain HTTP to `port`, one request per Host given (one connection, kept
/// alive): each answer's status and body, `;`-separated.
fn requests(port: u16, hosts: &[&str]) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "5"]);
    for (i, h) in hosts.iter().enumerate() {
        if i > 0 {
            cmd.arg("--next");
        }
        cmd.args(["-H", &format!("Host: {h}"), "-w", " %{http_code};"]);
        cmd.arg(format!("http://127.0.0.1:{port}/"));
    }
    let out = cmd.stdin(Stdio::null()).output().expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn server_sni_from_the_request_as_haproxy() {
    if !require::tool(T, "openssl", "openssl")
        || !require::tool(T, "curl", "curl")
        || !require::tool(T, "haproxy", "haproxy")
    {
        return;
    }
    let dir = Scratch::new("tls-server-sni");
    let ca = Ca::new(&dir.0.join("ca"), "Fulcrum Test CA");
    let a = ca.issue("a.pem", "a.test", &["a.test"], Key::Ec, false);
    let b = ca.issue("b.pem", "b.test", &["b.test"], Key::Ec, false);
    // The TLS server: tells which SNI it got (a.pem is its default certificate).
    let app = free_port();
    let app_cfg = dir.write(
        "app.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend app\n bind 127.0.0.1:{app} ssl crt {} crt {}\n\
             http-request return status 200 content-type text/plain lf-string \"sni=%[ssl_fc_sni]\"\n",
            a.display(),
            b.display()
        ),
    );
    let _app = Fulcrum::start(&app_cfg);
    let cfg = |port: u16, tls_port: u16| {
        format!(
            "global\n nbthread 1\ndefaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
             frontend plain\n bind 127.0.0.1:{port}\n\
              use_backend none if {{ path_beg /none }}\n\
              default_backend by_host\n\
             frontend tls\n bind 127.0.0.1:{tls_port} ssl crt {a} crt {b}\n default_backend by_client_sni\n\
             backend by_host\n server s 127.0.0.1:{app} ssl verify required ca-file {ca} sni req.hdr(host)\n\
             backend by_client_sni\n server s 127.0.0.1:{app} ssl verify required ca-file {ca} sni ssl_fc_sni\n\
             backend none\n server s 127.0.0.1:{app} ssl verify required ca-file {ca} sni req.hdr(x-none)\n",
            a = a.display(),
            b = b.display(),
            ca = ca.ca_pem().display()
        )
    };
    let (hport, htls) = (free_port(), free_port());
    let _h = haproxy(&dir.0, &cfg(hport, htls), hport);
    let (fport, ftls) = (free_port(), free_port());
    let fcfg = dir.write("f.cfg", &cfg(fport, ftls));
    let f = Fulcrum::start(&fcfg);

    // One keep-alive connection switching names: each request gets its own SNI; c.test is
    // served the default certificate (a.test), which `verify required` refuses for c.test.
    let hosts = ["a.test", "b.test", "a.test", "c.test", "b.test"];
    let want = requests(hport, &hosts);
    assert!(
        want.starts_with("sni=a.test 200;sni=b.test 200;sni=a.test 200;<html>")
            && want.ends_with("</html>\n 503;sni=b.test 200;"),
        "haproxy: {want}"
    );
    assert_eq!(requests(fport, &hosts), want, "fulcrum: {}", f.log_text());
    // No value: no SNI sent, the chain checked without a name.
    let none = |port: u16| {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "5", "-w", " %{http_code}"])
            .arg(format!("http://127.0.0.1:{port}/none"))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(none(hport), "sni= 200", "haproxy");
    assert_eq!(none(fport), "sni= 200", "fulcrum");
    // Behind a TLS bind: the client's SNI goes on to the server.
    for name in ["a.test", "b.test"] {
        let (hrc, h) = tls_support::curl(&ca.ca_pem(), name, htls, &[]);
        let (frc, got) = tls_support::curl(&ca.ca_pem(), name, ftls, &[]);
        assert_eq!((hrc, h.as_str()), (0, format!("sni={name}").as_str()));
        assert_eq!((frc, got), (0, h), "fulcrum, {name}");
    }
}
