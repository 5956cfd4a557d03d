//! Check scripts built from the config: a backend's `tcp-check` rules as written, and HAProxy's
//! protocol checks (`redis-check`, `smtpchk`, `pgsql-check`, `mysql-check`, `ldap-check`) as
//! the same steps HAProxy 2.6 builds for them (the bytes sent and the answers accepted are
//! HAProxy's, so a server sees the same check from either).

use crate::probe::check_sample::{Lf, SampleExpr, VarName};
use crate::probe::expect::Re;
use crate::probe::script::{Action, Connect, Expect, Flavor, Matcher, Message, Script, Step};
use crate::status::CheckStatus;
use fulcrum_config::model::{CheckProtocol, TcpCheckAction, TcpCheckRule, TcpExpectKind};

fn re(p: &str) -> Result<Re, String> {
    Re::new(p).map_err(|e| format!("invalid regex '{p}': {e}"))
}

/// `tcp-check` rules → a script. Comments are not steps but keep their number and name the
/// step after them; without a leading connect, an implicit one (step 0) is inserted.
pub fn tcp_check(rules: &[TcpCheckRule], send_proxy: bool) -> Result<Script, String> {
    let mut steps = Vec::new();
    // HAProxy: a comment names the rules after it while they are of the same kind; a
    // connect takes it alone.
    let mut comment: Option<String> = None;
    let mut prev: Option<std::mem::Discriminant<TcpCheckAction>> = None;
    for (i, rule) in rules.iter().enumerate() {
        let number = i as u32 + 1;
        let kind = std::mem::discriminant(&rule.action);
        let after_comment = matches!(
            rules.get(i.wrapping_sub(1)).map(|r| &r.action),
            Some(TcpCheckAction::Comment(_))
        );
        if prev.is_some_and(|p| p != kind) && !after_comment {
            comment = None;
        }
        prev = Some(kind);
        let (action, own) = match &rule.action {
            TcpCheckAction::Comment(c) => {
                comment = Some(c.clone());
                continue;
            }
            TcpCheckAction::Connect(c) => (
                Action::Connect(Connect {
                    port: c.port,
                    port_expr: c
                        .port_expr
                        .as_deref()
                        .map(crate::probe::check_sample::SampleExpr::new)
                        .transpose()?,
                    addr: c.addr,
                    send_proxy: c.send_proxy || (c.default && send_proxy),
                    server_defaults: c.default,
                    linger: c.linger,
                    implicit: false,
                    tls: tls_of(c),
                    via_socks4: c.via_socks4,
                    socks4: None,
                    h2: false,
                }),
                c.comment.clone(),
            ),
            TcpCheckAction::Send { data, comment } => (Action::Send(data.clone()), comment.clone()),
            TcpCheckAction::SendLf {
                format,
                binary,
                comment,
            } => (
                Action::SendLf {
                    format: Lf::new(format)?,
                    binary: *binary,
                },
                comment.clone(),
            ),
            TcpCheckAction::SetVar {
                scope,
                name,
                expr,
                conditions,
                fmt: true,
            } => (
                Action::SetVarFmt {
                    var: VarName::new(scope, name)?,
                    format: Lf::new(expr)?,
                    conditions: crate::probe::check_vars::Conditions::parse(conditions)?,
                },
                None,
            ),
            TcpCheckAction::SetVar {
                scope,
                name,
                expr,
                conditions,
                fmt: false,
            } => (
                Action::SetVar {
                    var: VarName::new(scope, name)?,
                    expr: SampleExpr::new(expr)?,
                    conditions: crate::probe::check_vars::Conditions::parse(conditions)?,
                },
                None,
            ),
            TcpCheckAction::UnsetVar { scope, name } => {
                (Action::UnsetVar(VarName::new(scope, name)?), None)
            }
            TcpCheckAction::Expect(e) => {
                let matcher = match e.kind {
                    TcpExpectKind::String => Matcher::String(e.pattern.as_bytes().to_vec()),
                    TcpExpectKind::Rstring => Matcher::Rstring(re(&e.pattern)?),
                    TcpExpectKind::Binary => {
                        Matcher::Binary(fulcrum_config::haproxy::hex(&e.pattern)?)
                    }
                    TcpExpectKind::Rbinary => Matcher::Rbinary(re(&e.pattern)?),
                    TcpExpectKind::StringLf => Matcher::StringLf(Lf::new(&e.pattern)?),
                    TcpExpectKind::BinaryLf => Matcher::BinaryLf(Lf::new(&e.pattern)?),
                };
                let mut x = Expect::new(e.negate, matcher);
                x.min_recv = e.min_recv;
                let status = |s: &Option<String>, d| {
                    s.as_deref().and_then(CheckStatus::from_code).unwrap_or(d)
                };
                x.ok_status = status(&e.ok_status, x.ok_status);
                x.error_status = status(&e.error_status, x.error_status);
                x.tout_status = status(&e.tout_status, x.tout_status);
                x.on_success = e.on_success.as_deref().map(message).transpose()?;
                x.on_error = e.on_error.as_deref().map(message).transpose()?;
                x.status_code = e.status_code.as_deref().map(SampleExpr::new).transpose()?;
                (Action::Expect(x), e.comment.clone())
            }
        };
        let named = own.or_else(|| comment.clone());
        if matches!(action, Action::Connect(_)) {
            comment = None;
        }
        steps.push(Step {
            number,
            action,
            comment: named,
        });
    }
    let first = steps.iter().find(|s| {
        !matches!(
            s.action,
            Action::SetVar { .. } | Action::SetVarFmt { .. } | Action::UnsetVar(_)
        )
    });
    if !matches!(first.map(|s| &s.action), Some(Action::Connect(_))) {
        steps.insert(0, implicit_connect(send_proxy));
    }
    Ok(Script {
        flavor: Flavor::TcpCheck,
        steps,
    })
}

/// An `on-success` / `on-error` string: plain text, or a log-format string with samples.
fn message(text: &str) -> Result<Message, String> {
    if text.contains('%') {
        Lf::new(text).map(Message::Format)
    } else {
        Ok(Message::Text(text.to_string()))
    }
}

fn implicit_connect(send_proxy: bool) -> Step {
    Step {
        number: 0,
        action: Action::Connect(Connect {
            send_proxy,
            implicit: true,
            ..Connect::default()
        }),
        comment: None,
    }
}

/// A protocol check's steps, numbered from 1 after the implicit connect.
fn protocol(send_proxy: bool, linger: bool, actions: Vec<Action>) -> Script {
    let mut first = implicit_connect(send_proxy);
    if let Action::Connect(c) = &mut first.action {
        c.linger = linger;
    }
    let mut steps = vec![first];
    steps.extend(actions.into_iter().enumerate().map(|(i, action)| Step {
        number: i as u32 + 1,
        action,
        comment: None,
    }));
    Script {
        flavor: Flavor::Protocol,
        steps,
    }
}

fn payload(from: usize, ltrim: bool, cut_crlf: bool) -> Option<Message> {
    Some(Message::Payload {
        from,
        ltrim,
        cut_crlf,
    })
}

/// The script of a protocol option, or of `option tcp-check` with the backend's rules.
pub fn script(
    p: &CheckProtocol,
    rules: &[TcpCheckRule],
    send_proxy: bool,
) -> Result<Script, String> {
    Ok(match p {
        CheckProtocol::TcpCheck => tcp_check(rules, send_proxy)?,
        CheckProtocol::External => {
            return Err("an external check is not a script".into());
        }
        CheckProtocol::Redis => {
            let mut e = Expect::new(false, Matcher::String(b"+PONG\r\n".to_vec()));
            e.error_status = CheckStatus::L7Status;
            e.on_error = payload(0, false, true);
            e.on_success = Some(Message::Text("Redis server is ok".into()));
            protocol(
                send_proxy,
                false,
                vec![
                    Action::Send(b"*1\r\n$4\r\nPING\r\n".to_vec()),
                    Action::Expect(e),
                ],
            )
        }
        // HAProxy 2.6: `send-binary HELLO`, `expect custom min-recv 4` (an AGENT-HELLO)
        CheckProtocol::Spop => {
            let mut e = Expect::new(false, Matcher::SpopAgentHello);
            e.min_recv = Some(4);
            protocol(
                send_proxy,
                false,
                vec![Action::Send(crate::probe::spop::hello()), Action::Expect(e)],
            )
        }
        // HAProxy 2.6: send the hello, `expect rbinary "^1[56]" min-recv 5 ok-status L6OK
        // error-status L6RSP tout-status L6TOUT` (a handshake or alert record).
        CheckProtocol::SslHello => {
            let mut e = Expect::new(false, Matcher::Rbinary(re("^1[56]")?));
            e.min_recv = Some(5);
            e.ok_status = CheckStatus::L6Ok;
            e.error_status = CheckStatus::L6Response;
            e.tout_status = CheckStatus::L6Timeout;
            protocol(
                send_proxy,
                false,
                vec![Action::SendSslHello, Action::Expect(e)],
            )
        }
        CheckProtocol::Smtp { command } => {
            let reply = |pattern: &str, status, success: bool| -> Result<Action, String> {
                let mut e = Expect::new(false, Matcher::Rstring(re(pattern)?));
                e.min_recv = Some(4);
                e.error_status = status;
                if status == CheckStatus::L7Response {
                    e.on_error = payload(0, false, true);
                } else {
                    e.on_error = payload(4, true, true);
                    e.code_from_payload = true;
                }
                if success {
                    e.on_success = payload(4, true, true);
                }
                Ok(Action::Expect(e))
            };
            protocol(
                send_proxy,
                true,
                vec![
                    reply("^[0-9]{3}[ \r]", CheckStatus::L7Response, false)?,
                    reply("^2[0-9]{2}[ \r]", CheckStatus::L7Status, false)?,
                    Action::Send(format!("{command}\r\n").into_bytes()),
                    reply("^[0-9]{3}[ \r]", CheckStatus::L7Response, false)?,
                    reply("^2[0-9]{2}[- \r]", CheckStatus::L7Status, false)?,
                    Action::Send(b"QUIT\r\n".to_vec()),
                    reply("^[0-9]{3}[ \r]", CheckStatus::L7Response, false)?,
                    reply("^2[0-9]{2}[- \r]", CheckStatus::L7Status, true)?,
                ],
            )
        }
        CheckProtocol::Pgsql { user } => {
            let len = 15 + user.len() as u32;
            let mut startup = len.to_be_bytes().to_vec();
            startup.extend_from_slice(&[0, 3, 0, 0]);
            startup.extend_from_slice(b"user\0");
            startup.extend_from_slice(user.as_bytes());
            startup.extend_from_slice(&[0, 0]);
            let mut not_error = Expect::new(true, Matcher::Rstring(re("^E")?));
            not_error.min_recv = Some(5);
            not_error.on_error = payload(6, false, false);
            let mut auth = Expect::new(
                false,
                Matcher::Rbinary(re("^52000000(08|0A|0C)000000(00|02|03|04|05|06)")?),
            );
            auth.min_recv = Some(9);
            auth.error_status = CheckStatus::L7Status;
            auth.on_success = Some(Message::Text("PostgreSQL server is ok".into()));
            auth.on_error = Some(Message::Text("PostgreSQL unknown error".into()));
            protocol(
                send_proxy,
                true,
                vec![
                    Action::Send(startup),
                    Action::Expect(not_error),
                    Action::Expect(auth),
                ],
            )
        }
        CheckProtocol::Mysql { user, pre41 } => {
            let mut actions = Vec::new();
            if let Some(user) = user {
                actions.push(Action::Send(mysql_login(user, *pre41)));
            }
            actions.push(Action::Expect(Expect::new(
                false,
                Matcher::MysqlPacket { after_first: false },
            )));
            if user.is_some() {
                actions.push(Action::Expect(Expect::new(
                    false,
                    Matcher::MysqlPacket { after_first: true },
                )));
            }
            protocol(send_proxy, true, actions)
        }
        CheckProtocol::Ldap => {
            // A simple anonymous bindRequest, LDAPv3 (RFC 4511 4.2).
            let bind = vec![
                0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
            ];
            let mut seq = Expect::new(false, Matcher::Rbinary(re("^30")?));
            seq.min_recv = Some(14);
            seq.on_error = Some(Message::Text("Not LDAPv3 protocol".into()));
            protocol(
                send_proxy,
                false,
                vec![
                    Action::Send(bind),
                    Action::Expect(seq),
                    Action::Expect(Expect::new(false, Matcher::LdapBindResponse)),
                ],
            )
        }
    })
}

/// The client authentication packet HAProxy sends for `mysql-check user U` (4.1 protocol by
/// default, 4.0 with `pre-41`), followed by COM_QUIT.
fn mysql_login(user: &str, pre41: bool) -> Vec<u8> {
    let mut body = Vec::new();
    if pre41 {
        body.extend_from_slice(&[0x00, 0x80]); // client capabilities
        body.extend_from_slice(&[0x00, 0x00, 0x01]); // max packet
    } else {
        body.extend_from_slice(&[0x00, 0x82, 0x00, 0x00]); // client capabilities
        body.extend_from_slice(&[0x00, 0x80, 0x00, 0x01]); // max packet
        body.push(0x21); // charset utf8
        body.extend_from_slice(&[0u8; 23]);
    }
    body.extend_from_slice(user.as_bytes());
    body.push(0); // end of user name
    body.push(0); // filler
    let len = body.len() as u32;
    let mut pkt = vec![len as u8, (len >> 8) as u8, (len >> 16) as u8, 1];
    pkt.extend_from_slice(&body);
    pkt.extend_from_slice(&[0x01, 0x00, 0x00, 0x00, 0x01]); // COM_QUIT
    pkt
}

/// The TLS settings a `connect ssl [sni S] [alpn L]` asks for (the CA comes from the server,
/// filled in by the plan).
pub fn tls_of(c: &fulcrum_config::model::TcpCheckConnect) -> Option<super::script::TlsSettings> {
    c.ssl.then(|| super::script::TlsSettings {
        sni: c.sni.clone(),
        alpn: c.alpn.clone(),
        ca_file: None,
    })
}
