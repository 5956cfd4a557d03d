//! Table-driven tests of the converters and casts against HAProxy 2.6: each line of
//! `manual_cases.txt` is an expression and what haproxy 2.6.12 answers for `lf-string
//! "%[EXPR]"` (a missing value is empty), or `<refused>` when haproxy refuses it at startup.
//! The examples of the configuration manual's section 7.3.1 are among them (`field`,
//! `word`, `regsub`); every expected value was taken from the real haproxy by
//! `scripts/sample-oracle.sh`, which writes the table (variables: `txn.a` = "abc",
//! `txn.n` = 5; the map converters read `manual_cases/*.map`, next to this file).

use crate::fetch::Fetch;
use crate::{Env, Scope, Value};

struct Vars;

impl Env for Vars {
    fn fetch(&self, _: &Fetch) -> Option<Value> {
        None
    }
    fn var(&self, scope: Scope, name: &crate::VarName) -> Option<Value> {
        match (scope, name.as_str()) {
            (Scope::Txn, "a") => Some(Value::Str(b"abc".to_vec())),
            (Scope::Txn, "n") => Some(Value::Sint(5)),
            _ => None,
        }
    }
    fn now_unix(&self) -> i64 {
        0
    }
    fn random(&self) -> u32 {
        0
    }
}

/// (expression, what haproxy answers; `None`: refused).
fn cases() -> Vec<(&'static str, Option<&'static str>)> {
    include_str!("manual_cases.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (e, want) = l.split_once('\t').unwrap_or((l, ""));
            (e, (want != "<refused>").then_some(want))
        })
        .collect()
}

#[test]
fn converters_and_casts_as_haproxy() {
    let cases = cases();
    assert!(cases.len() > 100, "{} cases", cases.len());
    let mut wrong = Vec::new();
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (expr, want) in cases {
        let (compiled, _) =
            crate::files::with_base(&here, || crate::compile_format(&format!("%[{expr}]")));
        let got = match compiled {
            Ok(f) => {
                let mut out = Vec::new();
                f.render_value(&Vars, &mut |_, _| false, &mut out);
                Some(String::from_utf8_lossy(&out).into_owned())
            }
            Err(_) => None,
        };
        if got.as_deref() != want {
            wrong.push(format!("{expr}: fulcrum {got:?}, haproxy {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
