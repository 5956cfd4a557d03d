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
        ("tcp-check set-var(proc.x) int(1)", "'proc' variables"),
        ("tcp-check set-var(check.x,ifexists) int(1)", "conditions"),
        (
            "tcp-check expect string-lf %[var(x)]",
            "log-format patterns",
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
