//! HAProxy's sample language inside a check (`fulcrum-sample`): the check's variables
//! (`set-var(check.x)`, `unset-var`), `%[...]` log-format strings (`send-lf`,
//! `send-binary-lf`, `uri-lf`, `body-lf`, `on-success`/`on-error`), `status-code EXPR` and
//! `connect port EXPR`, evaluated against what the check received so far (`res.payload`,
//! `res.len`, and `status` after an HTTP answer). Pure: the caller gives the bytes, the
//! variables and the time.

use crate::probe::check_vars::CheckVars;
use fulcrum_sample::fetch::Fetch;
use fulcrum_sample::{Env, Expr, Format, Scope, Value};

/// A compiled sample expression, compared by its text (a check's definition is compared on
/// reload).
#[derive(Debug, Clone)]
pub struct SampleExpr {
    pub text: String,
    pub expr: Expr,
}

impl SampleExpr {
    pub fn new(text: &str) -> Result<SampleExpr, String> {
        fulcrum_sample::compile(text)
            .map(|expr| SampleExpr {
                text: text.to_string(),
                expr,
            })
            .map_err(|e| format!("'{text}': {e}"))
    }

    pub fn eval(&self, env: &CheckEnv<'_>) -> Option<Value> {
        self.expr.eval(env)
    }

    /// As an integer (a port, a status code), None when absent or not a number.
    /// Text and binary samples (`res.payload(0,3)` is binary) count as their leading digits,
    /// as HAProxy reads a status code or a port from them.
    pub fn int(&self, env: &CheckEnv<'_>) -> Option<i64> {
        match self.eval(env)? {
            Value::Str(b) | Value::Bin(b) => {
                let digits: &[u8] = b
                    .iter()
                    .position(|c| !c.is_ascii_digit())
                    .map_or(&b[..], |end| &b[..end]);
                std::str::from_utf8(digits).ok()?.parse().ok()
            }
            v => match fulcrum_sample::cast::cast(v, fulcrum_sample::Type::Sint)? {
                Value::Sint(n) => Some(n),
                _ => None,
            },
        }
    }
}

impl PartialEq for SampleExpr {
    fn eq(&self, other: &SampleExpr) -> bool {
        self.text == other.text
    }
}
impl Eq for SampleExpr {}

/// A compiled log-format string with `%[...]` samples, compared by its text.
#[derive(Debug, Clone)]
pub struct Lf {
    pub text: String,
    pub format: Format,
}

impl Lf {
    pub fn new(text: &str) -> Result<Lf, String> {
        fulcrum_sample::compile_format(text)
            .map(|format| Lf {
                text: text.to_string(),
                format,
            })
            .map_err(|e| format!("'{text}': {e}"))
    }

    /// The rendered bytes (a missing sample renders as nothing, as in HAProxy's checks).
    pub fn render(&self, env: &CheckEnv<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        self.format.render(env, &mut |_, _| false, b"", &mut out);
        out
    }
}

impl PartialEq for Lf {
    fn eq(&self, other: &Lf) -> bool {
        self.text == other.text
    }
}
impl Eq for Lf {}

/// A variable of a check: its scope (`check` or `sess`, both one check run; `proc`, the
/// process's) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarName {
    pub scope: Scope,
    pub name: String,
}

impl VarName {
    pub fn new(scope: &str, name: &str) -> Result<VarName, String> {
        match Scope::parse(scope) {
            Some(s @ (Scope::Check | Scope::Sess | Scope::Proc)) => Ok(VarName {
                scope: s,
                name: name.to_string(),
            }),
            _ => Err(format!(
                "health checks have the 'check', 'sess' and 'proc' scopes, found '{scope}'"
            )),
        }
    }
}

/// What a check's samples read: the bytes received since the last send, the HTTP status
/// of the last answer, and the check's variables.
pub struct CheckEnv<'a> {
    pub buf: &'a [u8],
    pub status: Option<u16>,
    pub vars: &'a CheckVars,
}

impl Env for CheckEnv<'_> {
    fn fetch(&self, f: &Fetch) -> Option<Value> {
        let int = |i: usize| f.args.get(i).map_or(0, |a| a.as_int());
        match f.kw.name {
            "res.len" => Some(Value::Sint(self.buf.len() as i64)),
            // `res.payload(OFFSET,LENGTH)`: LENGTH 0 means up to the end of what came
            "res.payload" => {
                let from = usize::try_from(int(0)).ok()?;
                let len = usize::try_from(int(1)).ok()?;
                let rest = self.buf.get(from..)?;
                let part = if len == 0 { rest } else { rest.get(..len)? };
                Some(Value::Bin(part.to_vec()))
            }
            "status" => self.status.map(|s| Value::Sint(i64::from(s))),
            _ => None,
        }
    }

    fn var(&self, scope: Scope, name: &fulcrum_sample::VarName) -> Option<Value> {
        self.vars.get(scope, name)
    }

    fn now_unix(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    fn random(&self) -> u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        nanos.wrapping_mul(2_654_435_761)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_len_vars_and_formats() {
        let mut vars = CheckVars::default();
        vars.set(Scope::Check, "port", Value::Sint(6379));
        let env = CheckEnv {
            buf: b"250 mx.test ESMTP\r\n",
            status: None,
            vars: &vars,
        };
        assert_eq!(
            SampleExpr::new("res.payload(0,3)")
                .expect("compiles")
                .int(&env),
            Some(250)
        );
        assert_eq!(
            SampleExpr::new("res.len").expect("compiles").int(&env),
            Some(19)
        );
        assert_eq!(
            SampleExpr::new("var(check.port)")
                .expect("compiles")
                .int(&env),
            Some(6379)
        );
        let lf = Lf::new("port %[var(check.port)] said %[res.payload(4,7)]").expect("compiles");
        assert_eq!(lf.render(&env), b"port 6379 said mx.test");
        // absent samples render as nothing
        let lf = Lf::new("[%[var(check.nope)]]").expect("compiles");
        assert_eq!(lf.render(&env), b"[]");
        assert!(VarName::new("txn", "x").is_err());
    }
}
