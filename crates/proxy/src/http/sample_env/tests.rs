//! Unit tests of `sample_env`.

use super::*;
use fulcrum_config::haproxy::logformat::HTTP_FETCHES;
use fulcrum_sample::logformat::EXCHANGE_VARS;
use fulcrum_sample::Env;

/// Every fetch and variable the config layer lets through is answered here.
#[test]
fn answers_everything_the_config_layer_accepts() {
    let mut req = Message::new();
    let raw = b"GET /p?id=1 HTTP/1.1\r\nHost: h\r\nX-IP: 10.0.0.1\r\nCookie: SID=s\r\nAuthorization: Basic c2NvdHQ6ZWxnYXRv\r\n\r\n";
    // `http_auth(host)` and friends: scott:elgato is in the list named as the argument.
    crate::http::userlist::publish_one(&crate::http::userlist::tests::list_named("host"));
    assert!(matches!(req.parse_request(raw), Ok(Some(_))));
    let mut res = Message::new();
    let raw = b"HTTP/1.1 200 OK\r\nSet-Cookie: SID=s; Path=/\r\nX-A: b\r\n\r\n";
    assert!(matches!(res.parse_response(raw), Ok(Some(_))));
    let tls = crate::stream::TlsInfo {
        version: "TLSv1.3",
        cipher: "TLS_AES_128_GCM_SHA256",
        sni: Some("a.test".into()),
        alpn: Some("http/1.1".into()),
        client_cert: Some(Box::new(crate::stream::ClientCert {
            subject: "/CN=c".into(),
            issuer: "/CN=ca".into(),
            serial: "01".into(),
            subject_entries: vec![("CN".into(), "c".into())],
            issuer_entries: vec![("CN".into(), "ca".into())],
            sha1: vec![0xab; 20],
            not_before: "260101000000Z".into(),
            not_after: "270101000000Z".into(),
            ..Default::default()
        })),
        ..Default::default()
    };

    let seen = crate::http::sample_env::Situation::new(
        SocketAddr::from(([127, 0, 0, 1], 1234)),
        SocketAddr::from(([127, 0, 0, 2], 80)),
    )
    .with_tls(Some(&tls));
    let hello = crate::tls::hello::Hello::Complete {
        hello_type: 1,
        sni: Some("a.test".into()),
    };
    let caps = crate::http::capture::Captures::new(&[
        fulcrum_config::model::Capture {
            response: false,
            name: "Host".into(),
            len: 10,
            sample: false,
        },
        fulcrum_config::model::Capture {
            response: true,
            name: "X-A".into(),
            len: 10,
            sample: false,
        },
    ]);
    let mut seen = seen.with_hello(Some(&hello)).with_captures(&caps, &[]);
    seen.unique_id = Some(b"id");
    seen.body = Some(b"host=a&b=c");
    seen.req_data = Some(crate::payload::Channel::raw(b"\x00\x02abcdef", true, 16384));
    seen.res_data = seen.req_data;
    seen.hello = None; // read from the raw bytes instead: not a hello there
                       // The proxy's place (`fe_name`...) answered by a stand-in.
    struct Here;
    impl super::Where for Here {
        fn fetch(&self, f: &Fetch) -> Option<Value> {
            Some(Value::Str(f.kw.name.as_bytes().to_vec()))
        }
    }
    seen.place = Some(&Here);
    let env = seen.view(Some(&req), Some(&res));
    // The layer-6 fetches (the registry's `l6` flag) are let through too.
    let l6 = fulcrum_sample::fetch::FETCHES
        .iter()
        .filter(|k| k.l6)
        .map(|k| &k.name);
    for name in HTTP_FETCHES.iter().chain(l6) {
        if name.contains("ssl_") && !name.starts_with("ssl_") {
            let f = Fetch {
                kw: fulcrum_sample::fetch::lookup(name).expect("a known fetch"),
                args: vec![],
            };
            assert!(env.fetch(&f).is_none(), "{name}: no hello in these bytes");
            let mut seen =
                crate::http::sample_env::Situation::new(env.src, env.dst).with_hello(Some(&hello));
            // Read from the bytes: a handshake record's start (TLS 1.2 hello version).
            const RECORD: [u8; 11] = [0x16, 3, 1, 0, 6, 1, 0, 0, 2, 3, 3];
            if name.ends_with("ssl_ver") {
                let record = &RECORD;
                seen.req_data = Some(crate::payload::Channel::raw(record, true, 16384));
            }
            let e = seen.view(None, None);
            assert!(e.fetch(&f).is_some(), "fetch {name} not answered");
            continue;
        }
        if name.contains("payload") {
            let kw = fulcrum_sample::fetch::lookup(name).expect("a known fetch");
            let f = Fetch {
                kw,
                args: vec![Arg::Int(0), Arg::Int(2)],
            };
            assert!(env.fetch(&f).is_some(), "fetch {name} not answered");
            continue;
        }
        let kw = fulcrum_sample::fetch::lookup(name).expect("a known fetch");
        let arg = match *name {
            "url_param" | "urlp" => "id",
            "ssl_c_s_dn" | "ssl_c_i_dn" => "cn",
            n if n.contains("cook") => "SID",
            n if n.contains("hdr_ip") => "x-ip",
            n if n.starts_with("res.") || n == "shdr" => "x-a",
            _ => "host",
        };
        let args = if kw.args.is_empty() {
            vec![]
        } else if name.starts_with("capture.") {
            vec![Arg::Int(0)]
        } else {
            vec![Arg::Str(arg.as_bytes().to_vec())]
        };
        let f = Fetch { kw, args };
        assert!(env.fetch(&f).is_some(), "fetch {name} not answered");
    }
    // The others are the stream's log facts (`crate::rule_facts`, tested there).
    for v in EXCHANGE_VARS {
        let mut out = Vec::new();
        assert!(env.var_into(v, &mut out), "variable %{v} not answered");
    }
}

/// The request line's parts in rule values and log lines: `"`, `#` and bytes outside
/// 32..127 as `#XX` (measured with haproxy 2.6 and `option accept-invalid-http-request`:
/// `%HU` of `/k1?c=d"q#x\xc3\xa9` is `/k1?c=d#22q#23x#C3#A9`; the `url` fetch is raw).
#[test]
fn request_line_variables_are_url_encoded() {
    let env_for = |m: &Message, name: &str| {
        let seen = crate::http::sample_env::Situation::new(
            SocketAddr::from(([127, 0, 0, 1], 1)),
            SocketAddr::from(([127, 0, 0, 1], 2)),
        );
        let env = seen.view(Some(m), None);
        let mut out = b"x".to_vec();
        assert!(env.var_into(name, &mut out), "{name}");
        String::from_utf8_lossy(&out).into_owned()
    };
    let mut out = b"ab\"#\xc3".to_vec();
    super::vars::url_encode(&mut out, 1);
    assert_eq!(out, b"ab#22#23#C3");
    let mut m = Message::new();
    if !matches!(
        m.parse_request(b"GET /k1?c=d\"q#x\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n"),
        Ok(Some(_))
    ) {
        // The parser refuses such a target (as haproxy 2.6 without
        // `option accept-invalid-http-request`): no request line to write then.
        return;
    }
    assert_eq!(env_for(&m, "HU"), "x/k1?c=d#22q#23x#C3#A9");
    assert_eq!(env_for(&m, "HQ"), "x?c=d#22q#23x#C3#A9");
    assert_eq!(env_for(&m, "r"), "xGET /k1?c=d#22q#23x#C3#A9 HTTP/1.1");
}

/// What `with_str` and `each_str` lend is what `fetch` and `fetch_each` give, for every
/// fetch they lend, with and without a request and a response, occurrences included.
#[test]
fn lent_values_are_the_copied_ones() {
    let mut req = Message::new();
    let raw = b"GET /a/b.css?x=1&y=2 HTTP/1.1\r\nHost: H.example\r\nX-L: a, b\r\nX-L: c\r\nCookie: A=1; B=2; A=3\r\n\r\n";
    assert!(matches!(req.parse_request(raw), Ok(Some(_))));
    let mut res = Message::new();
    let raw = b"HTTP/1.1 200 OK\r\nSet-Cookie: S=1\r\nX-L: r1, r2\r\n\r\n";
    assert!(matches!(res.parse_response(raw), Ok(Some(_))));
    let mut bare = Message::new();
    assert!(matches!(
        bare.parse_request(b"GET / HTTP/1.1\r\n\r\n"),
        Ok(Some(_))
    ));
    let a = SocketAddr::from(([127, 0, 0, 1], 1));
    let exprs = [
        "path",
        "method",
        "url",
        "pathq",
        "query",
        "req.hdr(x-l)",
        "hdr(x-l,1)",
        "req.hdr(x-l,-1)",
        "req.fhdr(x-l)",
        "req.fhdr(x-l,2)",
        "req.hdr(host)",
        "req.hdr(none)",
        "res.hdr(x-l)",
        "shdr(x-l,1)",
        "res.fhdr(x-l)",
        "req.cook(A)",
        "cook(B)",
        "res.cook(S)",
        "scook(S)",
        "req.cook(none)",
    ];
    let mut lent_some = 0;
    for (req, res) in [
        (Some(&req), Some(&res)),
        (Some(&req), None),
        (Some(&bare), None),
        (None, None),
    ] {
        let seen = crate::http::sample_env::Situation::new(a, a);
        let env = seen.view(req, res);
        for text in exprs {
            let e = fulcrum_sample::compile(text).expect("compiles");
            let copied = env.fetch(&e.fetch);
            if let Some(lent) = env.str_of(&e.fetch) {
                let lent = lent.map(<[u8]>::to_vec);
                assert_eq!(lent, copied.clone().map(Value::into_bytes), "{text}");
                lent_some += 1;
            }
            let mut all = Vec::new();
            env.fetch_each(&e.fetch, &mut |v| {
                all.push(v);
                false
            });
            let mut each = Vec::new();
            let r = env.each_str(&e.fetch, &mut |b| {
                each.push(Value::Str(b.to_vec()));
                false
            });
            if text == "method" {
                continue; // not a string: ACLs on it are not lent
            }
            assert_eq!(r, Some(false), "{text} lends its values");
            assert_eq!(each, all, "{text}");
        }
    }
    assert!(lent_some > 20);
}
