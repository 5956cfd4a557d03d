//! Converters that re-encode bytes, after HAProxy 2.6's `sample.c`: `be2dec` and `be2hex`
//! (big-endian chunks as decimal or hex, with a separator), `ub64enc`/`ub64dec` (base64url
//! without padding) and `secure_memcmp` (a constant-time comparison with a variable).
//! [`crate::conv::lookup`] finds them after its own table; [`check_args`] refuses at compile
//! time the arguments HAProxy refuses at startup.

use crate::conv::{Conv, ConvKw};
use crate::env::Env;
use crate::fetch::{Arg, ArgKind};
use crate::value::{Type, Value};

const S: ArgKind = ArgKind::Str;
const I: ArgKind = ArgKind::Int;
const V: ArgKind = ArgKind::Var;

pub(crate) static CODEC_CONVERTERS: &[ConvKw] = &[
    ConvKw {
        name: "be2dec",
        input: Type::Bin,
        args: &[S, I, I],
        min: 2,
        out: Type::Str,
        run: be2dec,
    },
    ConvKw {
        name: "be2hex",
        input: Type::Bin,
        args: &[S, I, I],
        min: 0,
        out: Type::Str,
        run: be2hex,
    },
    ConvKw {
        name: "ub64enc",
        input: Type::Bin,
        args: &[],
        min: 0,
        out: Type::Str,
        run: |v, _, _| {
            let b64 = crate::encode::base64(&bytes(&v));
            Some(Value::Str(
                b64.into_iter()
                    .filter(|&c| c != b'=')
                    .map(|c| match c {
                        b'+' => b'-',
                        b'/' => b'_',
                        c => c,
                    })
                    .collect(),
            ))
        },
    },
    ConvKw {
        name: "ub64dec",
        input: Type::Str,
        args: &[],
        min: 0,
        out: Type::Bin,
        run: |v, _, _| {
            let s = bytes(&v);
            if s.len() % 4 == 1 {
                return None;
            }
            let mut std: Vec<u8> = s
                .iter()
                .map(|&c| match c {
                    b'-' => b'+',
                    b'_' => b'/',
                    c => c,
                })
                .collect();
            while !std.len().is_multiple_of(4) {
                std.push(b'=');
            }
            crate::encode::unbase64(&std).map(Value::Bin)
        },
    },
    // `secure_memcmp(var)`: whether the input equals the variable's bytes, compared in a time
    // that does not depend on where they differ; no value without the variable.
    ConvKw {
        name: "secure_memcmp",
        input: Type::Bin,
        args: &[V],
        min: 1,
        out: Type::Bool,
        run: secure_memcmp,
    },
];

/// HAProxy's startup checks of these converters' arguments (`FILE:LINE` errors there too).
pub(crate) fn check_args(name: &str, args: &[Arg]) -> Result<(), String> {
    let int = |i: usize| args.get(i).map_or(0, Arg::as_int);
    let sep = args.first().map_or(0, |a| a.as_bytes().len());
    match name {
        "be2dec" => {
            if !(1..=8).contains(&int(1)) {
                return Err(format!("chunk_size out of [1..8] range ({})", int(1)));
            }
            truncate(int(2))
        }
        "be2hex" => {
            if int(1) <= 0 && (sep > 0 || int(2) != 0) {
                return Err(format!("chunk_size needs to be positive ({})", int(1)));
            }
            truncate(int(2))
        }
        _ => Ok(()),
    }
}

fn truncate(t: i64) -> Result<(), String> {
    if t == 0 || t == 1 {
        Ok(())
    } else {
        Err(format!("Unsupported truncate value ({t})"))
    }
}

fn bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Str(s) | Value::Bin(s) | Value::Meth(s) => s.clone(),
        other => other.to_bytes(),
    }
}

/// Where chunking stops: with `truncate`, before an incomplete last chunk.
fn last(len: usize, chunk: usize, truncate: bool) -> usize {
    if truncate {
        (len + 1).saturating_sub(chunk)
    } else {
        len
    }
}

fn be2dec(v: Value, c: &Conv, _: &dyn Env) -> Option<Value> {
    let data = bytes(&v);
    let sep = c.args[0].as_bytes();
    let chunk = usize::try_from(c.args[1].as_int()).ok()?.max(1);
    let end = last(
        data.len(),
        chunk,
        c.args.get(2).is_some_and(|t| t.as_int() == 1),
    );
    let mut out = Vec::new();
    let mut ptr = 0;
    while ptr < end {
        if ptr > 0 {
            out.extend_from_slice(sep);
        }
        let mut n: u64 = 0;
        for &b in data[ptr..].iter().take(chunk) {
            n = (n << 8).wrapping_add(u64::from(b));
            ptr += 1;
        }
        out.extend_from_slice(n.to_string().as_bytes());
    }
    Some(Value::Str(out))
}

fn be2hex(v: Value, c: &Conv, _: &dyn Env) -> Option<Value> {
    let data = bytes(&v);
    let sep = c.args.first().map_or(&b""[..], Arg::as_bytes);
    let truncate = c.args.get(2).is_some_and(|t| t.as_int() == 1);
    let mut chunk = usize::try_from(c.args.get(1).map_or(0, Arg::as_int)).unwrap_or(0);
    if (sep.is_empty() && !truncate) || chunk == 0 {
        chunk = data.len().max(1);
    }
    let end = last(data.len(), chunk, truncate);
    let mut out = Vec::new();
    let mut ptr = 0;
    while ptr < end {
        if ptr > 0 {
            out.extend_from_slice(sep);
        }
        for &b in data[ptr..].iter().take(chunk) {
            out.extend_from_slice(format!("{b:02X}").as_bytes());
            ptr += 1;
        }
    }
    Some(Value::Str(out))
}

fn secure_memcmp(v: Value, c: &Conv, env: &dyn Env) -> Option<Value> {
    let Arg::Var(scope, name) = &c.args[0] else {
        return None;
    };
    let other = env.var(*scope, name)?.to_bytes();
    let mine = bytes(&v);
    if mine.len() != other.len() {
        return Some(Value::Bool(false));
    }
    let diff = mine.iter().zip(&other).fold(0u8, |d, (a, b)| d | (a ^ b));
    Some(Value::Bool(diff == 0))
}

#[cfg(test)]
mod tests {
    use crate::fetch::{Arg, Fetch};
    use crate::{Scope, Value};

    struct Vars;
    impl crate::Env for Vars {
        fn fetch(&self, _: &Fetch) -> Option<Value> {
            None
        }
        fn var(&self, _: Scope, name: &crate::VarName) -> Option<Value> {
            (*name == "h").then(|| Value::Bin(b"abc".to_vec()))
        }
        fn now_unix(&self) -> i64 {
            0
        }
        fn random(&self) -> u32 {
            0
        }
    }

    fn run(name: &str, input: &[u8], args: Vec<Arg>) -> Option<Value> {
        let kw = crate::conv::lookup(name).expect("known converter");
        super::check_args(name, &args).expect("valid arguments");
        let c = crate::conv::Conv {
            kw,
            args,
            regex: None,
            map: None,
        };
        (kw.run)(Value::Bin(input.to_vec()), &c, &Vars)
    }

    fn s(v: &str) -> Option<Value> {
        Some(Value::Str(v.as_bytes().to_vec()))
    }

    /// HAProxy's reg-tests `converter/be2dec.vtc` and the manual's examples.
    #[test]
    fn as_haproxy_reg_tests() {
        let a = |sep: &str, n: i64, t: Option<i64>| {
            let mut v = vec![Arg::Str(sep.as_bytes().to_vec()), Arg::Int(n)];
            v.extend(t.map(Arg::Int));
            v
        };
        assert_eq!(run("be2dec", b"", a(":", 1, None)), s(""));
        assert_eq!(
            run("be2dec", b"0123456789", a(":", 1, None)),
            s("48:49:50:51:52:53:54:55:56:57")
        );
        assert_eq!(
            run("be2dec", b"0123456789", a("-", 3, None)),
            s("3158322-3355701-3553080-57")
        );
        assert_eq!(
            run("be2dec", b"0123456789", a("::", 3, Some(1))),
            s("3158322::3355701::3553080")
        );
        assert_eq!(run("be2hex", b"\x01\x02\xab", vec![]), s("0102AB"));
        assert_eq!(
            run("be2hex", b"\x01\x02\xab", a(":", 1, None)),
            s("01:02:AB")
        );
        assert_eq!(
            run("be2hex", b"\x01\x02\xab", a(":", 2, Some(1))),
            s("0102")
        );
        assert_eq!(
            run("ub64enc", b"\x14\xfb\x9c\x03\xd9\x7f\x12\xd9\x7e", vec![]),
            s("FPucA9l_Etl-")
        );
        assert_eq!(run("ub64enc", b"fo", vec![]), s("Zm8"));
        let dec = |t: &str| run("ub64dec", t.as_bytes(), vec![]);
        assert_eq!(dec("Zm9vYmE"), Some(Value::Bin(b"fooba".to_vec())));
        assert_eq!(
            dec("FPucA9l_Etl-"),
            Some(Value::Bin(b"\x14\xfb\x9c\x03\xd9\x7f\x12\xd9\x7e".to_vec()))
        );
        let var = |n: &str| vec![Arg::Var(Scope::Txn, crate::VarName::new(n))];
        assert_eq!(
            run("secure_memcmp", b"abc", var("h")),
            Some(Value::Bool(true))
        );
        assert_eq!(
            run("secure_memcmp", b"abd", var("h")),
            Some(Value::Bool(false))
        );
        assert_eq!(
            run("secure_memcmp", b"ab", var("h")),
            Some(Value::Bool(false))
        );
        assert_eq!(run("secure_memcmp", b"abc", var("none")), None);
        assert!(super::check_args("be2dec", &a(":", 9, None)).is_err());
        assert!(super::check_args("be2dec", &a(":", 1, Some(2))).is_err());
        assert!(super::check_args("be2hex", &a(":", 0, None)).is_err());
    }
}
