//! `json_query(PATH[,int])`, after HAProxy 2.6's `sample_conv_json_query` (mjson): the value
//! at a `$.key.key[N]` path of a JSON text — a string unescaped, a number written as C's `%g`
//! (or an integer with `int`), `true`/`false` as a boolean; an array, an object, `null` or
//! no match has no value (as haproxy 2.6.12 answers, measured). Parsed with serde_json.
//!
//! `json([ascii|utf8|utf8s|utf8p|utf8ps])`: the input escaped as a JSON string's content, as
//! HAProxy 2.6's `sample_conv_json`: `"` `\` `/` and the C escapes by name, any other
//! character below 0x20 or above 0x7e as `\uXXXX`. `ascii` (the default) takes each byte as
//! a character; the UTF-8 decoders take UTF-8 characters and, on a bad sequence, a value out
//! of range or above 0xffff (which `\uXXXX` cannot say), give no value, or (`s`) leave the
//! character out; an overlong form is such an error too, but for the `p` decoders, which
//! take its value.

use crate::conv::{Conv, ConvKw};
use crate::env::Env;
use crate::fetch::{Arg, ArgKind};
use crate::value::{Type, Value};
use serde_json::Value as Json;

pub(crate) static JSON_CONVERTERS: &[ConvKw] = &[
    ConvKw {
        name: "json_query",
        input: Type::Str,
        args: &[ArgKind::Str, ArgKind::Str],
        min: 1,
        out: Type::Any,
        run: json_query,
    },
    ConvKw {
        name: "json",
        input: Type::Str,
        args: &[ArgKind::Str],
        min: 0,
        out: Type::Str,
        run: json,
    },
];

/// `json`'s input decoders: (name, UTF-8, skip errors, take overlong forms).
const DECODERS: &[(&str, bool, bool, bool)] = &[
    ("ascii", false, false, false),
    ("utf8", true, false, false),
    ("utf8s", true, true, false),
    ("utf8p", true, false, true),
    ("utf8ps", true, true, true),
];

/// HAProxy's startup checks: `json`'s decoder by name; for `json_query`, a path from `$`,
/// and `int` as the only output type.
pub(crate) fn check_args(name: &str, args: &[Arg]) -> Result<(), String> {
    if name == "json" {
        return match args.first().map(Arg::as_bytes) {
            None => Ok(()),
            Some(d) if DECODERS.iter().any(|(n, ..)| n.as_bytes() == d) => Ok(()),
            Some(d) => Err(format!(
                "Unexpected input code type '{}'. Allowed value are 'ascii', 'utf8', 'utf8s', 'utf8p' and 'utf8ps'",
                String::from_utf8_lossy(d)
            )),
        };
    }
    if name != "json_query" {
        return Ok(());
    }
    let path = args.first().map_or(&b""[..], Arg::as_bytes);
    if !path.starts_with(b"$") {
        return Err("the JSON path must start with '$'".into());
    }
    match args.get(1).map(Arg::as_bytes) {
        None | Some(b"int") => Ok(()),
        Some(other) => Err(format!(
            "output_type only supports \"int\" as argument (got '{}')",
            String::from_utf8_lossy(other)
        )),
    }
}

fn json(v: Value, c: &Conv, _: &dyn Env) -> Option<Value> {
    let s = match &v {
        Value::Str(s) | Value::Bin(s) => s.clone(),
        other => other.to_bytes(),
    };
    let name = c.args.first().map_or(&b"ascii"[..], Arg::as_bytes);
    let &(_, utf8, skip, overlong) = DECODERS.iter().find(|(n, ..)| n.as_bytes() == name)?;
    let mut out = Vec::with_capacity(s.len());
    let mut rest = &s[..];
    while !rest.is_empty() {
        let (c, used) = if utf8 {
            let (c, used, fault) = utf8_next(rest);
            let bad = match fault {
                Fault::None => false,
                Fault::Overlong => !overlong,
                Fault::Bad => true,
            } || c > 0xffff;
            if bad {
                if !skip {
                    return None;
                }
                rest = &rest[used..];
                continue;
            }
            (c, used)
        } else {
            (u32::from(rest[0]), 1)
        };
        rest = &rest[used..];
        match c {
            0x22 => out.extend_from_slice(b"\\\""),
            0x5c => out.extend_from_slice(b"\\\\"),
            0x2f => out.extend_from_slice(b"\\/"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x20..=0x7e => out.push(c as u8),
            _ => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
        }
    }
    Some(Value::Str(out))
}

/// What is wrong with a UTF-8 character.
enum Fault {
    None,
    /// Encoded with more bytes than needed.
    Overlong,
    /// A bad sequence, or a value UTF-8 forbids (a surrogate, above 0x10ffff).
    Bad,
}

/// The next UTF-8 character of `s` (not empty): its value, the bytes it takes (a bad
/// sequence: up to its first byte that does not continue it), what is wrong with it.
fn utf8_next(s: &[u8]) -> (u32, usize, Fault) {
    let lead = s[0];
    let (len, init, min) = match lead {
        0x00..=0x7f => return (u32::from(lead), 1, Fault::None),
        0xc0..=0xdf => (2, u32::from(lead & 0x1f), 0x80),
        0xe0..=0xef => (3, u32::from(lead & 0x0f), 0x800),
        0xf0..=0xf7 => (4, u32::from(lead & 0x07), 0x1_0000),
        _ => return (u32::from(lead), 1, Fault::Bad),
    };
    let mut c = init;
    for i in 1..len {
        match s.get(i) {
            Some(b) if b & 0xc0 == 0x80 => c = (c << 6) | u32::from(b & 0x3f),
            _ => return (c, i, Fault::Bad),
        }
    }
    let fault = if (0xd800..=0xdfff).contains(&c) || c > 0x10_ffff {
        Fault::Bad
    } else if c < min {
        Fault::Overlong
    } else {
        Fault::None
    };
    (c, len, fault)
}

fn json_query(v: Value, c: &Conv, _: &dyn Env) -> Option<Value> {
    let text = match &v {
        Value::Str(s) | Value::Bin(s) => s.clone(),
        other => other.to_bytes(),
    };
    let doc: Json = serde_json::from_slice(&text).ok()?;
    let found = walk(&doc, c.args[0].as_bytes())?;
    let as_int = c.args.get(1).is_some_and(|a| a.as_bytes() == b"int");
    match found {
        Json::String(s) => Some(Value::Str(s.clone().into_bytes())),
        Json::Number(n) if as_int => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Value::Sint),
        Json::Number(n) => Some(Value::Str(g_format(n.as_f64()?).into_bytes())),
        Json::Bool(b) => Some(Value::Bool(*b)),
        // haproxy 2.6.12 gives an array no value (measured: `json_query_as_haproxy`)
        Json::Null | Json::Object(_) | Json::Array(_) => None,
    }
}

/// Follows `$`, `.key` (a `\.` is a dot in the key) and `[N]` steps.
fn walk<'a>(doc: &'a Json, path: &[u8]) -> Option<&'a Json> {
    let mut cur = doc;
    let mut i = 1; // after `$`
    while i < path.len() {
        match path[i] {
            b'.' => {
                let mut key = Vec::new();
                i += 1;
                while i < path.len() && path[i] != b'.' && path[i] != b'[' {
                    if path[i] == b'\\' && i + 1 < path.len() {
                        i += 1;
                    }
                    key.push(path[i]);
                    i += 1;
                }
                cur = cur.get(std::str::from_utf8(&key).ok()?)?;
            }
            b'[' => {
                let end = i + path[i..].iter().position(|&b| b == b']')?;
                let n: usize = std::str::from_utf8(&path[i + 1..end]).ok()?.parse().ok()?;
                cur = cur.get(n)?;
                i = end + 1;
            }
            _ => return None,
        }
    }
    Some(cur)
}

/// C's `printf("%g")`: six significant digits, fixed or exponent notation, no trailing zeros.
fn g_format(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let e = format!("{v:.5e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if (-4..6).contains(&exp) {
        let decimals = usize::try_from(5 - exp).unwrap_or(0);
        trim(format!("{v:.decimals$}"))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mant.to_string()), exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::NoEnv;

    fn q(json: &str, path: &str, int: bool) -> Option<Value> {
        let kw = crate::conv::lookup("json_query").expect("known");
        let mut args = vec![Arg::Str(path.as_bytes().to_vec())];
        if int {
            args.push(Arg::Str(b"int".to_vec()));
        }
        check_args("json_query", &args).expect("valid");
        let c = Conv {
            kw,
            args,
            regex: None,
            map: None,
        };
        (kw.run)(Value::Str(json.as_bytes().to_vec()), &c, &NoEnv)
    }

    /// HAProxy's reg-test `converter/json_query.vtc`.
    #[test]
    fn as_haproxy_reg_test() {
        let s = |t: &str| Some(Value::Str(t.as_bytes().to_vec()));
        assert_eq!(
            q(r#"{"iss":"kubernetes.io/serviceaccount"}"#, "$.iss", false),
            s("kubernetes.io/serviceaccount")
        );
        assert_eq!(
            q(r#"{"integer":4}"#, "$.integer", true),
            Some(Value::Sint(4))
        );
        assert_eq!(
            q(r#"{"integer":-4}"#, "$.integer", true),
            Some(Value::Sint(-4))
        );
        assert_eq!(q(r#"{"double":4.5}"#, "$.double", false), s("4.5"));
        assert_eq!(
            q(r#"{"boolean-true":true}"#, "$.boolean-true", false),
            Some(Value::Bool(true))
        );
        assert_eq!(
            q(r#"{"my.key":"myvalue"}"#, r"$.my\.key", false),
            s("myvalue")
        );
        assert_eq!(
            q(
                r#"{"my.key":["val1","val2","val3"],"key2":"val4"}"#,
                r"$.my\.key",
                false
            ),
            None,
            "an array has no value in haproxy 2.6"
        );
        assert_eq!(
            q(r#"{"a":{"b":[1,{"c":"d"}]}}"#, "$.a.b[1].c", false),
            s("d")
        );
        assert_eq!(
            q(r#"{"a":{"b":1}}"#, "$.a", false),
            None,
            "an object has no value"
        );
        assert_eq!(q(r#"{"a":1}"#, "$.b", false), None);
        assert_eq!(q("not json", "$.a", false), None);
        assert!(check_args("json_query", &[Arg::Str(b"a".to_vec())]).is_err());
        assert!(check_args(
            "json_query",
            &[Arg::Str(b"$".to_vec()), Arg::Str(b"str".to_vec())]
        )
        .is_err());
    }

    #[test]
    fn numbers_as_printf_g() {
        for (v, want) in [
            (4.0, "4"),
            (4.5, "4.5"),
            (0.1, "0.1"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (1e20, "1e+20"),
        ] {
            assert_eq!(g_format(v), want, "{v}");
        }
    }
}
