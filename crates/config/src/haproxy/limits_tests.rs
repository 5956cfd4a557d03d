//! Unit tests of the keywords of `model_limits` (issue 13 deliverable 8: they ran as warnings
//! before): each is read, and the ones fulcrum does not run are refused at their FILE:LINE.
use crate::{load_sources, Loaded, Source};
use std::time::Duration;

fn load(text: &str) -> Loaded {
    load_sources(&[Source {
        name: "t.cfg",
        text,
    }])
}

fn errors(l: &Loaded) -> String {
    l.diagnostics
        .errors()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn warnings(l: &Loaded) -> String {
    l.diagnostics
        .warnings()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

const HEAD: &str =
    "defaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n";

#[test]
fn server_keywords_are_read_and_not_warned() {
    let l = load(&format!(
        "{HEAD}backend b\n  option prefer-last-server\n  default-server slowstart 3500ms maxqueue 4\n  server s1 127.0.0.1:1 redir http://x.example on-marked-down shutdown-sessions check\n  server s2 127.0.0.1:2 track s1 on-marked-up shutdown-backup-sessions maxqueue 0\n  server s3 127.0.0.1:3 track b/s2 slowstart 0\n"
    ));
    assert!(l.is_ok(), "{}", errors(&l));
    assert_eq!(warnings(&l), "", "nothing is warned any more");
    let b = &l.config.proxies[0];
    assert!(b.options.prefer_last_server);
    let (s1, s2, s3) = (
        &b.servers[0].limits,
        &b.servers[1].limits,
        &b.servers[2].limits,
    );
    assert_eq!(s1.slowstart, Some(Duration::from_millis(3500)));
    assert_eq!(s1.maxqueue, Some(4));
    assert_eq!(s1.redir.as_deref(), Some("http://x.example"));
    assert!(s1.shutdown_on_down && !s1.shutdown_backup_on_up);
    assert_eq!(s2.maxqueue, None, "maxqueue 0: no limit");
    assert!(s2.shutdown_backup_on_up);
    // the backend is filled in when the line names only the server
    assert_eq!(s2.track, Some((Some("b".into()), "s1".into())));
    assert_eq!(s3.track, Some((Some("b".into()), "s2".into())));
    assert_eq!(s3.slowstart, None);
}

#[test]
fn track_errors_in_haproxy_words() {
    let cases = [
        ("server s1 127.0.0.1:1 track s2 check\n  server s2 127.0.0.1:2 check", "t.cfg:7: error: 'server b/s1' : unable to enable checks and tracking at the same time!"),
        ("server s1 127.0.0.1:1 track s2\n  server s2 127.0.0.1:2", "t.cfg:7: error: 'server b/s1' : unable to use b/s2 for tracking as it does not have any check nor agent enabled."),
        ("server s1 127.0.0.1:1 track c/s2", "t.cfg:7: error: 'server b/s1' : unable to find required proxy 'c' for tracking."),
        ("server s1 127.0.0.1:1 track nope", "t.cfg:7: error: 'server b/s1' : unable to find required server 'nope' for tracking."),
        ("server s1 127.0.0.1:1 on-marked-down foo", "t.cfg:7: error: 'on-marked-down' expects 'shutdown-sessions' but got 'foo'."),
    ];
    for (line, want) in cases {
        let l = load(&format!("{HEAD}backend b\n  {line}\n"));
        let e = errors(&l);
        assert!(e.contains(want), "{line}: want {want}, got {e}");
    }
}

#[test]
fn keywords_not_run_are_refused_at_their_line() {
    let cases = [
        (
            "backend b\n  server s 127.0.0.1:1 minconn 10 maxconn 100",
            "t.cfg:7:",
            "minconn",
        ),
        (
            "backend b\n  server s 127.0.0.1:1 namespace blue",
            "t.cfg:7:",
            "namespace",
        ),
        (
            "frontend f\n  bind :8080 namespace blue",
            "t.cfg:7:",
            "namespace",
        ),
        (
            "frontend f\n  bind :8080\n  log ring@r local0",
            "t.cfg:8:",
            "ring@r",
        ),
        ("program p\n  command /bin/true", "t.cfg:6:", "program p"),
    ];
    for (body, at, word) in cases {
        let l = load(&format!("{HEAD}{body}\n"));
        let e = errors(&l);
        assert!(
            e.lines().any(|x| x.contains(at) && x.contains(word)),
            "{body}: want an error at {at} naming {word}, got {e}"
        );
    }
    let l = load(&format!("global\n  log ring@r local0\n{HEAD}"));
    assert!(errors(&l).contains("t.cfg:2:"), "{}", errors(&l));
}

#[test]
fn bind_and_global_keywords_are_read() {
    let l = load(&format!(
        "global\n  maxconnrate 100\n  maxsessrate 50\n  maxsslrate 0\n  maxcompcpuusage 80\n  tune.http.logurilen 64\n{HEAD}frontend f\n  bind 127.0.0.1:8080 maxconn 7 defer-accept mss -20 interface lo\n  bind 127.0.0.1:8081 mss 1200\n"
    ));
    assert!(l.is_ok(), "{}", errors(&l));
    assert_eq!(warnings(&l), "");
    let g = &l.config.global.limits;
    assert_eq!(
        (
            g.maxconnrate,
            g.maxsessrate,
            g.maxsslrate,
            g.maxcompcpuusage,
            g.logurilen
        ),
        (Some(100), Some(50), None, Some(80), Some(64))
    );
    let f = &l.config.proxies[0];
    let (a, b) = (&f.binds[0].limits, &f.binds[1].limits);
    assert_eq!(a.maxconn, Some(7));
    assert!(a.defer_accept && !b.defer_accept);
    assert_eq!((a.mss, b.mss), (Some(-20), Some(1200)));
    assert_eq!(a.interface.as_deref(), Some("lo"));
    let l = load("global\n  maxcompcpuusage 101\n");
    assert!(errors(&l).contains("t.cfg:2:"), "{}", errors(&l));
}
