//! Maps and ACL pattern files with overlapping and duplicate keys, looked up by fulcrum-sample
//! and by the real haproxy 2.6 on the same files: every `map_*` converter's answer (haproxy
//! answers one `http-request return ... lf-string` with all of them), every `get map` and `get
//! acl` answer of the runtime socket, and the same again after runtime changes (`add`, `del`,
//! `set`, `clear map`, `prepare`/`add @1`/`commit` versions) applied to both sides, whose answers
//! are compared too. Under FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test.

use fulcrum_sample::expr::Compiler;
use fulcrum_sample::fetch::Fetch;
use fulcrum_sample::logformat::compile_format_with;
use fulcrum_sample::registry::{self, Registry};
use fulcrum_sample::{Env, Scope, Value};
use fulcrum_testlab::process::Child;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The map files: overlapping networks and prefixes, duplicate keys, ranges.
const MAPS: &[(&str, &str)] = &[
    (
        "ip",
        "10.0.0.0/8 wide\n10.1.0.0/16 mid\n10.1.2.0/24 narrow\n10.1.2.0/24 narrow-dup\n\
         0.0.0.0/0 any\n192.168.0.0/255.255.0.255 noncontig\n192.168.1.1 host\n\
         ::ffff:10.1.2.0/120 v6mapped\n2001:db8::/32 v6wide\n2001:db8:1::/48 v6narrow\n",
    ),
    (
        "ip2",
        "192.168.0.0/255.255.0.255 noncontig\n::ffff:10.0.0.0/104 mapped\n172.16.0.0/12 private\n",
    ),
    (
        "beg",
        "/api v-api\n/api/v1 v-api-v1\n/ v-root\n/api/v1 v-api-v1-dup\n/static/ v-static\n/apx v-apx\n",
    ),
    ("str", "a first-a\nb first-b\na second-a\nwww.example.com web\n"),
    ("int", "5 five\n1:10 one-to-ten\n5 five-dup\n20: twenty-up\n:-5 low\n"),
    ("dom", "example.com ex\nwww.example.com www\ncom com\n.org. org\n"),
    ("end", ".com dotcom\nexample.com excom\n.net net\n"),
    ("sub", "bc bc\nabc abc\n"),
    ("dir", "v1 v1\napi/v1 api-v1\nstatic st\n"),
    ("reg", "^/a.* a-star\n^/ab ab\n^/user/([0-9]+)/(.*) u\\1-\\2\n"),
];

/// (converter, map file, samples).
const LOOKUPS: &[(&str, &str, &[&str])] = &[
    (
        "map_ip",
        "ip",
        &[
            "10.1.2.3",
            "10.1.2.200",
            "10.1.3.3",
            "10.2.3.3",
            "192.168.7.0",
            "192.168.1.1",
            "::ffff:10.1.2.3",
            "::ffff:10.1.3.3",
            "::10.1.2.3",
            "2002:0a01:0203::1",
            "2001:db8:1::5",
            "2001:db8:2::5",
            "11.0.0.1",
            "2001:db9::1",
        ],
    ),
    (
        "map_ip",
        "ip2",
        &[
            "192.168.7.0",
            "192.168.7.1",
            "10.9.9.9",
            "172.20.1.1",
            "::ffff:192.168.3.0",
            "2002:c0a8:0300::",
            "8.8.8.8",
        ],
    ),
    (
        "map_beg",
        "beg",
        &[
            "/api/v1/x",
            "/api/v2",
            "/static/x",
            "/x",
            "x",
            "/apx/y",
            "/ap",
        ],
    ),
    ("map_str", "str", &["a", "b", "c", "www.example.com", "A"]),
    (
        "map_int",
        "int",
        &["5", "7", "25", "15", "-3", "-10", "10:20", "abc", "0"],
    ),
    (
        "map_dom",
        "dom",
        &[
            "www.example.com",
            "foo.example.com",
            "com",
            "a.org",
            "xexample.com",
            "example.co",
            "http://x.org:80/",
        ],
    ),
    (
        "map_end",
        "end",
        &["www.example.com", "example.com", "a.net", "com", "x.org"],
    ),
    ("map_sub", "sub", &["abc", "zbc", "xyz"]),
    (
        "map_dir",
        "dir",
        &[
            "/api/v1/items",
            "/api/v10/x",
            "/x/static?y",
            "/v1",
            "/x/api/v1",
        ],
    ),
    ("map_reg", "reg", &["/ab", "/user/12/name", "/b"]),
    ("map_regm", "reg", &["/ab", "/user/12/name", "/b"]),
];

/// ACL pattern files (one per line: its flags, file text, samples); `get acl` on each.
const ACLS: &[(&str, &str, &str, &[&str])] = &[
    (
        "beg",
        "-m beg",
        "/api\n/api/v1\n/\n",
        &["/api/v1/x", "/apx", "x"],
    ),
    (
        "begi",
        "-i -m beg",
        "/API\n/api/V1\n/\n",
        &["/Api/v1/x", "/x", "x"],
    ),
    (
        "ipacl",
        "-m ip",
        "10.0.0.0/8\n10.1.0.0/16\n192.168.0.0/255.255.0.255\n",
        &["10.1.2.3", "10.2.2.2", "192.168.5.0", "1.1.1.1"],
    ),
    (
        "stri",
        "-i -m str",
        "Foo\nfoo\nbar\n",
        &["FOO", "bar", "baz"],
    ),
    ("intacl", "-m int", "1:10\n5\n100:\n", &["5", "11", "200"]),
    (
        "domacl",
        "-m dom",
        "example.com\ncom\n",
        &["a.example.com", "x.com", "y.net"],
    ),
];

/// Runtime changes, applied to both (a `#` line compares everything again).
const CHANGES: &[&str] = &[
    "add map MAP:ip 10.1.2.128/25 upper-half",
    "del map MAP:ip 10.1.0.0/16",
    "#",
    "del map MAP:ip 10.1.2.0/24",
    "del map MAP:ip 10.9.9.9",
    "set map MAP:beg /api/v1 changed",
    "add map MAP:beg /api/v1/x deeper",
    "del map MAP:str a",
    "add map MAP:str a third-a",
    "add map MAP:int 7 seven",
    "#",
    "del map MAP:int 1:10",
    "clear map MAP:sub",
    "add map MAP:sub zb zb",
    "add map MAP:dom www.example.com www2",
    "del map MAP:dom example.com",
    "add acl ACL:beg /apx",
    "del acl ACL:ipacl 10.1.0.0/16",
    "#",
    "prepare map MAP:dom",
    "add map @1 MAP:dom org o1",
    "add map @1 MAP:dom example.com ex1",
    "#",
    "commit map @1 MAP:dom",
    "clear map MAP:end",
    "#",
];

struct NoFetch;
impl Env for NoFetch {
    fn fetch(&self, _: &Fetch) -> Option<Value> {
        None
    }
    fn var(&self, _: Scope, _: &fulcrum_sample::VarName) -> Option<Value> {
        None
    }
    fn now_unix(&self) -> i64 {
        0
    }
    fn random(&self) -> u32 {
        0
    }
}

const SEP: &str = "~~";

fn file(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// The lf-string with every lookup (`none` when nothing matched).
fn format(dir: &Path) -> String {
    LOOKUPS
        .iter()
        .flat_map(|(conv, map, samples)| {
            samples.iter().map(move |s| {
                format!(
                    "{s}={{%[str({s}),{conv}({},none)]}}",
                    file(dir, &format!("{map}.map"))
                )
            })
        })
        .collect::<Vec<_>>()
        .join(SEP)
}

/// The runtime-socket questions asked of both after each step.
fn questions(dir: &Path) -> Vec<String> {
    let mut q: Vec<String> = LOOKUPS
        .iter()
        .filter(|(conv, _, _)| *conv != "map_regm")
        .flat_map(|(_, map, samples)| {
            samples
                .iter()
                .map(move |s| format!("get map {} {s}", file(dir, &format!("{map}.map"))))
        })
        .collect();
    for (name, _, _, samples) in ACLS {
        for s in *samples {
            q.push(format!("get acl {} {s}", file(dir, &format!("{name}.lst"))));
        }
    }
    q
}

fn haproxy_cli(sock: &Path, cmd: &str) -> String {
    let mut s = UnixStream::connect(sock).expect("haproxy stats socket");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(format!("{cmd}\n").as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("answer");
    // haproxy ends each answer with an empty line
    out.strip_suffix('\n').unwrap_or(&out).to_string()
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

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn maps_and_acl_files_match_haproxy_before_and_after_runtime_changes() {
    if !fulcrum_testlab::require::tool("maps versus haproxy", "haproxy", "haproxy") {
        return;
    }
    let dir = Dir(std::env::temp_dir().join(format!("fulcrum-maps-{}", std::process::id())));
    let dir = &dir.0;
    std::fs::create_dir_all(dir).expect("temp dir");
    for (name, text) in MAPS {
        std::fs::write(dir.join(format!("{name}.map")), text).expect("map file");
    }
    let acl_lines: Vec<String> = ACLS
        .iter()
        .map(|(name, flags, text, _)| {
            std::fs::write(dir.join(format!("{name}.lst")), text).expect("acl file");
            format!("str(x) {flags} -f {}", file(dir, &format!("{name}.lst")))
        })
        .collect();
    let format = format(dir);

    // fulcrum's side: the same lookups and ACLs compiled into one registry
    let reg = Arc::new(Registry::default());
    let cfg_name: Arc<str> = Arc::from("haproxy.cfg");
    let (compiled, _acls) = registry::scope(&reg, || {
        let mut c = Compiler::new(dir);
        let _at = registry::at(&cfg_name, 10);
        let compiled = compile_format_with(&format, &mut c).expect("compiles");
        let acls: Vec<_> = acl_lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let _at = registry::at(&cfg_name, 20 + i as u32);
                let words: Vec<String> = l.split_whitespace().map(str::to_string).collect();
                fulcrum_sample::acl::compile(&words, &mut c).expect("acl compiles")
            })
            .collect();
        (compiled, acls)
    });
    reg.number();
    let ours = || {
        let mut out = Vec::new();
        compiled.render(&NoFetch, &mut |_, _| false, b"", &mut out);
        String::from_utf8_lossy(&out).into_owned()
    };

    // haproxy's side
    let port = fulcrum_testlab::ports::free_port();
    let sock = dir.join("admin.sock");
    let acl_cfg: String = acl_lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("  acl a{i} {l}\n  http-request set-var(txn.a{i}) int(1) if a{i}\n"))
        .collect();
    let cfg = format!(
        "global\n  stats socket {} level admin\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend f\n  bind 127.0.0.1:{port}\n{acl_cfg}\
         \x20 http-request return status 200 content-type text/plain lf-string \"{format}\"\n",
        sock.display()
    );
    let cfg_path = dir.join("haproxy.cfg");
    std::fs::write(&cfg_path, &cfg).expect("write cfg");
    let _haproxy = Child::haproxy_listening(&cfg_path, dir.join("haproxy.log"), port);
    assert!(
        fulcrum_testlab::wait::until(Duration::from_secs(10), || sock.exists()).is_some(),
        "no stats socket"
    );

    let compare = |step: &str| {
        let mut diffs = Vec::new();
        let theirs = get(port).expect("haproxy answered");
        let ours = ours();
        assert_eq!(theirs.split(SEP).count(), ours.split(SEP).count());
        for (t, o) in theirs.split(SEP).zip(ours.split(SEP)) {
            if t != o {
                diffs.push(format!(
                    "after {step}: lookup\n    haproxy: {t}\n    fulcrum: {o}"
                ));
            }
        }
        for q in questions(dir) {
            let t = haproxy_cli(&sock, &q);
            let words: Vec<&str> = q.split(' ').collect();
            let o = reg.cli(&words).unwrap_or_default();
            if t.trim_end() != o.trim_end() {
                diffs.push(format!(
                    "after {step}: {q}\n    haproxy: {t:?}\n    fulcrum: {o:?}"
                ));
            }
        }
        diffs
    };
    let mut diffs = compare("loading");
    let mut step = String::from("loading");
    for change in CHANGES {
        if *change == "#" {
            diffs.extend(compare(&step));
            continue;
        }
        // `MAP:name` is the map file name.map, `ACL:name` the pattern file name.lst
        let cmd = change
            .split(' ')
            .map(|w| match (w.strip_prefix("MAP:"), w.strip_prefix("ACL:")) {
                (Some(m), _) => file(dir, &format!("{m}.map")),
                (_, Some(a)) => file(dir, &format!("{a}.lst")),
                _ => w.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ");
        let t = haproxy_cli(&sock, &cmd);
        let words: Vec<&str> = cmd.split(' ').collect();
        let o = reg.cli(&words).unwrap_or_default();
        if t.trim_end() != o.trim_end() {
            diffs.push(format!("{cmd}\n    haproxy: {t:?}\n    fulcrum: {o:?}"));
        }
        step = cmd;
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
