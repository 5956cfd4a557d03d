//! Every converter and cast, evaluated by fulcrum-sample and by the real haproxy 2.6 on the
//! same expressions: haproxy answers one `http-request return ... lf-string` with all of them,
//! fulcrum renders the same log-format string, and the two must be byte-identical, item by item.
//! Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

use fulcrum_sample::expr::Compiler;
use fulcrum_sample::fetch::Fetch;
use fulcrum_sample::logformat::compile_format_with;
use fulcrum_sample::{Env, Scope, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The expressions compared, each with only process-level fetches (`str`, `int`, `var`).
const EXPRS: &[&str] = &[
    "str(HeLLo),lower",
    "str(HeLLo),upper",
    "str(HeLLo),length",
    "str(xxabcxx),ltrim(x)",
    "str(-+ab+-),ltrim(+-)",
    "str(xxabcxx),rtrim(x)",
    "str(abc),rtrim(xyz)",
    "str(xxx),ltrim(x)",
    "str(ab),cut_crlf",
    "bin(610D0A62),cut_crlf",
    "bin(61620A63),cut_crlf",
    "str(a:b:c:d),field(2,:)",
    "str(a:b:c:d),field(-1,:)",
    "str(a:b:c:d),field(2,:,2)",
    "str(a:b:c:d),field(-2,:,2)",
    "str(a:b:c:d),field(3,:,0)",
    "str(a::b:c),field(2,:)",
    "str(a::b:c),word(2,:)",
    "str(a::b:c),word(-1,:)",
    "str(/a/b/c),regsub(/,_,g)",
    "str(/a/b/c),regsub(^/,X)",
    "str(abcABC),regsub(b,x,gi)",
    "str(2024-05-06),regsub('([0-9]+)-([0-9]+)-([0-9]+)','\\3/\\2/\\1')",
    // backslashes in arguments: `\\ \" \' \<space> \t \n \r` unescaped, any other kept
    "str(a\\b)",
    "str(a\\\\b)",
    "str(a\\tb\\nc\\rd\\x41),hex",
    "str(\"q\\ r\\\"s\")",
    "str(a.b-c),regsub(\\.,_,g)",
    "str(a%20b+c),url_dec",
    "str(a%20b+c),url_dec(1)",
    "str(a%20b+c?d+e),url_dec",
    "str(a&b/c=d~e!f*g;h@i-k_l.m:n+o),url_enc",
    "str(hello),base64",
    "str(hi),base64",
    "str(aGVsbG8=),b64dec",
    "str(hi),hex",
    "str(1F),hex2i",
    "str(a/b\tc),json",
    "str(abcdef),bytes(2,3)",
    "str(abcdef),bytes(4)",
    "int(258),bytes(6),hex",
    "int(7),add(5)",
    "int(7),sub(10)",
    "int(7),mul(3)",
    "int(7),div(2)",
    "int(-7),div(2)",
    "int(7),mod(4)",
    "int(7),and(3)",
    "int(7),or(8)",
    "int(7),xor(1)",
    "int(7),neg",
    "int(7),cpl",
    "int(7),not",
    "int(0),not",
    "int(7),bool",
    "int(7),odd",
    "int(7),even",
    "int(7),add(txn.n)",
    "str(12abc),add(1)",
    "str(abc),strcmp(txn.s)",
    "str(abd),strcmp(txn.s)",
    // HAProxy answers memcmp's byte difference, or the length difference.
    "str(z),strcmp(txn.s)",
    "str(a),strcmp(txn.s)",
    "str(x),concat(<,txn.s,>)",
    "str(192.168.1.77),ipmask(24)",
    "str(192.168.1.77),ipmask(255.255.0.0)",
    "int(3232235777),ipmask(32)",
    "str(2001:db8::1:2),ipmask(24,64)",
    "str(hello),sdbm",
    "str(hello),djb2",
    "str(hello),wt6",
    "str(hello),crc32",
    "str(hello),sdbm(1)",
    "str(hello),djb2(1)",
    "str(hello),wt6(1)",
    "str(hello),crc32(1)",
    "int(1700000000),utime(%Y-%m-%dT%H:%M:%S)",
    "int(1700000000),utime(%d/%b/%Y:%H:%M:%S,3600)",
    "int(1700000000),ltime(%Y-%m-%dT%H:%M:%S)",
    "int(1700000000),ltime(%d/%b/%Y:%H:%M:%S %z,3600)",
    "var(txn.s)",
    "var(txn.unset)",
    "str(/img/logo.png),map_beg(MAP_BEG,none)",
    "str(/api/v1),map_beg(MAP_BEG,none)",
    "str(/other),map_beg(MAP_BEG,none)",
    "str(www.example.com),map_str(MAP_STR)",
    "str(www.example.com),map(MAP_STR)",
    "str(nothing),map_str(MAP_STR,dflt)",
    "str(shop.example.com),map_dom(MAP_DOM,none)",
    "str(10.1.2.3),map_ip(MAP_IP,none)",
    "str(10.9.9.9),map_ip(MAP_IP,none)",
    "str(192.168.0.1),map_ip(MAP_IP,none)",
    "int(42),map_int(MAP_INT,none)",
    "str(/user/123/x),map_reg(MAP_REG,none)",
    "str(/user/123/x),map_regm(MAP_REG,none)",
    "str(www.example.com),map_str_int(MAP_NUM,0),add(1)",
];

const MAP_BEG: &str = "/img static\n/api api\n# comment\n";
const MAP_STR: &str = "www.example.com web\napi.example.com api\n";
const MAP_DOM: &str = "example.com ex\n";
const MAP_IP: &str = "10.0.0.0/8 ten\n10.1.0.0/16 ten-one\n";
const MAP_INT: &str = "41 a\n42 b\n";
const MAP_REG: &str = "^/user/([0-9]+) user-\\1\n";
const MAP_NUM: &str = "www.example.com 41\n";

/// The variables both sides set before evaluating.
struct TestEnv;
impl Env for TestEnv {
    fn fetch(&self, _: &Fetch) -> Option<Value> {
        None
    }
    fn var(&self, scope: Scope, name: &fulcrum_sample::VarName) -> Option<Value> {
        match (scope, name.as_str()) {
            (Scope::Txn, "s") => Some(Value::str("abc")),
            (Scope::Txn, "n") => Some(Value::Sint(100)),
            _ => None,
        }
    }
    fn now_unix(&self) -> i64 {
        0
    }
    fn random(&self) -> u32 {
        4
    }
}

const SEP: &str = "~~";

#[test]
fn converters_and_casts_match_haproxy() {
    let dir = std::env::temp_dir().join(format!("fulcrum-sample-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let maps = [
        ("MAP_BEG", MAP_BEG),
        ("MAP_STR", MAP_STR),
        ("MAP_DOM", MAP_DOM),
        ("MAP_IP", MAP_IP),
        ("MAP_INT", MAP_INT),
        ("MAP_REG", MAP_REG),
        ("MAP_NUM", MAP_NUM),
    ];
    let mut exprs: Vec<String> = EXPRS.iter().map(|e| e.to_string()).collect();
    for (name, text) in maps {
        let path = dir.join(format!("{}.map", name.to_lowercase()));
        std::fs::write(&path, text).expect("write map");
        for e in &mut exprs {
            *e = e.replace(name, &path.display().to_string());
        }
    }
    let format: String = exprs
        .iter()
        .map(|e| format!("%[{e}]"))
        .collect::<Vec<_>>()
        .join(SEP);

    // fulcrum's side.
    let mut compiler = Compiler::new(&dir);
    let compiled = compile_format_with(&format, &mut compiler).expect("compiles");
    let mut ours = Vec::new();
    compiled.render(&TestEnv, &mut |_, _| false, b"", &mut ours);
    let ours: Vec<String> = String::from_utf8_lossy(&ours)
        .split(SEP)
        .map(str::to_string)
        .collect();
    assert_eq!(ours.len(), EXPRS.len());

    if !fulcrum_testlab::require::tool("converters versus haproxy", "haproxy", "haproxy") {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let port = fulcrum_testlab::ports::free_port();
    // In the config the lf-string is one double-quoted word: escape what the lexer would take.
    let quoted = format
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\t', "\\t");
    let cfg = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{port}\n\
         \x20 http-request set-var(txn.s) str(abc)\n\
         \x20 http-request set-var(txn.n) int(100)\n\
         \x20 http-request return status 200 content-type text/plain lf-string \"{quoted}\"\n"
    );
    let cfg_path = dir.join("haproxy.cfg");
    std::fs::write(&cfg_path, &cfg).expect("write cfg");
    let check = Command::new("haproxy")
        .args(["-c", "-f"])
        .arg(&cfg_path)
        .output()
        .expect("haproxy -c");
    assert!(
        check.status.success(),
        "haproxy refused the config: {}\n{cfg}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&cfg_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy");
    let body = fulcrum_testlab::wait::until(Duration::from_secs(10), || get(port).is_some())
        .and_then(|_| get(port));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let body = body.expect("haproxy answered");
    let theirs: Vec<&str> = body.split(SEP).collect();
    assert_eq!(theirs.len(), EXPRS.len(), "{body}");
    let mut diffs = Vec::new();
    for ((e, o), t) in EXPRS.iter().zip(&ours).zip(&theirs) {
        if o != t {
            diffs.push(format!("{e}\n    fulcrum: {o:?}\n    haproxy: {t:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

fn get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (_, body) = text.split_once("\r\n\r\n")?;
    Some(body.to_string())
}

/// Whether an expression compiles: fulcrum's verdict is haproxy -c's, on accepted and refused
/// expressions alike (fulcrum may say more, never less and never the other way round).
#[test]
fn compile_verdicts_match_haproxy_check() {
    let cases = [
        "src,add(1)",
        "src,ipmask(24)",
        "src,lower",
        "src,sdbm",
        "method,ipmask(24)",
        "str(a),length,add(2)",
        "str(a),nosuch",
        "nosuch",
        "str(a),field(x,:)",
        "str(a),field(1)",
        "int(1),add(foo.bar)",
        "int(1),add(txn.x)",
        "str(a),regsub([,x)",
        "req.hdr(host),lower,map_str(/nonexistent/f.map)",
        "req.hdr(host,1),lower",
        "path,url_dec,lower",
        "status,add(1)",
        "int(3),ipmask(8)",
        "str(a),json(utf8)",
        "str(abc),bytes(1,1),hex",
        "var(txn.a),upper",
        "req.cook(SID),length",
        "url_param(id),djb2(1)",
        "str(x),utime(%Y)",
    ];
    if !fulcrum_testlab::require::tool("compile verdicts versus haproxy", "haproxy", "haproxy") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fulcrum-sample-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut diffs = Vec::new();
    for e in cases {
        let cfg = format!(
            "defaults\n mode http\n timeout client 1s\n timeout server 1s\n timeout connect 1s\n\
             frontend f\n bind 127.0.0.1:1\n http-request set-header X %[{e}]\n"
        );
        let path = dir.join("c.cfg");
        std::fs::write(&path, cfg).expect("write");
        let theirs = Command::new("haproxy")
            .args(["-c", "-q", "-f"])
            .arg(&path)
            .output()
            .expect("haproxy -c")
            .status
            .success();
        let mut req = Compiler::default().with_available(fulcrum_sample::fetch::Needs::Request);
        let ours = fulcrum_sample::expr::compile_with(e, &mut req);
        if ours.is_ok() != theirs {
            diffs.push(format!("{e}: haproxy {theirs}, fulcrum {ours:?}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
