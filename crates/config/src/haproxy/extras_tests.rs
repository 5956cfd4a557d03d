//! Unit tests of `extras.rs`: every form and error of its keywords, with the FILE:LINE.
use crate::model_extras::CompAlgo;
use crate::{load_sources, Loaded, Source};

fn cfg(body: &str) -> Loaded {
    let text = format!(
        "defaults\n  mode http\nbackend b\n  server s 127.0.0.1:80\nfrontend f\n  bind :8080\n  default_backend b\n{body}"
    );
    load_sources(&[Source {
        name: "t.cfg",
        text: &text,
    }])
}

fn errors(l: &Loaded) -> String {
    l.diagnostics
        .errors()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn compression_lines_accumulate_in_haproxy_order() {
    let l = cfg("  compression algo gzip deflate\n  compression algo raw-deflate\n  compression type text/html text/plain\n  compression offload\n");
    assert!(l.is_ok(), "{}", errors(&l));
    let c = l
        .config
        .proxies
        .iter()
        .find(|p| p.name == "f")
        .and_then(|p| p.options.compression.clone());
    let c = c.expect("compression set");
    assert_eq!(
        c.algos,
        vec![CompAlgo::RawDeflate, CompAlgo::Deflate, CompAlgo::Gzip]
    );
    assert_eq!(c.types, vec!["text/html", "text/plain"]);
    assert!(c.offload);
    assert_eq!(c.maxlevel, None);
    let text = "global\n  tune.comp.maxlevel 6\ndefaults\n  mode http\n  compression algo gzip\nfrontend f\n  bind :1\n";
    let l = load_sources(&[Source {
        name: "t.cfg",
        text,
    }]);
    let f = l.config.proxies.iter().find(|p| p.name == "f").expect("f");
    assert_eq!(
        f.options.compression.as_ref().and_then(|c| c.maxlevel),
        Some(6)
    );
    assert!(!l
        .diagnostics
        .warnings()
        .any(|w| w.to_string().contains("maxlevel")));
    let text = "global\n  tune.comp.maxlevel 10\n";
    let l = load_sources(&[Source {
        name: "t.cfg",
        text,
    }]);
    assert!(errors(&l).starts_with("t.cfg:2: "), "{}", errors(&l));
}

#[test]
fn originalto_forms() {
    let l =
        cfg("  option originalto except 10.0.0.0/8 header X-Dst\n  option http-ignore-probes\n");
    assert!(l.is_ok(), "{}", errors(&l));
    let f = l.config.proxies.iter().find(|p| p.name == "f").expect("f");
    let ot = f.options.originalto.clone().expect("originalto");
    assert_eq!(ot.except.as_deref(), Some("10.0.0.0/8"));
    assert_eq!(ot.header, "X-Dst");
    assert!(f.options.http_ignore_probes);
    let l = cfg("  option originalto\n  no option originalto\n");
    let f = l.config.proxies.iter().find(|p| p.name == "f").expect("f");
    assert!(f.options.originalto.is_none());
    for body in [
        "  option originalto except nope\n",
        "  option originalto if-none\n",
    ] {
        let l = cfg(body);
        assert!(
            errors(&l).starts_with("t.cfg:8: "),
            "{body}: {}",
            errors(&l)
        );
    }
}

#[test]
fn dispatch_is_one_unchecked_server() {
    let text = "defaults\n  mode http\n  default-server check maxconn 3\nbackend b\n  dispatch 127.0.0.1:8080\nfrontend f\n  bind :8080\n  default_backend b\n";
    let l = load_sources(&[Source {
        name: "t.cfg",
        text,
    }]);
    assert!(l.is_ok(), "{}", errors(&l));
    let b = l.config.proxies.iter().find(|p| p.name == "b").expect("b");
    assert_eq!(b.servers.len(), 1);
    assert_eq!(b.servers[0].name, "<NOSRV>");
    assert!(!b.servers[0].check);
    assert_eq!(b.servers[0].maxconn, None);
    // beside servers, in either order: the dispatch goes last (the servers keep their ids)
    for body in [
        "backend c\n  server s 127.0.0.1:80\n  dispatch 127.0.0.1:81\n  server t 127.0.0.1:82\n",
        "backend c\n  dispatch 127.0.0.1:81\n  server s 127.0.0.1:80\n  server t 127.0.0.1:82\n",
    ] {
        let l = cfg(body);
        assert!(l.is_ok(), "{body}: {}", errors(&l));
        assert!(
            l.diagnostics
                .warnings()
                .all(|d| !d.to_string().contains("dispatch")),
            "{body}"
        );
        let c = l.config.proxies.iter().find(|p| p.name == "c").expect("c");
        let names: Vec<&str> = c.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["s", "t", "<NOSRV>"], "{body}");
    }
    // with `balance` (the backend's or its defaults'): HAProxy 2.6's warning, dispatch dropped
    for body in [
        "backend c\n  balance roundrobin\n  dispatch 127.0.0.1:81\n  server s 127.0.0.1:80\n",
        "defaults\n  balance source\nbackend c\n  dispatch 127.0.0.1:81\n",
    ] {
        let l = cfg(body);
        assert!(l.is_ok(), "{body}: {}", errors(&l));
        let w: Vec<String> = l.diagnostics.warnings().map(|d| d.to_string()).collect();
        assert!(
            w.iter().any(|w| w.ends_with(
                "warning: dispatch address of backend 'c' will be ignored in balance mode."
            )),
            "{body}: {w:?}"
        );
        let c = l.config.proxies.iter().find(|p| p.name == "c").expect("c");
        assert!(c.servers.iter().all(|s| s.name != "<NOSRV>"), "{body}");
    }
    for (body, want) in [
        ("backend c\n  dispatch 127.0.0.1\n", "t.cfg:9: "),
        ("defaults\n  dispatch 127.0.0.1:80\n", "t.cfg:9: "),
        ("backend c\n  dispatch *:80\n", "t.cfg:9: "),
    ] {
        let l = cfg(body);
        assert!(errors(&l).starts_with(want), "{body}: {}", errors(&l));
    }
}

#[test]
fn retry_on_keywords() {
    let l = cfg("backend n\n  retry-on none\n  server s 127.0.0.1:80\nbackend c\n  retry-on conn-failure\n  server s 127.0.0.1:80\nbackend a\n  retry-on 404 all-retryable-errors\n  server s 127.0.0.1:80\n");
    assert!(l.is_ok(), "{}", errors(&l));
    let n = l.config.proxies.iter().find(|p| p.name == "n").expect("n");
    assert!(n.options.retry_on_none);
    let c = l.config.proxies.iter().find(|p| p.name == "c").expect("c");
    assert!(!c.options.retry_on_none);
    assert!(!c.options.retry_on.after_sending());
    let a = l.config.proxies.iter().find(|p| p.name == "a").expect("a");
    assert_eq!(a.options.retry_on.statuses, vec![404, 500, 502, 503, 504]);
    assert!(a.options.retry_on.empty_response && a.options.retry_on.response_timeout);
    for (body, want) in [
        ("  retry-on 429\n", "unknown keyword '429'"),
        (
            "  retry-on none conn-failure\n",
            "'none' must be the only keyword",
        ),
        ("  retry-on bogus\n", "unknown keyword 'bogus'"),
    ] {
        let text = format!("defaults\n  mode http\n{body}");
        let l = load_sources(&[Source {
            name: "t.cfg",
            text: &text,
        }]);
        let e = errors(&l);
        assert!(
            e.starts_with("t.cfg:3: ") && e.contains(want),
            "{body}: {e}"
        );
    }
}

#[test]
fn global_keywords() {
    let l = load_sources(&[Source {
        name: "t.cfg",
        text: "global\n  default-path current\n",
    }]);
    assert!(l.is_ok(), "{}", errors(&l));
    assert_eq!(l.diagnostics.warnings().count(), 0);
    for (text, want) in [
        (
            "global\n  lua-load /etc/haproxy/x.lua\n",
            "fulcrum does not run Lua",
        ),
        (
            "global\n  lua-load-per-thread x.lua\n",
            "fulcrum does not run Lua",
        ),
        ("global\n  default-path nowhere\n", "expects 'current'"),
        ("global\n  default-path origin\n", "expects a path"),
        (
            "global\n  mworker-max-reloads many\n",
            "mworker-max-reloads",
        ),
        ("global\n  hard-stop-after soon\n", "hard-stop-after"),
        ("global\n  zero-warning now\n", ""),
    ] {
        let l = load_sources(&[Source {
            name: "t.cfg",
            text,
        }]);
        let e = errors(&l);
        assert!(
            e.starts_with("t.cfg:2: ") && e.contains(want),
            "{text}: {e}"
        );
    }
    // zero-warning: any warning refuses the configuration, at the zero-warning line
    let text = "global\n  zero-warning\n  description demo\n";
    let l = load_sources(&[Source {
        name: "t.cfg",
        text,
    }]);
    assert!(errors(&l).starts_with("t.cfg:2: "), "{}", errors(&l));
    let text = "global\n  zero-warning\n";
    assert!(load_sources(&[Source {
        name: "t.cfg",
        text
    }])
    .is_ok());
}

#[test]
fn servers_at_the_client_destination_have_no_address() {
    use crate::model::ServerPort;
    for (addr, ip, port) in [
        ("*:80", "0.0.0.0", ServerPort::Fixed(80)),
        (":80", "0.0.0.0", ServerPort::Fixed(80)),
        ("0.0.0.0:80", "0.0.0.0", ServerPort::Fixed(80)),
        ("0.0.0.0", "0.0.0.0", ServerPort::Unset),
        ("[::]:80", "::", ServerPort::Fixed(80)),
        ("::", "::", ServerPort::Unset),
        ("ipv4@*:8080", "0.0.0.0", ServerPort::Fixed(8080)),
        ("ipv6@:::8080", "::", ServerPort::Fixed(8080)),
        ("ipv6@*:8080", "::", ServerPort::Fixed(8080)),
        ("*", "0.0.0.0", ServerPort::Unset),
        ("*:+1", "0.0.0.0", ServerPort::Offset(1)),
        // port 0 is no port (HAProxy: the client's destination port)
        ("127.0.0.1:0", "127.0.0.1", ServerPort::Unset),
    ] {
        let l = cfg(&format!("backend c\n  server s {addr}\n"));
        assert!(l.is_ok(), "{addr}: {}", errors(&l));
        let c = l.config.proxies.iter().find(|p| p.name == "c").expect("c");
        let a = &c.servers[0].address;
        assert_eq!(a.ip, ip.parse().ok(), "{addr}");
        assert_eq!(a.port, port, "{addr}");
    }
    for addr in [
        "127.0.0.1:80",
        "[::1]:80",
        "::1",
        "localhost:80",
        "127.0.0.1",
    ] {
        let l = cfg(&format!("backend c\n  server s {addr}\n"));
        assert!(l.is_ok(), "{addr}: {}", errors(&l));
    }
}

#[test]
fn compression_errors_name_the_line() {
    for (body, want) in [
        (
            "  compression algo br\n",
            "'br' is not a supported algorithm",
        ),
        ("  compression algo\n", "expects <algorithm>"),
        (
            "  compression direction both\n",
            "expects 'algo', 'type' or 'offload'",
        ),
        ("  compression offload now\n", ""),
    ] {
        let l = cfg(body);
        assert!(!l.is_ok(), "{body}");
        let d = errors(&l);
        assert!(
            d.contains(want) && d.starts_with("t.cfg:8: "),
            "{body}: {d}"
        );
    }
}

#[test]
fn grace_is_refused_as_haproxy_2_6_refuses_it() {
    for (body, at) in [
        ("frontend g\n  bind :8081\n  grace 2s\n", "t.cfg:10"),
        ("defaults\n  grace 1s\n", "t.cfg:9"),
    ] {
        let l = cfg(body);
        assert!(
            errors(&l).contains(&format!(
                "{at}: error: the 'grace' keyword is not supported any more since HAProxy version 2.5."
            )),
            "{body}: {}",
            errors(&l)
        );
    }
}

#[test]
fn nbproc_is_refused_as_haproxy_2_6_refuses_it() {
    let l = load_sources(&[Source {
        name: "t.cfg",
        text: "global\n  nbproc 4\n",
    }]);
    assert!(
        errors(&l).contains("t.cfg:2: error: nbproc is not supported any more since HAProxy 2.5."),
        "{}",
        errors(&l)
    );
}

#[test]
fn log_sample_ranges_and_errors() {
    let l = cfg("  log 127.0.0.1:514 sample 3-4,1:5 local0\n");
    assert!(l.is_ok(), "{}", errors(&l));
    let f = l.config.proxies.iter().find(|p| p.name == "f").expect("f");
    let s = f.logs[0].sample.clone().expect("sample");
    assert_eq!((s.ranges, s.size), (vec![(1, 1), (3, 4)], 5));
    for (body, want) in [
        (
            "  log 127.0.0.1:514 sample 1:0 local0\n",
            "expects RANGES:SIZE",
        ),
        (
            "  log 127.0.0.1:514 sample 0:5 local0\n",
            "expects RANGES:SIZE",
        ),
        (
            "  log 127.0.0.1:514 sample 4-3:5 local0\n",
            "expects RANGES:SIZE",
        ),
        (
            "  log 127.0.0.1:514 sample 1-6:5 local0\n",
            "beyond the sample size 5",
        ),
        (
            "  log 127.0.0.1:514 sample 1-3,2:5 local0\n",
            "ranges overlap",
        ),
        (
            "  log 127.0.0.1:514 sample 1,2 local0\n",
            "expects RANGES:SIZE",
        ),
    ] {
        let l = cfg(body);
        let e = errors(&l);
        assert!(
            e.starts_with("t.cfg:8: ") && e.contains(want),
            "{body}: {e}"
        );
    }
}

#[test]
fn stop_keywords_reach_the_model() {
    let l = load_sources(&[Source {
        name: "t.cfg",
        text: "global\n  hard-stop-after 1500ms\n  mworker-max-reloads 2\n",
    }]);
    assert!(l.is_ok(), "{}", errors(&l));
    let k = &l.config.global.keywords;
    assert_eq!(
        k.hard_stop_after,
        Some(std::time::Duration::from_millis(1500))
    );
    assert_eq!(k.mworker_max_reloads, Some(2));
}

#[test]
fn default_path_joins_names_read_while_parsing() {
    let dir = std::env::temp_dir().join(format!("fulcrum-dp-unit-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("conf")).expect("dir");
    std::fs::write(dir.join("conf/503.http"), "HTTP/1.0 503 x\r\n\r\n").expect("page");
    std::fs::write(dir.join("conf/a.map"), "k v\n").expect("map");
    let cfg = dir.join("conf/h.cfg").display().to_string();
    let text = "global\n  default-path config\n  ca-base cas\n\
                defaults\n  mode http\n  errorfile 503 503.http\n\
                frontend f\n  bind :1\n  http-request set-header x %[str(k),map(a.map)]\n\
                backend b\n  server s 127.0.0.1:1 ssl ca-file ca.pem crt /abs.pem\n";
    let l = load_sources(&[Source { name: &cfg, text }]);
    let conf = dir.join("conf").display().to_string();
    let b = l.config.proxies.iter().find(|p| p.name == "b").expect("b");
    assert_eq!(b.errorfiles[0].path, format!("{conf}/503.http"));
    assert_eq!(b.servers[0].tls.ca_file, Some(format!("{conf}/cas/ca.pem")));
    assert_eq!(b.servers[0].tls.crt, ["/abs.pem"]);
    assert_eq!(
        l.config.global.keywords.pattern_files,
        [("a.map".to_string(), dir.join("conf/a.map"))]
    );
    // without the policy the same names are read from the current directory
    let l = load_sources(&[Source {
        name: &cfg,
        text: &text.replace("default-path config", "default-path current"),
    }]);
    assert!(errors(&l).contains("503.http"), "{}", errors(&l));
    let _ = std::fs::remove_dir_all(&dir);
}
