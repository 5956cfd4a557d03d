//! Converters: their keywords (input type, arguments, output type) and implementations, after
//! HAProxy 2.6's configuration manual (section 7.3.1). Each is a plain function of the value,
//! its compiled arguments and the environment (for variables and stick tables).

use crate::conv_table::{table_array_conv, table_conv, table_conv_or};
pub use crate::encode::unhex;
use crate::encode::{base64, unbase64, url_enc};
use crate::env::Env;
use crate::fetch::{Arg, ArgKind};
use crate::map::Map;
use crate::value::{Type, Value};
use regex::bytes::Regex;
use std::sync::{Arc, RwLock};

/// A compiled converter: its keyword, arguments and what compiling them built.
#[derive(Debug, Clone)]
pub struct Conv {
    pub kw: &'static ConvKw,
    pub args: Vec<Arg>,
    pub regex: Option<Regex>,
    pub map: Option<Arc<RwLock<Map>>>,
}

pub type ConvFn = fn(Value, &Conv, &dyn Env) -> Option<Value>;

#[derive(Debug)]
pub struct ConvKw {
    pub name: &'static str,
    pub input: Type,
    pub args: &'static [ArgKind],
    pub min: usize,
    pub out: Type,
    pub run: ConvFn,
}

const S: ArgKind = ArgKind::Str;
const I: ArgKind = ArgKind::Int;
/// An integer or a variable name (`add(3)`, `add(txn.n)`).
const N: ArgKind = ArgKind::Var;

macro_rules! kw {
    ($name:expr, $in:ident, [$($a:expr),*], $min:expr, $out:ident, $f:expr) => {
        ConvKw { name: $name, input: Type::$in, args: &[$($a),*], min: $min, out: Type::$out, run: $f }
    };
}

pub static CONVERTERS: &[ConvKw] = &[
    kw!("lower", Str, [], 0, Str, |v, _, _| in_place(
        v,
        crate::ascii_case::lower
    )),
    kw!("upper", Str, [], 0, Str, |v, _, _| in_place(
        v,
        crate::ascii_case::upper
    )),
    kw!("length", Str, [], 0, Sint, |v, _, _| Some(Value::Sint(
        bytes(&v)?.len() as i64
    ))),
    // HAProxy 2.4+: `ltrim(CHARS)`/`rtrim(CHARS)` drop those characters from one end,
    // `cut_crlf` cuts at the first CR or LF.
    kw!("ltrim", Str, [S], 1, Str, |v, c, _| {
        let set = c.args[0].as_bytes();
        bytes_map(v, |s| {
            let n = s.iter().take_while(|b| set.contains(b)).count();
            s[n..].to_vec()
        })
    }),
    kw!("rtrim", Str, [S], 1, Str, |v, c, _| {
        let set = c.args[0].as_bytes();
        bytes_map(v, |s| {
            let n = s.iter().rev().take_while(|b| set.contains(b)).count();
            s[..s.len() - n].to_vec()
        })
    }),
    kw!("cut_crlf", Str, [], 0, Str, |v, _, _| bytes_map(v, |s| {
        let end = s.iter().position(|b| *b == b'\r' || *b == b'\n');
        s[..end.unwrap_or(s.len())].to_vec()
    })),
    kw!("field", Str, [I, S, I], 2, Str, |v, c, _| field(
        v, c, false
    )),
    kw!("word", Str, [I, S, I], 2, Str, |v, c, _| field(v, c, true)),
    kw!("regsub", Str, [S, S, S], 2, Str, regsub),
    kw!("url_dec", Str, [I], 0, Str, url_dec),
    kw!("url_enc", Str, [S], 0, Str, |v, _, _| bytes_map(v, url_enc)),
    kw!("base64", Bin, [], 0, Str, |v, _, _| bytes_map(v, base64)),
    kw!("b64dec", Str, [], 0, Bin, |v, _, _| Some(Value::Bin(
        unbase64(&bytes(&v)?)?
    ))),
    kw!("hex", Bin, [], 0, Str, |v, _, _| bytes_map(v, |s| s
        .iter()
        .flat_map(|b| format!("{b:02X}").into_bytes())
        .collect())),
    kw!("hex2i", Str, [], 0, Sint, |v, _, _| i64::from_str_radix(
        std::str::from_utf8(&bytes(&v)?).ok()?,
        16
    )
    .ok()
    .map(Value::Sint)),
    kw!("bytes", Bin, [I, I], 1, Bin, |v, c, _| {
        let s = bytes(&v)?;
        let off = usize::try_from(c.args[0].as_int()).ok()?;
        let len = c
            .args
            .get(1)
            .map(|a| usize::try_from(a.as_int()).unwrap_or(0));
        let rest = s.get(off..)?;
        Some(Value::Bin(
            rest[..len.unwrap_or(rest.len()).min(rest.len())].to_vec(),
        ))
    }),
    kw!("strcmp", Str, [N], 1, Sint, |v, c, e| {
        // HAProxy: memcmp over the shorter length (the first differing bytes' difference:
        // `str(a),strcmp(txn.n)` with n=3 is 46), else -1/0/1 by length.
        let other = var_arg(&c.args[0], e)?.to_bytes();
        let mine = bytes(&v)?;
        let diff = mine.iter().zip(&other).find(|(a, b)| a != b);
        Some(Value::Sint(match diff {
            Some((a, b)) => i64::from(*a) - i64::from(*b),
            None => (mine.len() as i64 - other.len() as i64).signum(),
        }))
    }),
    kw!("concat", Str, [S, N, S], 0, Str, |v, c, e| {
        let mut out = bytes(&v)?.into_owned();
        out.extend_from_slice(c.args.first().map_or(&b""[..], Arg::as_bytes));
        if let Some(a) = c.args.get(1) {
            if let Some(val) = var_arg(a, e) {
                out.extend(val.to_bytes());
            }
        }
        out.extend_from_slice(c.args.get(2).map_or(&b""[..], Arg::as_bytes));
        Some(Value::Str(out))
    }),
    // HAProxy 2.6 caps the arithmetic at the 64-bit limits (`arith_add`...); a division by
    // 0 (or of the lowest value by -1) gives the highest value.
    kw!("add", Sint, [N], 1, Sint, |v, c, e| arith(
        v,
        c,
        e,
        |a, b| Some(a.saturating_add(b))
    )),
    kw!("sub", Sint, [N], 1, Sint, |v, c, e| arith(
        v,
        c,
        e,
        |a, b| Some(a.saturating_sub(b))
    )),
    kw!("mul", Sint, [N], 1, Sint, |v, c, e| arith(
        v,
        c,
        e,
        |a, b| Some(a.saturating_mul(b))
    )),
    kw!("div", Sint, [N], 1, Sint, |v, c, e| arith(
        v,
        c,
        e,
        |a, b| Some(a.checked_div(b).unwrap_or(i64::MAX))
    )),
    kw!("mod", Sint, [N], 1, Sint, |v, c, e| arith(
        v,
        c,
        e,
        |a, b| Some(if b == 0 { 0 } else { a.wrapping_rem(b) })
    )),
    kw!("and", Sint, [N], 1, Sint, |v, c, e| arith(
        v,
        c,
        e,
        |a, b| Some(a & b)
    )),
    kw!("or", Sint, [N], 1, Sint, |v, c, e| arith(
        v,
        c,
        e,
        |a, b| Some(a | b)
    )),
    kw!("xor", Sint, [N], 1, Sint, |v, c, e| arith(
        v,
        c,
        e,
        |a, b| Some(a ^ b)
    )),
    kw!("neg", Sint, [], 0, Sint, |v, _, _| Some(Value::Sint(
        int(&v)?.saturating_neg()
    ))),
    kw!("cpl", Sint, [], 0, Sint, |v, _, _| Some(Value::Sint(!int(
        &v
    )?))),
    kw!("not", Sint, [], 0, Bool, |v, _, _| Some(Value::Bool(
        int(&v)? == 0
    ))),
    kw!("bool", Sint, [], 0, Bool, |v, _, _| Some(Value::Bool(
        int(&v)? != 0
    ))),
    kw!("odd", Sint, [], 0, Bool, |v, _, _| Some(Value::Bool(
        int(&v)? & 1 == 1
    ))),
    kw!("even", Sint, [], 0, Bool, |v, _, _| Some(Value::Bool(
        int(&v)? & 1 == 0
    ))),
    kw!("ipmask", Addr, [S, S], 1, Addr, ipmask),
    kw!("sdbm", Bin, [I], 0, Sint, |v, c, _| hashed(
        v,
        c,
        crate::hash::sdbm
    )),
    kw!("djb2", Bin, [I], 0, Sint, |v, c, _| hashed(
        v,
        c,
        crate::hash::djb2
    )),
    kw!("wt6", Bin, [I], 0, Sint, |v, c, _| hashed(
        v,
        c,
        crate::hash::wt6
    )),
    kw!("crc32", Bin, [I], 0, Sint, |v, c, _| hashed(
        v,
        c,
        crate::hash::crc32
    )),
    kw!("utime", Sint, [S, I], 1, Str, |v, c, _| {
        let t = int(&v)?.checked_add(c.args.get(1).map_or(0, Arg::as_int))?;
        Some(Value::Str(crate::time::strftime_utc(
            c.args[0].as_bytes(),
            t,
        )))
    }),
    kw!("ltime", Sint, [S, I], 1, Str, |v, c, _| {
        let t = int(&v)?.checked_add(c.args.get(1).map_or(0, Arg::as_int))?;
        Some(Value::Str(crate::time::strftime_local(
            c.args[0].as_bytes(),
            t,
        )))
    }),
    kw!("map", Str, [S, S], 1, Str, map_lookup),
    kw!("in_table", Any, [S], 1, Bool, table_conv),
    kw!("table_bytes_in_rate", Any, [S], 1, Sint, table_conv),
    kw!("table_bytes_out_rate", Any, [S], 1, Sint, table_conv),
    kw!("table_conn_cnt", Any, [S], 1, Sint, table_conv),
    kw!("table_conn_cur", Any, [S], 1, Sint, table_conv),
    kw!("table_conn_rate", Any, [S], 1, Sint, table_conv),
    kw!("table_gpt0", Any, [S], 1, Sint, table_conv),
    kw!("table_gpc0", Any, [S], 1, Sint, table_conv),
    kw!("table_gpc0_rate", Any, [S], 1, Sint, table_conv),
    kw!("table_gpc1", Any, [S], 1, Sint, table_conv),
    kw!("table_http_err_cnt", Any, [S], 1, Sint, table_conv),
    kw!("table_http_err_rate", Any, [S], 1, Sint, table_conv),
    kw!("table_http_req_cnt", Any, [S], 1, Sint, table_conv),
    kw!("table_http_req_rate", Any, [S], 1, Sint, table_conv),
    kw!("table_kbytes_in", Any, [S], 1, Sint, table_conv),
    kw!("table_kbytes_out", Any, [S], 1, Sint, table_conv),
    kw!("table_server_id", Any, [S], 1, Sint, table_conv),
    kw!("table_trackers", Any, [S], 1, Sint, table_conv),
    kw!("table_gpc1_rate", Any, [S], 1, Sint, table_conv),
    kw!("table_sess_cnt", Any, [S], 1, Sint, table_conv),
    kw!("table_sess_rate", Any, [S], 1, Sint, table_conv),
    kw!("table_http_fail_cnt", Any, [S], 1, Sint, table_conv),
    kw!("table_http_fail_rate", Any, [S], 1, Sint, table_conv),
    kw!("table_expire", Any, [S, I], 1, Sint, table_conv_or),
    kw!("table_idle", Any, [S, I], 1, Sint, table_conv_or),
    kw!("table_gpt", Any, [I, S], 2, Sint, table_array_conv),
    kw!("table_gpc", Any, [I, S], 2, Sint, table_array_conv),
    kw!("table_gpc_rate", Any, [I, S], 2, Sint, table_array_conv),
];

/// Map converters: `map_<match>[_<output>]`, all compiled through this one table entry
/// shape; their input type follows the match (`ip` → address, `int` → integer).
pub fn map_kw(name: &str) -> Option<&'static ConvKw> {
    MAP_CONVERTERS.iter().find(|k| k.name == name)
}

macro_rules! maps {
    ($($name:expr => $in:ident, $out:ident;)*) => {
        pub static MAP_CONVERTERS: &[ConvKw] = &[
            $(ConvKw { name: $name, input: Type::$in, args: &[S, S], min: 1, out: Type::$out, run: map_lookup },)*
        ];
    };
}

maps! {
    "map_str" => Str, Str; "map_str_int" => Str, Sint; "map_str_ip" => Str, Addr;
    "map_beg" => Str, Str; "map_beg_int" => Str, Sint; "map_beg_ip" => Str, Addr;
    "map_sub" => Str, Str; "map_sub_int" => Str, Sint; "map_sub_ip" => Str, Addr;
    "map_dir" => Str, Str; "map_dir_int" => Str, Sint; "map_dir_ip" => Str, Addr;
    "map_dom" => Str, Str; "map_dom_int" => Str, Sint; "map_dom_ip" => Str, Addr;
    "map_end" => Str, Str; "map_end_int" => Str, Sint; "map_end_ip" => Str, Addr;
    "map_reg" => Str, Str; "map_reg_int" => Str, Sint; "map_reg_ip" => Str, Addr;
    "map_regm" => Str, Str; "map_regm_int" => Str, Sint; "map_regm_ip" => Str, Addr;
    "map_ip" => Addr, Str; "map_ip_int" => Addr, Sint; "map_ip_ip" => Addr, Addr;
    "map_int" => Sint, Str; "map_int_int" => Sint, Sint; "map_int_ip" => Sint, Addr;
}

/// The keyword named `name`, if fulcrum runs it.
pub fn lookup(name: &str) -> Option<&'static ConvKw> {
    CONVERTERS
        .iter()
        .chain(crate::conv_more::MORE_CONVERTERS)
        .chain(crate::conv_codec::CODEC_CONVERTERS)
        .chain(crate::conv_json::JSON_CONVERTERS)
        .chain(crate::conv_var::VAR_CONVERTERS)
        .find(|k| k.name == name)
        .or_else(|| map_kw(name))
}

/// The value's bytes, borrowed where it holds some (no copy per converter).
fn bytes(v: &Value) -> Option<std::borrow::Cow<'_, [u8]>> {
    match v {
        Value::Str(s) | Value::Bin(s) | Value::Meth(s) => Some(std::borrow::Cow::Borrowed(s)),
        other => Some(std::borrow::Cow::Owned(other.to_bytes())),
    }
}

fn int(v: &Value) -> Option<i64> {
    match crate::cast::cast(v.clone(), Type::Sint)? {
        Value::Sint(n) => Some(n),
        _ => None,
    }
}

/// A string converter that rewrites the bytes where they are (its input is a string).
fn in_place(v: Value, f: impl FnOnce(&mut [u8])) -> Option<Value> {
    match v {
        Value::Str(mut s) => {
            f(&mut s);
            Some(Value::Str(s))
        }
        other => bytes_map(other, |s| {
            let mut s = s.to_vec();
            f(&mut s);
            s
        }),
    }
}

fn bytes_map(v: Value, f: impl FnOnce(&[u8]) -> Vec<u8>) -> Option<Value> {
    Some(Value::Str(f(&bytes(&v)?)))
}

/// An argument that is an integer literal or a variable (`add(txn.n)`).
fn var_arg(a: &Arg, env: &dyn Env) -> Option<Value> {
    match a {
        Arg::Int(n) => Some(Value::Sint(*n)),
        Arg::Var(scope, name) => env.var(*scope, name),
        Arg::Str(s) => Some(Value::Str(s.clone())),
    }
}

fn arith(v: Value, c: &Conv, env: &dyn Env, f: fn(i64, i64) -> Option<i64>) -> Option<Value> {
    let b = int(&var_arg(&c.args[0], env)?)?;
    Some(Value::Sint(f(int(&v)?, b)?))
}

fn hashed(v: Value, c: &Conv, f: fn(&[u8]) -> u32) -> Option<Value> {
    let h = hash_of(&bytes(&v)?, c, f);
    crate::spare::give_value(v);
    Some(h)
}

/// A hash converter's value of `b`, `full_hash`ed when its argument asks for it.
fn hash_of(b: &[u8], c: &Conv, f: fn(&[u8]) -> u32) -> Value {
    let h = f(b);
    let avalanche = c.args.first().is_some_and(|a| a.as_int() != 0);
    Value::Sint(i64::from(if avalanche {
        crate::hash::full_hash(h)
    } else {
        h
    }))
}

/// A converter that reads its input's bytes and gives a number (`length`, the hashes): it
/// reads a string its owner lends ([`on_lent`]) as well as a copy of it. Found when the
/// expression is compiled, so an evaluation matches no name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LentConv {
    Length,
    Crc32,
    Djb2,
    Sdbm,
    Wt6,
}

/// Converter `c` as a [`LentConv`], if it is one.
pub(crate) fn reads_lent(c: &Conv) -> Option<LentConv> {
    Some(match c.kw.name {
        "length" => LentConv::Length,
        "crc32" => LentConv::Crc32,
        "djb2" => LentConv::Djb2,
        "sdbm" => LentConv::Sdbm,
        "wt6" => LentConv::Wt6,
        _ => return None,
    })
}

/// What converter `c` (which [`reads_lent`] found to be `which`) gives for a string of the
/// bytes `b`.
#[inline]
pub(crate) fn on_lent(c: &Conv, which: LentConv, b: &[u8]) -> Option<Value> {
    Some(match which {
        LentConv::Length => Value::Sint(b.len() as i64),
        LentConv::Crc32 => hash_of(b, c, crate::hash::crc32),
        LentConv::Djb2 => hash_of(b, c, crate::hash::djb2),
        LentConv::Sdbm => hash_of(b, c, crate::hash::sdbm),
        LentConv::Wt6 => hash_of(b, c, crate::hash::wt6),
    })
}

/// `field` and `word`: 1-based index (negative: from the end), delimiters, field count.
/// `word` skips empty words (consecutive delimiters).
fn field(v: Value, c: &Conv, words: bool) -> Option<Value> {
    let s = bytes(&v)?;
    let index = c.args[0].as_int();
    let delims = c.args[1].as_bytes();
    let count = c.args.get(2).map_or(1, Arg::as_int);
    // Each field's (start, end) in `s`: what is between them is kept as it was, as HAProxy
    // returns the span from the first field to the last (`word(2,_,0)` of `f1_f2_f3__f5`
    // is `f2_f3__f5`).
    let mut parts: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for (i, b) in s.iter().enumerate() {
        if delims.contains(b) {
            parts.push((start, i));
            start = i + 1;
        }
    }
    parts.push((start, s.len()));
    if words {
        parts.retain(|(a, b)| a < b);
    }
    let n = parts.len() as i64;
    let (from, to) = if index > 0 {
        let from = index - 1;
        let to = if count <= 0 { n } else { (from + count).min(n) };
        (from, to)
    } else if index < 0 {
        let to = n + index + 1;
        let from = if count <= 0 { 0 } else { (to - count).max(0) };
        (from, to)
    } else {
        return None;
    };
    if from >= n || to <= from || from < 0 {
        return Some(Value::Str(Vec::new()));
    }
    let first = parts[from as usize].0;
    let last = parts[to as usize - 1].1;
    Some(Value::Str(s[first..last].to_vec()))
}

fn regsub(v: Value, c: &Conv, _: &dyn Env) -> Option<Value> {
    let s = bytes(&v)?;
    let re = c.regex.as_ref()?;
    let subst = c.args[1].as_bytes();
    let global = c.args.get(2).is_some_and(|f| f.as_bytes().contains(&b'g'));
    let mut out = Vec::new();
    let mut last = 0;
    for caps in re.captures_iter(&s) {
        let Some(m) = caps.get(0) else { break };
        out.extend_from_slice(&s[last..m.start()]);
        let mut i = 0;
        while i < subst.len() {
            if subst[i] == b'\\' && i + 1 < subst.len() && subst[i + 1].is_ascii_digit() {
                let g = usize::from(subst[i + 1] - b'0');
                if let Some(m) = caps.get(g) {
                    out.extend_from_slice(m.as_bytes());
                }
                i += 2;
            } else {
                out.push(subst[i]);
                i += 1;
            }
        }
        last = m.end();
        if !global {
            break;
        }
    }
    out.extend_from_slice(&s[last..]);
    Some(Value::Str(out))
}

fn url_dec(v: Value, c: &Conv, _: &dyn Env) -> Option<Value> {
    let s = bytes(&v)?;
    let mut in_query = c.args.first().is_some_and(|a| a.as_int() != 0);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 3;
                continue;
            }
            b'?' => {
                in_query = true;
                out.push(b'?');
            }
            b'+' if in_query => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    Some(Value::Str(out))
}

fn ipmask(v: Value, c: &Conv, _: &dyn Env) -> Option<Value> {
    fn mask4(a: &[u8]) -> Option<u32> {
        let t = std::str::from_utf8(a).ok()?;
        if let Ok(bits) = t.parse::<u32>() {
            return (bits <= 32).then(|| {
                if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                }
            });
        }
        t.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
    }
    match v {
        Value::Ipv4(a) => Some(Value::Ipv4(
            (u32::from(a) & mask4(c.args[0].as_bytes())?).into(),
        )),
        Value::Ipv6(a) => {
            let bits: u32 = std::str::from_utf8(c.args.get(1)?.as_bytes())
                .ok()?
                .parse()
                .ok()?;
            let m = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits.min(128))
            };
            Some(Value::Ipv6((u128::from(a) & m).into()))
        }
        _ => None,
    }
}

fn map_lookup(v: Value, c: &Conv, _: &dyn Env) -> Option<Value> {
    let map = c.map.as_ref()?;
    let out = {
        let m = map.read().ok()?;
        let found = m.find_value(&v);
        // No key matched: the default value, when there is one.
        let Some(value) = found
            .as_deref()
            .or_else(|| c.args.get(1).map(Arg::as_bytes))
        else {
            crate::spare::give_value(v);
            return None;
        };
        // written into the key's own buffer (a string's): none taken from the pool nor given
        // back
        match v {
            Value::Str(mut b) | Value::Bin(mut b) | Value::Meth(mut b) => {
                b.clear();
                b.extend_from_slice(value);
                b
            }
            _ => crate::spare::copy(value),
        }
    };
    crate::cast::cast(Value::Str(out), c.kw.out)
}
