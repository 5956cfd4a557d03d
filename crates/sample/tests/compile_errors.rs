//! What `fulcrum check` can say about an expression before any request: unknown names, wrong
//! types, wrong arguments, missing map files, each at its column. And the log-format strings
//! HAProxy predefines compile, so `option httplog`/`tcplog` are formats of the same engine.

use fulcrum_sample::logformat::{Node, CLF_HTTP_LOG, HTTP_LOG, TCP_LOG};
use fulcrum_sample::{compile, compile_format, Type};

fn err(text: &str) -> (usize, String) {
    let e = compile(text).expect_err(text);
    (e.col, e.msg)
}

#[test]
fn unknown_names_say_what_they_are() {
    assert_eq!(err("nosuch").0, 1);
    let (col, msg) = err("req.hdr(host),lowr");
    assert_eq!(col, 15);
    assert!(msg.contains("unknown converter 'lowr'"), "{msg}");
    let (_, msg) = err("lower");
    assert!(msg.contains("it is a converter"), "{msg}");
    let (_, msg) = err("src,path");
    assert!(msg.contains("it is a fetch"), "{msg}");
}

#[test]
fn types_are_checked_where_haproxy_checks_them_at_run_time() {
    // ipmask takes an address: a method cannot become one.
    let (col, msg) = err("method,ipmask(24)");
    assert_eq!(col, 8);
    assert!(msg.contains("takes addr") && msg.contains("meth"), "{msg}");
    // An address to an integer converter: IPv4 casts to an integer, IPv6 does not.
    assert!(compile("src,add(1)").is_ok());
    assert!(compile("str(::1),ipmask(8,64)").is_ok());
    assert_eq!(
        compile("str(a),length,add(2)").map(|e| e.out).ok(),
        Some(Type::Sint)
    );
}

#[test]
fn arguments_are_checked() {
    let (col, msg) = err("str(a),field(x,:)");
    assert_eq!(col, 14);
    assert!(msg.contains("'x' is not an integer"), "{msg}");
    let (_, msg) = err("str(a),field(1)");
    assert!(msg.contains("at least 2"), "{msg}");
    let (_, msg) = err("int(1),add(foo.bar)");
    assert!(msg.contains("unknown variable scope 'foo'"), "{msg}");
    let (_, msg) = err("var(nodot)");
    assert!(msg.contains("variable"), "{msg}");
    let (_, msg) = err("str(a),regsub([,x)");
    assert!(msg.contains("invalid regular expression"), "{msg}");
    let (_, msg) = err("str(a),map_str(/nonexistent/file.map)");
    assert!(msg.contains("/nonexistent/file.map"), "{msg}");
    let (_, msg) = err("str(a");
    assert!(msg.contains("missing ')'"), "{msg}");
}

#[test]
fn log_formats_compile_and_point_inside_expressions() {
    for f in [HTTP_LOG, CLF_HTTP_LOG, TCP_LOG] {
        let c = compile_format(f).expect(f);
        assert!(!c.is_literal());
    }
    let f = compile_format("%ci %{+Q}[req.hdr(host),lower] %%ok").expect("compiles");
    assert!(matches!(f.nodes[0], Node::Var("ci", _)));
    assert!(matches!(&f.nodes[2], Node::Expr(_, fl) if fl.quote));
    assert!(matches!(&f.nodes[3], Node::Lit(l) if l == b" %ok"));
    // The error inside %[...] is reported at its column in the whole string.
    let e = compile_format("abc %[src,nosuch]").expect_err("bad converter");
    assert_eq!(e.col, 11, "{e}");
    let e = compile_format("%[url").expect_err("unclosed");
    assert!(e.msg.contains("missing ']'"), "{e}");
    let e = compile_format("%zz").expect_err("unknown variable");
    assert!(e.msg.contains("%zz"), "{e}");
    // A literal "%[" can never reach the wire: it is an expression or an error.
    assert!(compile_format("%[").is_err());
}
