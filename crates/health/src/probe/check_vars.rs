//! A check's variables: `check.` and `sess.` ones live for one check run, `proc.` ones are the
//! process's (shared with the data plane's `http-request set-var(proc.x)`), and HAProxy 2.6's
//! `set-var(SCOPE.NAME,COND...)` conditions decide whether a value is stored: the sample
//! crate's one rule for them ([`fulcrum_sample::var_set`], the data plane's too).

use fulcrum_sample::{Scope, SetConds, Value, VarKey, Vars};

/// The `set-var` conditions of one rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conditions(SetConds);

impl Conditions {
    /// From the config's words (checked there).
    pub fn parse(words: &[String]) -> Result<Conditions, String> {
        SetConds::parse(words.iter().map(String::as_str)).map(Conditions)
    }
}

/// The variables one check run sees.
#[derive(Debug, Default, Clone)]
pub struct CheckVars {
    own: Vars,
}

impl CheckVars {
    /// The value of `scope.name`, None when unset or created without a value.
    pub fn get(&self, scope: Scope, name: impl VarKey) -> Option<Value> {
        if scope == Scope::Proc {
            return fulcrum_sample::proc_vars()
                .lock()
                .ok()?
                .get(scope, name)
                .cloned();
        }
        self.own.get(scope, name).cloned()
    }

    /// `set-var` without conditions.
    pub fn set(&mut self, scope: Scope, name: impl VarKey, v: Value) {
        self.set_if(scope, name, v, Conditions::default());
    }

    /// `set-var(SCOPE.NAME,COND...)`: stores `v` when the conditions allow it.
    pub fn set_if(&mut self, scope: Scope, name: impl VarKey, v: Value, c: Conditions) {
        if scope == Scope::Proc {
            if let Ok(mut p) = fulcrum_sample::proc_vars().lock() {
                p.set_if(scope, name, v, c.0);
            }
        } else {
            self.own.set_if(scope, name, v, c.0);
        }
    }

    /// `unset-var(SCOPE.NAME)`.
    pub fn unset(&mut self, scope: Scope, name: impl VarKey) {
        if scope == Scope::Proc {
            if let Ok(mut p) = fulcrum_sample::proc_vars().lock() {
                p.unset(scope, name);
            }
        } else {
            self.own.unset(scope, name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.as_bytes().to_vec())
    }

    /// The outcomes haproxy 2.6 gave for the same rules (a tcp-check sending every variable
    /// to a server after these `set-var` lines).
    #[test]
    fn conditions_decide_as_haproxy_2_6() {
        let mut v = CheckVars::default();
        let c = |w: &[&str]| {
            Conditions::parse(&w.iter().map(|x| x.to_string()).collect::<Vec<_>>()).expect("known")
        };
        let k = Scope::Check;
        v.set_if(k, "a", s("A1"), c(&["ifexists"]));
        v.set_if(k, "b", s("B1"), c(&["ifnotexists"]));
        v.set_if(k, "b", s("B2"), c(&["ifnotexists"]));
        v.set(k, "c", Value::Sint(5));
        v.set_if(k, "c", Value::Sint(3), c(&["ifgt"]));
        v.set(k, "d", Value::Sint(5));
        v.set_if(k, "d", Value::Sint(7), c(&["ifgt"]));
        v.set(k, "e", Value::Sint(5));
        v.set_if(k, "e", Value::Sint(3), c(&["iflt"]));
        v.set_if(k, "g", Value::Sint(7), c(&["ifgt"]));
        v.set_if(k, "j", s(""), c(&["ifnotempty"]));
        v.set_if(k, "j", s("JE"), c(&["ifexists"]));
        v.set_if(k, "l", s("L"), c(&["ifset"]));
        v.set_if(k, "m", s("M"), c(&["ifnotset"]));
        v.set(k, "o", s("O0"));
        v.set_if(k, "o", s("O1"), c(&["ifnotset"]));
        v.set(k, "q", s("abc"));
        v.set_if(k, "q", s("x"), c(&["ifgt"]));
        v.set_if(k, "r", Value::Sint(0), c(&["ifempty"]));
        let got = |n: &str| v.get(k, n);
        assert_eq!(got("a"), None);
        assert_eq!(got("b"), Some(s("B1")));
        assert_eq!(got("c"), Some(Value::Sint(3)));
        assert_eq!(got("d"), Some(Value::Sint(5)));
        assert_eq!(got("e"), Some(Value::Sint(5)));
        assert_eq!(got("g"), Some(Value::Sint(7)));
        assert_eq!(got("j"), Some(s("JE")));
        assert_eq!(got("l"), None);
        assert_eq!(got("m"), Some(s("M")));
        assert_eq!(got("o"), Some(s("O0")));
        assert_eq!(got("q"), Some(s("x")));
        assert_eq!(got("r"), None);
        // proc variables are the process's
        let name = format!("t{}", std::process::id());
        v.set(Scope::Proc, &name, Value::Sint(9));
        assert_eq!(
            CheckVars::default().get(Scope::Proc, &name),
            Some(Value::Sint(9))
        );
        v.unset(Scope::Proc, &name);
        assert_eq!(CheckVars::default().get(Scope::Proc, &name), None);
    }
}
