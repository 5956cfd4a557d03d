//! ACLs: compiled from the model's `Acl`/`Condition` once per config, evaluated per request.
//!
//! A fetch (`hdr(host)`, `path_beg`, `src`, ...) extracts samples from the request; a match
//! method (`str beg end sub dom dir reg ip int found bool`) compares them with the patterns;
//! `-i` folds case. A condition is an OR of AND groups of (possibly negated) ACLs, `unless`
//! inverts it. Named ACLs are resolved when compiling, so evaluation never looks names up.

use crate::http::message::{trim, Message};
use crate::net::Cidr;
use fulcrum_config::model::{Acl, AclRef, Condition};
use regex::bytes::{Regex, RegexBuilder};
use std::net::IpAddr;
use std::sync::Arc;

/// What a request (or response) offers to ACLs.
pub struct Ctx<'a> {
    pub src: IpAddr,
    pub dst_port: u16,
    pub req: Option<&'a Message>,
    pub res: Option<&'a Message>,
}

#[derive(Debug)]
enum Sample {
    Hdr {
        name: Vec<u8>,
        split: bool,
        response: bool,
    },
    Path,
    Url,
    Method,
    Src,
    DstPort,
    Status,
    Ssl,
    Base,
    Query,
    /// Predefined constants and protocol tests.
    Const(bool),
    HttpVersion(u8),
}

#[derive(Debug)]
enum Matcher {
    Str(Vec<Vec<u8>>),
    Beg(Vec<Vec<u8>>),
    End(Vec<Vec<u8>>),
    Sub(Vec<Vec<u8>>),
    Dom(Vec<Vec<u8>>),
    Dir(Vec<Vec<u8>>),
    Reg(Vec<Regex>),
    Ip(Vec<Cidr>),
    Int(Vec<(i64, i64)>),
    Found,
    Bool,
    Len(Vec<(i64, i64)>),
}

#[derive(Debug)]
pub struct CompiledAcl {
    sample: Sample,
    matcher: Matcher,
    icase: bool,
}

#[derive(Debug)]
pub struct Cond {
    unless: bool,
    /// Each term: negated?, and the ACL lines sharing its name (any of them matching).
    any_of: Vec<Vec<(bool, Arc<Vec<CompiledAcl>>)>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AclError(pub String);

fn int_range(p: &str) -> Option<(i64, i64)> {
    if let Some((a, b)) = p.split_once(':') {
        let a = if a.is_empty() {
            i64::MIN
        } else {
            a.parse().ok()?
        };
        let b = if b.is_empty() {
            i64::MAX
        } else {
            b.parse().ok()?
        };
        return Some((a, b));
    }
    let (op, n) = if let Some(r) = p.strip_prefix("ge") {
        ("ge", r)
    } else if let Some(r) = p.strip_prefix("gt") {
        ("gt", r)
    } else if let Some(r) = p.strip_prefix("le") {
        ("le", r)
    } else if let Some(r) = p.strip_prefix("lt") {
        ("lt", r)
    } else if let Some(r) = p.strip_prefix("eq") {
        ("eq", r)
    } else {
        ("eq", p)
    };
    let v: i64 = n.trim().parse().ok()?;
    Some(match op {
        "ge" => (v, i64::MAX),
        "gt" => (v.saturating_add(1), i64::MAX),
        "le" => (i64::MIN, v),
        "lt" => (i64::MIN, v.saturating_sub(1)),
        _ => (v, v),
    })
}

pub fn compile(acl: &Acl) -> Result<CompiledAcl, AclError> {
    let name = acl.fetch.name.as_str();
    let arg = acl.fetch.arg.clone().unwrap_or_default();
    // Split derived fetch names (`hdr_beg`, `path_reg`, ...) into fetch and match method.
    let (base, suffix) = match name.rsplit_once('_') {
        Some((b, s))
            if [
                "beg", "end", "sub", "dom", "dir", "reg", "len", "cnt", "ip", "str", "val", "found",
            ]
            .contains(&s)
                && b != "ssl"
                && b != "dst" =>
        {
            (b, Some(s))
        }
        _ => (name, None),
    };
    let sample = match base {
        "hdr" | "req.hdr" => Sample::Hdr {
            name: arg.to_ascii_lowercase().into_bytes(),
            split: true,
            response: false,
        },
        "fhdr" | "req.fhdr" => Sample::Hdr {
            name: arg.to_ascii_lowercase().into_bytes(),
            split: false,
            response: false,
        },
        "res.hdr" | "shdr" => Sample::Hdr {
            name: arg.to_ascii_lowercase().into_bytes(),
            split: true,
            response: true,
        },
        "res.fhdr" => Sample::Hdr {
            name: arg.to_ascii_lowercase().into_bytes(),
            split: false,
            response: true,
        },
        "path" => Sample::Path,
        "url" => Sample::Url,
        "method" => Sample::Method,
        "src" => Sample::Src,
        "dst_port" => Sample::DstPort,
        "status" => Sample::Status,
        "ssl_fc" => Sample::Ssl,
        "base" => Sample::Base,
        "query" => Sample::Query,
        "always_true" => Sample::Const(true),
        "always_false" => Sample::Const(false),
        other => {
            return Err(AclError(format!(
                "ACL criterion '{other}' is not supported by fulcrum yet"
            )))
        }
    };
    let method = acl
        .match_method
        .as_deref()
        .or(suffix)
        .unwrap_or(match sample {
            Sample::Src => "ip",
            Sample::DstPort | Sample::Status => "int",
            Sample::Ssl | Sample::Const(_) | Sample::HttpVersion(_) => "bool",
            _ => "str",
        });
    let pats: Vec<Vec<u8>> = acl
        .patterns
        .iter()
        .map(|p| {
            if acl.ignore_case {
                p.to_ascii_lowercase().into_bytes()
            } else {
                p.clone().into_bytes()
            }
        })
        .collect();
    let matcher = match method {
        "str" | "val" => Matcher::Str(pats),
        "beg" => Matcher::Beg(pats),
        "end" => Matcher::End(pats),
        "sub" => Matcher::Sub(pats),
        "dom" => Matcher::Dom(pats),
        "dir" => Matcher::Dir(pats),
        "found" => Matcher::Found,
        "bool" => Matcher::Bool,
        "reg" => Matcher::Reg(
            acl.patterns
                .iter()
                .map(|p| {
                    RegexBuilder::new(p)
                        .case_insensitive(acl.ignore_case)
                        .build()
                })
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    AclError(format!(
                        "invalid regular expression in ACL '{}': {e}",
                        acl.name
                    ))
                })?,
        ),
        "ip" => Matcher::Ip(
            acl.patterns
                .iter()
                .map(|p| {
                    Cidr::parse(p)
                        .ok_or_else(|| AclError(format!("'{p}' is not an address or network")))
                })
                .collect::<Result<_, _>>()?,
        ),
        "int" | "cnt" => Matcher::Int(
            acl.patterns
                .iter()
                .map(|p| {
                    int_range(p)
                        .ok_or_else(|| AclError(format!("'{p}' is not an integer or range")))
                })
                .collect::<Result<_, _>>()?,
        ),
        "len" => Matcher::Len(
            acl.patterns
                .iter()
                .map(|p| {
                    int_range(p)
                        .ok_or_else(|| AclError(format!("'{p}' is not an integer or range")))
                })
                .collect::<Result<_, _>>()?,
        ),
        other => {
            return Err(AclError(format!(
                "ACL match method '{other}' is not supported by fulcrum yet"
            )))
        }
    };
    Ok(CompiledAcl {
        sample,
        matcher,
        icase: acl.ignore_case,
    })
}

/// HAProxy's predefined ACLs.
fn predefined(name: &str) -> Option<CompiledAcl> {
    let mk = |sample, matcher| {
        Some(CompiledAcl {
            sample,
            matcher,
            icase: false,
        })
    };
    let meth = |m: &[&str]| Matcher::Str(m.iter().map(|s| s.as_bytes().to_vec()).collect());
    match name {
        "TRUE" => mk(Sample::Const(true), Matcher::Bool),
        "FALSE" => mk(Sample::Const(false), Matcher::Bool),
        "HTTP" => mk(Sample::Const(true), Matcher::Bool),
        "HTTP_1.0" => mk(Sample::HttpVersion(0), Matcher::Bool),
        "HTTP_1.1" => mk(Sample::HttpVersion(1), Matcher::Bool),
        "METH_GET" => mk(Sample::Method, meth(&["GET", "HEAD"])),
        "METH_HEAD" => mk(Sample::Method, meth(&["HEAD"])),
        "METH_POST" => mk(Sample::Method, meth(&["POST"])),
        "METH_PUT" => mk(Sample::Method, meth(&["PUT"])),
        "METH_DELETE" => mk(Sample::Method, meth(&["DELETE"])),
        "METH_OPTIONS" => mk(Sample::Method, meth(&["OPTIONS"])),
        "METH_CONNECT" => mk(Sample::Method, meth(&["CONNECT"])),
        "METH_TRACE" => mk(Sample::Method, meth(&["TRACE"])),
        "LOCALHOST" => mk(
            Sample::Src,
            Matcher::Ip(vec![Cidr::parse("127.0.0.0/8")?, Cidr::parse("::1")?]),
        ),
        "HTTP_URL_SLASH" => mk(Sample::Url, Matcher::Beg(vec![b"/".to_vec()])),
        "HTTP_URL_STAR" => mk(Sample::Url, Matcher::Str(vec![b"*".to_vec()])),
        "HTTP_URL_ABS" => mk(
            Sample::Url,
            Matcher::Reg(vec![Regex::new("^[^/:]*://").ok()?]),
        ),
        "HTTP_CONTENT" | "REQ_CONTENT" | "WAIT_END" => mk(Sample::Const(true), Matcher::Bool),
        _ => None,
    }
}

/// Compiles a condition, resolving named ACLs in `acls` (a proxy's own ACLs, in file order;
/// several `acl` lines with one name are OR-ed, as in HAProxy).
pub fn compile_condition(cond: &Condition, acls: &[Acl]) -> Result<Cond, AclError> {
    let mut any_of = Vec::new();
    for group in &cond.any_of {
        let mut all = Vec::new();
        for term in group {
            let parts = match &term.acl {
                AclRef::Anonymous(a) => vec![compile(a)?],
                AclRef::Named(r) => {
                    let named: Vec<&Acl> = acls.iter().filter(|a| a.name == r.name).collect();
                    if named.is_empty() {
                        vec![predefined(&r.name)
                            .ok_or_else(|| AclError(format!("ACL '{}' is not defined", r.name)))?]
                    } else {
                        named
                            .iter()
                            .map(|a| compile(a))
                            .collect::<Result<Vec<_>, _>>()?
                    }
                }
            };
            all.push((term.negate, Arc::new(parts)));
        }
        any_of.push(all);
    }
    Ok(Cond {
        unless: cond.unless,
        any_of,
    })
}

impl Cond {
    pub fn eval(&self, ctx: &Ctx<'_>) -> bool {
        let r = self.any_of.iter().any(|all| {
            all.iter()
                .all(|(neg, acls)| acls.iter().any(|a| a.eval(ctx)) != *neg)
        });
        r != self.unless
    }
}

fn eq(a: &[u8], b: &[u8], icase: bool) -> bool {
    if icase {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn lower_if<'a>(v: &'a [u8], icase: bool, tmp: &'a mut Vec<u8>) -> &'a [u8] {
    if icase {
        tmp.clear();
        tmp.extend(v.iter().map(u8::to_ascii_lowercase));
        tmp
    } else {
        v
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `dom`/`dir`: the pattern matches whole delimited words of the sample.
fn delimited(hay: &[u8], pat: &[u8], delims: &[u8]) -> bool {
    let mut start = 0;
    while let Some(p) = find(&hay[start..], pat) {
        let s = start + p;
        let e = s + pat.len();
        let before = s == 0 || delims.contains(&hay[s - 1]);
        let after = e == hay.len() || delims.contains(&hay[e]);
        if before && after {
            return true;
        }
        start = s + 1;
        if start >= hay.len() {
            break;
        }
    }
    false
}

impl CompiledAcl {
    fn match_bytes(&self, v: &[u8]) -> bool {
        let mut tmp = Vec::new();
        match &self.matcher {
            Matcher::Str(p) => p.iter().any(|p| eq(v, p, self.icase)),
            Matcher::Beg(p) => p
                .iter()
                .any(|p| v.len() >= p.len() && eq(&v[..p.len()], p, self.icase)),
            Matcher::End(p) => p
                .iter()
                .any(|p| v.len() >= p.len() && eq(&v[v.len() - p.len()..], p, self.icase)),
            Matcher::Sub(p) => {
                let v = lower_if(v, self.icase, &mut tmp);
                p.iter().any(|p| find(v, p).is_some())
            }
            Matcher::Dom(p) => {
                let v = lower_if(v, self.icase, &mut tmp);
                p.iter().any(|p| delimited(v, p, b"/?.:"))
            }
            Matcher::Dir(p) => {
                let v = lower_if(v, self.icase, &mut tmp);
                p.iter().any(|p| delimited(v, p, b"/?"))
            }
            Matcher::Reg(r) => r.iter().any(|r| r.is_match(v)),
            Matcher::Len(r) => r.iter().any(|&(a, b)| (a..=b).contains(&(v.len() as i64))),
            Matcher::Int(r) => std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .is_some_and(|n| r.iter().any(|&(a, b)| (a..=b).contains(&n))),
            Matcher::Ip(nets) => std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().parse::<IpAddr>().ok())
                .is_some_and(|ip| nets.iter().any(|n| n.contains(ip))),
            Matcher::Found => true,
            Matcher::Bool => !v.is_empty() && v != b"0",
        }
    }

    fn match_int(&self, n: i64) -> bool {
        match &self.matcher {
            Matcher::Int(r) => r.iter().any(|&(a, b)| (a..=b).contains(&n)),
            Matcher::Bool => n != 0,
            Matcher::Found => true,
            _ => self.match_bytes(n.to_string().as_bytes()),
        }
    }

    pub fn eval(&self, ctx: &Ctx<'_>) -> bool {
        match &self.sample {
            Sample::Const(b) => *b,
            Sample::HttpVersion(minor) => ctx.req.is_some_and(|r| r.version.is_http1(*minor)),
            Sample::Ssl => self.match_int(0),
            Sample::DstPort => self.match_int(i64::from(ctx.dst_port)),
            Sample::Status => ctx.res.is_some_and(|r| self.match_int(i64::from(r.status))),
            Sample::Src => match &self.matcher {
                Matcher::Ip(nets) => nets.iter().any(|n| n.contains(ctx.src)),
                Matcher::Found => true,
                _ => self.match_bytes(ctx.src.to_string().as_bytes()),
            },
            Sample::Path => ctx.req.is_some_and(|r| self.match_bytes(r.path())),
            Sample::Url => ctx.req.is_some_and(|r| self.match_bytes(r.target())),
            Sample::Method => ctx.req.is_some_and(|r| self.match_bytes(r.method())),
            Sample::Query => ctx.req.is_some_and(|r| {
                let u = r.uri();
                match u.iter().position(|&c| c == b'?') {
                    Some(q) => self.match_bytes(&u[q + 1..]),
                    None => false,
                }
            }),
            Sample::Base => ctx.req.is_some_and(|r| {
                let mut b = r.header(b"host").unwrap_or(b"").to_vec();
                b.extend_from_slice(r.path());
                self.match_bytes(&b)
            }),
            Sample::Hdr {
                name,
                split,
                response,
            } => {
                let Some(m) = (if *response { ctx.res } else { ctx.req }) else {
                    return false;
                };
                let mut values = m.headers(name).peekable();
                if matches!(self.matcher, Matcher::Found) {
                    return values.peek().is_some();
                }
                if let Matcher::Int(_) = self.matcher {
                    if name.is_empty() {
                        return false;
                    }
                }
                for v in values {
                    if *split {
                        if v.split(|&c| c == b',')
                            .any(|part| self.match_bytes(trim(part)))
                        {
                            return true;
                        }
                    } else if self.match_bytes(trim(v)) {
                        return true;
                    }
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_config::model::{AclTerm, Fetch, Reference};

    fn acl(name: &str, fetch: &str, arg: Option<&str>, icase: bool, pats: &[&str]) -> Acl {
        Acl {
            name: name.into(),
            span: Default::default(),
            fetch: Fetch {
                name: fetch.into(),
                arg: arg.map(str::to_string),
            },
            ignore_case: icase,
            match_method: None,
            patterns: pats.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn req(raw: &[u8]) -> Message {
        let mut m = Message::new();
        let _ = m.parse_request(raw);
        m
    }

    fn eval(a: &Acl, m: &Message, src: &str) -> bool {
        let c = compile(a).unwrap_or_else(|e| panic!("{e}"));
        let ctx = Ctx {
            src: src.parse().unwrap_or([0, 0, 0, 0].into()),
            dst_port: 80,
            req: Some(m),
            res: None,
        };
        c.eval(&ctx)
    }

    #[test]
    fn criteria_from_the_issue() {
        let m = req(b"POST /api/v1/items.json?x=1 HTTP/1.1\r\nHost: WWW.Example.com:8080\r\nX-List: a, b\r\n\r\n");
        let s = "10.1.2.3";
        assert!(eval(
            &acl("a", "hdr", Some("host"), true, &["www.example.com:8080"]),
            &m,
            s
        ));
        assert!(!eval(
            &acl("a", "hdr", Some("host"), false, &["www.example.com:8080"]),
            &m,
            s
        ));
        assert!(eval(
            &acl("a", "hdr_dom", Some("host"), true, &["example"]),
            &m,
            s
        ));
        assert!(!eval(
            &acl("a", "hdr_dom", Some("host"), true, &["exam"]),
            &m,
            s
        ));
        assert!(eval(
            &acl("a", "hdr_beg", Some("host"), true, &["www."]),
            &m,
            s
        ));
        assert!(
            eval(&acl("a", "hdr", Some("x-list"), false, &["b"]), &m, s),
            "hdr() splits on commas"
        );
        assert!(eval(
            &acl("a", "path", None, false, &["/api/v1/items.json"]),
            &m,
            s
        ));
        assert!(eval(&acl("a", "path_beg", None, false, &["/api/"]), &m, s));
        assert!(eval(&acl("a", "path_end", None, false, &[".json"]), &m, s));
        assert!(eval(
            &acl("a", "path_reg", None, false, &["^/api/v[0-9]+/"]),
            &m,
            s
        ));
        assert!(!eval(
            &acl("a", "path_reg", None, false, &["^/v[0-9]+/"]),
            &m,
            s
        ));
        assert!(eval(&acl("a", "src", None, false, &["10.0.0.0/8"]), &m, s));
        assert!(!eval(
            &acl("a", "src", None, false, &["192.168.0.0/16", "10.1.2.4"]),
            &m,
            s
        ));
        assert!(eval(
            &acl("a", "method", None, false, &["GET", "POST"]),
            &m,
            s
        ));
        assert!(
            !eval(&acl("a", "ssl_fc", None, false, &[]), &m, s),
            "no TLS on fulcrum listeners yet"
        );
    }

    #[test]
    fn conditions_or_and_negation_unless() {
        let m = req(b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n");
        let acls = vec![
            acl("is_admin", "path_beg", None, false, &["/admin"]),
            acl("internal", "src", None, false, &["10.0.0.0/8"]),
            // Same name twice: OR of both lines.
            acl("host_ok", "hdr", Some("host"), false, &["b"]),
            acl("host_ok", "hdr", Some("host"), false, &["a"]),
        ];
        let term = |n: &str, negate: bool| AclTerm {
            negate,
            acl: AclRef::Named(Reference {
                name: n.into(),
                span: Default::default(),
            }),
        };
        let cond = |unless, any_of| Condition { unless, any_of };
        let ctx = Ctx {
            src: [192, 168, 1, 1].into(),
            dst_port: 80,
            req: Some(&m),
            res: None,
        };
        let c = |cd: &Condition| {
            compile_condition(cd, &acls)
                .unwrap_or_else(|e| panic!("{e}"))
                .eval(&ctx)
        };
        assert!(
            c(&cond(
                false,
                vec![vec![term("is_admin", false), term("internal", true)]]
            )),
            "admin && !internal"
        );
        assert!(
            !c(&cond(
                true,
                vec![vec![term("is_admin", false), term("internal", true)]]
            )),
            "unless"
        );
        assert!(
            c(&cond(
                false,
                vec![vec![term("internal", false)], vec![term("host_ok", false)]]
            )),
            "||"
        );
        assert!(
            c(&cond(
                false,
                vec![vec![term("TRUE", false), term("METH_GET", false)]]
            )),
            "predefined"
        );
        assert!(compile_condition(&cond(false, vec![vec![term("nope", false)]]), &acls).is_err());
    }
}
