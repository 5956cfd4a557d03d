//! The `set-var(SCOPE.NAME[,COND...])` converter (HAProxy 2.6): stores its input in the
//! variable when the conditions allow it ([`crate::var_set`]) and then passes the input on
//! unchanged; when they do not, it gives no value (haproxy's `smp_conv_store` returns
//! `var_set`'s verdict: measured, `str(),set-var(txn.k,ifnotempty),length` sets nothing).

use crate::conv::{Conv, ConvKw};
use crate::env::Env;
use crate::fetch::{Arg, ArgKind};
use crate::value::{Type, Value};
use crate::var_set::SetConds;

const S: ArgKind = ArgKind::Str;

pub(crate) static VAR_CONVERTERS: &[ConvKw] = &[ConvKw {
    name: "set-var",
    input: Type::Any,
    args: &[ArgKind::Var, S, S, S, S, S, S, S, S],
    min: 1,
    out: Type::Any,
    run: set_var,
}];

fn conds(args: &[Arg]) -> Result<SetConds, String> {
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned())
        .collect();
    SetConds::parse(words.iter().map(String::as_str))
}

/// The compile-time checks: a variable name first, then known conditions. The variable is
/// noted as set (for `fulcrum check`'s "read that nothing sets" warning).
pub(crate) fn check_args(name: &str, args: &[Arg]) -> Result<(), String> {
    if name != "set-var" {
        return Ok(());
    }
    let Some(Arg::Var(scope, var)) = args.first() else {
        return Err("expects a variable name (scope.name) first".to_string());
    };
    if *scope == crate::env::Scope::Check {
        return Err("the 'check' scope is only for tcp-check and http-check rules".into());
    }
    conds(args)?;
    let word = match scope {
        crate::env::Scope::Proc => "proc",
        crate::env::Scope::Sess => "sess",
        crate::env::Scope::Txn => "txn",
        crate::env::Scope::Req => "req",
        crate::env::Scope::Res => "res",
        crate::env::Scope::Check => "check",
    };
    crate::var_uses::note_set(word, var);
    Ok(())
}

fn set_var(v: Value, c: &Conv, env: &dyn Env) -> Option<Value> {
    let (Some(Arg::Var(scope, name)), Ok(conds)) = (c.args.first(), conds(&c.args)) else {
        return None;
    };
    env.set_var(*scope, name, v.clone(), conds).then_some(v)
}

#[cfg(test)]
mod tests {
    use crate::env::{Env, Scope, Vars};
    use crate::fetch::Fetch;
    use crate::{SetConds, Value, VarName};
    use std::sync::Mutex;

    #[derive(Default)]
    struct VarEnv(Mutex<Vars>);
    impl Env for VarEnv {
        fn fetch(&self, _: &Fetch) -> Option<Value> {
            None
        }
        fn var(&self, s: Scope, n: &VarName) -> Option<Value> {
            self.0.lock().ok()?.get(s, n).cloned()
        }
        fn set_var(&self, s: Scope, n: &VarName, v: Value, c: SetConds) -> bool {
            self.0.lock().is_ok_and(|mut vars| vars.set_if(s, n, v, c))
        }
        fn now_unix(&self) -> i64 {
            0
        }
        fn random(&self) -> u32 {
            0
        }
    }

    #[test]
    fn stores_and_passes_on() {
        let env = VarEnv::default();
        let e = crate::compile("str(a),set-var(txn.x),upper,set-var(txn.y,ifnotexists)")
            .expect("compiles");
        assert_eq!(e.eval(&env), Some(Value::Str(b"A".to_vec())));
        let e2 = crate::compile("int(7),set-var(txn.y,ifnotexists),add(1)").expect("compiles");
        assert_eq!(e2.eval(&env), None, "not stored: no value");
        assert_eq!(
            env.var(Scope::Txn, &VarName::new("x")),
            Some(Value::Str(b"a".to_vec()))
        );
        assert_eq!(
            env.var(Scope::Txn, &VarName::new("y")),
            Some(Value::Str(b"A".to_vec()))
        );
        let e3 = crate::compile("int(7),set-var(txn.n)").expect("compiles");
        e3.eval(&env);
        assert_eq!(
            env.var(Scope::Txn, &VarName::new("n")),
            Some(Value::Sint(7)),
            "keeps its type"
        );
    }

    #[test]
    fn compile_errors() {
        assert!(crate::compile("str(a),set-var(txn.x,ifbig)").is_err());
        assert!(crate::compile("str(a),set-var(3)").is_err());
        assert!(crate::compile("str(a),set-var(foo.x)").is_err());
        assert!(crate::compile("str(a),set-var()").is_err());
    }
}
