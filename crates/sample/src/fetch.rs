//! Fetch keywords: their names, arguments and output types, and the ones this crate answers
//! itself (process-level: `str int bool env date rand var uuid always_true always_false`).
//! Every other fetch reads the stream and is answered by the caller's [`crate::Env`].

use crate::env::{Env, Scope};
use crate::value::{Type, Value};

/// A compiled argument of a fetch or converter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Str(Vec<u8>),
    Int(i64),
    /// A variable reference `scope.name`.
    Var(Scope, crate::VarName),
}

impl Arg {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Arg::Str(s) => s,
            _ => b"",
        }
    }
    pub fn as_int(&self) -> i64 {
        match self {
            Arg::Int(n) => *n,
            _ => 0,
        }
    }
}

/// What an argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    Str,
    Int,
    Var,
}

/// Which part of a stream a fetch needs: rules that run before it exists cannot use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Needs {
    /// Nothing of the stream (process-level, constants).
    Nothing,
    /// The connection (addresses, ports, frontend).
    Connection,
    /// The HTTP request (or TCP content).
    Request,
    /// The response.
    Response,
}

/// Fetches that read the backend a stream was routed to: HAProxy 2.6 refuses them where no
/// backend is chosen yet (a frontend's `tcp-request` and `http-request` rules and its
/// `use_backend` conditions).
pub const NEEDS_BACKEND: &[&str] = &["be_name", "be_id"];

/// Fetches that read the client connection's own facts (its listener, its addresses before
/// any `set-src`, its PROXY header, its TCP_INFO): the data plane keeps those per connection
/// only once some expression of the process read one ([`conn_facts_read`]).
pub const CONN_FACTS: &[&str] = &[
    "so_id",
    "so_name",
    "fc_src",
    "fc_src_port",
    "fc_dst",
    "fc_dst_port",
    "fc_rcvd_proxy",
    "fc_pp_authority",
    "fc_pp_unique_id",
    "fc_rtt",
    "fc_rttvar",
    "fc_unacked",
    "fc_sacked",
    "fc_retrans",
    "fc_fackets",
    "fc_lost",
    "fc_reordering",
    "fc_src_is_local",
    "fc_dst_is_local",
];

static CONN_FACTS_READ: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static BC_SRC_READ: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Notes that an expression reading [`CONN_FACTS`] (or `bc_src`) was compiled (by
/// `expr::compile_with`).
pub(crate) fn note_compiled(kw: &FetchKw) {
    if CONN_FACTS.contains(&kw.name) {
        CONN_FACTS_READ.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    if kw.name.starts_with("bc_src") {
        BC_SRC_READ.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether any expression compiled in this process reads `bc_src`/`bc_src_port` (the data
/// plane then asks each server connection its local address, a system call otherwise saved).
pub fn bc_src_read() -> bool {
    BC_SRC_READ.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether any expression compiled in this process reads [`CONN_FACTS`] (it stays true: a
/// configuration that stops reading them only keeps a few bytes per connection more).
pub fn conn_facts_read() -> bool {
    CONN_FACTS_READ.load(std::sync::atomic::Ordering::Relaxed)
}

/// The units `fc_rtt` and `fc_rttvar` take (HAProxy 2.6 refuses any other).
pub const RTT_UNITS: &[&str] = &["ms", "us"];

/// A fetch keyword (which request fetches response rules may still read:
/// [`crate::request_content`]).
#[derive(Debug)]
pub struct FetchKw {
    pub name: &'static str,
    pub args: &'static [ArgKind],
    /// How many of `args` are mandatory.
    pub min: usize,
    pub out: Type,
    pub needs: Needs,
    /// It reads layer 6, the raw bytes of the request or response channel (HAProxy 2.6's
    /// `SMP_USE_L6REQ`/`SMP_USE_L6RES`: `req.len`, `req.payload`, `req.ssl_sni`, `res.len`...):
    /// what HAProxy warns about in HTTP proxies' conditions and HTTP log-format strings.
    pub l6: bool,
    /// Which of the fetches rules read most it is, if one ([`Id`]).
    pub id: Id,
}

/// The fetches a rule chain reads most, told apart by a number: the data plane's
/// environment answers these first without comparing the name with its arms one by one
/// (a `match` on a name costs a comparison per arm before the one that answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Id {
    /// Any other fetch: answered by name.
    Other,
    Var,
    Src,
    SrcPort,
    Dst,
    DstPort,
    Method,
    Path,
    Pathq,
    Url,
    Query,
    /// `req.hdr`, `hdr`: the values split at commas.
    ReqHdr,
    /// `req.fhdr`: whole field values.
    ReqFhdr,
    /// `res.hdr`, `shdr`.
    ResHdr,
    /// `res.fhdr`.
    ResFhdr,
    /// `req.cook`, `cook`: a request cookie's value.
    ReqCook,
    /// `res.cook`, `scook`: a `Set-Cookie` cookie's value.
    ResCook,
}

/// A compiled fetch: its keyword and arguments.
#[derive(Debug, Clone)]
pub struct Fetch {
    pub kw: &'static FetchKw,
    pub args: Vec<Arg>,
}

const S: ArgKind = ArgKind::Str;
const I: ArgKind = ArgKind::Int;
const V: ArgKind = ArgKind::Var;

macro_rules! kw {
    ($name:expr, [$($a:expr),*], $min:expr, $out:ident, $needs:ident) => {
        kw!($name, [$($a),*], $min, $out, $needs, Other)
    };
    ($name:expr, [$($a:expr),*], $min:expr, $out:ident, $needs:ident, $id:ident) => {
        FetchKw { name: $name, args: &[$($a),*], min: $min, out: Type::$out, needs: Needs::$needs, l6: false, id: Id::$id }
    };
}

/// A fetch that reads layer 6 ([`FetchKw::l6`]).
macro_rules! kw6 {
    ($name:expr, [$($a:expr),*], $min:expr, $out:ident, $needs:ident) => {
        FetchKw { name: $name, args: &[$($a),*], min: $min, out: Type::$out, needs: Needs::$needs, l6: true, id: Id::Other }
    };
}

/// Every fetch keyword fulcrum knows (HAProxy 2.6's names).
pub static FETCHES: &[FetchKw] = &[
    // process-level, answered here
    kw!("always_true", [], 0, Bool, Nothing),
    kw!("always_false", [], 0, Bool, Nothing),
    kw!("str", [S], 0, Str, Nothing),
    kw!("int", [I], 1, Sint, Nothing),
    // `bool(true|false|1|0)`: HAProxy 2.6 takes these four words only.
    kw!("bool", [S], 1, Bool, Nothing),
    kw!("ipv4", [S], 1, Ipv4, Nothing),
    kw!("ipv6", [S], 1, Ipv6, Nothing),
    kw!("meth", [S], 1, Meth, Nothing),
    kw!("bin", [S], 1, Bin, Nothing),
    kw!("env", [S], 1, Str, Nothing),
    kw!("date", [I, S], 0, Sint, Nothing),
    kw!("rand", [I], 0, Sint, Nothing),
    kw!("uuid", [I], 0, Str, Nothing),
    kw!("var", [V, S], 1, Any, Nothing, Var),
    kw!("pid", [], 0, Sint, Nothing),
    kw!("nbproc", [], 0, Sint, Nothing),
    kw!("thread", [], 0, Sint, Nothing),
    kw!("hostname", [], 0, Str, Nothing),
    kw!("proc", [], 0, Sint, Nothing),
    // connection
    kw!("src", [], 0, Addr, Connection, Src),
    kw!("src_port", [], 0, Sint, Connection, SrcPort),
    kw!("dst", [], 0, Addr, Connection, Dst),
    kw!("dst_port", [], 0, Sint, Connection, DstPort),
    kw!("so_name", [], 0, Str, Connection),
    kw!("so_id", [], 0, Sint, Connection),
    kw!("fc_http_major", [], 0, Sint, Connection),
    kw!("fc_rcvd_proxy", [], 0, Bool, Connection),
    kw!("fc_src", [], 0, Addr, Connection),
    kw!("fc_src_port", [], 0, Sint, Connection),
    kw!("fc_dst", [], 0, Addr, Connection),
    kw!("fc_dst_port", [], 0, Sint, Connection),
    // The PROXY header's TLVs (v2 `PP2_TYPE_AUTHORITY`, `PP2_TYPE_UNIQUE_ID`).
    kw!("fc_pp_authority", [], 0, Str, Connection),
    kw!("fc_pp_unique_id", [], 0, Str, Connection),
    // TCP_INFO of the client connection; the optional unit is `ms` (default) or `us`.
    kw!("fc_rtt", [S], 0, Sint, Connection),
    kw!("fc_rttvar", [S], 0, Sint, Connection),
    kw!("fc_unacked", [S], 0, Sint, Connection),
    kw!("fc_sacked", [S], 0, Sint, Connection),
    kw!("fc_retrans", [S], 0, Sint, Connection),
    kw!("fc_fackets", [S], 0, Sint, Connection),
    kw!("fc_lost", [S], 0, Sint, Connection),
    kw!("fc_reordering", [S], 0, Sint, Connection),
    kw!("fc_err_str", [], 0, Str, Connection),
    // Whether an address is one of this host's (HAProxy binds a socket to it to know).
    kw!("src_is_local", [], 0, Bool, Connection),
    kw!("dst_is_local", [], 0, Bool, Connection),
    kw!("fc_src_is_local", [], 0, Bool, Connection),
    kw!("fc_dst_is_local", [], 0, Bool, Connection),
    kw!("fe_name", [], 0, Str, Connection),
    kw!("fe_id", [], 0, Sint, Connection),
    kw!("ssl_fc", [], 0, Bool, Connection),
    kw!("ssl_fc_sni", [], 0, Str, Connection),
    kw!("ssl_fc_protocol", [], 0, Str, Connection),
    kw!("ssl_fc_cipher", [], 0, Str, Connection),
    kw!("ssl_fc_alpn", [], 0, Str, Connection),
    kw!("ssl_fc_has_crt", [], 0, Bool, Connection),
    kw!("ssl_fc_has_sni", [], 0, Bool, Connection),
    kw!("ssl_fc_is_resumed", [], 0, Bool, Connection),
    kw!("ssl_fc_use_keysize", [], 0, Sint, Connection),
    kw!("ssl_fc_alg_keysize", [], 0, Sint, Connection),
    // The connection's error codes (`option httpslog`, `error-log-format`): 0 on a
    // connection that got this far; the `ssl_*` ones only on TLS connections.
    kw!("fc_err", [], 0, Sint, Connection),
    kw!("ssl_fc_err", [], 0, Sint, Connection),
    kw!("ssl_c_err", [], 0, Sint, Connection),
    kw!("ssl_c_ca_err", [], 0, Sint, Connection),
    kw!("ssl_c_used", [], 0, Bool, Connection),
    kw!("ssl_c_verify", [], 0, Sint, Connection),
    kw!("ssl_c_s_dn", [S, I], 0, Str, Connection),
    kw!("ssl_c_i_dn", [S, I], 0, Str, Connection),
    kw!("ssl_c_serial", [], 0, Bin, Connection),
    kw!("ssl_c_sha1", [], 0, Bin, Connection),
    kw!("ssl_c_notbefore", [], 0, Str, Connection),
    kw!("ssl_c_notafter", [], 0, Str, Connection),
    kw!("ssl_c_version", [], 0, Sint, Connection),
    kw!("ssl_c_sig_alg", [], 0, Str, Connection),
    kw!("ssl_c_key_alg", [], 0, Str, Connection),
    // backend and servers
    kw!("be_name", [], 0, Str, Request),
    kw!("be_id", [], 0, Sint, Request),
    kw!("srv_id", [], 0, Sint, Response),
    kw!("srv_name", [], 0, Str, Response),
    kw!("nbsrv", [S], 0, Sint, Nothing),
    kw!("srv_is_up", [S], 1, Bool, Nothing),
    kw!("connslots", [S], 0, Sint, Nothing),
    kw!("be_conn", [S], 0, Sint, Nothing),
    kw!("queue", [S], 0, Sint, Nothing),
    kw!("avg_queue", [S], 0, Sint, Nothing),
    kw!("srv_conn", [S], 1, Sint, Nothing),
    kw!("srv_queue", [S], 1, Sint, Nothing),
    kw!("bc_http_major", [], 0, Sint, Response),
    kw!("bc_src", [], 0, Addr, Response),
    kw!("bc_src_port", [], 0, Sint, Response),
    kw!("bc_dst", [], 0, Addr, Response),
    kw!("bc_dst_port", [], 0, Sint, Response),
    kw!("bc_err", [], 0, Sint, Response),
    kw!("bc_err_str", [], 0, Str, Response),
    // The server connection's TLS handshake (`server ... ssl`).
    kw!("ssl_bc", [], 0, Bool, Response),
    kw!("ssl_bc_protocol", [], 0, Str, Response),
    kw!("ssl_bc_cipher", [], 0, Str, Response),
    kw!("ssl_bc_alpn", [], 0, Str, Response),
    kw!("ssl_bc_use_keysize", [], 0, Sint, Response),
    kw!("ssl_bc_alg_keysize", [], 0, Sint, Response),
    kw!("ssl_bc_is_resumed", [], 0, Bool, Response),
    kw!("ssl_bc_err", [], 0, Sint, Response),
    // request
    kw!("method", [], 0, Meth, Request, Method),
    kw!("path", [], 0, Str, Request, Path),
    kw!("pathq", [], 0, Str, Request, Pathq),
    kw!("url", [], 0, Str, Request, Url),
    kw!("query", [], 0, Str, Request, Query),
    kw!("base", [], 0, Str, Request),
    kw!("url_param", [S, S], 0, Str, Request),
    kw!("urlp", [S, S], 0, Str, Request),
    kw!("req.ver", [], 0, Str, Request),
    kw!("req.proto_http", [], 0, Bool, Request),
    kw!("req_ver", [], 0, Str, Request),
    kw!("req.hdr", [S, I], 0, Str, Request, ReqHdr),
    kw!("hdr", [S, I], 0, Str, Request, ReqHdr),
    kw!("req.fhdr", [S, I], 0, Str, Request, ReqFhdr),
    // (no `fhdr`: HAProxy 2.6 has only `req.fhdr`, and refuses `fhdr` as an unknown fetch)
    kw!("req.hdr_cnt", [S], 0, Sint, Request),
    kw!("req.fhdr_cnt", [S], 0, Sint, Request),
    kw!("req.hdr_ip", [S, I], 0, Addr, Request),
    kw!("hdr_ip", [S, I], 0, Addr, Request),
    kw!("http_first_req", [], 0, Bool, Request),
    kw!("hdr_cnt", [S], 0, Sint, Request),
    kw!("req.cook", [S], 0, Str, Request, ReqCook),
    kw!("cook", [S], 0, Str, Request, ReqCook),
    kw!("req.cook_cnt", [S], 0, Sint, Request),
    kw!("cook_cnt", [S], 0, Sint, Request),
    kw!("req.cook_val", [S], 0, Sint, Request),
    kw!("cook_val", [S], 0, Sint, Request),
    kw!("req.body", [], 0, Bin, Request),
    kw!("req.body_len", [], 0, Sint, Request),
    kw!("req.body_size", [], 0, Sint, Request),
    kw!("req.body_param", [S], 0, Str, Request),
    kw6!("req.len", [], 0, Sint, Request),
    kw6!("req_len", [], 0, Sint, Request),
    // TCP content inspection: the bytes received so far (HAProxy's buffer).
    kw6!("req.payload", [I, I], 2, Bin, Request),
    kw6!("payload", [I, I], 2, Bin, Request),
    kw6!("req.payload_lv", [I, I, S], 2, Bin, Request),
    kw6!("payload_lv", [I, I, S], 2, Bin, Request),
    kw!("wait_end", [], 0, Bool, Request),
    kw!("capture.req.hdr", [I], 1, Str, Request),
    kw!("capture.req.method", [], 0, Str, Request),
    kw!("capture.req.uri", [], 0, Str, Request),
    kw!("unique-id", [], 0, Str, Request),
    kw!("prio_class", [], 0, Sint, Request),
    kw!("prio_offset", [], 0, Sint, Request),
    kw!("http_auth", [S], 1, Bool, Request),
    kw!("http_auth_group", [S], 1, Str, Request),
    kw!("http_auth_type", [], 0, Str, Request),
    kw!("http_auth_user", [], 0, Str, Request),
    kw!("http_auth_pass", [], 0, Str, Request),
    kw6!("req.ssl_sni", [], 0, Str, Request),
    kw6!("req.ssl_hello_type", [], 0, Sint, Request),
    kw6!("req_ssl_sni", [], 0, Str, Request),
    kw6!("req_ssl_hello_type", [], 0, Sint, Request),
    kw6!("req.ssl_ver", [], 0, Sint, Request),
    kw6!("req_ssl_ver", [], 0, Sint, Request),
    // response
    kw!("status", [], 0, Sint, Response),
    kw!("res.hdr", [S, I], 0, Str, Response, ResHdr),
    kw!("shdr", [S, I], 0, Str, Response, ResHdr),
    kw!("res.fhdr", [S, I], 0, Str, Response, ResFhdr),
    kw!("res.hdr_cnt", [S], 0, Sint, Response),
    kw!("res.fhdr_cnt", [S], 0, Sint, Response),
    kw!("res.cook", [S], 0, Str, Response, ResCook),
    kw!("scook", [S], 0, Str, Response, ResCook),
    kw!("res.cook_cnt", [S], 0, Sint, Response),
    kw!("scook_cnt", [S], 0, Sint, Response),
    kw!("res.cook_val", [S], 0, Sint, Response),
    kw!("scook_val", [S], 0, Sint, Response),
    kw!("res.ver", [], 0, Str, Response),
    kw!("capture.res.hdr", [I], 1, Str, Response),
    kw6!("res.len", [], 0, Sint, Response),
    kw6!("res.payload", [I, I], 2, Bin, Response),
    kw6!("res.payload_lv", [I, I, S], 2, Bin, Response),
];

macro_rules! counter_kws {
    ($($w:literal),*) => {
        &[$(
            kw!(concat!("sc_", $w), [I, S], 1, Sint, Connection),
            kw!(concat!("sc0_", $w), [S], 0, Sint, Connection),
            kw!(concat!("sc1_", $w), [S], 0, Sint, Connection),
            kw!(concat!("sc2_", $w), [S], 0, Sint, Connection),
            kw!(concat!("src_", $w), [S], 0, Sint, Connection),
        )*]
    };
}

/// The stick-counter fetches: `sc_<what>(N[,table])`, `sc<N>_<what>([table])` read the
/// entry a stream tracks, `src_<what>([table])` the client address's entry.
pub static COUNTER_FETCHES: &[FetchKw] = counter_kws!(
    "conn_cnt",
    "conn_cur",
    "conn_rate",
    "http_req_cnt",
    "http_req_rate",
    "http_err_cnt",
    "http_err_rate",
    "get_gpc0",
    "get_gpc1",
    "get_gpt0",
    "gpc0_rate",
    "gpc1_rate",
    "inc_gpc0",
    "inc_gpc1",
    "clr_gpc0",
    "clr_gpc1",
    "sess_cnt",
    "sess_rate",
    "http_fail_cnt",
    "http_fail_rate",
    "bytes_in_rate",
    "bytes_out_rate",
    "kbytes_in",
    "kbytes_out",
    "trackers"
);

/// The array forms (HAProxy 2.5+): `sc_<what>(IDX,N[,table])`, `src_<what>(IDX[,table])`,
/// and `sc*_tracked`.
pub static COUNTER_ARRAY_FETCHES: &[FetchKw] = &[
    kw!("sc_get_gpt", [I, I, S], 2, Sint, Connection),
    kw!("sc_get_gpc", [I, I, S], 2, Sint, Connection),
    kw!("sc_gpc_rate", [I, I, S], 2, Sint, Connection),
    kw!("sc_inc_gpc", [I, I, S], 2, Sint, Connection),
    kw!("sc_clr_gpc", [I, I, S], 2, Sint, Connection),
    // HAProxy 2.6 wants the table of these (its keywords' mandatory count is 2)
    kw!("src_get_gpt", [I, S], 2, Sint, Connection),
    kw!("src_get_gpc", [I, S], 2, Sint, Connection),
    kw!("src_gpc_rate", [I, S], 2, Sint, Connection),
    kw!("src_inc_gpc", [I, S], 2, Sint, Connection),
    kw!("src_clr_gpc", [I, S], 2, Sint, Connection),
    kw!("src_updt_conn_cnt", [S], 0, Sint, Connection),
    kw!("sc_tracked", [I, S], 1, Bool, Connection),
    kw!("sc0_tracked", [S], 0, Bool, Connection),
    kw!("sc1_tracked", [S], 0, Bool, Connection),
    kw!("sc2_tracked", [S], 0, Bool, Connection),
];

/// A table's own figures: `table_cnt([table])` (entries in use), `table_avl([table])` (free
/// entries); without an argument the table of the proxy the expression is in.
pub static TABLE_FETCHES: &[FetchKw] = &[
    kw!("table_cnt", [S], 0, Sint, Connection),
    kw!("table_avl", [S], 0, Sint, Connection),
];

/// Whether `name` is a stick-counter fetch or a table's figure (answered from the stick
/// tables).
pub fn is_counter(name: &str) -> bool {
    // Every one of them starts so (a test keeps it): the other fetches, which every
    // request's rules evaluate, are told apart without scanning the ~140 names.
    (name.starts_with("sc") || name.starts_with("src_") || name.starts_with("table_"))
        && COUNTER_FETCHES
            .iter()
            .chain(COUNTER_ARRAY_FETCHES)
            .chain(TABLE_FETCHES)
            .any(|k| k.name == name)
}

/// HAProxy 2.6 fetches that fulcrum refuses by name, with the reason its error gives: what
/// rustls keeps to itself.
const REFUSED: &[(&str, &str)] = &[
    (
        "ssl_bc_session_id",
        "rustls does not expose a connection's session id",
    ),
    (
        "ssl_fc_session_id",
        "rustls does not expose a connection's session id",
    ),
    (
        "ssl_bc_session_key",
        "rustls does not expose the master key",
    ),
    (
        "ssl_fc_session_key",
        "rustls does not expose the master key",
    ),
    (
        "ssl_bc_client_random",
        "rustls does not expose the handshake's randoms",
    ),
    (
        "ssl_fc_client_random",
        "rustls does not expose the handshake's randoms",
    ),
    (
        "ssl_bc_server_random",
        "rustls does not expose the handshake's randoms",
    ),
    (
        "ssl_fc_server_random",
        "rustls does not expose the handshake's randoms",
    ),
    (
        "ssl_bc_unique_id",
        "rustls does not expose the Finished message",
    ),
    (
        "ssl_fc_unique_id",
        "rustls does not expose the Finished message",
    ),
    ("ssl_bc_npn", "rustls has no NPN"),
    ("ssl_fc_npn", "rustls has no NPN"),
    ("ssl_bc_err_str", "rustls's errors are not OpenSSL's"),
    ("ssl_fc_err_str", "rustls's errors are not OpenSSL's"),
];

/// Why fulcrum refuses HAProxy's fetch `name`, when it is one it knows and cannot run.
pub fn refused(name: &str) -> Option<&'static str> {
    REFUSED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// The keyword named `name`, if fulcrum knows it.
pub fn lookup(name: &str) -> Option<&'static FetchKw> {
    FETCHES
        .iter()
        .chain(COUNTER_FETCHES)
        .chain(COUNTER_ARRAY_FETCHES)
        .chain(TABLE_FETCHES)
        .find(|k| k.name == name)
}

/// The process-level fetches [`eval`] answers itself (each reads nothing of the stream).
pub const PROCESS_FETCHES: &[&str] = &[
    "always_true",
    "always_false",
    "str",
    "int",
    "bool",
    "ipv4",
    "ipv6",
    "meth",
    "bin",
    "env",
    "date",
    "rand",
    "uuid",
    "var",
    "pid",
    "nbproc",
    "proc",
];

/// Evaluates a process-level fetch here, or asks the caller for a stream-level one.
#[inline]
pub fn eval(f: &Fetch, env: &dyn Env) -> Option<Value> {
    // Every fetch answered here reads nothing of the stream: the others go to the caller
    // without being compared with these names (inline: the caller's call goes straight to
    // the environment, not through this function's frame).
    if f.kw.needs != Needs::Nothing {
        return env.fetch(f);
    }
    eval_here(f, env)
}

/// [`eval`] of a fetch that reads nothing of the stream.
#[inline(never)]
fn eval_here(f: &Fetch, env: &dyn Env) -> Option<Value> {
    let arg = |i: usize| f.args.get(i);
    match f.kw.name {
        "always_true" => Some(Value::Bool(true)),
        "always_false" => Some(Value::Bool(false)),
        // `str()` / `str`: the empty string, as HAProxy.
        "str" => Some(Value::Str(arg(0).map_or(&b""[..], Arg::as_bytes).to_vec())),
        "int" => Some(Value::Sint(arg(0)?.as_int())),
        "bool" => Some(Value::Bool(matches!(arg(0)?.as_bytes(), b"true" | b"1"))),
        "ipv4" | "ipv6" | "meth" => {
            crate::cast::cast(Value::Str(arg(0)?.as_bytes().to_vec()), f.kw.out)
        }
        "bin" => crate::conv::unhex(arg(0)?.as_bytes()).map(Value::Bin),
        "env" => {
            let name = std::str::from_utf8(arg(0)?.as_bytes()).ok()?;
            env.env_var(name).map(|v| Value::Str(v.into_bytes()))
        }
        "date" => {
            let offset = arg(0).map_or(0, Arg::as_int);
            let unit = arg(1).map_or(&b"s"[..], Arg::as_bytes);
            let now = env.now_unix();
            Some(Value::Sint(match unit {
                b"ms" => now * 1000 + offset,
                b"us" => now * 1_000_000 + offset,
                _ => now + offset,
            }))
        }
        "rand" => {
            let r = u64::from(env.random());
            Some(Value::Sint(match arg(0) {
                Some(Arg::Int(range)) if *range > 0 => ((r * (*range as u64)) >> 32) as i64,
                _ => r as i64,
            }))
        }
        "uuid" => Some(Value::Str(uuid4(env).into_bytes())),
        "var" => match arg(0)? {
            Arg::Var(scope, name) => env
                .var(*scope, name)
                .or_else(|| arg(1).map(|d| Value::Str(d.as_bytes().to_vec()))),
            _ => None,
        },
        "pid" => Some(Value::Sint(i64::from(std::process::id()))),
        "nbproc" | "proc" => Some(Value::Sint(1)),
        _ => env.fetch(f),
    }
}

/// Calls `each` with every value of the fetch (stream fetches with several values give them
/// all, through [`Env::fetch_each`]) until it returns true; whether it did.
pub fn each(f: &Fetch, env: &dyn Env, each: &mut dyn FnMut(Value) -> bool) -> bool {
    if f.kw.needs == Needs::Nothing {
        eval(f, env).is_some_and(each)
    } else {
        env.fetch_each(f, each)
    }
}

/// A version 4 UUID from the caller's random source, as HAProxy's `uuid` writes it.
fn uuid4(env: &dyn Env) -> String {
    let mut b = [0u8; 16];
    for chunk in b.chunks_mut(4) {
        chunk.copy_from_slice(&env.random().to_be_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `eval` answers these itself and hands every fetch that reads the stream to the
    /// caller first: each of them must read nothing of it.
    #[test]
    fn fetches_answered_here_read_nothing_of_the_stream() {
        for name in PROCESS_FETCHES {
            let kw = lookup(name).expect(name);
            assert_eq!(kw.needs, Needs::Nothing, "{name}");
        }
    }

    /// Each fetch answered by number is the one its name says (the environment's arms for
    /// an id answer that name's fetch), and every other fetch is `Other`.
    #[test]
    fn ids_name_their_fetches() {
        let named = [
            ("var", Id::Var),
            ("src", Id::Src),
            ("src_port", Id::SrcPort),
            ("dst", Id::Dst),
            ("dst_port", Id::DstPort),
            ("method", Id::Method),
            ("path", Id::Path),
            ("pathq", Id::Pathq),
            ("url", Id::Url),
            ("query", Id::Query),
            ("req.hdr", Id::ReqHdr),
            ("hdr", Id::ReqHdr),
            ("req.fhdr", Id::ReqFhdr),
            ("res.hdr", Id::ResHdr),
            ("shdr", Id::ResHdr),
            ("res.fhdr", Id::ResFhdr),
            ("req.cook", Id::ReqCook),
            ("cook", Id::ReqCook),
            ("res.cook", Id::ResCook),
            ("scook", Id::ResCook),
        ];
        let all = FETCHES
            .iter()
            .chain(COUNTER_FETCHES)
            .chain(COUNTER_ARRAY_FETCHES)
            .chain(TABLE_FETCHES);
        for k in all {
            let want = named
                .iter()
                .find(|(n, _)| *n == k.name)
                .map_or(Id::Other, |x| x.1);
            assert_eq!(k.id, want, "{}", k.name);
        }
    }

    #[test]
    fn counter_fetches_start_as_is_counter_expects() {
        let all = COUNTER_FETCHES
            .iter()
            .chain(COUNTER_ARRAY_FETCHES)
            .chain(TABLE_FETCHES);
        for k in all {
            assert!(is_counter(k.name), "{}", k.name);
        }
        for k in FETCHES {
            assert!(!is_counter(k.name), "{}", k.name);
        }
    }
}
