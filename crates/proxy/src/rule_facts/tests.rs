use super::*;
use crate::http::message::Message;
use fulcrum_sample::logformat::VARIABLES;
use std::time::Duration;

fn request() -> Message {
    let mut m = Message::new();
    assert!(matches!(
        m.parse_request(b"GET /p?q=1 HTTP/1.1\r\nHost: h\r\nCookie: SID=abc\r\n\r\n"),
        Ok(Some(_))
    ));
    m
}

fn render(env: &HttpEnv<'_>, text: &str) -> String {
    let f = fulcrum_sample::compile_format(text).expect("format");
    let mut out = Vec::new();
    f.render_value_flagged(env, &mut |n, fl, o| env.var_flagged(n, fl, o), &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn rule_values_write_what_haproxy_writes_before_and_after_the_response() {
    let conns = AtomicU64::new(3);
    let accept = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_493_271_249);
    let waits = Waits {
        idle: Duration::from_millis(1),
        handshake: Duration::ZERO,
    };
    let facts = RuleFacts::new(Mode::Http, "f", &conns, None, accept, waits, 7);
    let req = request();
    let mut seen = crate::http::sample_env::Situation::new(
        "127.0.0.1:51906".parse().expect("addr"),
        "127.0.0.1:18900".parse().expect("addr"),
    );
    let cookie = ("SID".to_string(), 20);
    let caps = Captures::new(&[]).with_cookie(Some(&cookie));
    seen.captures = Some(&caps);
    seen.facts = Some(&facts);
    seen.unique_id = Some(b"ID1");
    let env = seen.view(Some(&req), None);
    // haproxy 2.6.12, `http-request set-header` values (measured, same timers):
    // no backend, no server, timers not reached -1, t_close 0, no id yet, no cookie capture.
    assert_eq!(
        render(&env, "%b/%s %Tq %TR %Tw %Tc %Tr %Td %Ta %Tt %Tu %Th %Ti"),
        "f/<NOSRV> -1 -1 -1 -1 -1 -1 -1 0 -1 0 1"
    );
    assert_eq!(
        render(
            &env,
            "[%ID] [%CC] [%CS] %B %U %ts %tsc %rt %fc %f %ft %bq %sq %rc %lc"
        ),
        "[] [] [] 0 0 -- ---- 7 3 f f 0 0 0 0"
    );
    assert_eq!(render(&env, "%Ts %{+X}Ts %ms"), "1796493271 6B144FD7 249");
    assert_eq!(
        render(&env, "[%bi] [%bp] [%si] [%sp] %bc %sc"),
        "[] [] [] [] 0 0"
    );
    assert_eq!(
        render(&env, "%{+Q}Ts %{+Q}f %{+Q,+M}rt"),
        "1796493271 \"f\" 7"
    );
    // A `unique-id` fetch makes the id: `%ID` has it from then on, as haproxy.
    assert_eq!(render(&env, "%[unique-id] %ID"), "ID1 ID1");
    // The response's facts (the measured line: Tq 1, TR 0, Tw 0, Tc 1, Tr 4, Td -6).
    facts.response(ResponseFacts {
        request: Some(Duration::ZERO),
        queue: Some(Duration::ZERO),
        connect: Some(Duration::from_millis(1)),
        response: Some(Duration::from_millis(4)),
        retries: Default::default(),
        cookie: b'-',
        source: None,
        queue_pos: 0,
    });
    assert_eq!(
        render(&env, "%Tq %TR %Tw %Tc %Tr %Td %Ta %Tt %Tu"),
        "1 0 0 1 4 -6 -1 0 -1"
    );
    assert_eq!(render(&env, "%CC"), "SID=abc");
    // Every variable of the table has a writer here (none falls through unwritten).
    for v in VARIABLES.iter().filter(|v| **v != "o") {
        let mut out = Vec::new();
        let w = env.var_flagged(v, Flags::default(), &mut out);
        let absent_ok = matches!(
            *v,
            "CS" | "bi" | "bp" | "si" | "sp" | "sslv" | "sslc" | "hr" | "hs" | "hrl" | "hsl"
        );
        assert!(w.is_some() || absent_ok, "%{v} not written");
    }
}
