//! Conditions (`if|unless` with named, predefined and anonymous `{ }` ACLs, `!`, `||`/`or`):
//! compiled from the model once per config on the sample engine (`fulcrum_sample::acl`),
//! evaluated per request or connection against [`Ctx`].
//!
//! A condition is an OR of AND groups of (possibly negated) ACLs; `unless` inverts it.
//! Several `acl` lines with one name are OR-ed, as in HAProxy. Named ACLs are resolved
//! when compiling, so evaluation never looks names up.

use fulcrum_config::model::{Acl, AclRef, Condition};
use fulcrum_sample::acl::{self as sacl, Acl as SampleAcl, Test};
use fulcrum_sample::expr::Compiler;
use std::sync::Arc;

/// What a request, a response or a connection offers to conditions: the sample language's
/// view of the exchange.
pub type Ctx<'a> = crate::http::sample_env::HttpEnv<'a>;

#[derive(Debug)]
pub struct Cond {
    unless: bool,
    /// Each term: negated?, and the ACL lines sharing its name (any of them matching).
    any_of: Vec<Vec<(bool, Arc<Vec<SampleAcl>>)>>,
}

impl Cond {
    /// Whether the condition reads data that may still arrive (`req.len`, `req.payload*`,
    /// `res.*`, `wait_end`, the ClientHello, an HTTP head on raw TCP bytes): rules using it
    /// wait within the inspect delay.
    pub fn inspects(&self) -> bool {
        self.reads_hello()
            || self
                .any_of
                .iter()
                .flatten()
                .flat_map(|(_, acls)| acls.iter())
                .any(|a| {
                    let n = a.expr.fetch.kw.name;
                    crate::payload::is_payload(n) || crate::payload::reads_http_head(n)
                })
    }

    /// Whether the condition reads the ClientHello (`req.ssl_sni`, `req.ssl_hello_type`,
    /// `req.ssl_ver`).
    pub fn reads_hello(&self) -> bool {
        self.any_of
            .iter()
            .flatten()
            .flat_map(|(_, acls)| acls.iter())
            .any(|a| {
                matches!(
                    a.expr.fetch.kw.name,
                    "req.ssl_sni"
                        | "req_ssl_sni"
                        | "req.ssl_hello_type"
                        | "req_ssl_hello_type"
                        | "req.ssl_ver"
                        | "req_ssl_ver"
                )
            })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AclError(pub String);

fn compile_words(words: &[String], c: &mut Compiler, what: &str) -> Result<SampleAcl, AclError> {
    sacl::compile(words, c).map_err(|e| AclError(format!("{what}: {e}")))
}

/// Compiles one `acl` line of the model.
pub fn compile(acl: &Acl) -> Result<SampleAcl, AclError> {
    let _at = fulcrum_sample::registry::at(&acl.span.file, acl.span.line);
    compile_words(&acl.words, &mut Compiler::default(), &acl_name(acl))
}

fn acl_name(acl: &Acl) -> String {
    if acl.name.is_empty() {
        format!("{}: anonymous ACL", acl.span)
    } else {
        format!("{}: ACL '{}'", acl.span, acl.name)
    }
}

/// Compiles a condition, resolving named ACLs in `acls` (a proxy's own ACLs, in file order)
/// and HAProxy's predefined ones.
pub fn compile_condition(cond: &Condition, acls: &[Acl]) -> Result<Cond, AclError> {
    let mut c = Compiler::default();
    let mut any_of = Vec::new();
    for group in &cond.any_of {
        let mut all = Vec::new();
        for term in group {
            let parts = match &term.acl {
                AclRef::Anonymous(a) => {
                    let _at = fulcrum_sample::registry::at(&a.span.file, a.span.line);
                    vec![compile_words(&a.words, &mut c, &acl_name(a))?]
                }
                AclRef::Named(r) => {
                    let named: Vec<&Acl> = acls.iter().filter(|a| a.name == r.name).collect();
                    if named.is_empty() {
                        let words = sacl::predefined(&r.name).ok_or_else(|| {
                            AclError(format!("{}: ACL '{}' is not defined", r.span, r.name))
                        })?;
                        let _nowhere = fulcrum_sample::registry::nowhere();
                        vec![compile_words(&words, &mut c, &r.name)?]
                    } else {
                        named
                            .iter()
                            .map(|a| {
                                let _at = fulcrum_sample::registry::at(&a.span.file, a.span.line);
                                compile_words(&a.words, &mut c, &acl_name(a))
                            })
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
    /// The condition that always holds (a `use_backend` without `if`).
    pub fn always() -> Cond {
        Cond {
            unless: false,
            any_of: vec![vec![]],
        }
    }

    /// The most any of its ACLs reads (a connection-phase rule cannot read a request).
    pub fn needs(&self) -> fulcrum_sample::fetch::Needs {
        self.any_of
            .iter()
            .flatten()
            .flat_map(|(_, acls)| acls.iter().map(|a| a.expr.needs()))
            .max()
            .unwrap_or(fulcrum_sample::fetch::Needs::Nothing)
    }

    /// HAProxy's three-valued evaluation (`acl_exec_cond`): a miss when it cannot decide
    /// until more data has arrived; `unless` leaves a miss a miss.
    pub fn test(&self, ctx: &Ctx<'_>) -> Test {
        let mut cond = Test::Fail;
        for all in &self.any_of {
            let mut suite = Test::Pass;
            for (neg, acls) in all {
                let mut r = Test::Fail;
                for a in acls.iter() {
                    r = r.or(a.test(ctx));
                    if r == Test::Pass {
                        break;
                    }
                }
                suite = suite.and(if *neg { !r } else { r });
                if suite == Test::Fail {
                    break;
                }
            }
            cond = cond.or(suite);
            if cond == Test::Pass {
                break;
            }
        }
        if self.unless {
            !cond
        } else {
            cond
        }
    }

    pub fn eval(&self, ctx: &Ctx<'_>) -> bool {
        let r = self.any_of.iter().any(|all| {
            all.iter()
                .all(|(neg, acls)| acls.iter().any(|a| a.matches(ctx)) != *neg)
        });
        r != self.unless
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::message::Message;
    use fulcrum_config::model::{AclTerm, Fetch, Reference};
    use std::net::SocketAddr;

    fn acl(name: &str, line: &str) -> Acl {
        Acl {
            name: name.into(),
            span: Default::default(),
            fetch: Fetch {
                name: String::new(),
                arg: None,
            },
            ignore_case: false,
            match_method: None,
            patterns: vec![],
            words: line.split_whitespace().map(str::to_string).collect(),
        }
    }

    fn req(raw: &[u8]) -> Message {
        let mut m = Message::new();
        let _ = m.parse_request(raw);
        m
    }

    fn seen(src: &str) -> crate::http::sample_env::Situation<'static> {
        let ip: std::net::IpAddr = src.parse().expect("address");
        let src = SocketAddr::new(ip, 40000);
        crate::http::sample_env::Situation::new(src, SocketAddr::from(([127, 0, 0, 1], 80)))
    }

    fn eval(line: &str, m: &Message, src: &str) -> bool {
        compile(&acl("a", line))
            .unwrap_or_else(|e| panic!("{e}"))
            .matches(&seen(src).view(Some(m), None))
    }

    #[test]
    fn criteria_on_a_request() {
        let m = req(b"POST /api/v1/items.json?x=1 HTTP/1.1\r\nHost: WWW.Example.com:8080\r\nX-List: a, b\r\nX-List: c\r\nCookie: a=1; SID=xyz\r\n\r\n");
        let s = "10.1.2.3";
        assert!(eval("hdr(host) -i www.example.com:8080", &m, s));
        assert!(!eval("hdr(host) www.example.com:8080", &m, s));
        assert!(eval("hdr_dom(host) -i example", &m, s));
        assert!(!eval("hdr_dom(host) -i exam", &m, s));
        assert!(eval("hdr_beg(host) -i www.", &m, s));
        assert!(eval("hdr(x-list) b", &m, s), "hdr() splits on commas");
        assert!(eval("hdr(x-list) c", &m, s), "every header line is tried");
        assert!(
            !eval("req.fhdr(x-list) b", &m, s),
            "req.fhdr() does not split"
        );
        assert!(eval("hdr_cnt(x-list) 3", &m, s));
        assert!(eval(
            "req.hdr(host),lower,field(1,:) www.example.com",
            &m,
            s
        ));
        assert!(eval("path /api/v1/items.json", &m, s));
        assert!(eval("path_beg /api/", &m, s));
        assert!(eval("path_end .json", &m, s));
        assert!(eval("path_reg ^/api/v[0-9]+/", &m, s));
        assert!(eval("url_param(x) 1", &m, s));
        assert!(eval("cook(SID) xyz", &m, s));
        assert!(eval("src 10.0.0.0/8", &m, s));
        assert!(!eval("src 192.168.0.0/16 10.1.2.4", &m, s));
        assert!(eval("src_port 40000", &m, s));
        assert!(eval("dst_port lt 1024", &m, s));
        assert!(eval("method GET POST", &m, s));
        assert!(!eval("ssl_fc", &m, s), "no TLS on this connection");
        assert!(!eval("req.hdr(x-nope) -m found", &m, "::1"));
        assert!(eval("src ::1", &m, "::1"));
    }

    #[test]
    fn conditions_or_and_negation_unless() {
        let m = req(b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n");
        let acls = vec![
            acl("is_admin", "path_beg /admin"),
            acl("internal", "src 10.0.0.0/8"),
            // Same name twice: OR of both lines.
            acl("host_ok", "hdr(host) b"),
            acl("host_ok", "hdr(host) a"),
        ];
        let term = |n: &str, negate: bool| AclTerm {
            negate,
            acl: AclRef::Named(Reference {
                name: n.into(),
                span: Default::default(),
            }),
        };
        let cond = |unless, any_of| Condition { unless, any_of };
        let seen = seen("192.168.1.1");
        let cx = seen.view(Some(&m), None);
        let c = |cd: &Condition| {
            compile_condition(cd, &acls)
                .unwrap_or_else(|e| panic!("{e}"))
                .eval(&cx)
        };
        let admin_not_internal = vec![vec![term("is_admin", false), term("internal", true)]];
        assert!(
            c(&cond(false, admin_not_internal.clone())),
            "admin && !internal"
        );
        assert!(!c(&cond(true, admin_not_internal)), "unless");
        assert!(
            c(&cond(
                false,
                vec![vec![term("internal", false)], vec![term("host_ok", false)]]
            )),
            "||"
        );
        for (name, expect) in [
            ("TRUE", true),
            ("FALSE", false),
            ("METH_GET", true),
            ("METH_POST", false),
            ("HTTP", true),
            ("HTTP_1.1", true),
            ("HTTP_1.0", false),
            ("HTTP_URL_SLASH", true),
            ("LOCALHOST", false),
            ("HTTP_CONTENT", false),
        ] {
            assert_eq!(
                c(&cond(false, vec![vec![term(name, false)]])),
                expect,
                "{name}"
            );
        }
        let anon = AclTerm {
            negate: false,
            acl: AclRef::Anonymous(Box::new(acl("", "path /admin"))),
        };
        assert!(c(&cond(false, vec![vec![anon]])), "anonymous");
        assert!(compile_condition(&cond(false, vec![vec![term("nope", false)]]), &acls).is_err());
        assert!(Cond::always().eval(&cx));
    }
}
