//! Unit tests of the HAProxy parser: one per keyword family, with exact lines in messages.

use crate::model::*;
use crate::{load_sources, Loaded, Source};
use std::time::Duration;

fn load(text: &str) -> Loaded {
    load_sources(&[Source {
        name: "t.cfg",
        text,
    }])
}

fn ok(text: &str) -> Config {
    let l = load(text);
    assert!(
        l.is_ok(),
        "unexpected errors: {:#?}",
        l.diagnostics.errors().collect::<Vec<_>>()
    );
    l.config
}

/// Every error message, as `fulcrum check` prints it.
#[test]
fn http2_server_pool_options() {
    let c = ok(&format!(
        "{TIMEOUTS}backend b\n server s 10.0.0.1:80 proto h2 max-reuse 2 pool-max-conn 0 pool-purge-delay 1500ms\n server t 10.0.0.1:81 proto h2 max-reuse -1 pool-max-conn -1\n"
    ));
    let (s, t) = (&c.proxies[0].servers[0], &c.proxies[0].servers[1]);
    assert_eq!((s.max_reuse, s.pool_max_conn), (Some(2), Some(0)));
    assert_eq!(s.pool_purge_delay, Duration::from_millis(1500));
    assert_eq!((t.max_reuse, t.pool_max_conn), (None, None));
    assert_eq!(t.pool_purge_delay, Duration::from_secs(5));
    // A server that never speaks HTTP/2 is told they do nothing there.
    let w = warnings(&format!(
        "{TIMEOUTS}backend b\n server s 10.0.0.1:80 max-reuse 3\n server t 10.0.0.1:81 ssl verify none alpn h2 max-reuse 3\n"
    ));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("'max-reuse' is applied to HTTP/2 server connections only"),
        "{w:?}"
    );
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}backend b\n server s 10.0.0.1:80 proto h2 max-reuse x\n"
        ))
        .len(),
        1
    );
}

fn errors(text: &str) -> Vec<String> {
    load(text)
        .diagnostics
        .errors()
        .map(|d| d.to_string())
        .collect()
}

fn warnings(text: &str) -> Vec<String> {
    load(text)
        .diagnostics
        .warnings()
        .map(|d| d.to_string())
        .collect()
}

const TIMEOUTS: &str = "defaults\n timeout connect 5s\n timeout client 50s\n timeout server 50s\n";

#[test]
fn privilege_keywords() {
    let c = ok("global\n uid 99\n gid 98\n stats socket /run/h.sock mode 640 user haproxy group adm uid 7 gid 8 level admin\n");
    assert_eq!((c.global.uid, c.global.gid), (Some(99), Some(98)));
    let s = &c.global.stats_sockets[0];
    assert_eq!(s.user.as_deref(), Some("haproxy"));
    assert_eq!(s.group.as_deref(), Some("adm"));
    assert_eq!((s.uid, s.gid), (Some(7), Some(8)));
}

#[test]
fn global_keywords() {
    let c = ok("global\n maxconn 4000\n nbthread 2\n log 127.0.0.1:514 local0 info\n stats socket /run/h.sock mode 660 level admin\n stats timeout 30s\n daemon\n user haproxy\n group haproxy\n chroot /var/lib/haproxy\n pidfile /run/h.pid\n tune.bufsize 32k\n tune.maxrewrite 2048\n spread-checks 5\n");
    let g = &c.global;
    assert_eq!(g.maxconn, Some(4000));
    assert_eq!(g.nbthread, Some(2));
    assert_eq!(g.logs.len(), 1);
    assert_eq!(g.logs[0].address, "127.0.0.1:514");
    assert_eq!(g.logs[0].facility, "local0");
    assert_eq!(g.logs[0].level.as_deref(), Some("info"));
    assert_eq!(g.stats_sockets[0].address, "/run/h.sock");
    assert_eq!(g.stats_sockets[0].mode, Some(0o660));
    assert_eq!(g.stats_sockets[0].level, StatsLevel::Admin);
    assert_eq!(g.stats_timeout, Some(Duration::from_secs(30)));
    assert!(g.daemon);
    assert_eq!(g.user.as_deref(), Some("haproxy"));
    assert_eq!(g.group.as_deref(), Some("haproxy"));
    assert_eq!(g.chroot.as_deref(), Some("/var/lib/haproxy"));
    assert_eq!(g.pidfile.as_deref(), Some("/run/h.pid"));
    assert_eq!(g.tune_bufsize, 32768);
    assert_eq!(g.tune_maxrewrite, 2048);
    assert_eq!(g.spread_checks, 5);
}

#[test]
fn global_errors_have_lines() {
    assert_eq!(
        errors("global\n maxconn many\n"),
        vec!["t.cfg:2: error: maxconn expects a whole number, found 'many'"]
    );
    assert_eq!(
        errors("global\n\n spread-checks 80\n"),
        vec!["t.cfg:3: error: spread-checks must be between 0 and 50, found 80"]
    );
    let e = errors("global\n maxcon 10\n");
    assert_eq!(e, vec!["t.cfg:2: error: unknown keyword 'maxcon' in 'global' section (did you mean 'maxconn'?)"]);
    assert_eq!(errors("global\n log 1.2.3.4 local9\n").len(), 1);
}

#[test]
fn defaults_are_inherited_by_the_last_one_above() {
    let c = ok(&format!("{TIMEOUTS} mode http\n retries 5\n option redispatch\n option forwardfor\nbackend a\n server s 127.0.0.1:80\ndefaults\n mode tcp\n timeout connect 1s\n timeout server 1s\n timeout client 1s\nbackend b\n server s 127.0.0.1:80\n"));
    let a = c.proxy("a").unwrap();
    assert_eq!(a.mode, Mode::Http);
    assert_eq!(a.retries, 5);
    assert!(a.options.redispatch);
    assert_eq!(
        a.options.forwardfor.as_ref().unwrap().header,
        "X-Forwarded-For"
    );
    assert_eq!(a.timeouts.connect, Some(Duration::from_secs(5)));
    let b = c.proxy("b").unwrap();
    // A new defaults section starts from HAProxy's built-in values, not from the previous one.
    assert_eq!(b.mode, Mode::Tcp);
    assert_eq!(b.retries, 3);
    assert!(!b.options.redispatch);
    assert_eq!(b.timeouts.connect, Some(Duration::from_secs(1)));
}

#[test]
fn named_defaults_and_from() {
    let c = ok("defaults web\n mode http\n timeout connect 5s\n timeout client 5s\n timeout server 5s\ndefaults tcp\n mode tcp\n timeout connect 5s\n timeout client 5s\n timeout server 5s\nfrontend f from web\n bind :8080\n default_backend b\nbackend b from web\n server s 127.0.0.1:80\nbackend t\n server s 127.0.0.1:80\n");
    assert_eq!(c.proxy("f").unwrap().mode, Mode::Http);
    assert_eq!(c.proxy("f").unwrap().defaults.as_deref(), Some("web"));
    assert_eq!(c.proxy("t").unwrap().mode, Mode::Tcp);
    assert_eq!(
        errors("frontend f from nope\n bind :80\n"),
        vec![
            "t.cfg:1: error: defaults section 'nope' named by 'from' was not found above this line"
        ]
    );
}

#[test]
fn defaults_carry_across_files_in_order() {
    let l = load_sources(&[
        Source { name: "a.cfg", text: "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n" },
        Source { name: "b.cfg", text: "backend b\n server s 127.0.0.1:80\n" },
    ]);
    assert!(l.is_ok());
    assert_eq!(l.config.proxy("b").unwrap().mode, Mode::Http);
    assert_eq!(l.config.proxy("b").unwrap().span.to_string(), "b.cfg:1");
}

#[test]
fn binds() {
    let c = ok(&format!("{TIMEOUTS}frontend f\n bind :80\n bind *:81-83 name web\n bind 10.0.0.1:443 transparent freebind\n bind :::8080 v6only\n bind [::1]:8081,127.0.0.1:8082\n bind ipv6@:8083 v4v6\n bind /run/f.sock\n"));
    let b = &c.proxy("f").unwrap().binds;
    assert_eq!(b[0].address, BindAddress::AnyV4);
    assert_eq!((b[0].port_first, b[0].port_last), (80, 80));
    assert_eq!((b[1].port_first, b[1].port_last), (81, 83));
    assert_eq!(b[1].name.as_deref(), Some("web"));
    assert_eq!(b[2].address, BindAddress::Ip("10.0.0.1".parse().unwrap()));
    assert!(b[2].transparent && b[2].freebind);
    assert_eq!(b[3].address, BindAddress::AnyV6);
    assert!(b[3].v6only);
    assert_eq!(b[4].address, BindAddress::Ip("::1".parse().unwrap()));
    assert_eq!(b[5].address, BindAddress::Ip("127.0.0.1".parse().unwrap()));
    assert_eq!(b[6].address, BindAddress::AnyV6);
    assert!(b[6].v4v6);
    assert_eq!(b[7].address, BindAddress::Unix("/run/f.sock".into()));
}

#[test]
fn bind_address_forms() {
    let c = ok(&format!(
        "{TIMEOUTS}frontend f\n bind unix@/run/a.sock mode 660 user nobody group nogroup id 7\n bind abns@fulcrum-test\n bind fd@3\n bind sockpair@4\n bind uxst@/run/b.sock uid 0 gid 0\n bind ipv4@127.0.0.1:80\n"
    ));
    let b = &c.proxy("f").unwrap().binds;
    assert_eq!(b[0].address, BindAddress::Unix("/run/a.sock".into()));
    assert_eq!(b[0].mode, Some(0o660));
    assert_eq!(
        (b[0].user.as_deref(), b[0].group.as_deref(), b[0].id),
        (Some("nobody"), Some("nogroup"), Some(7))
    );
    assert_eq!(b[1].address, BindAddress::Abns("fulcrum-test".into()));
    assert_eq!(b[2].address, BindAddress::Fd(3));
    assert_eq!(b[3].address, BindAddress::Sockpair(4));
    assert_eq!(b[4].address, BindAddress::Unix("/run/b.sock".into()));
    assert_eq!((b[4].uid, b[4].gid), (Some(0), Some(0)));
    assert_eq!(b[5].address, BindAddress::Ip("127.0.0.1".parse().unwrap()));
    assert_eq!(
        errors(&format!("{TIMEOUTS}frontend f\n bind fd@x\n")).len(),
        1
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}frontend f\n bind udp@:514\n")).len(),
        1
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}frontend f\n bind /x.sock mode 999\n")).len(),
        1
    );
    std::env::set_var("FULCRUM_TEST_LISTEN_FD", "5");
    let c = ok(&format!(
        "{TIMEOUTS}frontend f\n bind fd@${{FULCRUM_TEST_LISTEN_FD}}\n"
    ));
    assert_eq!(c.proxy("f").unwrap().binds[0].address, BindAddress::Fd(5));
}

#[test]
fn bind_errors() {
    assert_eq!(
        errors(&format!("{TIMEOUTS}frontend f\n bind :70000\n")),
        vec!["t.cfg:6: error: invalid port in ':70000': ports must be between 1 and 65535"]
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}frontend f\n bind 1.2.3:80\n")).len(),
        1
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}frontend f\n bind :90-80\n")),
        vec!["t.cfg:6: error: invalid port range in ':90-80': 90 is above 80"]
    );
    // HTTP/2 over TLS (ALPN) to clients and to servers.
    assert!(errors(&format!(
        "{TIMEOUTS}frontend f\n bind :443 ssl crt /etc/x.pem alpn h2,http/1.1\n"
    ))
    .is_empty());
    let c = ok(&format!(
        "{TIMEOUTS}backend b\n server s 127.0.0.1:443 ssl verify none alpn h2\n"
    ));
    let s = &c.proxies[0].servers[0];
    assert_eq!(s.tls.alpn.as_deref(), Some(&["h2".to_string()][..]));
    assert!(!s.proto_h2);
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :443 ssl crt /x.pem npn http/1.1\n"
    ));
    assert!(
        e[0].starts_with("t.cfg:6: error: 'npn' is not supported"),
        "{e:?}"
    );
    let e = errors(&format!("{TIMEOUTS}frontend f\n bind :443 ssl\n"));
    assert!(e[0].contains("needs a certificate"), "{e:?}");
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :443 ssl crt /x.pem ssl-min-ver TLSv9\n"
    ));
    assert!(
        e[0].contains("'ssl-min-ver' expects SSLv3, TLSv1.0"),
        "{e:?}"
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}backend b\n bind :80\n")),
        vec!["t.cfg:6: error: 'bind' is not allowed in a 'backend' section"]
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}frontend f\n bind :80 bogus\n")).len(),
        1
    );
}

#[test]
fn servers_and_default_server() {
    let c = ok(&format!("{TIMEOUTS}backend b\n default-server inter 3s fall 2 rise 4\n server a 10.0.0.1:80 check weight 50 maxconn 100 cookie A fastinter 500ms downinter 10s port 8080 addr 10.0.0.9 observe layer7 error-limit 5 on-error mark-down send-proxy\n server c 10.0.0.2 backup disabled\n server d web.example.com:+1\n server e [::1]:81\n"));
    let s = &c.proxy("b").unwrap().servers;
    assert_eq!(s[0].inter, Duration::from_secs(3));
    assert_eq!((s[0].fall, s[0].rise), (2, 4));
    assert!(s[0].check);
    assert_eq!(s[0].weight, 50);
    assert_eq!(s[0].maxconn, Some(100));
    assert_eq!(s[0].cookie.as_deref(), Some("A"));
    assert_eq!(s[0].fastinter, Some(Duration::from_millis(500)));
    assert_eq!(s[0].downinter, Some(Duration::from_secs(10)));
    assert_eq!(s[0].check_port, Some(8080));
    assert_eq!(s[0].check_addr, Some("10.0.0.9".parse().unwrap()));
    assert_eq!(s[0].observe, Some(Observe::Layer7));
    assert_eq!(s[0].error_limit, 5);
    assert_eq!(s[0].on_error, OnError::MarkDown);
    assert!(s[0].send_proxy);
    assert_eq!(s[0].address.port, ServerPort::Fixed(80));
    assert_eq!(s[1].address.port, ServerPort::Unset);
    assert!(s[1].backup && s[1].disabled && !s[1].check);
    assert_eq!(s[1].weight, 1);
    assert_eq!(s[2].address.host, "web.example.com");
    assert_eq!(s[2].address.ip, None);
    assert_eq!(s[2].address.port, ServerPort::Offset(1));
    assert_eq!(s[3].address.ip, Some("::1".parse().unwrap()));
    assert_eq!(s[3].address.port, ServerPort::Fixed(81));
}

#[test]
fn server_errors_and_warnings() {
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}backend b\n server a 10.0.0.1:80 weight 300\n"
        )),
        vec!["t.cfg:6: error: weight must be between 0 and 256, found 300"]
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}backend b\n server a 10.0.0.1:99999\n")).len(),
        1
    );
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}backend b\n server a 10.0.0.1:80 chek\n"
        )),
        vec!["t.cfg:6: error: unknown server option 'chek' (did you mean 'check'?)"]
    );
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}frontend f\n bind :80\n server a 10.0.0.1:80\n"
        )),
        vec!["t.cfg:7: error: 'server' is not allowed in a 'frontend' section"]
    );
    let w = warnings(&format!(
        "{TIMEOUTS}backend b\n server a 10.0.0.1:80 inter 1s\n"
    ));
    assert!(
        w.iter()
            .any(|w| w.contains("t.cfg:6") && w.contains("'inter' has no effect without 'check'")),
        "{w:?}"
    );
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}backend b\n server a 10.0.0.1:80\n server a 10.0.0.2:80\n"
        )),
        vec!["t.cfg:7: error: backend 'b' has two servers named 'a' (the other at t.cfg:6)"]
    );
}

#[test]
fn timeouts_all_of_them() {
    let c = ok("defaults\n timeout connect 5000\n timeout client 1m\n timeout server 2h\n timeout http-request 10s\n timeout http-keep-alive 2s\n timeout queue 30s\n timeout check 5s\n timeout tunnel 1d\n timeout client-fin 3s\n timeout server-fin 4s\nbackend b\n");
    let t = &c.proxy("b").unwrap().timeouts;
    assert_eq!(t.connect, Some(Duration::from_millis(5000)));
    assert_eq!(t.client, Some(Duration::from_secs(60)));
    assert_eq!(t.server, Some(Duration::from_secs(7200)));
    assert_eq!(t.http_request, Some(Duration::from_secs(10)));
    assert_eq!(t.http_keep_alive, Some(Duration::from_secs(2)));
    assert_eq!(t.queue, Some(Duration::from_secs(30)));
    assert_eq!(t.check, Some(Duration::from_secs(5)));
    assert_eq!(t.tunnel, Some(Duration::from_secs(86400)));
    assert_eq!(t.client_fin, Some(Duration::from_secs(3)));
    assert_eq!(t.server_fin, Some(Duration::from_secs(4)));
    assert_eq!(errors("defaults\n timeout connct 5s\n").len(), 1);
    assert_eq!(errors("defaults\n timeout connect 5x\n"), vec!["t.cfg:2: error: timeout connect: unknown time unit 'x' in '5x' (expected us, ms, s, m, h or d)"]);
    assert_eq!(errors("defaults\n contimeout 5000\n"), vec!["t.cfg:2: error: 'contimeout' was removed in HAProxy 2.x; use 'timeout connect' instead"]);
}

/// Keywords whose absence a client, a server or a log reader would see are refused, never
/// ignored with a warning; harmless ones are warned.
#[test]
fn keywords_not_run_are_refused_when_ignoring_them_would_show() {
    for kw in ["persist rdp-cookie", "filter compression"] {
        let name = kw.split(' ').next().unwrap_or_default();
        let errs = errors(&format!("listen l\n {kw}\n"));
        assert_eq!(
            errs,
            vec![format!("t.cfg:2: error: '{name}' is not supported by fulcrum yet (ignoring it would change what clients, servers or logs see)")],
            "{kw}"
        );
    }
    assert!(errors("listen l\n description the web tier\n").is_empty());
    // Run now: `option logasap`, `option httpslog`, `error-log-format`, `capture cookie`.
    assert!(
        errors("listen l\n option logasap\n option httpslog\n error-log-format \"%ci x\"\n")
            .is_empty()
    );
    // The H1 codec's settings run now (`model_codec`); bad values are refused.
    assert!(errors("global\n tune.http.maxhdr 200\n h1-case-adjust x-a X-A\n").is_empty());
    assert_eq!(errors("global\n tune.http.maxhdr 0\n").len(), 1);
    assert_eq!(
        errors("global\n h1-case-adjust x-a X-B\n"),
        vec!["t.cfg:2: error: 'x-a' and 'X-B' must not differ except in case"]
    );
    assert!(errors(
        "listen l\n option accept-invalid-http-request\n option h1-case-adjust-bogus-client\n"
    )
    .is_empty());
}

#[test]
fn missing_timeouts_warn_like_haproxy() {
    let w =
        warnings("frontend f\n bind :80\n default_backend b\nbackend b\n server s 127.0.0.1:80\n");
    assert!(w.iter().any(|w| w.starts_with("t.cfg:1: warning: missing timeouts for frontend 'f': 'client'")), "{w:?}");
    assert!(
        w.iter().any(|w| w.starts_with(
            "t.cfg:4: warning: missing timeouts for backend 'b': 'connect', 'server'"
        )),
        "{w:?}"
    );
}

#[test]
fn options() {
    let c = ok(&format!("{TIMEOUTS}backend b\n mode http\n option redispatch\n option forwardfor except 127.0.0.0/8 header X-Real-IP if-none\n option http-server-close\n option httplog\n option tcplog\n option dontlognull\n option httpchk GET /health HTTP/1.1\n option allbackups\n option persist\n option abortonclose\n"));
    let o = &c.proxy("b").unwrap().options;
    assert!(
        o.redispatch
            && o.httplog
            && o.tcplog
            && o.dontlognull
            && o.allbackups
            && o.persist
            && o.abortonclose
    );
    assert_eq!(
        o.forwardfor,
        Some(ForwardFor {
            except: Some("127.0.0.0/8".into()),
            header: "X-Real-IP".into(),
            if_none: true
        })
    );
    assert_eq!(o.http_connection, HttpConnectionMode::ServerClose);
    assert_eq!(
        o.httpchk,
        Some(HttpChk {
            method: "GET".into(),
            uri: "/health".into(),
            version: "HTTP/1.1".into(),
            extra: None
        })
    );
    let c = ok(&format!(
        "{TIMEOUTS}backend b\n option httpclose\n option httpchk /ping\n"
    ));
    let o = &c.proxy("b").unwrap().options;
    assert_eq!(o.http_connection, HttpConnectionMode::Close);
    assert_eq!(o.httpchk.as_ref().unwrap().method, "OPTIONS");
    assert_eq!(o.httpchk.as_ref().unwrap().uri, "/ping");
    let c = ok(&format!("{TIMEOUTS} option http-server-close\nbackend b\n option http-keep-alive\nbackend c\n no option http-server-close\n"));
    assert_eq!(
        c.proxy("b").unwrap().options.http_connection,
        HttpConnectionMode::KeepAlive
    );
    assert_eq!(
        c.proxy("c").unwrap().options.http_connection,
        HttpConnectionMode::KeepAlive
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}backend b\n option redispath\n")),
        vec!["t.cfg:6: error: unknown option 'redispath' (did you mean 'redispatch'?)"]
    );
}

#[test]
fn balance_algorithms() {
    let algo = |a: &str| {
        ok(&format!("{TIMEOUTS}backend b\n balance {a}\n"))
            .proxy("b")
            .unwrap()
            .balance
            .clone()
    };
    assert_eq!(algo("roundrobin"), Balance::Roundrobin);
    assert_eq!(algo("static-rr"), Balance::StaticRr);
    assert_eq!(algo("leastconn"), Balance::Leastconn);
    assert_eq!(algo("first"), Balance::First);
    assert_eq!(algo("source"), Balance::Source);
    assert_eq!(
        algo("uri whole depth 3"),
        Balance::Uri {
            whole: true,
            len: None,
            depth: Some(3)
        }
    );
    assert_eq!(
        algo("url_param userid"),
        Balance::UrlParam {
            param: "userid".into()
        }
    );
    assert_eq!(
        algo("hdr(Host) use_domain_only"),
        Balance::Hdr {
            name: "Host".into(),
            use_domain_only: true
        }
    );
    assert_eq!(algo("random"), Balance::Random { draws: 2 });
    assert_eq!(algo("random(3)"), Balance::Random { draws: 3 });
    assert_eq!(
        ok(&format!("{TIMEOUTS}backend b\n"))
            .proxy("b")
            .unwrap()
            .balance,
        Balance::Roundrobin
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}backend b\n balance roundrobbin\n")).len(),
        1
    );
    // What fulcrum does not run is said.
    let w = warnings(&format!("{TIMEOUTS}backend b\n balance rdp-cookie\n"));
    assert!(
        w.len() == 1 && w[0].contains("rdp-cookie' is not run by fulcrum yet"),
        "{w:?}"
    );
    let w = warnings(&format!(
        "{TIMEOUTS}backend b\n mode http\n balance url_param userid check_post\n"
    ));
    assert!(w.len() == 1 && w[0].contains("check_post"), "{w:?}");
    assert!(warnings(&format!(
        "{TIMEOUTS}backend b\n mode http\n balance url_param userid\n"
    ))
    .is_empty());
    // In `mode tcp` (no request to hash): round robin, with haproxy's warning.
    let w = warnings(&format!("{TIMEOUTS}backend b\n balance uri\n"));
    assert!(
        w.len() == 1 && w[0].contains("Layer 7 hash not possible for backend 'b'"),
        "{w:?}"
    );
}

#[test]
fn cookie_persistence() {
    let c = ok(&format!("{TIMEOUTS}backend b\n mode http\n cookie SRV insert indirect nocache httponly secure domain .example.com maxidle 30m maxlife 8h\n server a 127.0.0.1:80 cookie 0\n"));
    let k = c.proxy("b").unwrap().cookie.clone().unwrap();
    assert_eq!(k.name, "SRV");
    assert_eq!(k.method, CookieMethod::Insert);
    assert!(k.indirect && k.nocache && k.httponly && k.secure);
    assert_eq!(k.domains, vec![".example.com"]);
    assert_eq!(k.maxidle, Some(Duration::from_secs(1800)));
    assert_eq!(k.maxlife, Some(Duration::from_secs(8 * 3600)));
    let c = ok(&format!("{TIMEOUTS}backend b\n mode http\n cookie JSESSIONID prefix\n server a 127.0.0.1:80 cookie s1\n"));
    assert_eq!(
        c.proxy("b").unwrap().cookie.as_ref().unwrap().method,
        CookieMethod::Prefix
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}backend b\n cookie S insert prefix\n")).len(),
        1
    );
    let w = warnings(&format!(
        "{TIMEOUTS}backend b\n mode http\n cookie SRV insert\n server a 127.0.0.1:80\n"
    ));
    assert!(
        w.iter()
            .any(|w| w.contains("t.cfg:7") && w.contains("no server has a 'cookie' value")),
        "{w:?}"
    );
}

#[test]
fn acls_and_use_backend() {
    let c = ok(&format!("{TIMEOUTS}frontend f\n mode http\n bind :80\n acl is_api path_beg -i /api /v2\n acl host_a hdr(host) -i a.example.com\n acl dom hdr_dom(host) example.com\n acl beg hdr_beg(host) www.\n acl p path /x\n acl e path_end .jpg\n acl r path_reg ^/img/[0-9]+$\n acl local src 10.0.0.0/8 127.0.0.1\n acl post method POST\n acl tls ssl_fc\n use_backend api if is_api host_a || !local\n use_backend img if {{ path_beg /img }} !post\n use_backend api unless tls\n use_backend img if post OR tls Or p\n default_backend web\nbackend api\n mode http\nbackend img\n mode http\nbackend web\n mode http\n"));
    let f = c.proxy("f").unwrap();
    assert_eq!(f.acls.len(), 10);
    assert_eq!(
        f.acls[0].fetch,
        Fetch {
            name: "path_beg".into(),
            arg: None
        }
    );
    assert!(f.acls[0].ignore_case);
    assert_eq!(f.acls[0].patterns, vec!["/api", "/v2"]);
    assert_eq!(
        f.acls[1].fetch,
        Fetch {
            name: "hdr".into(),
            arg: Some("host".into())
        }
    );
    let u = &f.use_backends[0];
    assert_eq!(u.backend.name, "api");
    let cond = u.condition.as_ref().unwrap();
    assert!(!cond.unless);
    assert_eq!(cond.any_of.len(), 2);
    assert_eq!(cond.any_of[0].len(), 2);
    assert!(cond.any_of[1][0].negate);
    // `or` in any case, as haproxy's strcasecmp
    let any_of = &f.use_backends[3].condition.as_ref().unwrap().any_of;
    assert_eq!(any_of.len(), 3);
    let anon = &f.use_backends[1].condition.as_ref().unwrap().any_of[0];
    assert!(
        matches!(&anon[0].acl, AclRef::Anonymous(a) if a.fetch.name == "path_beg" && a.patterns == vec!["/img"])
    );
    assert!(anon[1].negate);
    assert!(f.use_backends[2].condition.as_ref().unwrap().unless);
    assert_eq!(f.default_backend.as_ref().unwrap().name, "web");
}

#[test]
fn acl_and_backend_reference_errors() {
    let e = errors(&format!("{TIMEOUTS}frontend f\n bind :80\n use_backend b if nope\n default_backend missing\nbackend b\n"));
    assert_eq!(
        e,
        vec![
            "t.cfg:7: error: no such ACL: 'nope' in frontend 'f'",
            "t.cfg:8: error: unable to find required backend 'missing' for frontend 'f'",
            "t.cfg:7: error: unable to find required backend 'b' for frontend 'f'"
        ]
        .into_iter()
        .filter(|s| !s.contains("'b'"))
        .collect::<Vec<_>>()
    );
    assert_eq!(errors(&format!("{TIMEOUTS}frontend f\n bind :80\n acl x pth_beg /a\n")), vec!["t.cfg:7: error: ACL 'x': 'pth_beg': column 1: unknown fetch 'pth_beg' (did you mean 'path_beg'?)"]);
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}frontend f\n bind :80\n use_backend b when x\nbackend b\n"
        )),
        vec!["t.cfg:7: error: expected 'if' or 'unless', found 'when'"]
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}frontend f\n mode http\n bind :80\n default_backend b\nbackend b\n")),
        vec!["t.cfg:8: error: frontend 'f' is in mode http but uses backend 'b' in mode tcp (expected both in mode http)"]
    );
    // Predefined ACLs need no declaration.
    ok(&format!(
        "{TIMEOUTS}frontend f\n mode http\n bind :80\n http-request deny if METH_TRACE\n"
    ));
}

#[test]
fn duplicate_proxy_names() {
    ok(&format!(
        "{TIMEOUTS}frontend x\n bind :80\n default_backend x\nbackend x\n"
    ));
    assert_eq!(
        errors(&format!("{TIMEOUTS}backend x\nlisten x\n bind :80\n")),
        vec!["t.cfg:6: error: listen 'x' has the same name as backend 'x' declared at t.cfg:5"]
    );
}

#[test]
fn http_rules() {
    let c = ok(&format!("{TIMEOUTS}frontend f\n mode http\n bind :80\n acl adm path_beg /admin\n http-request deny deny_status 403 if adm\n http-request set-header X-Proto http\n http-request add-header X-A \"a b\"\n http-request del-header X-Secret\n http-request redirect scheme https code 301 if !adm\n http-request redirect location /new\n http-request redirect prefix /p code 308\n http-request return status 200 content-type text/plain string \"hello world\" hdr X-A b\n http-request use-service prometheus-exporter if {{ path /metrics }}\n http-response set-header X-Served-By fulcrum\n http-response del-header Server\n http-request allow\n"));
    let f = c.proxy("f").unwrap();
    let a: Vec<&HttpAction> = f.http_request.iter().map(|r| &r.action).collect();
    assert_eq!(a[0], &HttpAction::Deny { status: Some(403) });
    assert!(f.http_request[0].condition.is_some());
    assert_eq!(
        a[1],
        &HttpAction::SetHeader {
            name: "X-Proto".into(),
            value: "http".into()
        }
    );
    assert_eq!(
        a[2],
        &HttpAction::AddHeader {
            name: "X-A".into(),
            value: "a b".into()
        }
    );
    assert_eq!(
        a[3],
        &HttpAction::DelHeader {
            name: "X-Secret".into()
        }
    );
    assert_eq!(
        a[4],
        &HttpAction::Redirect {
            kind: RedirectKind::Scheme,
            target: "https".into(),
            code: 301,
            drop_query: false,
            append_slash: false,
            cookie: None,
            log_format: false,
            ignore_empty: false,
        }
    );
    assert_eq!(
        a[5],
        &HttpAction::Redirect {
            kind: RedirectKind::Location,
            target: "/new".into(),
            code: 302,
            drop_query: false,
            append_slash: false,
            cookie: None,
            log_format: false,
            ignore_empty: false,
        }
    );
    assert_eq!(
        a[6],
        &HttpAction::Redirect {
            kind: RedirectKind::Prefix,
            target: "/p".into(),
            code: 308,
            drop_query: false,
            append_slash: false,
            cookie: None,
            log_format: false,
            ignore_empty: false,
        }
    );
    assert_eq!(
        a[7],
        &HttpAction::Return {
            status: 200,
            content_type: Some("text/plain".into()),
            body: ReturnBody::String("hello world".into()),
            headers: vec![("X-A".into(), "b".into())]
        }
    );
    assert_eq!(
        a[8],
        &HttpAction::UseService {
            name: "prometheus-exporter".into()
        }
    );
    assert_eq!(a[9], &HttpAction::Allow);
    assert_eq!(
        f.http_response[0].action,
        HttpAction::SetHeader {
            name: "X-Served-By".into(),
            value: "fulcrum".into()
        }
    );
    assert_eq!(
        f.http_response[1].action,
        HttpAction::DelHeader {
            name: "Server".into()
        }
    );
    assert_eq!(errors(&format!("{TIMEOUTS}frontend f\n bind :80\n http-request set-haeder X y\n")), vec!["t.cfg:7: error: unknown 'http-request' action 'set-haeder' (did you mean 'set-header'?)"]);
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}frontend f\n bind :80\n http-request redirect scheme https code 305\n"
        ))
        .len(),
        1
    );
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}frontend f\n bind :80\n http-request wait-for-body time 1s\n"
        )),
        Vec::<String>::new()
    );
    // Mid-chain and with a condition: a rule of the chain (several too; in a backend too).
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}frontend f\n bind :80\n http-request deny if {{ path /x }}\n http-request wait-for-body time 1s at-least 1k\n"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}frontend f\n bind :80\n http-request wait-for-body time 1s if TRUE\n"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}frontend f\n bind :80\n http-request wait-for-body time 1s if TRUE\n http-request wait-for-body time 2s\n"
        )),
        Vec::<String>::new(),
        "several wait-for-body rules each pause the chain"
    );
    let c = ok(&format!(
        "{TIMEOUTS}backend b\n http-request wait-for-body time 1s\n http-response set-header a b\n http-response wait-for-body time 1s\n"
    ));
    let b = c.proxy("b").unwrap();
    assert!(
        b.options.wait_for_body.is_none(),
        "a backend's wait is a rule"
    );
    assert!(matches!(
        b.http_request[..],
        [HttpRule {
            action: HttpAction::WaitForBody(_),
            ..
        }]
    ));
    assert!(
        matches!(b.http_response[1].action, HttpAction::WaitForBody(_)),
        "a response wait after other rules is a rule"
    );
}

#[test]
fn http_check() {
    let c = ok(&format!("{TIMEOUTS}backend b\n option httpchk\n http-check send meth GET uri /health ver HTTP/1.1 hdr Host www.example.com\n http-check expect ! rstatus ^5\n"));
    let h = &c.proxy("b").unwrap().http_check;
    let [HttpCheckRule::Send(s), HttpCheckRule::Expect(e)] = &h.rules[..] else {
        panic!("send then expect: {:?}", h.rules);
    };
    assert_eq!(s.method.as_deref(), Some("GET"));
    assert_eq!(s.uri.as_deref(), Some("/health"));
    assert_eq!(s.version.as_deref(), Some("HTTP/1.1"));
    assert_eq!(
        s.headers,
        vec![("Host".to_string(), "www.example.com".to_string())]
    );
    assert!(e.negate);
    assert_eq!(e.kind, ExpectKind::Rstatus);
    assert_eq!(e.pattern, "^5");
    let c = ok(&format!(
        "{TIMEOUTS}backend b\n http-check expect status 200\n"
    ));
    assert!(matches!(
        &c.proxy("b").unwrap().http_check.rules[..],
        [HttpCheckRule::Expect(e)] if e.kind == ExpectKind::Status
    ));
    let c = ok(&format!(
        "{TIMEOUTS}backend b\n option httpchk\n http-check connect\n http-check send meth OPTIONS uri /a\n http-check expect hdr name -m beg X-O value -m sub yes\n http-check connect port 81\n http-check send uri /b\n http-check expect ! fhdr name X-List\n"
    ));
    let rules = &c.proxy("b").unwrap().http_check.rules;
    assert_eq!(rules.len(), 6);
    assert!(
        matches!(&rules[2], HttpCheckRule::Expect(HttpCheckExpect { kind: ExpectKind::Hdr, header: Some(HeaderMatch { name_method: MatchMethod::Beg, name, value: Some((MatchMethod::Sub, v)), .. }), .. }) if name == "X-O" && v == "yes")
    );
    assert!(matches!(
        &rules[5],
        HttpCheckRule::Expect(HttpCheckExpect {
            negate: true,
            kind: ExpectKind::Fhdr,
            ..
        })
    ));
    // a backend's own rules replace the ones of defaults
    let c = ok(&format!(
        "{TIMEOUTS} option httpchk\n http-check send uri /d\n tcp-check send d\nbackend b\n http-check send uri /b\n tcp-check send b\nbackend c\n"
    ));
    let uris = |name: &str| -> Vec<Option<String>> {
        c.proxy(name)
            .unwrap()
            .http_check
            .rules
            .iter()
            .map(|r| match r {
                HttpCheckRule::Send(s) => s.uri.clone(),
                _ => None,
            })
            .collect()
    };
    assert_eq!(uris("b"), vec![Some("/b".to_string())]);
    // the options disable-on-404 and send-state keep the rules of defaults
    let opts = ok(&format!(
        "{TIMEOUTS} option httpchk\n http-check send uri /d\nbackend b\n http-check disable-on-404\n http-check send-state\n"
    ));
    let b = &opts.proxy("b").unwrap().http_check;
    assert!(b.disable_on_404 && b.send_state && b.rules.len() == 1);
    assert_eq!(uris("c"), vec![Some("/d".to_string())]);
    assert_eq!(c.proxy("b").unwrap().tcp_check.len(), 1);
    assert_eq!(c.proxy("c").unwrap().tcp_check.len(), 1);
    for (text, words) in [
        (
            " http-check send uri /a\n http-check send uri /b\n",
            "missing connect rule",
        ),
        (
            " http-check disable-on-404 now\n",
            "'http-check disable-on-404' takes no argument",
        ),
        (
            " http-check expect hdr value x\n",
            "expects 'name' or 'name-lf' first",
        ),
        (
            " http-check expect hdr name-lf -m reg x\n",
            "not supported with a regex matching method",
        ),
        (
            " server s 127.0.0.1:80 check check-proto fcgi\n",
            "'check-proto fcgi' is not supported by fulcrum yet",
        ),
        (
            " http-check connect proto fcgi\n server s 127.0.0.1:80 check\n",
            "'http-check connect proto fcgi' is not supported by fulcrum yet",
        ),
    ] {
        let e = errors(&format!("{TIMEOUTS}backend b\n option httpchk\n{text}"));
        assert!(e.len() == 1 && e[0].contains(words), "{text}: {e:?}");
    }
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}backend b\n http-check expect status ok\n"
        ))
        .len(),
        1
    );
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}backend b\n http-check expect code 200\n"
        ))
        .len(),
        1
    );
}

#[test]
fn stick_tables() {
    let c = ok(&format!(
        "{TIMEOUTS}backend b\n stick-table type ip size 200k expire 30m\n stick on src\n"
    ));
    let b = c.proxy("b").unwrap();
    let t = b.stick_table.as_ref().unwrap();
    assert_eq!(t.key_type, StickKeyType::Ip);
    assert_eq!(t.size, 200 * 1024);
    assert_eq!(t.expire, Some(Duration::from_secs(1800)));
    assert_eq!(b.stick_rules[0].kind, StickRuleKind::On);
    assert_eq!(b.stick_rules[0].fetch.name, "src");
    assert_eq!(
        errors(&format!("{TIMEOUTS}backend b\n stick on src\n")).len(),
        1
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}backend b\n stick on src table nope\n")).len(),
        1
    );
    // The pattern is a whole sample expression, converters kept.
    let c = ok(&format!(
        "{TIMEOUTS}backend b\n stick-table type ip size 1k\n stick on src,ipmask(24)\n"
    ));
    assert_eq!(c.proxy("b").unwrap().stick_rules[0].expr, "src,ipmask(24)");
    // A mistake in it is an error at its line, with the column.
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}backend b\n stick-table type ip size 1k\n stick on src,nope\n"
        ))
        .len(),
        1
    );
    assert_eq!(
        errors(&format!("{TIMEOUTS}backend b\n stick-table size 1k\n")),
        vec!["t.cfg:6: error: stick-table needs 'type' (ip, ipv6, integer, string or binary)"]
    );
}

#[test]
fn logs_maxconn_fullconn_retries_errorfile() {
    let dir = std::env::temp_dir().join(format!("fulcrum-errfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ef = dir.join("503.http");
    std::fs::write(&ef, "HTTP/1.0 503 Service Unavailable\r\n\r\nsorry\n").unwrap();
    let c = ok(&format!("global\n log /dev/log local0\n log 127.0.0.1 local1 notice\n{TIMEOUTS} log global\nbackend b\n maxconn 100\n fullconn 200\n retries 0\n errorfile 503 {}\nbackend c\n no log\n log 10.0.0.1:514 local2\n", ef.display()));
    let b = c.proxy("b").unwrap();
    assert_eq!(b.logs.len(), 2);
    assert_eq!(b.logs[1].level.as_deref(), Some("notice"));
    assert_eq!(b.maxconn, Some(100));
    assert_eq!(b.fullconn, Some(200));
    assert_eq!(b.retries, 0);
    assert_eq!(b.errorfiles[0].status, 503);
    let cc = c.proxy("c").unwrap();
    assert_eq!(cc.logs.len(), 1);
    assert_eq!(cc.logs[0].facility, "local2");
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}backend b\n errorfile 503 /nonexistent/x.http\n"
        ))
        .len(),
        1
    );
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}backend b\n errorfile 999 {}\n",
            ef.display()
        ))
        .len(),
        1
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn stats_keywords() {
    let c = ok(&format!("{TIMEOUTS}listen stats\n bind :8404\n mode http\n stats enable\n stats uri /stats\n stats realm Haproxy\\ Statistics\n stats auth admin:secret\n stats refresh 10s\n stats admin if TRUE\n stats hide-version\n stats show-legends\n stats scope web\n"));
    let s = c.proxy("stats").unwrap().stats.clone().unwrap();
    assert!(s.enabled && s.hide_version && s.show_legends);
    assert_eq!(s.uri.as_deref(), Some("/stats"));
    assert_eq!(s.realm.as_deref(), Some("Haproxy Statistics"));
    assert_eq!(s.auth, vec![("admin".to_string(), "secret".to_string())]);
    assert_eq!(s.refresh, Some(Duration::from_secs(10)));
    assert!(s.admin.is_some());
    assert_eq!(s.scope, vec!["web"]);
}

#[test]
fn quoting_comments_and_env() {
    std::env::set_var("FULCRUM_TEST_PORT", "8181");
    // Addresses expand variables whatever the quoting (as HAProxy's address parser); an
    // undefined one is an error rather than an empty string.
    let e = errors(&format!("{TIMEOUTS}frontend f # trailing comment\n bind \"127.0.0.1:${{FULCRUM_TEST_PORT}}\"\n bind ':${{FULCRUM_TEST_PORT}}'\n bind :${{FULCRUM_NOPE}}\n bind \":${{FULCRUM_NOPE}}\"\n"));
    assert_eq!(e, vec![
        "t.cfg:8: error: environment variable 'FULCRUM_NOPE' used in address ':${FULCRUM_NOPE}' is not defined",
        "t.cfg:9: error: environment variable 'FULCRUM_NOPE' used in address ':' is not defined",
    ]);
    // Elsewhere, only double quotes expand.
    let c = ok(&format!("{TIMEOUTS}frontend f\n mode http\n bind :8080\n http-request set-header A ${{FULCRUM_TEST_PORT}}\n http-request set-header B \"${{FULCRUM_TEST_PORT}}\"\n"));
    let r = &c.proxy("f").unwrap().http_request;
    assert_eq!(
        r[0].action,
        HttpAction::SetHeader {
            name: "A".into(),
            value: "${FULCRUM_TEST_PORT}".into()
        }
    );
    assert_eq!(
        r[1].action,
        HttpAction::SetHeader {
            name: "B".into(),
            value: "8181".into()
        }
    );
    let l = load(&format!("{TIMEOUTS}frontend f\n bind \"127.0.0.1:${{FULCRUM_TEST_PORT}}\"\n mode http\n http-request set-header X-Hash \\#1\n http-request set-header X-Q 'a \"b\"'\n"));
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    let f = l.config.proxy("f").unwrap();
    assert_eq!(f.binds[0].port_first, 8181);
    assert_eq!(
        f.http_request[0].action,
        HttpAction::SetHeader {
            name: "X-Hash".into(),
            value: "#1".into()
        }
    );
    assert_eq!(
        f.http_request[1].action,
        HttpAction::SetHeader {
            name: "X-Q".into(),
            value: "a \"b\"".into()
        }
    );
    assert_eq!(
        errors("global\n user \"nobody\n"),
        vec!["t.cfg:2: error: unmatched quote (\"): the quoted text runs to the end of the line"]
    );
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let e = errors("global\n maxconn x\n nbthread 0\ndefaults\n timeout client 1q\nfrontend f\n bind :0\n bogus\nbackend b\n server s 1.2.3.4:80 weight 999\n");
    let lines: Vec<&str> = e.iter().map(|m| m.split(": ").next().unwrap()).collect();
    assert_eq!(
        lines,
        vec!["t.cfg:2", "t.cfg:3", "t.cfg:5", "t.cfg:7", "t.cfg:8", "t.cfg:10"],
        "{e:#?}"
    );
}

#[test]
fn keyword_before_any_section() {
    assert_eq!(errors("bind :80\n"), vec!["t.cfg:1: error: 'bind' appears before any section (expected 'global', 'defaults', 'frontend', 'backend' or 'listen' first)"]);
}

#[test]
fn listen_is_frontend_and_backend() {
    let c = ok(&format!(
        "{TIMEOUTS}listen web\n bind :80\n balance leastconn\n server a 127.0.0.1:8080\n"
    ));
    assert_eq!(c.frontends().count(), 1);
    assert_eq!(c.backends().count(), 1);
    assert_eq!(c.proxy("web").unwrap().balance, Balance::Leastconn);
}

#[test]
fn api_section_alone_is_valid() {
    let cfg = ok(
        "api\n    bind 127.0.0.1:9876\n    auth noauth\n    store /tmp/lbaas.db\n    subnet s1 10.0.0.0/24\n",
    );
    let api = cfg.api.expect("api");
    assert_eq!(api.bind, Some("127.0.0.1:9876".parse().expect("addr")));
    assert_eq!(api.auth, crate::model::ApiAuth::NoAuth);
    assert_eq!(api.store, Some("/tmp/lbaas.db".into()));
    assert_eq!(api.subnets.len(), 1);
    assert!(cfg.proxies.is_empty());
}

#[test]
fn api_section_certificate_sources() {
    let cfg = ok("api\n bind 127.0.0.1:1\n certificates /etc/fulcrum/certs\n barbican http://127.0.0.1:9311/\n");
    let api = cfg.api.expect("api");
    assert_eq!(
        api.certificates.as_deref(),
        Some(std::path::Path::new("/etc/fulcrum/certs"))
    );
    assert_eq!(api.barbican.as_deref(), Some("http://127.0.0.1:9311"));
    let loaded = crate::load_sources(&[crate::Source {
        name: "a.cfg",
        text: "api\n bind 127.0.0.1:1\n barbican 127.0.0.1:9311\n",
    }]);
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.to_string().contains("a.cfg:3")
                && d.to_string()
                    .contains("expected an http:// or https:// URL")),
        "{:?}",
        loaded.diagnostics
    );
}

#[test]
fn api_section_auth_modes_and_errors() {
    let cfg = ok("api\n bind [::1]:9876\n auth token s3cret\n vip_interface eth0\n");
    assert_eq!(
        cfg.api.as_ref().and_then(|a| a.vip_interface.as_deref()),
        Some("eth0")
    );
    assert_eq!(
        cfg.api.expect("api").auth,
        crate::model::ApiAuth::Token("s3cret".into())
    );
    let cfg = ok("api\n bind 127.0.0.1:1\n auth keystone http://127.0.0.1:5000/\n");
    assert_eq!(
        cfg.api.expect("api").auth,
        crate::model::ApiAuth::Keystone("http://127.0.0.1:5000".into())
    );
    let cfg = ok("api\n bind 127.0.0.1:1\n auth keystone https://ks:5000 ca-file /etc/ks-ca.pem\n");
    let api = cfg.api.expect("api");
    assert_eq!(
        api.auth,
        crate::model::ApiAuth::Keystone("https://ks:5000".into())
    );
    assert_eq!(
        api.keystone_ca.as_deref(),
        Some(std::path::Path::new("/etc/ks-ca.pem"))
    );
    for (text, line, want) in [
        (
            "api\n bind 127.0.0.1:1\n auth keystone http://ks ca-file /x.pem\n",
            3,
            "ca-file is for an https:// URL",
        ),
        (
            "api\n bind 127.0.0.1:1\n auth keystone https://ks verify none\n",
            3,
            "expected 'ca-file PEM' or nothing",
        ),
        (
            "api\n bind 127.0.0.1:1\n auth keystone https://ks ca-file\n",
            3,
            "PEM file",
        ),
        ("api\n bind nowhere\n", 2, "expected IP:PORT"),
        ("api\n bind 127.0.0.1:1\n auth magic\n", 3, "unknown mode"),
        ("api\n bind 127.0.0.1:1\n auth token\n", 3, "admin token"),
        (
            "api\n bind 127.0.0.1:1\n auth keystone ftp://x\n",
            3,
            "http://",
        ),
        (
            "api\n bind 127.0.0.1:1\n port 1\n",
            3,
            "unknown keyword 'port' in 'api'",
        ),
        (
            "api\n bind 127.0.0.1:1\n subnet s 10.0.0.0/40\n",
            3,
            "prefix",
        ),
        ("api\n auth noauth\n", 1, "has no 'bind'"),
        (
            "api\n bind 127.0.0.1:1\napi\n bind 127.0.0.1:2\n",
            3,
            "second 'api'",
        ),
    ] {
        let errs = errors(text);
        assert!(
            !errs.is_empty()
                && errs[0].starts_with(&format!("t.cfg:{line}:"))
                && errs[0].contains(want),
            "{text:?}: {errs:?}"
        );
    }
}

#[test]
fn proxy_protocol_server_options() {
    let c = ok(&format!(
        "{TIMEOUTS}backend b\n server a 10.0.0.1:80 send-proxy-v2\n server c 10.0.0.2:80 send-proxy\n"
    ));
    let s = &c.proxies[0].servers;
    assert!(s[0].send_proxy_v2 && !s[0].send_proxy);
    assert!(s[1].send_proxy && !s[1].send_proxy_v2);
    let e = errors(&format!(
        "{TIMEOUTS}backend b\n server a 10.0.0.1:80 send-proxy-v2 proxy-v2-options authority\n"
    ));
    assert!(
        e.iter()
            .any(|m| m.contains("'proxy-v2-options' is not supported")),
        "{e:?}"
    );
}

#[test]
fn tcp_rules_are_parsed_or_refused_by_name() {
    let c = ok(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n tcp-request inspect-delay 5s\n tcp-request connection reject if {{ src 10.0.0.0/8 }}\n tcp-request content accept\n tcp-request session silent-drop unless {{ src 127.0.0.1 }}\n default_backend b\nbackend b\n tcp-request content reject if {{ dst_port 81 }}\n"
    ));
    let f = &c.proxies[0];
    assert_eq!(f.tcp_rules.connection.len(), 1);
    assert_eq!(f.tcp_rules.content.len(), 1);
    assert_eq!(f.tcp_rules.session.len(), 1);
    assert_eq!(
        f.tcp_rules.inspect_delay,
        Some(std::time::Duration::from_secs(5))
    );
    assert_eq!(c.proxies[1].tcp_rules.content.len(), 1);
    // `switch-mode`: HAProxy 2.6's messages (`haproxy -c`).
    for (rule, want) in [
        ("switch-mode", "'tcp-request switch-mode' expects a mode as argument."),
        ("switch-mode tcp", "'tcp-request switch-mode' expects a valid mode (got 'tcp')."),
        ("switch-mode http proto", "'tcp-request switch-mode': 'proto' expects a protocol as argument."),
        ("switch-mode http proto foo", "'tcp-request switch-mode': 'proto' expects a valid MUX protocol, if specified (got 'foo')"),
        ("switch-mode http proto fcgi", "MUX protocol 'fcgi' is not compatible with the selected mode."),
        ("switch-mode http foo", "unexpected 'foo' (expected 'if', 'unless' or the end of the line)"),
    ] {
        let e = errors(&format!("{TIMEOUTS}frontend f\n bind :80\n tcp-request content {rule}\n"));
        assert_eq!(e, vec![format!("t.cfg:7: error: {want}")], "{rule}");
    }
    let e = errors(&format!(
        "{TIMEOUTS}backend b\n tcp-request content switch-mode http\n server s 127.0.0.1:80\n"
    ));
    assert_eq!(
        e,
        vec!["t.cfg:6: error: 'tcp-request switch-mode' not allowed because a backend has no frontend capability"]
    );
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n tcp-request session switch-mode http\n"
    ));
    assert_eq!(
        e,
        vec!["t.cfg:7: error: unknown 'tcp-request session' action 'switch-mode'"]
    );
    for ok_rule in [
        "switch-mode http",
        "switch-mode http proto h1 if TRUE",
        "switch-mode http proto h2",
    ] {
        ok(&format!(
            "{TIMEOUTS}frontend f\n bind :80\n tcp-request content {ok_rule}\n"
        ));
    }
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n tcp-request connection track-sc0 src\n"
    ));
    assert_eq!(e, vec!["t.cfg:7: error: 'track-sc0': unable to find table 'f' (no proxy of that name has a 'stick-table')"]);
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n tcp-request connection track-sc0 path\n"
    ));
    assert!(e[0].contains("not available"), "{e:?}");
    let e = errors(&format!("{TIMEOUTS}frontend f\n bind :80\n stick-table type ip size 1k store http_req_rate(10s),nope\n"));
    assert!(e[0].contains("'nope' is not kept"), "{e:?}");
    let e = errors(&format!(
        "{TIMEOUTS}backend b\n tcp-request connection reject\n"
    ));
    assert!(e[0].contains("not allowed in a backend"), "{e:?}");
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n tcp-response content reject\n"
    ));
    assert!(e[0].contains("not allowed in a frontend"), "{e:?}");
    // HTTP mode runs them too (`proxy::http::session::tcp_response`).
    assert!(errors(&format!(
        "{TIMEOUTS}backend b\n mode http\n tcp-response content reject\n"
    ))
    .is_empty());
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n tcp-request content frobnicate\n"
    ));
    assert!(
        e[0].contains("unknown 'tcp-request content' action"),
        "{e:?}"
    );
}

const NAMED_D: &str = "defaults d\n timeout connect 5s\n timeout client 50s\n timeout server 50s\n";

#[test]
fn rules_in_named_defaults_only() {
    let e = errors("defaults\n mode http\n http-request deny\n");
    assert!(e[0].contains("only when it is named"), "{e:?}");
    let c = ok(&format!(
        "{NAMED_D} acl a path /x\n http-request deny if a\nfrontend f from d\n bind :80\n acl a path /y\n http-request deny deny_status 401 if a\n"
    ));
    let f = &c.proxies[0];
    assert_eq!(
        f.http_request.len(),
        2,
        "the section's rule first, then the proxy's"
    );
    assert_eq!(
        f.acls.len(),
        2,
        "the section's ACL is kept apart from the proxy's"
    );
    let e = errors(&format!(
        "{NAMED_D} http-request deny\nlisten l from d\n bind :80\n"
    ));
    assert!(
        e.iter()
            .any(|e| e.contains("a listen section cannot inherit")),
        "{e:?}"
    );
    let e = errors(&format!(
        "{NAMED_D} http-request deny\nfrontend f from d\n bind :80\n default_backend b\nbackend b from d\n"
    ));
    assert!(
        e.iter()
            .any(|e| e.contains("frontends and backends cannot inherit")),
        "{e:?}"
    );
}

#[test]
fn backends_and_frontends_refuse_the_tcp_rules_they_do_not_run() {
    // haproxy 2.6's words, at the inheriting section's line
    let e = errors(&format!(
        "{NAMED_D} tcp-request session accept\nbackend b from d\n"
    ));
    assert_eq!(e, ["t.cfg:6: error: a backend section cannot inherit from a defaults section defining 'tcp-request connection' or 'tcp-request session' rules (defaults section at t.cfg:1)"]);
    let e = errors(&format!(
        "{NAMED_D} tcp-response content accept\nfrontend f from d\n bind :80\n"
    ));
    assert_eq!(e, ["t.cfg:6: error: a frontend section cannot inherit from a defaults section defining 'tcp-response content' rules (defaults section at t.cfg:1)"]);
    // the rules each side does run
    assert!(errors(&format!(
        "{NAMED_D} tcp-request content accept\nbackend b from d\n"
    ))
    .is_empty());
    assert!(errors(&format!(
        "{NAMED_D} tcp-request connection accept\nfrontend f from d\n bind :80\n"
    ))
    .is_empty());
}

#[test]
fn captures_are_parsed() {
    let c = ok(&format!("{TIMEOUTS}frontend f\n bind :80\n capture request header Host len 20\n capture response header X-S len 5\n"));
    assert_eq!(c.proxies[0].captures.len(), 2);
    assert!(c.proxies[0].captures[1].response);
    let c = ok(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n capture cookie SID len 200\n"
    ));
    // Capped at tune.http.cookielen's default, as HAProxy.
    assert_eq!(
        c.proxies[0].options.log.capture_cookie,
        Some(("SID".into(), 63))
    );
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n capture cookie SID len 20\n capture cookie X len 2\n"
    ));
    assert!(e[0].contains("only one 'capture cookie'"), "{e:?}");
    // `http-after-response` runs, with HAProxy 2.6's actions only.
    let c = ok(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n http-after-response set-header a b\n http-after-response strict-mode off\n"
    ));
    assert_eq!(c.proxies[0].http_after_response.len(), 2);
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n http-after-response deny\n"
    ));
    assert!(e[0].contains("'http-after-response' expects"), "{e:?}");
}

#[test]
fn log_format_is_checked() {
    let c = ok(&format!(
        "{TIMEOUTS}frontend f\n mode http\n bind :80\n log-format \"%ci:%cp %ft %b/%s %ST %{{+Q}}r %[src]\"\n"
    ));
    assert!(c.proxies[0].log_format.is_some());
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n mode http\n bind :80\n log-format \"%[req.hdr(host)]\"\n"
    ));
    assert!(e[0].contains("not available"), "{e:?}");
    // Every variable of HAProxy 2.6's table is written now, and the capture slots are
    // readable at the end.
    assert_eq!(errors(&format!(
        "{TIMEOUTS}frontend f\n mode http\n bind :80\n log-format \"%bi %bp %Tu %HPO %rt %{{+X}}ci %[capture.req.hdr(0)]\"\n"
    )),
    Vec::<String>::new());
    assert_eq!(errors(&format!(
        "{TIMEOUTS}frontend f\n mode http\n bind :80\n log-format \"%{{+Q}}hrl %U %Th %Ti %Tq %Td %lc %Tl %sslv %sslc\"\n"
    )),
    Vec::<String>::new());
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n unique-id-format %ci_%Tt\n"
    ));
    assert!(e[0].contains("'%Tt' is not written there"), "{e:?}");
}

#[test]
fn conditional_blocks() {
    let c = ok(&format!(
        "{TIMEOUTS}.if version_atleast(2.5)\nfrontend a\n bind :80\n.elif 1\nfrontend b\n bind :81\n.else\nfrontend c\n bind :82\n.endif\n.if defined(FULCRUM_SURELY_UNSET_VAR)\nfrontend d\n bind :83\n.elif streq(x,x)\n.if 0\nfrontend e\n bind :84\n.endif\nfrontend f\n bind :85\n.endif\n.notice hello\n"
    ));
    let names: Vec<&str> = c.proxies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "f"]);
    let e = errors(&format!("{TIMEOUTS}.if 1\nfrontend a\n bind :80\n"));
    assert!(e[0].contains("not closed"), "{e:?}");
    let e = errors(&format!("{TIMEOUTS}.endif\n"));
    assert!(e[0].contains("without a matching"), "{e:?}");
    let e = errors(&format!("{TIMEOUTS}.if 1\n.alert \"stop here\"\n.endif\n"));
    assert!(e[0].contains("stop here"), "{e:?}");
    let e = errors(&format!("{TIMEOUTS}.if nosuch(1)\n.endif\n"));
    assert!(e[0].contains("unparsable conditional expression"), "{e:?}");
}

#[test]
fn http2_on_binds_and_tune_h2() {
    let c = ok(&format!(
        "global\n tune.h2.initial-window-size 1048576\n tune.h2.max-concurrent-streams 250\n tune.h2.header-table-size 8192\n{TIMEOUTS}frontend f\n mode http\n bind :80 proto h2\n bind :81 proto h1\n"
    ));
    let b = &c.proxy("f").unwrap().binds;
    assert!(b[0].proto_h2 && !b[1].proto_h2);
    let t = c.global.tune_h2;
    assert_eq!(
        (
            t.initial_window_size,
            t.max_concurrent_streams,
            t.header_table_size
        ),
        (1048576, 250, 8192)
    );
    assert_eq!(ok(TIMEOUTS).global.tune_h2.max_concurrent_streams, 100);
    assert_eq!(
        errors(&format!("{TIMEOUTS}frontend f\n bind :80 proto h3\n")),
        vec!["t.cfg:6: error: bind option 'proto' expects h2 or h1, found 'h3'"]
    );
    assert_eq!(
        errors("global\n tune.h2.max-concurrent-streams 0\n").len(),
        1
    );
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}frontend f\n mode tcp\n bind :80 proto h2\n"
        )),
        vec!["t.cfg:7: error: 'proto h2' on a bind needs mode http (frontend 'f' is in mode tcp)"]
    );
    let c = ok(&format!(
        "{TIMEOUTS}backend b\n server s 10.0.0.1:80 proto h2\n server t 10.0.0.1:81 proto h2 proto h1\n"
    ));
    assert!(c.proxies[0].servers[0].proto_h2);
    assert!(!c.proxies[0].servers[1].proto_h2);
    assert_eq!(
        errors(&format!("{TIMEOUTS}backend b\n server s 10.0.0.1:80 proto fcgi\n")),
        vec!["t.cfg:6: error: server option 'proto fcgi' is not supported by fulcrum (expected 'h1' or 'h2')"]
    );
}

#[test]
fn userlists() {
    let c = ok(&format!(
        "userlist L\n group G users a\n group H\n user a insecure-password x\n user b password $6$s$h groups H\n\
         {TIMEOUTS}frontend f\n bind :80\n http-request auth realm R unless {{ http_auth_group(L) G }}\n"
    ));
    let l = &c.userlists[0];
    assert_eq!(l.users[0].groups, vec!["G".to_string()]);
    assert_eq!(l.users[1].groups, vec!["H".to_string()]);
    assert_eq!(
        errors("userlist L\n group G users nobody\n user a password plain groups X\n"),
        vec![
            "t.cfg:3: error: user 'a': password hash 'plain' is not a crypt(3) hash fulcrum checks ($1$, $5$, $6$, $2b$ or DES)",
            "t.cfg:2: error: userlist 'L': group 'G' names unknown user 'nobody'",
        ]
    );
    assert_eq!(
        errors(&format!(
            "userlist L\n user a insecure-password x groups X\n{TIMEOUTS}frontend f\n bind :80\n acl ok http_auth(M)\n"
        )),
        vec![
            "t.cfg:2: error: userlist 'L': user 'a' names unknown group 'X'",
            "t.cfg:9: error: http_auth(M): no userlist named 'M' (a 'userlist M' section is needed)",
        ]
    );
}

#[test]
fn set_timeout_is_a_backend_action() {
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n http-request set-timeout server 1s\n"
    ));
    assert!(e[0].contains("has no backend capability"), "{e:?}");
    let e = errors(&format!(
        "{TIMEOUTS}backend b\n http-request set-timeout client 1s\n"
    ));
    assert!(e[0].contains("not in HAProxy 2.6"), "{e:?}");
    let c = ok(&format!(
        "{TIMEOUTS}backend b\n http-request set-timeout tunnel 2s\n http-request set-log-level silent\n"
    ));
    assert_eq!(c.proxies[0].http_request.len(), 2);
}

#[test]
fn capture_action() {
    let c = ok(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n capture request header Host len 5\n http-request capture path len 9\n"
    ));
    assert!(c.proxies[0].captures[1].sample);
    assert!(matches!(
        c.proxies[0].http_request[0].action,
        crate::model::HttpAction::Capture {
            slot: 1,
            len: 9,
            ..
        }
    ));
    let e = errors(&format!(
        "{TIMEOUTS}backend b\n http-request capture path len 9\n"
    ));
    assert!(e[0].contains("no frontend capability"), "{e:?}");
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n http-request capture path id 0\n"
    ));
    assert!(e[0].contains("unable to find capture id '0'"), "{e:?}");
    let c = ok(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n http-request capture path id 0\n http-response capture status id 0\n declare capture request len 4\n declare capture response len 3\n"
    ));
    assert_eq!(c.proxies[0].captures.len(), 2);
    // A backend's rules fill the frontend's slots (haproxy 2.6 accepts this).
    assert!(errors(&format!(
        "{TIMEOUTS}backend b\n http-response capture status id 0\n"
    ))
    .is_empty());
    // `capture ... id N` naming a header slot marks it as filled by rules (its own rules
    // and any backend's), so that the rule's value replaces the header's, as haproxy's.
    let c = ok(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n capture request header Host len 5\n capture request header X-A len 5\n capture response header X-S len 5\n capture response header X-T len 5\n http-request capture path id 1\n default_backend b\nbackend b\n http-response capture status id 0\n"
    ));
    let marked: Vec<bool> = c.proxies[0].captures.iter().map(|c| c.sample).collect();
    assert_eq!(marked, [false, true, true, false]);
}

#[test]
fn http2_checks_parse() {
    let c = ok(&format!(
        "{TIMEOUTS}backend b\n option httpchk\n http-check connect proto h2\n server s 127.0.0.1:80 check check-proto h2\n server t 127.0.0.1:81 check check-proto h1\n server u 127.0.0.1:82 check\n"
    ));
    let b = c.proxy("b").unwrap();
    let h2: Vec<_> = b.servers.iter().map(|s| s.check_proto_h2).collect();
    assert_eq!(h2, vec![Some(true), Some(false), None]);
    assert!(matches!(
        b.http_check.rules.first(),
        Some(HttpCheckRule::Connect(c)) if c.proto_h2
    ));
}

#[test]
fn deny_and_tarpit_replies_with_errorfiles() {
    let dir = std::env::temp_dir().join(format!("fulcrum-cfg-errf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let page = dir.join("403.http");
    std::fs::write(&page, "HTTP/1.1 403 Forbidden\r\n\r\nno\n").expect("page");
    let head = format!(
        "{TIMEOUTS}http-errors E\n errorfile 403 {}\nfrontend f\n bind :1\n mode http\n",
        page.display()
    );
    let c = ok(&format!(
        "{head} http-request deny errorfiles E if {{ path /a }}\n http-request tarpit deny_status 429 errorfiles E hdr X %[path]\n"
    ));
    let rules = &c.proxies[0].http_request;
    match &rules[0].action {
        HttpAction::DenyReply(r) => {
            assert_eq!(r.status, 403);
            assert_eq!(r.body, ReturnBody::Errorfile(page.display().to_string()));
        }
        other => panic!("{other:?}"),
    }
    match &rules[1].action {
        HttpAction::Tarpit {
            status: 429,
            reply: Some(r),
        } => assert_eq!(r.body, ReturnBody::None, "no 429 in E: an empty answer"),
        other => panic!("{other:?}"),
    }
    // haproxy's warning for the status E does not have, at the rule's line
    let w = warnings(&format!(
        "{head} http-request tarpit deny_status 429 errorfiles E\n"
    ));
    assert!(
        w.iter()
            .any(|w| w.contains("t.cfg:10:") && w.contains("status '429'")),
        "{w:?}"
    );
    let e = errors(&format!("{head} http-request deny errorfiles NOPE\n"));
    assert!(
        e[0].contains("t.cfg:10:") && e[0].contains("unknown http-errors section 'NOPE'"),
        "{e:?}"
    );
    // a response deny defaults to 502
    let c = ok(&format!(
        "{head} http-response deny content-type text/plain string x\n"
    ));
    assert!(matches!(
        &c.proxies[0].http_response[0].action,
        HttpAction::DenyReply(Reply { status: 502, .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connection_actions_where_haproxy_allows_them() {
    let head = format!("{TIMEOUTS}frontend f\n bind :1\n mode http\n");
    let c = ok(&format!(
        "{head} http-request set-mark 0x10\n http-request set-tos 010\n http-response set-nice 5000\n\
         \x20http-request early-hint link \"<%[path]>\"\n http-request disable-l7-retry\n\
         \x20tcp-request connection set-mark 7\n tcp-request connection expect-proxy layer4 if {{ src 10.0.0.1 }}\n\
         \x20tcp-request content capture req.hdr(host) len 8\n tcp-request content set-log-level err\n"
    ));
    let p = &c.proxies[0];
    assert_eq!(
        p.http_request[0].action,
        HttpAction::Conn(ConnAction::SetMark(16))
    );
    assert_eq!(
        p.http_request[1].action,
        HttpAction::Conn(ConnAction::SetTos(8))
    );
    assert_eq!(
        p.http_response[0].action,
        HttpAction::Conn(ConnAction::SetNice(1024))
    );
    assert_eq!(p.tcp_rules.connection[1].action, TcpAction::ExpectProxy);
    assert!(matches!(
        p.tcp_rules.content[0].action,
        TcpAction::Capture {
            len: 8,
            slot: 0,
            ..
        }
    ));
    assert!(p.captures.iter().any(|c| c.sample && c.len == 8));
    let w = warnings(&format!(
        "{head} tcp-request content set-nice 3\n http-request set-nice -2\n"
    ));
    assert!(
        w.len() == 2
            && w.iter().any(|x| x.contains("t.cfg:8:"))
            && w.iter().any(|x| x.contains("t.cfg:9:"))
            && w.iter().all(|x| x.contains("set-nice")),
        "{w:?}"
    );
    let w = warnings(&format!(
        "{TIMEOUTS}frontend f\n bind :1 proto h2\n mode http\n http-request set-tos 4\n"
    ));
    assert!(
        w.len() == 1 && w[0].contains("t.cfg:8:") && w[0].contains("HTTP/2"),
        "{w:?}"
    );
    for (line, want) in [
        ("tcp-request session expect-proxy layer4", "not allowed"),
        ("tcp-request connection capture src len 4", "not allowed"),
        ("tcp-request session set-nice 1", "not allowed"),
        ("http-response set-priority-class int(1)", "not allowed"),
        ("http-response disable-l7-retry", "unknown"),
        ("http-request set-mark abc", "invalid number"),
        (
            "tcp-request session expect-netscaler-cip layer4",
            "not allowed",
        ),
        (
            "tcp-request connection expect-netscaler-cip layer7",
            "expects 'layer4'",
        ),
        ("http-response wait-for-handshake", "unknown"),
    ] {
        let e = errors(&format!("{head} {line}\n"));
        assert!(
            e.len() == 1 && e[0].contains("t.cfg:8:") && e[0].contains(want),
            "{line}: {e:?}"
        );
    }
}

#[test]
fn netscaler_cip_wait_for_handshake_and_response_socket_options() {
    let c = ok(&format!(
        "{TIMEOUTS}frontend f\n bind :1 accept-netscaler-cip -5\n bind :2\n mode http\n\
         \x20tcp-request connection expect-netscaler-cip layer4\n http-request wait-for-handshake\n\
         \x20default_backend b\n\
         backend b\n mode http\n tcp-response content set-mark 0x20\n tcp-response content set-tos 8\n\
         \x20server s 127.0.0.1:1\n"
    ));
    let f = &c.proxies[0];
    // `atol` into 32 bits, as haproxy 2.6
    assert_eq!(f.binds[0].netscaler_cip, Some(4294967291));
    assert_eq!(f.binds[1].netscaler_cip, None);
    assert_eq!(
        f.tcp_rules.connection[0].action,
        TcpAction::ExpectNetscalerCip
    );
    assert_eq!(f.http_request[0].action, HttpAction::WaitForHandshake);
    let b = &c.proxies[1];
    assert_eq!(
        b.tcp_rules.response[0].action,
        TcpAction::Conn(ConnAction::SetMark(32))
    );
    assert_eq!(
        b.tcp_rules.response[1].action,
        TcpAction::Conn(ConnAction::SetTos(8))
    );
    let w = warnings(&format!(
        "{TIMEOUTS}backend b\n tcp-response content set-nice 3\n server s 127.0.0.1:1\n"
    ));
    assert!(w.len() == 1 && w[0].contains("set-nice"), "{w:?}");
    for (line, want) in [
        ("bind :1 accept-netscaler-cip 0", "invalid value 0"),
        ("bind :1 accept-netscaler-cip abc", "invalid value 0"),
        (
            "tcp-response content set-priority-class int(1)",
            "not allowed",
        ),
    ] {
        let e = errors(&format!(
            "{TIMEOUTS}listen l\n bind :3\n {line}\n server s 127.0.0.1:1\n"
        ));
        assert!(e.len() == 1 && e[0].contains(want), "{line}: {e:?}");
    }
}

#[test]
fn variables_read_but_never_set_are_warned_where_read() {
    let head = format!("{TIMEOUTS}frontend f\n bind :1\n mode http\n");
    let w = warnings(&format!(
        "{head} http-request set-var(txn.seen) src\n\
         \x20http-request set-header x-a %[var(txn.seen)]\n\
         \x20http-request set-header x-b %[var(txn.typo)]\n\
         \x20http-request deny if {{ var(req.none) -m found }}\n\
         \x20http-request set-header x-c %[int(1),add(sess.n)]\n\
         \x20http-request set-header x-d %[var(proc.cli)]\n"
    ));
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w[0].contains("t.cfg:10:") && w[0].contains("'txn.typo'"),
        "{w:?}"
    );
    assert!(
        w[1].contains("t.cfg:11:") && w[1].contains("'req.none'"),
        "{w:?}"
    );
    assert!(
        w[2].contains("t.cfg:12:") && w[2].contains("'sess.n'"),
        "{w:?}"
    );
}

#[test]
fn reg_test_audit_refusals_as_haproxy() {
    // set-var conditions: HAProxy 2.6's words (an empty one skipped), none on unset-var
    assert_eq!(
        errors(&format!(
            "{TIMEOUTS}frontend f\n bind :80\n http-request set-var(txn.a,ifnotexists,,ifgt) str(x)\n              http-request set-var-fmt(txn.b,ifnotempty) %[src]\n http-request set-var(txn.c,ifbig) str(x)\n              http-request unset-var(txn.a,ifexists)\n http-request set-header x %[str(a),set-var(txn.d,ifbig)]\n"
        )),
        vec![
            "t.cfg:9: error: 'set-var(txn.c,ifbig)': unknown set-var condition 'ifbig' (expected one of ifexists, ifnotexists, ifempty, ifnotempty, ifset, ifnotset, ifgt, iflt)",
            "t.cfg:10: error: 'unset-var(txn.a,ifexists)': unset-var does not expect parameters after the variable name (only set-var and set-var-fmt take conditions)",
            "t.cfg:11: error: the header value '%[str(a),set-var(txn.d,ifbig)]': column 10: set-var: unknown set-var condition 'ifbig' (expected one of ifexists, ifnotexists, ifempty, ifnotempty, ifset, ifnotset, ifgt, iflt)",
        ]
    );
    // haproxy 2.6: bool() takes true, false, 0 or 1; fhdr is no fetch; http-use-htx no option
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n http-request set-var(txn.b) bool(7)\n http-request set-header x %[fhdr(host)]\n option http-use-htx\n"
    ));
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].contains("Expects 'true', 'false', '0' or '1'"),
        "{e:?}"
    );
    assert!(e[1].contains("unknown fetch 'fhdr'"), "{e:?}");
    assert!(e[2].contains("unknown option 'http-use-htx'"), "{e:?}");
    assert!(errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n http-request set-var(txn.b) bool(false)\n"
    ))
    .is_empty());
    // response rules without the request's content, as haproxy 2.6
    let e = errors(&format!(
        "{TIMEOUTS}frontend f\n bind :80\n http-response set-header x %[req.hdr(host)]\n http-after-response set-var(txn.p) path\n"
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e.iter()
            .all(|m| m.contains("not available in response rules")),
        "{e:?}"
    );
    let w = warnings(&format!(
        "{TIMEOUTS}frontend f\n mode http\n bind :80\n acl p path /x\n http-response set-header a 1 if p\n http-after-response set-header b 1 if !{{ url_beg /x }}\n"
    ));
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("acl 'p' will never match"), "{w:?}");
    assert!(
        w[1].contains("anonymous acl will never match because it uses keyword 'url_beg'"),
        "{w:?}"
    );
}

#[test]
fn statuses_without_a_page_are_refused_as_haproxy() {
    // haproxy 2.6 -c: refused where the answer is one of its pages (a plain deny/tarpit,
    // `default-errorfiles`, `errorfiles`), accepted with a response of the rule's own or
    // with the `status` word (an empty answer).
    let fe = |rule: &str| {
        format!(
            "{TIMEOUTS}http-errors ee\n errorfile 403 /dev/null\nfrontend f\n bind :80\n {rule}\n"
        )
    };
    for bad in [
        "http-request deny deny_status 418",
        "http-request deny deny_status 505",
        "http-request tarpit deny_status 418",
        "http-response deny deny_status 418",
        "http-request return status 418 default-errorfiles",
        "http-request deny deny_status 418 errorfiles ee",
    ] {
        let e = errors(&fe(bad));
        assert!(
            e.len() == 1
                && e[0].contains("status code '")
                && e[0].contains("not handled by default"),
            "{bad}: {e:?}"
        );
    }
    for ok in [
        "http-request deny deny_status 418 content-type text/plain string hi",
        "http-request deny deny_status 418 hdr x y",
        "http-request deny deny_status 418 content-type text/plain",
        "http-request deny status 418",
        "http-request tarpit status 418",
        "http-request return status 418",
        "http-request deny deny_status 421",
        "http-request deny deny_status 422",
        "http-response deny if { status 500 }",
        "errorfile 421 /dev/null",
    ] {
        assert_eq!(errors(&fe(ok)), Vec::<String>::new(), "{ok}");
    }
    // The `status` word: an empty answer; `deny_status`: the page.
    let c = ok(&fe("http-request deny status 403"));
    assert!(matches!(
        c.proxies[0].http_request[0].action,
        HttpAction::DenyReply(_)
    ));
    let c = ok(&fe("http-request deny deny_status 403"));
    assert!(matches!(
        c.proxies[0].http_request[0].action,
        HttpAction::Deny { status: Some(403) }
    ));
}

#[test]
fn preprocessor_messages_as_haproxy() {
    let l = load(&format!(
        "{TIMEOUTS}.notice \"hello there\"\n.diag \"only with -dD\"\n.warning careful\n.if 0\n.notice hidden\n.endif\n.notice\n"
    ));
    let all: Vec<String> = l.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        all,
        [
            "t.cfg:5: notice: hello there",
            "t.cfg:7: warning: careful",
            "t.cfg:11: notice: ",
        ]
    );
    assert!(l.is_ok());
    assert_eq!(l.diagnostics.warnings().count(), 1);
    // One argument, as haproxy 2.6 -c: "Unexpected argument 'there' for '.notice'..."
    let e = errors(&format!("{TIMEOUTS}.notice hello there\n"));
    assert_eq!(e, ["t.cfg:5: error: Unexpected argument 'there' for '.notice'. Use quotes if the message should contain spaces."]);
    let e = errors(&format!("{TIMEOUTS}.alert \"stop here\"\n"));
    assert_eq!(e, ["t.cfg:5: error: stop here"]);
    // `.notice` is not a warning: `zero-warning` lets it through.
    assert!(load(&format!("global\n zero-warning\n{TIMEOUTS}.notice \"x\"\n")).is_ok());
}

#[test]
fn splice_options_and_globals_run() {
    use crate::model::{GlobalSplice, SpliceOptions};
    let text = format!(
        "global\n nosplice\n maxpipes 100\n tune.pipesize 128k\n{TIMEOUTS}\
         frontend f\n bind :80\n no option splice-auto\n option splice-response\n default_backend b\n\
         backend b\n option splice-auto\n option splice-request\n server s 10.0.0.1:80\n"
    );
    let c = ok(&text);
    assert_eq!(
        c.global.splice,
        GlobalSplice {
            off: true,
            maxpipes: Some(100),
            pipesize: Some(128 * 1024),
        }
    );
    let f = &c.proxy("f").unwrap().options.splice;
    assert_eq!(
        *f,
        SpliceOptions {
            auto: Some(false),
            request: None,
            response: Some(true),
        }
    );
    let b = &c.proxy("b").unwrap().options.splice;
    assert_eq!((b.auto, b.request), (Some(true), Some(true)));
    // Run, so no "not supported" warning any more.
    assert!(warnings(&text).is_empty(), "{:?}", warnings(&text));
    assert!(!errors(&format!("global\n tune.pipesize 100\n{TIMEOUTS}")).is_empty());
}
