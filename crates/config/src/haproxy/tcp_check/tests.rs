//! Unit tests of `tcp_check`.

use crate::model::*;
use crate::{load_sources, Source};

fn load(text: &str) -> crate::Loaded {
    load_sources(&[Source {
        name: "t.cfg",
        text,
    }])
}
const HEAD: &str =
    "defaults\n timeout connect 5s\n timeout client 50s\n timeout server 50s\nbackend b\n";

#[test]
fn tcp_check_rules_and_protocol_options() {
    let l = load(&format!(
        "{HEAD} option tcp-check\n tcp-check comment hello\n tcp-check connect port 6379 send-proxy linger\n tcp-check send PING\\r\\n\n tcp-check send-binary 0d0a comment crlf\n tcp-check expect min-recv 3 error-status L7STS ! rstring ^-ERR\\s\n tcp-check expect string +PONG on-success ok comment pong\n"
    ));
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    let b = l.config.proxy("b").expect("b");
    assert_eq!(b.options.check_protocol, Some(CheckProtocol::TcpCheck));
    let r: Vec<&TcpCheckAction> = b.tcp_check.iter().map(|r| &r.action).collect();
    assert_eq!(r[0], &TcpCheckAction::Comment("hello".into()));
    assert!(
        matches!(r[1], TcpCheckAction::Connect(c) if c.port == Some(6379) && c.send_proxy && c.linger)
    );
    assert_eq!(
        r[2],
        &TcpCheckAction::Send {
            data: b"PING\r\n".to_vec(),
            comment: None
        }
    );
    assert_eq!(
        r[3],
        &TcpCheckAction::Send {
            data: b"\r\n".to_vec(),
            comment: Some("crlf".into())
        }
    );
    assert!(
        matches!(r[4], TcpCheckAction::Expect(e) if e.negate && e.kind == TcpExpectKind::Rstring
        && e.pattern == "^-ERR\\s" && e.min_recv == Some(3) && e.error_status.as_deref() == Some("L7STS"))
    );
    assert!(
        matches!(r[5], TcpCheckAction::Expect(e) if e.on_success.as_deref() == Some("ok") && e.comment.as_deref() == Some("pong"))
    );

    let l = load(&format!(
        "{HEAD} option httpchk\n option mysql-check user haproxy pre-41\n"
    ));
    let b = l.config.proxy("b").expect("b");
    assert_eq!(b.options.httpchk, None, "the last check option wins");
    assert_eq!(
        b.options.check_protocol,
        Some(CheckProtocol::Mysql {
            user: Some("haproxy".into()),
            pre41: true
        })
    );
    let l = load(&format!("{HEAD} option smtpchk EHLO mx.test\n"));
    assert_eq!(
        l.config.proxy("b").expect("b").options.check_protocol,
        Some(CheckProtocol::Smtp {
            command: "EHLO mx.test".into()
        })
    );
}

#[test]
fn what_fulcrum_does_not_run_is_an_error_with_its_line() {
    for (rule, words) in [
        ("tcp-check send-lf %[nosuchfetch]", "tcp-check send-lf"),
        (
            "tcp-check set-var(txn.x) int(1)",
            "'check', 'sess' and 'proc' scopes",
        ),
        (
            "tcp-check set-var(check.x,ifbogus) int(1)",
            "unknown condition \"ifbogus\"",
        ),
        (
            "tcp-check unset-var(check.x,ifexists)",
            "Only \"set-var\" and \"set-var-fmt\" manage conditions",
        ),
        (
            "tcp-check expect string-lf %[nosuchfetch]",
            "tcp-check expect string-lf",
        ),
        (
            "tcp-check connect proto h1",
            "invalid MUX protocol 'h1' for tcp-check",
        ),
        (
            "tcp-check expect status-code nosuch(0,3) string x",
            "status-code",
        ),
        (
            "tcp-check expect ok-status L7BAD string x",
            "expects L7OK, L7OKC, L6OK, L4OK",
        ),
        ("tcp-check send-binary 0g", "not a hex string"),
        ("tcp-check frobnicate", "unknown 'tcp-check' action"),
        ("option pgsql-check", "expects 'user <username>'"),
    ] {
        let errs: Vec<String> = load(&format!("{HEAD} {rule}\n"))
            .diagnostics
            .errors()
            .map(|d| d.to_string())
            .collect();
        assert!(
            errs.len() == 1 && errs[0].starts_with("t.cfg:6: ") && errs[0].contains(words),
            "{rule}: {errs:?}"
        );
    }
    let errs: Vec<String> = load(&format!("{HEAD} tcp-check send x\n tcp-check connect\n"))
        .diagnostics
        .errors()
        .map(|d| d.to_string())
        .collect();
    assert!(
        errs[0].starts_with("t.cfg:7: ") && errs[0].contains("first step MUST also be a 'connect'"),
        "{errs:?}"
    );
}

/// HAProxy 2.6's set-var conditions, `proc.` variables, log-format expect patterns,
/// `connect proto` with the default multiplexer and `http-check expect min-recv` are read.
#[test]
fn conditions_proc_vars_lf_patterns_proto_and_min_recv() {
    let l = load(&format!(
        "{HEAD} option tcp-check\n tcp-check set-var(check.b,ifnotexists,ifnotempty) str(B)\n tcp-check set-var(proc.t) int(9)\n tcp-check connect proto none\n tcp-check expect string-lf %[var(check.b)]\n tcp-check expect binary-lf %[var(check.b),hex]\n"
    ));
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    let r = &l.config.proxy("b").expect("b").tcp_check;
    assert!(
        matches!(&r[0].action, TcpCheckAction::SetVar { scope, conditions, .. } if scope == "check" && conditions == &["ifnotexists", "ifnotempty"])
    );
    assert!(matches!(&r[1].action, TcpCheckAction::SetVar { scope, .. } if scope == "proc"));
    assert!(matches!(&r[3].action, TcpCheckAction::Expect(e) if e.kind == TcpExpectKind::StringLf));
    assert!(matches!(&r[4].action, TcpCheckAction::Expect(e) if e.kind == TcpExpectKind::BinaryLf));

    let l = load(&format!(
        "{HEAD} option httpchk\n http-check connect proto h1\n http-check send meth GET\n http-check expect min-recv 3 string-lf %[var(check.b)]\n"
    ));
    assert!(l.is_ok(), "{:?}", l.diagnostics);
    let h = &l.config.proxy("b").expect("b").http_check;
    assert!(
        matches!(&h.rules[2], HttpCheckRule::Expect(e) if e.kind == ExpectKind::StringLf && e.options.min_recv == Some(3))
    );
    for (rule, words) in [
        (
            "http-check expect status-lf 200",
            "but got 'status-lf' as argument",
        ),
        (
            "http-check connect proto none",
            "invalid MUX protocol 'none'",
        ),
        ("http-check expect min-recv -2 status 200", "INT_MAX"),
    ] {
        let errs: Vec<String> = load(&format!("{HEAD} option httpchk\n {rule}\n"))
            .diagnostics
            .errors()
            .map(|d| d.to_string())
            .collect();
        assert!(
            errs.len() == 1 && errs[0].starts_with("t.cfg:7: ") && errs[0].contains(words),
            "{rule}: {errs:?}"
        );
    }
}
