//! The README's HTTPS example (the block after its `<!-- example: https -->` marker) runs as
//! shipped under fulcrum and under haproxy 2.6, with only its addresses, certificate path and
//! socket moved into the test's directory: plain HTTP is redirected to HTTPS (301), HTTPS
//! answers carry the HSTS header, the server's answer comes through, and both give the same
//! status, `Location` and `strict-transport-security` (header names compared without case: both
//! lower-case rule-added names; the server's own names haproxy lower-cases, fulcrum keeps).

mod runtime_support;
mod tls_support;

use runtime_support::{free_port, tool, CountingServer, Fulcrum, Scratch};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tls_support::{Ca, Key};

/// The README's example block, verbatim.
fn readme_example() -> String {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let text = std::fs::read_to_string(readme).expect("README.md");
    let after = text
        .split_once("<!-- example: https -->\n```haproxy\n")
        .expect("the README's https example marker")
        .1;
    after
        .split_once("```")
        .expect("the block's end")
        .0
        .to_string()
}

/// The example with its addresses, certificate and socket moved; (config, http, https ports).
fn moved(dir: &Path, site: &Path, server: u16) -> (String, u16, u16) {
    let (http, https) = (free_port(), free_port());
    let mut text = readme_example();
    for (from, to) in [
        ("bind :80\n", format!("bind 127.0.0.1:{http}\n")),
        ("bind :443 ", format!("bind 127.0.0.1:{https} ")),
        ("/etc/fulcrum/certs/site.pem", site.display().to_string()),
        ("10.0.0.11:8080", format!("127.0.0.1:{server}")),
        (
            "/run/fulcrum/admin.sock",
            dir.join("admin.sock").display().to_string(),
        ),
    ] {
        assert!(text.contains(from), "the example no longer has {from:?}");
        text = text.replace(from, &to);
    }
    (text, http, https)
}

/// `curl` (HTTP/1.1) of `url` as `site.test`; the status line and the headers the test
/// compares, then the body.
fn fetch(ca: &Path, port: u16, scheme: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--http1.1", "--max-time", "5", "-D", "-", "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("site.test:{port}:127.0.0.1")])
        .arg(format!("{scheme}://site.test:{port}/path?q=1"))
        .stdin(Stdio::null())
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut kept: Vec<String> = Vec::new();
    for (i, l) in head.lines().enumerate() {
        let lower = l.to_ascii_lowercase();
        if i == 0
            || lower.starts_with("location:")
            || lower.starts_with("strict-transport-security:")
        {
            kept.push(l.to_string());
        }
    }
    (kept.join("\n"), body.to_string())
}

#[test]
fn readme_https_example_redirects_and_sends_hsts_as_haproxy() {
    if !tool("example_https", "curl", "curl")
        || !tool("example_https", "openssl", "openssl")
        || !tool("example_https", "haproxy", "haproxy")
    {
        return;
    }
    let certs = Scratch::new("example-https-certs");
    let ca = Ca::new(&certs.join("ca"), "Fulcrum Test CA");
    let site = ca.issue("site.pem", "site.test", &["site.test"], Key::Ec, false);
    let server = CountingServer::start("app1");

    let hdir = Scratch::new("example-https-h");
    let (htext, hhttp, hhttps) = moved(&hdir, &site, server.port);
    std::fs::write(hdir.join("h.cfg"), &htext).expect("write");
    let haproxy =
        fulcrum_testlab::process::Child::haproxy(&hdir.join("h.cfg"), hdir.join("haproxy.log"));
    let mut ports = (0, 0);
    let f = Fulcrum::start_bound("example-https-f", "admin.sock", |dir| {
        let (text, http, https) = moved(dir, &site, server.port);
        ports = (http, https);
        text
    });
    let up = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
        fetch(&ca.ca_pem(), hhttps, "https").1.contains("app1")
    });
    assert!(up.is_some(), "haproxy never answered: {}", haproxy.output());

    let (redirect, _) = fetch(&ca.ca_pem(), ports.0, "http");
    let want = format!("location: https://site.test:{}/path?q=1", ports.0);
    assert!(
        redirect.starts_with("HTTP/1.1 301 ") && redirect.to_ascii_lowercase().contains(&want),
        "plain HTTP goes to HTTPS (same host and port, as haproxy's 'redirect scheme'): {redirect}\n{}",
        f.log()
    );
    let (secure, body) = fetch(&ca.ca_pem(), ports.1, "https");
    assert!(
        secure.starts_with("HTTP/1.1 200 ")
            && secure.contains("strict-transport-security: max-age=63072000; includeSubDomains"),
        "HTTPS answers carry HSTS: {secure}\n{}",
        f.log()
    );
    assert!(body.contains("app1"), "the server's answer: {body}");
    // Side by side: the same lines from haproxy (its ports put back to fulcrum's).
    let (hredirect, _) = fetch(&ca.ca_pem(), hhttp, "http");
    let (hsecure, _) = fetch(&ca.ca_pem(), hhttps, "https");
    assert_eq!(
        redirect,
        hredirect.replace(&hhttp.to_string(), &ports.0.to_string())
    );
    // haproxy 2.6 sends header names in lower case (HTX), rule-added ones as fulcrum does; the
    // server's own names fulcrum forwards as the server wrote them (README).
    assert_eq!(secure.to_ascii_lowercase(), hsecure.to_ascii_lowercase());
    drop(haproxy);
    let _ = std::fs::remove_dir_all(&hdir);
    let _ = std::fs::remove_dir_all(&certs);
}
