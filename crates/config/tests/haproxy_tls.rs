//! TLS words of `bind`, `server` and `global` lines: parsed into the model as written, and
//! what fulcrum refuses named with FILE:LINE.

use fulcrum_config::tls::{TlsVersion, Verify};
use fulcrum_config::{load_sources, Loaded, Source};

fn load(text: &str) -> Loaded {
    load_sources(&[Source {
        name: "t.cfg",
        text,
    }])
}

fn errors(text: &str) -> Vec<String> {
    load(text)
        .diagnostics
        .errors()
        .map(|d| d.to_string())
        .collect()
}

const HEAD: &str =
    "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n";

#[test]
fn bind_and_global_tls_options_are_read() {
    let text = format!(
        "global\n crt-base /etc/certs\n ca-base /etc/ca\n ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets\n ssl-default-bind-ciphers ECDHE-RSA-AES128-GCM-SHA256\n ssl-default-server-options no-tlsv10\n tune.ssl.cachesize 1000\n tune.ssl.lifetime 60s\n{HEAD}frontend f\n bind :443 ssl crt a.pem crt /x/dir crt-list l.txt ca-file ca.pem verify optional crl-file crl.pem alpn http/1.1 strict-sni ssl-max-ver TLSv1.3 ciphersuites TLS_AES_128_GCM_SHA256\n default_backend b\nbackend b\n server s1 127.0.0.1:8443 ssl verify required ca-file ca.pem sni str(example.com) alpn http/1.1 no-ssl-reuse\n server s2 127.0.0.1:8444\n"
    );
    let l = load(&text);
    assert!(
        l.is_ok(),
        "{:?}",
        l.diagnostics.errors().collect::<Vec<_>>()
    );
    let g = &l.config.global.tls;
    assert_eq!(g.crt_base.as_deref(), Some("/etc/certs"));
    assert_eq!(g.ca_base.as_deref(), Some("/etc/ca"));
    assert_eq!(g.default_bind.min_ver, Some(TlsVersion::Tls12));
    assert!(g.default_bind.no_tls_tickets);
    assert_eq!(g.default_server.no_versions, vec![TlsVersion::Tls10]);
    assert_eq!(g.cachesize, Some(1000));
    let fe = l.config.proxies.iter().find(|p| p.name == "f").expect("f");
    let b = &fe.binds[0];
    assert!(b.ssl);
    assert_eq!(b.tls.crt, vec!["a.pem", "/x/dir"]);
    assert_eq!(b.tls.crt_list, vec!["l.txt"]);
    assert_eq!(b.tls.verify, Some(Verify::Optional));
    assert_eq!(b.tls.alpn.as_deref(), Some(&["http/1.1".to_string()][..]));
    assert!(b.tls.strict_sni);
    assert_eq!(b.tls.max_ver, Some(TlsVersion::Tls13));
    // `ca-base` applies to `ca-file` and `crl-file` (HAProxy 2.6)
    assert_eq!(b.tls.crl_file.as_deref(), Some("/etc/ca/crl.pem"));
    assert_eq!(b.tls.ca_file.as_deref(), Some("/etc/ca/ca.pem"));
    let be = l.config.proxies.iter().find(|p| p.name == "b").expect("b");
    let s1 = &be.servers[0];
    assert!(s1.ssl);
    assert_eq!(s1.tls.verify, Some(Verify::Required));
    assert_eq!(s1.tls.sni.as_deref(), Some("str(example.com)"));
    assert!(s1.tls.no_ssl_reuse);
    assert!(!be.servers[1].ssl);
}

#[test]
fn ticket_keys_and_reuse_words_are_read() {
    let text = format!(
        "{HEAD}frontend f\n bind :443 ssl crt a.pem tls-ticket-keys /k/keys\n default_backend b\nbackend b\n default-server ssl verify none no-ssl-reuse no-tls-tickets\n server s1 127.0.0.1:1 ssl-reuse tls-tickets\n server s2 127.0.0.1:2\n"
    );
    let l = load(&text);
    assert!(
        l.is_ok(),
        "{:?}",
        l.diagnostics.errors().collect::<Vec<_>>()
    );
    let fe = l.config.proxies.iter().find(|p| p.name == "f").expect("f");
    assert_eq!(fe.binds[0].tls.ticket_keys.as_deref(), Some("/k/keys"));
    let be = l.config.proxies.iter().find(|p| p.name == "b").expect("b");
    assert!(!be.servers[0].tls.no_ssl_reuse && !be.servers[0].tls.no_tls_tickets);
    assert!(be.servers[1].tls.no_ssl_reuse && be.servers[1].tls.no_tls_tickets);
}

#[test]
fn refused_tls_words_name_the_line() {
    // HTTP/2 (ALPN `h2`) is served to clients and spoken to servers.
    assert!(errors(&format!(
        "{HEAD}frontend f\n bind :443 ssl crt a.pem alpn h2,http/1.1\n"
    ))
    .is_empty());
    assert!(errors(&format!(
        "{HEAD}backend b\n server s 127.0.0.1:443 ssl verify none alpn h2,http/1.1\n"
    ))
    .is_empty());
    let e = errors(&format!(
        "{HEAD}frontend f\n bind :443 ssl crt a.pem npn http/1.1\n"
    ));
    assert!(
        e[0].starts_with("t.cfg:7: error: 'npn' is not supported"),
        "{e:?}"
    );
    let e = errors(&format!(
        "{HEAD}frontend f\n bind :443 ssl crt a.pem ca-ignore-err all\n"
    ));
    assert!(e[0].contains("'ca-ignore-err' is not supported"), "{e:?}");
    let e = errors(&format!(
        "{HEAD}backend b\n server s 127.0.0.1:1 ssl verify optional\n"
    ));
    assert!(e[0].contains("'verify' expects none or required"), "{e:?}");
    let e = errors("global\n ssl-default-bind-options bogus\n");
    assert!(
        e[0].starts_with("t.cfg:2: error: 'ssl-default-bind-options' does not take 'bogus'"),
        "{e:?}"
    );
}

/// `check-ssl` takes its `verify` from the server line, else from the global
/// `ssl-server-verify` (written before or after the backend), else `required` (needs a CA).
#[test]
fn check_ssl_honours_the_global_ssl_server_verify() {
    let be = "backend b\n server s1 127.0.0.1:8443 check check-ssl\n";
    for text in [
        format!("global\n ssl-server-verify none\n{HEAD}{be}"),
        format!("{HEAD}{be}global\n ssl-server-verify none\n"),
    ] {
        let l = load(&text);
        assert!(l.is_ok(), "{:?}", errors(&text));
        let b = l.config.proxies.iter().find(|p| p.name == "b").expect("b");
        assert!(b.servers[0].check_tls.verify_none);
    }
    // no global: verify required without a CA is refused at the server's line
    let errs = errors(&format!("{HEAD}{be}"));
    assert!(
        errs.iter()
            .any(|e| e.contains("t.cfg:7") && e.contains("no CA file")),
        "{errs:?}"
    );
    // the server's own `verify required` wins over the global none
    let text = format!(
        "global\n ssl-server-verify none\n{HEAD}backend b\n server s1 127.0.0.1:8443 check check-ssl verify required\n"
    );
    assert!(errors(&text).iter().any(|e| e.contains("no CA file")));
    let text = format!(
        "global\n ssl-server-verify required\n{HEAD}backend b\n server s1 127.0.0.1:8443 check check-ssl verify none\n"
    );
    assert!(errors(&text).is_empty(), "{:?}", errors(&text));
}
