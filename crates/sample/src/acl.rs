//! ACLs on the sample engine: `CRITERION [FLAGS] [PATTERNS]` compiled once, matched per
//! stream.
//!
//! The criterion is any sample expression (`req.hdr(host),lower`) or one of HAProxy's ACL
//! keywords that name a fetch and a match method at once (`hdr_beg(host)` is `req.hdr(host)`
//! with `-m beg`, `path_len` is `path` with `-m len`). Flags are HAProxy's: `-i` (ignore
//! case), `-m METHOD`, `-f FILE` (patterns from a file, shared by every ACL naming it, so
//! the runtime socket changes them all), `-M` (the file is a map: its keys are the
//! patterns), `-n` (no DNS), `-u ID`, `--` (end of flags). A sample with several values
//! (each header value, each cookie) matches when any value does, as in HAProxy.

use crate::expr::{compile_with, Compiler, Expr};
use crate::fetch;
use crate::pattern::{Method, Patterns};
use std::sync::{Arc, RwLock};

/// A compiled ACL line (or anonymous `{ ... }` ACL).
#[derive(Debug, Clone)]
pub struct Acl {
    pub expr: Expr,
    pub method: Method,
    /// The inline patterns first, then one shared set per `-f` file.
    pub sets: Vec<Arc<RwLock<Patterns>>>,
}

/// An ACL keyword's suffix that names a match method (`hdr_beg`, `path_reg`, `hdr_val`...).
const SUFFIXES: &[(&str, Method)] = &[
    ("beg", Method::Beg),
    ("end", Method::End),
    ("sub", Method::Sub),
    ("dom", Method::Dom),
    ("dir", Method::Dir),
    ("reg", Method::Reg),
    ("len", Method::Len),
    ("ip", Method::Ip),
    ("val", Method::Int),
    ("found", Method::Found),
];

/// The fetch an ACL keyword stands for and the match method it implies: `hdr_beg` →
/// (`hdr`, beg). `None` when `name` is a fetch itself or no keyword.
pub fn keyword(name: &str) -> Option<(&'static str, Method)> {
    if fetch::lookup(name).is_some() {
        return None;
    }
    let (base, suffix) = name.rsplit_once('_')?;
    let (_, method) = SUFFIXES.iter().find(|(s, _)| *s == suffix)?;
    let kw = fetch::lookup(base)?;
    Some((kw.name, *method))
}

/// Every name an ACL may start with: the fetches and their ACL keyword forms (`path_beg`...),
/// for "did you mean" hints.
pub fn criterion_names() -> Vec<String> {
    let fetches = fetch::FETCHES
        .iter()
        .chain(fetch::COUNTER_FETCHES)
        .chain(fetch::COUNTER_ARRAY_FETCHES)
        .chain(fetch::TABLE_FETCHES);
    let mut names = Vec::new();
    for kw in fetches {
        names.push(kw.name.to_string());
        if kw.out == crate::Type::Str {
            names.extend(SUFFIXES.iter().map(|(s, _)| format!("{}_{s}", kw.name)));
        }
    }
    names
}

/// HAProxy's predefined ACLs, as the ACL lines they stand for (RDP_COOKIE reads an RDP
/// cookie, which fulcrum does not run: not here).
pub const PREDEFINED: &[(&str, &str)] = &[
    ("TRUE", "always_true"),
    ("FALSE", "always_false"),
    ("HTTP", "req.proto_http"),
    ("HTTP_1.0", "req.ver 1.0"),
    ("HTTP_1.1", "req.ver 1.1"),
    ("HTTP_2.0", "req.ver 2.0"),
    ("HTTP_3.0", "req.ver 3.0"),
    ("HTTP_CONTENT", "hdr_val(content-length) gt 0"),
    ("HTTP_URL_ABS", "url_reg ^[^/:]*://"),
    ("HTTP_URL_SLASH", "url_beg /"),
    ("HTTP_URL_STAR", "url *"),
    ("LOCALHOST", "src 127.0.0.1/8 ::1"),
    ("METH_CONNECT", "method CONNECT"),
    ("METH_DELETE", "method DELETE"),
    ("METH_GET", "method GET HEAD"),
    ("METH_HEAD", "method HEAD"),
    ("METH_OPTIONS", "method OPTIONS"),
    ("METH_POST", "method POST"),
    ("METH_PUT", "method PUT"),
    ("METH_TRACE", "method TRACE"),
    ("REQ_CONTENT", "req.len gt 0"),
    ("WAIT_END", "wait_end"),
];

/// The words of predefined ACL `name`, if fulcrum runs it.
pub fn predefined(name: &str) -> Option<Vec<String>> {
    PREDEFINED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, def)| def.split(' ').map(str::to_string).collect())
}

/// Where a pattern file is looked for and which sets are loaded already.
fn pattern_file(
    c: &mut Compiler,
    file: &str,
    method: Method,
    icase: bool,
    as_map: bool,
) -> Result<Arc<RwLock<Patterns>>, String> {
    let (name, path) = crate::files::resolve(&c.base_dir, file);
    let read = || {
        std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read pattern file '{name}': {e}"))
    };
    c.registry.acl_file(&name, method, icase, as_map, read)
}

/// Compiles `words` (criterion, flags, patterns) with `c`. Errors name the word; a
/// criterion's error carries its column.
pub fn compile(words: &[String], c: &mut Compiler) -> Result<Acl, String> {
    let criterion = words
        .first()
        .ok_or("an ACL needs a criterion such as path_beg or req.hdr(host)")?;
    let name_end = criterion.find(['(', ',']).unwrap_or(criterion.len());
    let name = &criterion[..name_end];
    let (text, implied) = match keyword(name) {
        Some((base, m)) => (format!("{base}{}", &criterion[name_end..]), Some(m)),
        None => (criterion.clone(), None),
    };
    let base_len = implied.map_or(name.len(), |_| text.len() - (criterion.len() - name_end));
    let expr = compile_with(&text, c).map_err(|e| {
        // Columns past the keyword's name move back to where the user wrote them.
        let col = if e.col > base_len {
            e.col + name.len() - base_len
        } else {
            e.col
        };
        format!("'{criterion}': column {col}: {}", e.msg)
    })?;
    let mut icase = false;
    let mut method = None;
    let mut files: Vec<(String, bool)> = Vec::new();
    let mut as_map = false;
    let mut i = 1;
    while let Some(w) = words.get(i) {
        match w.as_str() {
            "-i" => icase = true,
            "-n" => {}
            "-M" => as_map = true,
            "-u" => {
                words.get(i + 1).ok_or("'-u' expects a unique id")?;
                i += 1;
            }
            "-m" => {
                let m = words
                    .get(i + 1)
                    .ok_or("'-m' expects a match method such as beg, str, reg or found")?;
                method = Some(Method::parse(m).ok_or_else(|| {
                    format!(
                        "unknown match method '{m}' (expected one of {})",
                        Method::NAMES.join(", ")
                    )
                })?);
                i += 1;
            }
            "-f" => {
                let f = words.get(i + 1).ok_or("'-f' expects a file of patterns")?;
                files.push((f.clone(), as_map));
                i += 1;
            }
            "--" => {
                i += 1;
                break;
            }
            f if f.starts_with('-') && f.len() > 1 && !f[1..].starts_with(|c: char| c.is_ascii_digit()) => {
                return Err(format!(
                    "'{f}' is not an ACL flag (-i -f -m -M -n -u --); write '-- {f}' for a pattern starting with '-'"
                ))
            }
            _ => break,
        }
        i += 1;
    }
    let method = match method.or(implied) {
        Some(m) => m,
        None => Method::default_for(expr.out).ok_or_else(|| {
            format!("'{criterion}' returns a value of any type: say how to match it with '-m' (str, int, ip, found...)")
        })?,
    };
    let inline = &words[i.min(words.len())..];
    if !method.takes_patterns() && !inline.is_empty() {
        return Err(format!(
            "match method '{}' takes no pattern, found '{}'",
            if method == Method::Found {
                "found"
            } else {
                "bool"
            },
            inline[0]
        ));
    }
    // `req.ssl_ver` ACLs read versions as `MAJOR.MINOR` (HAProxy's pat_parse_dotted_ver).
    let dotted;
    let inline = if implied.is_none() && matches!(name, "req.ssl_ver" | "req_ssl_ver") {
        dotted = inline
            .iter()
            .map(|w| dotted_version(w))
            .collect::<Result<Vec<_>, _>>()?;
        &dotted[..]
    } else {
        inline
    };
    let inline_set = Arc::new(RwLock::new(Patterns::parse(method, icase, inline)?));
    let mut sets = vec![inline_set.clone()];
    // As HAProxy: the files' references first, then the line's own (even when empty).
    for (f, as_map) in files {
        sets.push(pattern_file(c, &f, method, icase, as_map)?);
    }
    {
        let texts: Vec<String> = inline_set
            .read()
            .map(|s| s.texts().map(str::to_string).collect())
            .unwrap_or_default();
        c.registry.acl_inline(name, &texts, &inline_set);
    }
    Ok(Acl { expr, method, sets })
}

/// HAProxy's three-valued ACL result: a test that failed on data that may still change
/// (`req.len`, a payload not all received) is a miss, which a rule waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    Fail,
    Miss,
    Pass,
}

/// `!`: a miss stays a miss.
impl std::ops::Not for Test {
    type Output = Test;
    fn not(self) -> Test {
        match self {
            Test::Fail => Test::Pass,
            Test::Pass => Test::Fail,
            Test::Miss => Test::Miss,
        }
    }
}

impl Test {
    /// Both (HAProxy's `&=` on FAIL=0, MISS=1, PASS=3).
    pub fn and(self, o: Test) -> Test {
        match (self, o) {
            (Test::Fail, _) | (_, Test::Fail) => Test::Fail,
            (Test::Pass, Test::Pass) => Test::Pass,
            _ => Test::Miss,
        }
    }

    /// Either (`|=`).
    pub fn or(self, o: Test) -> Test {
        match (self, o) {
            (Test::Pass, _) | (_, Test::Pass) => Test::Pass,
            (Test::Fail, Test::Fail) => Test::Fail,
            _ => Test::Miss,
        }
    }
}

impl Acl {
    /// [`Acl::matches`], or a miss when it does not match yet but its fetch may still
    /// change ([`crate::Env::may_change`]), as HAProxy's `acl_exec_cond` without
    /// `SMP_OPT_FINAL`.
    pub fn test(&self, env: &dyn crate::Env) -> Test {
        if self.matches(env) {
            Test::Pass
        } else if env.may_change(&self.expr.fetch) {
            Test::Miss
        } else {
            Test::Fail
        }
    }

    /// Whether any value of the sample matches any pattern (`found`: whether there is a
    /// value; `bool`: whether it is true).
    pub fn matches(&self, env: &dyn crate::Env) -> bool {
        // A string fetch without converters: its values lent by the environment, not copied.
        if self.expr.convs.is_empty() && self.expr.fetch.kw.out == crate::Type::Str {
            let sets = if self.method.takes_patterns() {
                &self.sets[..]
            } else {
                &self.sets[..self.sets.len().min(1)]
            };
            let lent = env.each_str(&self.expr.fetch, &mut |s| {
                sets.iter()
                    .any(|p| p.read().is_ok_and(|p| p.matches_str(s)))
            });
            if let Some(found) = lent {
                return found;
            }
        }
        self.expr.any(env, &mut |v| {
            if !self.method.takes_patterns() {
                return self.sets[0].read().is_ok_and(|s| s.matches(v));
            }
            self.sets
                .iter()
                .any(|s| s.read().is_ok_and(|s| s.matches(v)))
        })
    }
}

/// A `req.ssl_ver` pattern word as an integer one: `3.1` is 3 << 16 | 1, a range
/// `3.0-3.3` or `3.0:3.3` its two ends; operators (`ge`...) stay as they are.
fn dotted_version(w: &str) -> Result<String, String> {
    if ["eq", "ge", "gt", "le", "lt"].contains(&w) {
        return Ok(w.to_string());
    }
    let one = |v: &str| -> Result<String, String> {
        if v.is_empty() {
            return Ok(String::new());
        }
        let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
        let part = |p: &str| p.parse::<u16>().map(i64::from);
        match (part(major), part(minor)) {
            (Ok(a), Ok(b)) => Ok(((a << 16) | b).to_string()),
            _ => Err(format!("'{w}' is not a version (expected MAJOR.MINOR)")),
        }
    };
    match w.split_once([':', '-']) {
        Some((a, b)) => Ok(format!("{}:{}", one(a)?, one(b)?)),
        None => one(w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::Fetch;
    use crate::{Scope, Value};

    struct Req;
    impl crate::Env for Req {
        fn fetch(&self, f: &Fetch) -> Option<Value> {
            match f.kw.name {
                "path" => Some(Value::str("/api/v1/items.json")),
                "src" => Some(Value::Ipv4("10.1.2.3".parse().ok()?)),
                "dst_port" => Some(Value::Sint(8080)),
                "method" => Some(Value::Meth(b"POST".to_vec())),
                "req.hdr" | "hdr" => Some(Value::str("b")),
                "req.ssl_ver" | "req_ssl_ver" => Some(Value::Sint(0x30003)),
                _ => None,
            }
        }
        fn fetch_each(&self, f: &Fetch, each: &mut dyn FnMut(Value) -> bool) -> bool {
            match f.kw.name {
                "req.hdr" | "hdr" if f.args.len() < 2 => ["WWW.Example.com", "a", "b"]
                    .iter()
                    .any(|v| each(Value::str(v))),
                _ => self.fetch(f).is_some_and(each),
            }
        }
        fn var(&self, _: Scope, _: &crate::VarName) -> Option<Value> {
            None
        }
        fn now_unix(&self) -> i64 {
            0
        }
        fn random(&self) -> u32 {
            4
        }
    }

    fn m(line: &str) -> bool {
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        compile(&words, &mut Compiler::default())
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .matches(&Req)
    }

    #[test]
    fn keywords_expressions_and_defaults() {
        assert!(m("path_beg /api/"));
        assert!(m("path -m beg /api/"));
        assert!(m("path,lower -m end .json"));
        assert!(m("path_len 18"));
        assert!(m("path_reg ^/api/v[0-9]+/"));
        assert!(m("src 10.0.0.0/8"), "src matches addresses by default");
        assert!(m("dst_port 8000:9000"), "an integer by default");
        assert!(m("method GET POST"));
        assert!(!m("method -i get"));
        assert!(m("hdr(host) -i www.example.com"), "every value is tried");
        assert!(m("hdr_dom(host) -i example"));
        assert!(m("hdr(x) a"));
        assert!(!m("hdr(x,1) a"), "an occurrence picks one value");
        assert!(m("req.hdr(host) -m found"));
        assert!(!m("req.fhdr(nope) -m found"));
        assert!(m("always_true"));
        assert!(!m("always_false"));
        assert!(m("str(abc),length 3"));
    }

    #[test]
    fn ssl_versions_are_dotted() {
        assert!(m("req.ssl_ver 3.3"));
        assert!(m("req_ssl_ver 3.1:3.3"));
        assert!(m("req.ssl_ver 3.0-3.3"));
        assert!(m("req.ssl_ver ge 3.1"));
        assert!(!m("req.ssl_ver lt 3.3"));
        assert!(!m("req.ssl_ver 3"), "3 is 3.0");
        for bad in ["3.x", "196611"] {
            // Each part is 16 bits, as HAProxy's.
            let words: Vec<String> = ["req.ssl_ver", bad].map(String::from).to_vec();
            assert!(compile(&words, &mut Compiler::default()).is_err(), "{bad}");
        }
    }

    #[test]
    fn predefined_acls_compile() {
        for (name, _) in PREDEFINED {
            let words = predefined(name).expect("listed");
            assert!(compile(&words, &mut Compiler::default()).is_ok(), "{name}");
        }
        let words = predefined("METH_POST").expect("listed");
        assert!(compile(&words, &mut Compiler::default())
            .expect("compiles")
            .matches(&Req));
    }

    #[test]
    fn errors_say_where() {
        let c = |line: &str| {
            let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            compile(&words, &mut Compiler::default()).expect_err(line)
        };
        assert!(c("nosuch_fetch x").contains("unknown fetch"));
        // HAProxy's fetches that rustls cannot answer: refused by name, with why.
        let e = c("ssl_bc_session_id -m found");
        assert!(
            e.contains("'ssl_bc_session_id' is not supported by fulcrum (rustls"),
            "{e}"
        );
        assert!(
            c("path,nosuch x").contains("column 6"),
            "{}",
            c("path,nosuch x")
        );
        assert!(
            c("hdr_beg(host),nosuch x").contains("column 15"),
            "{}",
            c("hdr_beg(host),nosuch x")
        );
        assert!(c("path -m nosuch x").contains("unknown match method"));
        assert!(c("src example.com").contains("not an IP address"));
        assert!(c("dst_port abc").contains("not an integer"));
        assert!(c("path -x y").contains("not an ACL flag"));
        assert!(c("path -m found x").contains("takes no pattern"));
        assert!(c("var(txn.x) a").contains("-m"));
        assert!(c("path -f /nonexistent/file").contains("cannot read pattern file"));
    }

    #[test]
    fn pattern_files_are_shared() {
        let dir = std::env::temp_dir().join(format!("fulcrum-acl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("paths.lst"), "# comment\n/api/\n\n/static/\n").expect("write");
        let mut c = Compiler::new(&dir);
        let w = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let a = compile(&w("path_beg -f paths.lst"), &mut c).expect("a");
        let b = compile(&w("path -m beg -f paths.lst /x/"), &mut c).expect("b");
        assert!(a.matches(&Req) && b.matches(&Req));
        assert!(
            Arc::ptr_eq(&a.sets[1], &b.sets[1]),
            "one set per file and method"
        );
        if let Ok(mut s) = a.sets[1].write() {
            s.clear();
        }
        assert!(
            !b.matches(&Req),
            "a runtime change reaches every ACL using the file"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn three_valued_logic_is_haproxys() {
        use Test::*;
        // FAIL=0, MISS=1, PASS=3 combined with & and |, negation keeping a miss.
        assert_eq!(Pass.and(Miss), Miss);
        assert_eq!(Fail.and(Miss), Fail);
        assert_eq!(Miss.or(Pass), Pass);
        assert_eq!(Fail.or(Miss), Miss);
        assert_eq!(!Miss, Miss);
        assert_eq!(!Pass, Fail);
    }
}
