//! What HAProxy's sample language reads from an HTTP exchange: the fetches and `%` variables
//! of rule values (`set-header X %[req.hdr(host),lower]`, `return lf-string ...`), answered
//! from the connection's addresses and the parsed request and response heads.
//! The list of what is answered here is fulcrum-config's `logformat::HTTP_FETCHES` with the
//! layer-6 fetches (`FetchKw::l6`) and the
//! sample crate's `logformat::EXCHANGE_VARS` (checked when the file is read; the other `%`
//! variables are the stream's log facts, `LogFacts`); a test keeps them in step.

use super::message::Message;
use fulcrum_sample::fetch::{Arg, Fetch, Id};
use fulcrum_sample::{Scope, Value, VarName};
use std::net::{IpAddr, SocketAddr};

/// One exchange as the sample language sees it: its request and response heads as they are
/// now, and the rest of what it knows ([`Situation`], by reference: a rule chain shows each
/// rule the heads as the rules before it left them, and that view costs three words, not a
/// copy of everything).
#[derive(Clone, Copy)]
pub struct HttpEnv<'a> {
    pub req: Option<&'a Message>,
    pub res: Option<&'a Message>,
    x: &'a Situation<'a>,
}

impl<'a> std::ops::Deref for HttpEnv<'a> {
    type Target = Situation<'a>;

    fn deref(&self) -> &Situation<'a> {
        self.x
    }
}

/// What the sample language reads of an exchange besides its heads ([`HttpEnv`]): the
/// connection's addresses, counters, TLS, the stream's place and log facts...
#[derive(Clone, Copy)]
pub struct Situation<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// Stick counters (`sc*_`/`src_*` fetches); none: those fetches have no value.
    pub counters: Option<crate::track::Counters<'a>>,
    /// The client's TLS handshake, on a `bind ... ssl` connection.
    pub tls: Option<&'a crate::stream::TlsInfo>,
    /// The ClientHello read without decrypting (TCP frontends that route on it).
    pub hello: Option<&'a crate::tls::hello::Hello>,
    /// The request's `unique-id-format` id (`unique-id` fetch).
    pub unique_id: Option<&'a [u8]>,
    /// The request body read so far (`option http-buffer-request`), for `req.body*`.
    pub body: Option<&'a [u8]>,
    /// What each direction has received so far, for content inspection (`req.len`,
    /// `req.payload`, `res.payload`...): none outside `tcp-request`/`tcp-response content`.
    pub req_data: Option<crate::payload::Channel<'a>>,
    pub res_data: Option<crate::payload::Channel<'a>>,
    /// HTTP mode: response body bytes that came with the head (`res.len` counts them).
    pub res_body_in: usize,
    /// Credentials come from `Proxy-Authorization` (a proxy request under `option
    /// http-use-proxy-header`).
    pub proxy_auth: bool,
    /// `tcp-response content` rules before the answer has arrived: its fetches may change.
    pub res_pending: bool,
    /// The frontend's capture slots (`capture.req.hdr(N)`, `capture.res.hdr(N)`) with the
    /// request's rule samples: locked already (log lines) or shared (rules).
    pub captures: Option<&'a crate::http::capture::Captures>,
    pub samples: Option<&'a [Option<Vec<u8>>]>,
    pub shared_samples: Option<&'a crate::http::capture::Samples>,
    /// Where the stream is: its frontend, backend and server (`fe_name`, `be_id`, `srv_name`...).
    pub place: Option<&'a dyn Where>,
    /// `set-priority-class|offset` (`prio_class`, `prio_offset`: 0 unless set).
    pub priority: (i32, i32),
    /// The log line's facts known when a rule runs (`%t %b %s %ID %Tw %ac`...): none where
    /// no rule value reads them (the common case costs nothing).
    pub facts: Option<&'a dyn LogFacts>,
    /// A log line of an answer no server sent (`%[status]` has no value there: haproxy 2.6
    /// reads the server's start line, measured `-` after a `deny` or a `return`).
    pub no_server_answer: bool,
    /// A log line: the request has left the buffer (`req.proto_http` has no value there,
    /// measured on haproxy 2.6; its method and other kept facts still do).
    pub log_end: bool,
}

impl<'a> HttpEnv<'a> {
    /// The same view of other messages (a rule chain builds its [`Situation`] once and shows
    /// each rule the request and response as the rules before it left them).
    pub fn of<'m>(&self, req: Option<&'m Message>, res: Option<&'m Message>) -> HttpEnv<'m>
    where
        'a: 'm,
    {
        HttpEnv {
            req,
            res,
            x: self.x,
        }
    }

    /// What the view knows besides its heads.
    pub fn situation(&self) -> &'a Situation<'a> {
        self.x
    }
}

impl<'a> Situation<'a> {
    pub fn new(src: SocketAddr, dst: SocketAddr) -> Situation<'a> {
        Situation {
            src,
            dst,
            counters: None,
            tls: None,
            hello: None,
            unique_id: None,
            body: None,
            req_data: None,
            res_data: None,
            res_body_in: 0,
            proxy_auth: false,
            res_pending: false,
            captures: None,
            samples: None,
            shared_samples: None,
            place: None,
            priority: (0, 0),
            facts: None,
            no_server_answer: false,
            log_end: false,
        }
    }

    /// The sample language's view of these heads of the exchange.
    pub fn view<'m>(&'m self, req: Option<&'m Message>, res: Option<&'m Message>) -> HttpEnv<'m>
    where
        'a: 'm,
    {
        HttpEnv { req, res, x: self }
    }

    /// The same situation, knowing where the stream is (its frontend, backend, server).
    pub fn at(mut self, place: Option<&'a dyn Where>) -> Situation<'a> {
        self.place = place;
        self
    }

    /// The same situation, with the frontend's capture slots and the request's rule samples.
    pub fn with_captures(
        mut self,
        caps: &'a crate::http::capture::Captures,
        samples: &'a [Option<Vec<u8>>],
    ) -> Situation<'a> {
        self.captures = Some(caps);
        self.samples = Some(samples);
        self
    }

    /// The same situation, with the stream's log facts (`%` variables of rule values).
    pub fn with_facts(mut self, facts: Option<&'a dyn LogFacts>) -> Situation<'a> {
        self.facts = facts;
        self
    }

    /// The same situation, with the bytes the client sent so far (content inspection).
    pub fn with_req_data(mut self, c: crate::payload::Channel<'a>) -> Situation<'a> {
        self.req_data = Some(c);
        self
    }

    /// The ClientHello in the client's bytes, if they are raw (TCP mode).
    fn hello_in_data(&self) -> Option<crate::tls::hello::Hello> {
        self.req_data
            .filter(|c| c.raw)
            .map(|c| crate::tls::hello::parse(c.data))
    }

    /// The same situation, with the client's TLS handshake.
    pub fn with_tls(mut self, tls: Option<&'a crate::stream::TlsInfo>) -> Situation<'a> {
        self.tls = tls;
        self
    }

    /// The same situation, with a ClientHello read without decrypting.
    pub fn with_hello(mut self, hello: Option<&'a crate::tls::hello::Hello>) -> Situation<'a> {
        self.hello = hello;
        self
    }

    /// The same situation, with the stick counters the stream can read.
    pub fn with_counters(mut self, counters: Option<crate::track::Counters<'a>>) -> Situation<'a> {
        self.counters = counters;
        self
    }
}

impl HttpEnv<'_> {
    /// Whether `each` holds for any value of a multi-valued fetch without an occurrence
    /// argument (`None` for any other fetch): what ACLs test one by one.
    fn any_value(&self, f: &Fetch, each: &mut dyn FnMut(Value) -> bool) -> Option<bool> {
        if f.args.len() > 1 {
            return None;
        }
        if f.kw.name == "http_auth_group" {
            // An ACL `http_auth_group(L) G1 G2` matches when the user is in one of the groups.
            let (list, c) = self.credentials(f)?;
            let groups = super::userlist::check(list, &c)?;
            return Some(groups.into_iter().any(|g| each(Value::Str(g.into_bytes()))));
        }
        self.any_str(f, &mut |v| each(Value::Str(v.to_vec())))
    }

    /// [`HttpEnv::any_value`] of the fetches whose values are strings of the messages: lent.
    fn any_str(&self, f: &Fetch, each: &mut dyn FnMut(&[u8]) -> bool) -> Option<bool> {
        if f.args.len() > 1 {
            return None;
        }
        let name = str_arg_of(f);
        match f.kw.id {
            Id::ReqHdr => return Some(headers::any_value(self.req?, name, true, each)),
            Id::ReqFhdr => return Some(headers::any_value(self.req?, name, false, each)),
            Id::ResHdr => return Some(headers::any_value(self.res?, name, true, each)),
            Id::ResFhdr => return Some(headers::any_value(self.res?, name, false, each)),
            _ => {}
        }
        let v = match f.kw.id {
            Id::ReqCook => cookies(self.req?, false, name),
            Id::ResCook => cookies(self.res?, true, name),
            _ => return None,
        };
        Some(v.into_iter().any(each))
    }
}

impl HttpEnv<'_> {
    /// [`fulcrum_sample::Env::each_str`] of a header or cookie fetch: its values lent.
    fn each_header_str(&self, f: &Fetch, each: &mut dyn FnMut(&[u8]) -> bool) -> Option<bool> {
        Some(match self.any_str(f, each) {
            Some(found) => found,
            // an occurrence argument, or no such message: the one value `fetch` gives
            None => fulcrum_sample::Env::fetch(self, f).is_some_and(|v| match v {
                Value::Str(b) => each(&b),
                _ => false,
            }),
        })
    }
}

fn str_arg_of(f: &Fetch) -> &[u8] {
    f.args.first().map_or(&b""[..], Arg::as_bytes)
}

fn ip(a: IpAddr) -> Value {
    match crate::net::canonical(a) {
        IpAddr::V4(v4) => Value::Ipv4(v4),
        IpAddr::V6(v6) => Value::Ipv6(v6),
    }
}

/// The `occ`-th value of header `name` ([`values`] without gathering them, but for
/// `Connection`).
fn value<'a>(m: &'a Message, name: &'a [u8], split: bool, occ: Option<i64>) -> Option<&'a [u8]> {
    let last = matches!(occ.unwrap_or(-1), 0 | -1);
    if name.len() == 10 && name.eq_ignore_ascii_case(b"connection") {
        pick(values(m, name, split).into_iter(), occ)
    } else if split && last {
        // the last value: the last field's text after its last comma (what splitting every
        // field and keeping the last token gives, without the scan)
        let line = m.last_header(name)?;
        let token = crate::http::message::last_comma(line).map_or(line, |c| &line[c + 1..]);
        Some(crate::http::message::trim(token))
    } else if split {
        let tokens = m
            .headers(name)
            .flat_map(|line| line.split(|&b| b == b',').map(crate::http::message::trim));
        pick(tokens, occ)
    } else {
        pick(m.headers(name), occ)
    }
}

/// The `occ`-th value (1-based; negative from the end; 0 or none: the last), as HAProxy's
/// header fetches pick it outside ACLs (only a count from the end keeps the values).
fn pick<'a>(mut values: impl Iterator<Item = &'a [u8]>, occ: Option<i64>) -> Option<&'a [u8]> {
    match occ.unwrap_or(-1) {
        0 | -1 => values.last(),
        k if k > 0 => values.nth(usize::try_from(k - 1).ok()?),
        k => {
            let v: Vec<&[u8]> = values.collect();
            let i = v.len() as i64 + k;
            usize::try_from(i).ok().and_then(|i| v.get(i).copied())
        }
    }
}

fn str_arg(f: &Fetch, i: usize) -> &[u8] {
    f.args.get(i).map_or(&b""[..], Arg::as_bytes)
}

fn int_arg(f: &Fetch, i: usize) -> Option<i64> {
    f.args.get(i).map(Arg::as_int)
}

/// `ssl_fc_*` and `ssl_c_*`: what the client's TLS handshake settled (none on plain TCP,
/// except the booleans, which are false there as in HAProxy).
fn tls_fetch(tls: Option<&crate::stream::TlsInfo>, name: &str, f: &Fetch) -> Option<Value> {
    let cert = tls.and_then(|t| t.client_cert.as_deref());
    let s = |v: &str| Some(Value::Str(v.as_bytes().to_vec()));
    match name {
        "ssl_fc_has_crt" | "ssl_c_used" => Some(Value::Bool(cert.is_some())),
        "ssl_fc_has_sni" => Some(Value::Bool(tls.is_some_and(|t| t.sni.is_some()))),
        "ssl_c_verify" => tls.map(|_| Value::Sint(0)),
        "ssl_fc_sni" => s(tls?.sni.as_deref()?),
        "ssl_fc_protocol" => s(tls?.version),
        "ssl_fc_cipher" => s(tls?.cipher),
        "ssl_fc_alpn" => s(tls?.alpn.as_deref()?),
        // rustls's suites use their whole key: the algorithm's size is the size used.
        "ssl_fc_use_keysize" | "ssl_fc_alg_keysize" => Some(Value::Sint(i64::from(tls?.bits))),
        "ssl_fc_is_resumed" => Some(Value::Bool(tls.is_some_and(|t| t.resumed))),
        // A session exists only after the connection was set up without error (a failed
        // handshake is an error log line, `log_error`); rustls refuses a bad client
        // certificate, so its verification errors are 0 too.
        "fc_err" => Some(Value::Sint(0)),
        "ssl_fc_err" | "ssl_c_err" | "ssl_c_ca_err" => tls.map(|_| Value::Sint(0)),
        n if n.starts_with("ssl_c_") => super::ssl_client::fetch(cert, n, f),
        _ => None,
    }
}

fn version(m: &Message) -> Value {
    Value::str(m.version.as_str())
}

impl fulcrum_sample::Env for HttpEnv<'_> {
    fn table_lookup(&self, table: &str, key: Value, what: &str) -> Option<Value> {
        self.counters?.table_conv(table, key, what)
    }

    fn fetch(&self, f: &Fetch) -> Option<Value> {
        let req = self.req;
        let res = self.res;
        // (a buffer a finished value gave back: `fulcrum_sample::spare`)
        let s = |b: &[u8]| Some(Value::Str(fulcrum_sample::spare::copy(b)));
        // the fetches most rules read, by number
        match f.kw.id {
            Id::Method => return Some(Value::Meth(fulcrum_sample::spare::copy(req?.method()))),
            Id::Path => return s(req?.path()),
            Id::Pathq => return s(req?.uri()),
            Id::Url => return s(req?.target()),
            Id::Query => return s(req?.query()?),
            Id::ReqHdr | Id::ReqFhdr => {
                let split = f.kw.id == Id::ReqHdr;
                return s(value(req?, str_arg(f, 0), split, int_arg(f, 1))?);
            }
            Id::ResHdr | Id::ResFhdr => {
                let split = f.kw.id == Id::ResHdr;
                return s(value(res?, str_arg(f, 0), split, int_arg(f, 1))?);
            }
            Id::ReqCook | Id::ResCook => {
                let set = f.kw.id == Id::ResCook;
                let all = cookies(if set { res? } else { req? }, set, str_arg(f, 0));
                return s(cookies::one(&all, str_arg(f, 0))?);
            }
            Id::Src => return Some(ip(self.src.ip())),
            Id::SrcPort => return Some(Value::Sint(i64::from(self.src.port()))),
            Id::Dst => return Some(ip(self.dst.ip())),
            Id::DstPort => return Some(Value::Sint(i64::from(self.dst.port()))),
            Id::Var | Id::Other => {}
        }
        if fulcrum_sample::fetch::is_counter(f.kw.name) {
            return self.counters?.fetch(f, self.src);
        }
        match f.kw.name {
            "unique-id" => {
                let id = self.unique_id?;
                if let Some(f) = self.facts {
                    f.id_made();
                }
                s(id)
            }
            "prio_class" => Some(Value::Sint(i64::from(self.priority.0))),
            "prio_offset" => Some(Value::Sint(i64::from(self.priority.1))),
            // HAProxy's mux: 2 on an HTTP/2 connection, else 1; none in TCP mode.
            "fc_http_major" => Some(Value::Sint(
                if req?.version == super::message::Version::Http2 {
                    2
                } else {
                    1
                },
            )),
            "capture.req.method" => s(req?.method()),
            "capture.req.uri" => s(req?.target()),
            "hostname" => s(crate::net::hostname().as_bytes()),
            "capture.req.hdr" | "capture.res.hdr" => {
                let caps = self.captures?;
                let i = usize::try_from(f.args.first()?.as_int()).ok()?;
                let response = f.kw.name == "capture.res.hdr";
                let m = if response { res } else { req };
                match (self.samples, self.shared_samples) {
                    (Some(samples), _) => s(caps.slot(response, i, m, samples)?),
                    (None, Some(shared)) => {
                        let g = shared.lock().ok()?;
                        s(caps.slot(response, i, m, &g)?)
                    }
                    (None, None) => s(caps.slot(response, i, m, &[])?),
                }
            }
            "src_is_local" => Some(Value::Bool(crate::front::is_local(self.src.ip()))),
            "dst_is_local" => Some(Value::Bool(crate::front::is_local(self.dst.ip()))),
            "ssl_fc" => Some(Value::Bool(self.tls.is_some())),
            "req.ssl_sni" | "req_ssl_sni" | "req.ssl_hello_type" | "req_ssl_hello_type" => {
                let parsed = self.hello_in_data();
                match parsed.as_ref().or(self.hello)? {
                    crate::tls::hello::Hello::Complete { sni, hello_type } => {
                        if f.kw.name.ends_with("sni") {
                            s(sni.as_deref()?.as_bytes())
                        } else {
                            Some(Value::Sint(i64::from(*hello_type)))
                        }
                    }
                    _ => None,
                }
            }
            "req.ssl_ver" | "req_ssl_ver" => {
                let c = self.req_data.filter(|c| c.raw)?;
                crate::tls::hello::version(c.data, c.size)
                    .value()
                    .map(Value::Sint)
            }
            "base" => {
                let r = req?;
                let mut b = r.header(b"host").unwrap_or(b"").to_vec();
                b.extend_from_slice(r.path());
                Some(Value::Str(b))
            }
            "url_param" | "urlp" => {
                let q = req?.query()?;
                let name = str_arg(f, 0);
                let delim = str_arg(f, 1).first().copied().unwrap_or(b'&');
                q.split(|&b| b == delim).find_map(|p| {
                    let (k, v) = match p.iter().position(|&b| b == b'=') {
                        Some(eq) => (&p[..eq], &p[eq + 1..]),
                        None => (p, &b""[..]),
                    };
                    (name.is_empty() || k == name).then(|| Value::Str(v.to_vec()))
                })
            }
            "req.body" => Some(Value::Bin(self.body?.to_vec())),
            "req.body_len" => Some(Value::Sint(self.body?.len() as i64)),
            "req.body_size" => {
                // The announced Content-Length, or what arrived of a chunked body.
                let announced = req?
                    .header(b"content-length")
                    .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<i64>().ok());
                Some(Value::Sint(announced.unwrap_or(self.body?.len() as i64)))
            }
            "req.body_param" => {
                super::body_param::find(self.body?, str_arg(f, 0)).map(|v| Value::Str(v.to_vec()))
            }
            "req.ver" | "req_ver" => Some(version(req?)),
            // No sample without an HTTP request (raw TCP bytes that are not one), as HAProxy.
            "req.proto_http" if self.log_end => None,
            "req.proto_http" => req.map(|_| Value::Bool(true)),
            "res.ver" => Some(version(res?)),
            "status" if self.no_server_answer => None,
            "status" => Some(Value::Sint(i64::from(res?.status))),
            "req.hdr_ip" | "hdr_ip" => {
                let v = values(req?, str_arg(f, 0), true);
                headers::parse(pick(v.into_iter(), int_arg(f, 1))?)
            }
            "req.hdr_cnt" | "hdr_cnt" => Some(Value::Sint(hdr_cnt(req?, str_arg(f, 0)))),
            "res.hdr_cnt" => Some(Value::Sint(hdr_cnt(res?, str_arg(f, 0)))),
            "req.fhdr_cnt" => Some(Value::Sint(fhdr_cnt(req?, str_arg(f, 0)))),
            "res.fhdr_cnt" => Some(Value::Sint(fhdr_cnt(res?, str_arg(f, 0)))),
            "req.cook_cnt" | "cook_cnt" => {
                Some(Value::Sint(cookies(req?, false, str_arg(f, 0)).len() as i64))
            }
            "res.cook_cnt" | "scook_cnt" => {
                Some(Value::Sint(cookies(res?, true, str_arg(f, 0)).len() as i64))
            }
            "req.cook_val" | "cook_val" | "res.cook_val" | "scook_val" => {
                let set = matches!(f.kw.name, "res.cook_val" | "scook_val");
                let all = cookies(if set { res? } else { req? }, set, str_arg(f, 0));
                Some(Value::Sint(cookies::int_value(cookies::one(
                    &all,
                    str_arg(f, 0),
                )?)))
            }
            // After the names above (none of which they take): the lists they scan cost
            // every request's fetches nothing.
            n if n.starts_with("http_auth") => self.auth_fetch(f),
            n if views::answers(n) || fulcrum_sample::fetch::CONN_FACTS.contains(&n) => {
                self.place?.fetch(f)
            }
            n if crate::payload::is_payload(n) => {
                let c = if crate::payload::is_response(n) {
                    self.res_data
                } else {
                    self.req_data
                };
                match (c, n) {
                    (Some(c), _) => crate::payload::fetch(&c, f),
                    // HTTP mode: the request's HTX size (head and the body read so far); its
                    // rules decide on the parsed request (nothing to wait for).
                    (None, "req.len" | "req_len") => Some(Value::Sint(
                        (crate::payload::htx_request(req?) + self.body.map_or(0, <[u8]>::len))
                            as i64,
                    )),
                    // HTTP mode: the response's HTX size, head and the body bytes in.
                    (None, "res.len") => Some(Value::Sint(
                        (crate::payload::htx_response(res?) + self.res_body_in) as i64,
                    )),
                    // HTTP rules and log lines: the request is whole (haproxy's
                    // `SMP_OPT_FINAL` there).
                    (None, "wait_end") => Some(Value::Bool(true)),
                    _ => None,
                }
            }
            n if n.starts_with("ssl_") || n == "fc_err" => tls_fetch(self.tls, n, f),
            _ => None,
        }
    }

    fn fetch_each(&self, f: &Fetch, each: &mut dyn FnMut(Value) -> bool) -> bool {
        // an ACL tries every value of the header as an address, as haproxy's
        if matches!(f.kw.name, "req.hdr_ip" | "hdr_ip") && f.args.len() <= 1 {
            let Some(req) = self.req else { return false };
            let all = values(req, str_arg_of(f), true);
            return all.into_iter().filter_map(headers::parse).any(each);
        }
        // `cook_val` in an ACL tries every occurrence's integer, as haproxy's
        if matches!(
            f.kw.name,
            "req.cook_val" | "cook_val" | "res.cook_val" | "scook_val"
        ) {
            let set = matches!(f.kw.name, "res.cook_val" | "scook_val");
            let Some(m) = (if set { self.res } else { self.req }) else {
                return false;
            };
            let all = cookies(m, set, str_arg_of(f));
            return all
                .into_iter()
                .any(|v| each(Value::Sint(cookies::int_value(v))));
        }
        match self.any_value(f, each) {
            Some(found) => found,
            None => self.fetch(f).is_some_and(each),
        }
    }

    fn str_of<'s>(&'s self, f: &'s Fetch) -> Option<Option<&'s [u8]>> {
        // what `fetch` answers for these, without copying the value
        let req = self.req;
        Some(match f.kw.id {
            Id::Path => req.map(Message::path),
            Id::Method => req.map(Message::method),
            Id::Url => req.map(Message::target),
            Id::Pathq => req.map(Message::uri),
            Id::Query => req.and_then(Message::query),
            Id::ReqHdr | Id::ReqFhdr => {
                let split = f.kw.id == Id::ReqHdr;
                req.and_then(|r| value(r, str_arg(f, 0), split, int_arg(f, 1)))
            }
            Id::ResHdr | Id::ResFhdr => {
                let split = f.kw.id == Id::ResHdr;
                self.res
                    .and_then(|r| value(r, str_arg(f, 0), split, int_arg(f, 1)))
            }
            _ => return None,
        })
    }

    fn with_var(&self, scope: Scope, name: &VarName, with: &mut dyn FnMut(Option<&Value>)) {
        match self.counters {
            // `req` variables live while the request is processed (as `var`)
            Some(_) if scope == Scope::Req && self.res.is_some() => with(None),
            Some(c) => c.tracking.with_var(scope, name, with),
            None => with(self.var(scope, name).as_ref()),
        }
    }

    fn each_str(&self, f: &Fetch, each: &mut dyn FnMut(&[u8]) -> bool) -> Option<bool> {
        // what `fetch_each` answers for these, without copying the values
        let one = |v: Option<&[u8]>, each: &mut dyn FnMut(&[u8]) -> bool| Some(v.is_some_and(each));
        match f.kw.id {
            Id::Path => one(self.req.map(Message::path), each),
            Id::Url => one(self.req.map(Message::target), each),
            Id::Pathq => one(self.req.map(Message::uri), each),
            Id::Query => one(self.req.and_then(Message::query), each),
            Id::ReqHdr | Id::ReqFhdr | Id::ResHdr | Id::ResFhdr => self.each_header_str(f, each),
            Id::ReqCook | Id::ResCook => self.each_header_str(f, each),
            _ => None,
        }
    }

    fn may_change(&self, f: &Fetch) -> bool {
        let n = f.kw.name;
        if crate::payload::is_payload(n) {
            let c = if crate::payload::is_response(n) {
                self.res_data
            } else {
                self.req_data
            };
            c.is_some_and(|c| crate::payload::may_change(&c, f))
        } else if n.contains("ssl_sni") || n.contains("ssl_hello_type") {
            self.req_data
                .is_some_and(|c| crate::payload::hello_may_change(&c))
        } else if n.ends_with("ssl_ver") {
            self.req_data.is_some_and(|c| {
                !c.last
                    && c.raw
                    && crate::tls::hello::version(c.data, c.size)
                        == crate::tls::hello::SslVer::Incomplete
            })
        } else if self.res_pending && crate::payload::reads_http_response(n) {
            true
        } else if self.req.is_none() {
            // TCP mode: an HTTP fetch on a request head still arriving.
            self.req_data
                .is_some_and(|c| crate::payload::http_may_change(&c, n))
        } else {
            false
        }
    }

    fn var(&self, scope: Scope, name: &VarName) -> Option<Value> {
        // `req` variables live while the request is processed, not in the response's rules.
        if scope == Scope::Req && self.res.is_some() {
            return None;
        }
        match self.counters {
            Some(c) => c.tracking.var(scope, name),
            // Log lines: the stream's variables through its place; `proc` ones are the
            // process's.
            None if scope == Scope::Proc => fulcrum_sample::proc_vars()
                .lock()
                .ok()?
                .get(scope, name)
                .cloned(),
            None => self.place?.var(scope, name),
        }
    }

    fn set_var(&self, scope: Scope, name: &VarName, v: Value, c: fulcrum_sample::SetConds) -> bool {
        // The `set-var()` converter: where the rules' variables are (in log lines the value
        // passes).
        self.counters
            .is_none_or(|k| k.tracking.set_var_if(scope, name, v, c))
    }

    fn now_unix(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    fn random(&self) -> u32 {
        // std's per-use random hash keys: unpredictable enough for `rand` and `uuid`.
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(self.src.port().into());
        h.finish() as u32
    }
}

mod headers;
mod views;
use headers::{fhdr_cnt, hdr_cnt, values};
pub use views::{LogFacts, ResponseFacts, Where, WHERE_FETCHES};
mod vars;

mod auth;
mod cookies;
use cookies::cookies;

#[cfg(test)]
mod tests;
