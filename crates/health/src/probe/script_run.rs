//! The one driver of check scripts (`probe::script`): connects, sends and reads as the steps
//! say, asks the pure judge after every read, and turns the first failure — or the success of
//! the last step — into HAProxy's outcome. `connect_timeout` bounds each connect;
//! `read_timeout` bounds everything after a connect (HAProxy's `timeout check`).

use crate::clock;
use crate::probe::addr::{CheckAddr, Conn, Dest};
use crate::probe::check_sample::CheckEnv;
use crate::probe::h2check::H2Link;
use crate::probe::link::{read, write, Link};
use crate::probe::script::{self, Action, Script, Step, Verdict};
use crate::probe::{response, tcp};
use crate::status::{CheckOutcome, CheckStatus};
use std::time::{Duration, Instant};

/// HAProxy judges on its first buffer: a check reads at most this much.
pub const CHECK_BUFFER: usize = 16384;

/// The PROXY protocol v1 header of a check connection: there is no client, so HAProxy names
/// the check's own connection (its local address as source, the server as destination);
/// `PROXY UNKNOWN` on a unix socket.
pub fn proxy_v1(conn: &Conn) -> Vec<u8> {
    let ends = match conn {
        Conn::Tcp(s) => s.local_addr().ok().zip(s.peer_addr().ok()),
        Conn::Unix(_) => None,
    };
    match ends {
        Some((src, dst)) if src.is_ipv4() == dst.is_ipv4() => format!(
            "PROXY {} {} {} {} {}\r\n",
            if src.is_ipv4() { "TCP4" } else { "TCP6" },
            src.ip(),
            dst.ip(),
            src.port(),
            dst.port()
        )
        .into_bytes(),
        _ => b"PROXY UNKNOWN\r\n".to_vec(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCheck {
    pub addr: CheckAddr,
    pub script: Script,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// `http-check disable-on-404`: a 404 from an UP server passes conditionally (L7OKC).
    pub disable_on_404: bool,
    /// `http-check send-state`: the static part of `X-Haproxy-Server-State`.
    pub send_state: Option<crate::send_state::StateHeader>,
    /// The server has `send-proxy-v2`: the checks' PROXY headers are version 2 (HAProxy sends
    /// the 16-byte LOCAL header: no addresses), else the version 1 line.
    pub proxy_v2: bool,
}

/// HAProxy's PROXY v2 header on a check connection: the signature, version 2 command LOCAL,
/// family UNSPEC, no address block (captured from haproxy 2.6 checking a send-proxy-v2 server).
pub const PROXY_V2_LOCAL: [u8; 16] = *b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";

/// HAProxy prints `code: N` for the statuses past layer 6 (L7OK, L7OKC, L7STS).
fn outcome(
    status: CheckStatus,
    code: Option<u16>,
    info: String,
    elapsed: Duration,
) -> CheckOutcome {
    let mut o = CheckOutcome::new(status, elapsed);
    if matches!(
        status,
        CheckStatus::L7Ok | CheckStatus::L7OkConditional | CheckStatus::L7Status
    ) {
        o = o.with_code(code.unwrap_or(0));
    }
    if !info.is_empty() {
        o = o.with_info(info);
    }
    o
}

impl ScriptCheck {
    pub async fn run(&self) -> CheckOutcome {
        self.run_with(&crate::probe::ProbeCtx::default()).await
    }

    pub async fn run_with(&self, ctx: &crate::probe::ProbeCtx) -> CheckOutcome {
        let start = clock::now();
        let flavor = self.script.flavor;
        let mut conn: Option<Link> = None;
        let mut deadline = start + self.read_timeout;
        let mut buf: Vec<u8> = Vec::new();
        let mut closed = false;
        let mut pass = None;
        // the check's variables (`set-var(check.x)`): one check run
        let mut vars = crate::probe::check_vars::CheckVars::default();
        for step in &self.script.steps {
            match &step.action {
                Action::SetVar {
                    var,
                    expr,
                    conditions,
                } => {
                    let value = expr.eval(&CheckEnv {
                        buf: &buf,
                        status: None,
                        vars: &vars,
                    });
                    // HAProxy leaves the variable as it was when the sample has no value
                    if let Some(v) = value {
                        vars.set_if(var.scope, &var.name, v, *conditions);
                    }
                }
                Action::SetVarFmt {
                    var,
                    format,
                    conditions,
                } => {
                    let text = format.render(&CheckEnv {
                        buf: &buf,
                        status: None,
                        vars: &vars,
                    });
                    let v = fulcrum_sample::Value::Str(text);
                    vars.set_if(var.scope, &var.name, v, *conditions);
                }
                Action::UnsetVar(var) => vars.unset(var.scope, &var.name),
                Action::Connect(c) => {
                    drop(conn.take()); // the previous connection ends before the next
                    let mut addr = self.addr.clone();
                    let port = c.port.or_else(|| {
                        let env = CheckEnv {
                            buf: &buf,
                            status: None,
                            vars: &vars,
                        };
                        c.port_expr
                            .as_ref()
                            .and_then(|e| e.int(&env))
                            .and_then(|p| u16::try_from(p).ok())
                            .filter(|p| *p > 0)
                    });
                    if let Dest::Ip(a) = &mut addr.dest {
                        if let Some(p) = port {
                            a.set_port(p);
                        }
                        if let Some(ip) = c.addr {
                            a.set_ip(ip);
                        }
                    }
                    // through the server's SOCKS4 proxy: the TCP connect goes to the proxy
                    let mut dial = addr.clone();
                    if let (Some(proxy), Dest::Ip(_)) = (c.socks4, &addr.dest) {
                        dial.dest = Dest::Ip(proxy);
                    }
                    let mut new = match tcp::connect_to(&dial, self.connect_timeout).await {
                        Ok(new) => new,
                        Err(mut o) => {
                            let info = format!(
                                "{}{}",
                                o.info.take().unwrap_or_default(),
                                script::where_info(flavor, step)
                            );
                            if !info.is_empty() {
                                o.info = Some(info);
                            }
                            o.duration = Some(clock::since(start));
                            return o;
                        }
                    };
                    if let (Some(_), Dest::Ip(dst), Conn::Tcp(s)) = (c.socks4, &addr.dest, &mut new)
                    {
                        use super::socks4::Refused;
                        let until = clock::now() + self.read_timeout;
                        match super::socks4::through(s, *dst, until).await {
                            Ok(()) => {}
                            Err(Refused::Timeout) => {
                                return self.timeout(start, step, CheckStatus::L7Timeout)
                            }
                            Err(Refused::Denied) => {
                                return self.socket_error(
                                    start,
                                    step,
                                    &std::io::Error::other("SOCKS4 Proxy deny the request"),
                                )
                            }
                            Err(Refused::Io(e)) => return self.socket_error(start, step, &e),
                        }
                    }
                    if let (false, Conn::Tcp(s)) = (c.linger, &new) {
                        // HAProxy closes a check with a single RST unless `linger` asks for a
                        // clean close (SO_LINGER 0: no FIN exchange, no TIME_WAIT left)
                        let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
                    }
                    let header = c.send_proxy.then(|| {
                        if self.proxy_v2 {
                            PROXY_V2_LOCAL.to_vec()
                        } else {
                            proxy_v1(&new)
                        }
                    });
                    let mut new = Link::Plain(new);
                    if let Some(header) = header {
                        if let Err(e) = write(&mut new, &header).await {
                            return self.socket_error(start, step, &e);
                        }
                    }
                    let new = match (&c.tls, new) {
                        (Some(t), Link::Plain(Conn::Tcp(tcp))) => {
                            let left = self.connect_timeout.saturating_sub(clock::since(start));
                            let ip = match addr.dest {
                                Dest::Ip(a) => a.ip(),
                                _ => std::net::IpAddr::from([0u8; 4]),
                            };
                            match super::tls::handshake(tcp, ip, t, left).await {
                                Ok(s) => Link::Tls(Box::new(s)),
                                Err(mut o) => {
                                    o.info = Some(format!(
                                        "{}{}",
                                        o.info.take().unwrap_or_default(),
                                        script::where_info(flavor, step)
                                    ));
                                    o.duration = Some(clock::since(start));
                                    return o;
                                }
                            }
                        }
                        (Some(_), _) => {
                            return self.socket_error(
                                start,
                                step,
                                &std::io::Error::other("TLS checks need an IP address"),
                            )
                        }
                        (None, plain) => plain,
                    };
                    let new = match self.h2_over(c, new).await {
                        Ok(new) => new,
                        Err(e) => return self.socket_error(start, step, &e),
                    };
                    conn = Some(new);
                    deadline = clock::now() + self.read_timeout;
                    buf.clear();
                    closed = false;
                }
                Action::Send(_)
                | Action::SendHttp { .. }
                | Action::SendSslHello
                | Action::SendLf { .. }
                | Action::SendHttpLf(_) => {
                    let hello;
                    let data = match &step.action {
                        Action::Send(d) => d,
                        Action::SendHttp { request, state_at } => {
                            hello = with_state(request, *state_at, ctx.state_header.as_deref());
                            &hello
                        }
                        Action::SendLf { format, binary } => {
                            let env = CheckEnv {
                                buf: &buf,
                                status: None,
                                vars: &vars,
                            };
                            let text = format.render(&env);
                            hello = if *binary {
                                match std::str::from_utf8(&text)
                                    .ok()
                                    .and_then(|t| fulcrum_config::haproxy::hex(t).ok())
                                {
                                    Some(b) => b,
                                    None => {
                                        // HAProxy: "tcp-check send : failed to build binary
                                        // data at step N" (L7RSP)
                                        return outcome(
                                            CheckStatus::L7Response,
                                            None,
                                            format!(
                                                "tcp-check send : failed to build binary data at step {}",
                                                step.number
                                            ),
                                            clock::since(start),
                                        );
                                    }
                                }
                            } else {
                                text
                            };
                            &hello
                        }
                        Action::SendHttpLf(h) => {
                            let env = CheckEnv {
                                buf: &buf,
                                status: None,
                                vars: &vars,
                            };
                            let (request, state_at) = h.build(&env);
                            hello = if h.send_state {
                                with_state(&request, state_at, ctx.state_header.as_deref())
                            } else {
                                request
                            };
                            &hello
                        }
                        _ => {
                            let now = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map_or(0, |d| d.as_secs() as u32);
                            hello = super::script::ssl_hello(now);
                            &hello
                        }
                    };
                    let Some(c) = conn.as_mut() else {
                        return self.socket_error(
                            start,
                            step,
                            &std::io::ErrorKind::NotConnected.into(),
                        );
                    };
                    match tokio::time::timeout_at(deadline.into(), write(c, data)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return self.socket_error(start, step, &e),
                        Err(_) => return self.timeout(start, step, CheckStatus::L7Timeout),
                    }
                    buf.clear();
                    closed = false;
                }
                Action::ExpectHttp(x, opts) => {
                    let tout = opts.tout_status.unwrap_or(CheckStatus::L7Timeout);
                    // `min-recv N` on a body rule: judge once N body bytes came (haproxy)
                    let early = opts.min_recv.filter(|_| x.reads_body());
                    loop {
                        if closed
                            || response::complete(&buf)
                            || early.is_some_and(|m| {
                                response::body_len(&buf).is_some_and(|n| n > 0 && n >= m)
                            })
                        {
                            break;
                        }
                        let Some(c) = conn.as_mut() else {
                            break;
                        };
                        match tokio::time::timeout_at(deadline.into(), read(c, &mut buf)).await {
                            Ok(Ok(0)) => closed = true,
                            Ok(Ok(_)) => closed = buf.len() >= CHECK_BUFFER,
                            Ok(Err(_)) if !buf.is_empty() => closed = true,
                            Ok(Err(err)) => return self.socket_error(start, step, &err),
                            Err(_) => return self.timeout(start, step, tout),
                        }
                    }
                    let elapsed = clock::since(start);
                    let Some(resp) = response::parse(&buf) else {
                        let info = if buf.is_empty() {
                            "Empty response"
                        } else {
                            "Invalid HTTP response"
                        };
                        return outcome(CheckStatus::L7Response, None, info.into(), elapsed);
                    };
                    // disable-on-404 has precedence over the expect rule, for UP servers
                    let soft_stop = self.disable_on_404 && ctx.server_up && resp.status == 404;
                    let env = CheckEnv {
                        buf: &buf,
                        status: Some(resp.status),
                        vars: &vars,
                    };
                    let code = match &opts.status_code {
                        Some(e) => e.int(&env).and_then(|n| u16::try_from(n).ok()),
                        None => Some(resp.status),
                    };
                    let render = |m: &script::Message| {
                        crate::probe::script_judge::render_env(m, &buf, Some(resp.status), &vars)
                    };
                    if !soft_stop {
                        let judged = x.resolve(&env).evaluate(&resp, elapsed);
                        if !judged.passed() {
                            if opts.error_status.is_none()
                                && opts.on_error.is_none()
                                && opts.status_code.is_none()
                            {
                                return judged;
                            }
                            let info = match &opts.on_error {
                                Some(m) => render(m),
                                None => judged.info.clone().unwrap_or_default(),
                            };
                            let status = opts.error_status.unwrap_or(judged.status);
                            let code = if opts.status_code.is_some() {
                                code
                            } else {
                                judged.code
                            };
                            return outcome(status, code, info, elapsed);
                        }
                    }
                    let info = opts.on_success.as_ref().map(render).unwrap_or_default();
                    pass = Some((code, info));
                }
                Action::Expect(e) => loop {
                    match script::evaluate_with(flavor, step, e, &buf, closed, &vars) {
                        Verdict::Pass { code, info } => {
                            pass = Some((code, info));
                            break;
                        }
                        Verdict::Fail { status, code, info } => {
                            return outcome(status, code, info, clock::since(start));
                        }
                        Verdict::Wait => {
                            let Some(c) = conn.as_mut() else {
                                closed = true;
                                continue;
                            };
                            match tokio::time::timeout_at(deadline.into(), read(c, &mut buf)).await
                            {
                                Ok(Ok(0)) => closed = true,
                                Ok(Ok(_)) => closed = buf.len() >= CHECK_BUFFER,
                                // a reset after the answer: judge what came
                                Ok(Err(_)) if !buf.is_empty() => closed = true,
                                Ok(Err(err)) => return self.socket_error(start, step, &err),
                                Err(_) => return self.timeout(start, step, e.tout_status),
                            }
                        }
                    }
                },
            }
        }
        drop(conn);
        let last = self.script.steps.last();
        if self.disable_on_404
            && ctx.server_up
            && matches!(last.map(|s| &s.action), Some(Action::ExpectHttp(..)))
            && matches!(pass, Some((Some(404), _)))
        {
            // HAProxy: the last response was a 404 → "conditionally passed", no info
            return CheckOutcome::new(CheckStatus::L7OkConditional, clock::since(start))
                .with_code(404);
        }
        script::success(flavor, last, pass, clock::since(start))
    }

    /// HTTP/2 on the new connection when the connect asks for it, or when an HTTP check's
    /// TLS handshake chose `h2` by ALPN (HAProxy picks its multiplexer so).
    async fn h2_over(&self, c: &script::Connect, link: Link) -> std::io::Result<Link> {
        let alpn_h2 = matches!(&link, Link::Tls(s) if s.get_ref().1.alpn_protocol() == Some(b"h2"));
        let http = || {
            self.script
                .steps
                .iter()
                .any(|s| matches!(s.action, Action::ExpectHttp(..)))
        };
        if !(c.h2 || alpn_h2) || !http() {
            return Ok(link);
        }
        let h2 = match link {
            Link::Plain(Conn::Tcp(s)) => H2Link::handshake(s).await?,
            Link::Plain(Conn::Unix(s)) => H2Link::handshake(s).await?,
            Link::Tls(s) => H2Link::handshake(*s).await?,
            h2 @ Link::H2(_) => return Ok(h2),
        };
        Ok(Link::H2(Box::new(h2)))
    }

    fn timeout(&self, start: Instant, step: &Step, status: CheckStatus) -> CheckOutcome {
        outcome(
            status,
            None,
            script::where_info(self.script.flavor, step),
            clock::since(start),
        )
    }

    fn socket_error(&self, start: Instant, step: &Step, e: &std::io::Error) -> CheckOutcome {
        outcome(
            CheckStatus::SocketError,
            None,
            format!(
                "{}{}",
                // an HTTP/2 protocol error has no words in HAProxy's report (no errno)
                if crate::probe::h2check::is_protocol_error(e) {
                    String::new()
                } else {
                    tcp::io_error_info(e)
                },
                script::where_info(self.script.flavor, step)
            ),
            clock::since(start),
        )
    }
}

/// An `http-check send` request with `x-haproxy-server-state: VALUE` put in at `at`.
fn with_state(request: &[u8], at: usize, value: Option<&str>) -> Vec<u8> {
    let Some(value) = value else {
        return request.to_vec();
    };
    let at = at.min(request.len());
    let mut out = Vec::with_capacity(request.len() + value.len() + 28);
    out.extend_from_slice(&request[..at]);
    out.extend_from_slice(b"x-haproxy-server-state: ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&request[at..]);
    out
}
