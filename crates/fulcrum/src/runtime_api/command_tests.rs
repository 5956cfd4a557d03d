//! Unit tests of runtime command parsing: words, levels and HAProxy's messages.

use super::*;

fn p(line: &str, level: Level) -> Parsed {
    let words: Vec<&str> = line.split_whitespace().collect();
    parse(&words, level)
}

#[test]
fn levels_as_haproxy_2_6() {
    for cmd in [
        "disable server app/s1",
        "enable server app/s1",
        "set weight app/s1 2",
        "set server app/s1 state maint",
        "set server app/s1 weight 3",
        "disable health app/s1",
        "enable health app/s1",
    ] {
        assert_eq!(
            p(cmd, Level::User),
            Parsed::Answer(PERMISSION_DENIED.into()),
            "{cmd}"
        );
        assert_eq!(
            p(cmd, Level::Operator),
            Parsed::Answer(PERMISSION_DENIED.into()),
            "{cmd}"
        );
        assert!(matches!(p(cmd, Level::Admin), Parsed::Run(_)), "{cmd}");
    }
    assert_eq!(
        p("show sess", Level::User),
        Parsed::Answer(PERMISSION_DENIED.into())
    );
    assert_eq!(
        p("show sess", Level::Operator),
        Parsed::Run(Command::ShowSess)
    );
    for cmd in [
        "show info",
        "show stat",
        "show servers state",
        "show backend",
        "get weight a/b",
    ] {
        assert!(matches!(p(cmd, Level::User), Parsed::Run(_)), "{cmd}");
    }
    assert_eq!(
        p("operator", Level::User),
        Parsed::Answer(PERMISSION_DENIED.into())
    );
    assert_eq!(
        p("operator", Level::Admin),
        Parsed::SetLevel(Level::Operator)
    );
    assert_eq!(p("user", Level::User), Parsed::SetLevel(Level::User));
    assert!(
        matches!(p("admin", Level::User), Parsed::Answer(a) if a.starts_with("Unknown command"))
    );
}

#[test]
fn set_server_messages() {
    assert_eq!(
        p("set server app/s1", Level::Admin),
        Parsed::Answer(SET_SERVER_USAGE.into())
    );
    assert_eq!(
        p("set server app/s1 foo", Level::Admin),
        Parsed::Answer(SET_SERVER_USAGE.into())
    );
    assert_eq!(
        p("set server app/s1 state foo", Level::Admin),
        Parsed::Answer("'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n".into())
    );
    assert_eq!(
        p("set server app/s1 state drain", Level::Admin),
        Parsed::Run(Command::SetAdmin("app/s1".into(), AdminChange::Drain))
    );
    assert_eq!(
        p("set server app/s1 weight 7", Level::Admin),
        Parsed::Run(Command::SetWeight("app/s1".into(), "7".into()))
    );
}

#[test]
fn ssl_cert_commands_and_levels() {
    let set = parse_with_payload(&["set", "ssl", "cert", "/c.pem"], Level::Admin, "PEM\n");
    assert_eq!(
        set,
        Parsed::Run(Command::SslCert(SslCommand::Set(
            "/c.pem".into(),
            "PEM\n".into()
        )))
    );
    assert_eq!(
        p("commit ssl cert /c.pem", Level::Admin),
        Parsed::Run(Command::SslCert(SslCommand::Commit("/c.pem".into())))
    );
    assert_eq!(
        p("show ssl cert", Level::Operator),
        Parsed::Run(Command::SslCert(SslCommand::Show(None)))
    );
    assert_eq!(
        p("show ssl cert /c.pem", Level::User),
        Parsed::Answer("Can't allocate memory!\n".into())
    );
    for cmd in [
        "new ssl cert /n",
        "abort ssl cert /c",
        "commit ssl cert /c",
        "set ssl cert /c",
        "del ssl cert /c",
        "show ssl crt-list",
        "add ssl crt-list /l /c",
        "del ssl crt-list /l /c:2",
    ] {
        assert_eq!(
            p(cmd, Level::Operator),
            Parsed::Answer(PERMISSION_DENIED.into()),
            "{cmd}"
        );
    }
    assert!(
        matches!(p("show ssl foo", Level::Admin), Parsed::Answer(a) if a.starts_with("Unknown command"))
    );
}

#[test]
fn timeouts() {
    assert_eq!(
        p("set timeout cli 5", Level::User),
        Parsed::SetTimeout(Duration::from_secs(5))
    );
    assert_eq!(
        p("set timeout cli 200ms", Level::User),
        Parsed::SetTimeout(Duration::from_millis(200))
    );
    assert_eq!(
        p("set timeout cli x", Level::User),
        Parsed::Answer("Invalid timeout value.\n".into())
    );
    assert_eq!(
        p("set timeout cli", Level::User),
        Parsed::Answer("Expects an integer value.\n".into())
    );
    assert_eq!(
        p("set timeout foo 3", Level::User),
        Parsed::Answer("'set timeout' only supports 'cli'.\n".into())
    );
}

#[test]
fn stat_filter_as_hatop_sends_it() {
    let Parsed::Run(Command::ShowStat(o)) = p("show stat 3 -1 -1", Level::User) else {
        panic!()
    };
    assert_eq!(o.filter, Some((3, -1, -1)));
    let Parsed::Run(Command::ShowStat(o)) = p("show stat typed", Level::User) else {
        panic!()
    };
    assert!(
        o.typed && o.filter.is_none() && o.hide_addresses,
        "a user session sees no address"
    );
    let Parsed::Run(Command::ShowStat(o)) = p("show stat up no-maint", Level::Operator) else {
        panic!()
    };
    assert!(o.up_only && o.no_maint && !o.hide_addresses);
}

#[test]
fn targets_and_weights_as_haproxy() {
    assert_eq!(split_target("app/s1"), Ok(("app", "s1")));
    assert_eq!(split_target("/s1"), Ok(("", "s1")));
    assert_eq!(
        split_target("app/"),
        Err("Require 'backend/server'.\n".into())
    );
    assert_eq!(
        split_target("app"),
        Err("Require 'backend/server'.\n".into())
    );
    assert_eq!(parse_weight("5", 3, false), Ok(5));
    assert_eq!(parse_weight("50%", 3, false), Ok(1));
    assert_eq!(parse_weight("0%", 3, true), Ok(0));
    assert_eq!(parse_weight("100%", 3, true), Ok(3));
    assert_eq!(parse_weight("1000%", 200, false), Ok(256));
    assert_eq!(
        parse_weight("", 3, false),
        Err("Require <weight> or <weight%>.\n".into())
    );
    assert_eq!(
        parse_weight("abc", 3, false),
        Err("Empty weight string empty or preceded by garbage".into())
    );
    assert_eq!(
        parse_weight("300", 3, false),
        Err("Absolute weight can only be between 0 and 256 inclusive.\n".into())
    );
    assert_eq!(
        parse_weight("-1%", 3, false),
        Err("Relative weight must be positive.\n".into())
    );
    assert_eq!(
        parse_weight("4x", 3, false),
        Err("Trailing garbage in weight string".into())
    );
    assert!(parse_weight("5", 3, true).is_err());
}

#[test]
fn crt_list_commands() {
    use fulcrum_proxy::tls::crtlists::CrtListCommand;
    let run = |c| Parsed::Run(Command::SslCrtList(c));
    assert_eq!(
        p("show ssl crt-list -n /l", Level::Admin),
        run(CrtListCommand::Show {
            numbers: true,
            list: Some("/l".into())
        })
    );
    assert_eq!(
        p("show ssl crt-list", Level::Admin),
        run(CrtListCommand::Show {
            numbers: false,
            list: None
        })
    );
    assert_eq!(
        parse_with_payload(
            &["add", "ssl", "crt-list", "/l"],
            Level::Admin,
            "/c.pem [alpn h2] x.test\n"
        ),
        run(CrtListCommand::Add {
            list: "/l".into(),
            cert: String::new(),
            payload: Some("/c.pem [alpn h2] x.test\n".into())
        })
    );
    assert_eq!(
        p("del ssl crt-list /l /c.pem:3", Level::Admin),
        run(CrtListCommand::Del {
            list: "/l".into(),
            cert: "/c.pem:3".into()
        })
    );
    assert_eq!(
        p("del ssl cert /c.pem", Level::Admin),
        Parsed::Run(Command::SslCert(SslCommand::Del("/c.pem".into())))
    );
}
