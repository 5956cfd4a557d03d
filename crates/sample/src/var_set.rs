//! HAProxy 2.6's conditional variable stores: `set-var(SCOPE.NAME,COND...)` as a rule action,
//! `set-var-fmt(SCOPE.NAME,COND...)` and the `set-var(SCOPE.NAME[,COND...])` converter share
//! one rule ([`Vars::set_if`]).
//!
//! As haproxy 2.6 (measured against it): a variable that does not exist is created (with no
//! value) before the other conditions are tested, unless `ifexists` stops it; so
//! `set-var(txn.x,ifnotempty) str()` leaves `txn.x` existing and without a value.
//! `ifset`/`ifnotset` test whether the variable holds a value; `ifempty`/`ifnotempty`
//! whether the new value is an empty string or binary (numbers are never empty); `ifgt`/
//! `iflt` compare two integers (the current value greater / lower than the new one) and let
//! any other pair through. `unset-var` removes the variable, value and existence.

use crate::env::{Scope, Vars};
use crate::value::Value;
use crate::var_name::{Hashed, VarKey};

/// The condition words, in HAProxy's order (bit N is word N).
pub const WORDS: [&str; 8] = [
    "ifexists",
    "ifnotexists",
    "ifempty",
    "ifnotempty",
    "ifset",
    "ifnotset",
    "ifgt",
    "iflt",
];

/// A set of conditions (none: always store).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SetConds(u8);

impl SetConds {
    /// From the words after the variable's name (empty ones are skipped, as haproxy); an
    /// unknown word is refused with HAProxy's list.
    pub fn parse<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<SetConds, String> {
        let mut bits = 0u8;
        for w in words.into_iter().filter(|w| !w.is_empty()) {
            let i = WORDS.iter().position(|k| *k == w).ok_or_else(|| {
                format!(
                    "unknown set-var condition '{w}' (expected one of {})",
                    WORDS.join(", ")
                )
            })?;
            bits |= 1 << i;
        }
        Ok(SetConds(bits))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn has(self, word: &str) -> bool {
        WORDS
            .iter()
            .position(|k| *k == word)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }
}

impl Vars {
    /// Whether `scope.name` exists (with a value, or created without one).
    pub fn exists(&self, scope: Scope, name: impl VarKey) -> bool {
        let hash = name.var_hash();
        self.get(scope, Hashed(hash)).is_some()
            || (!self.created.is_empty() && self.created.contains(&(scope, hash)))
    }

    /// `set-var(SCOPE.NAME,COND...)`: stores `v` when the conditions allow it (see the
    /// module's comment for haproxy's order); whether it did.
    pub fn set_if(&mut self, scope: Scope, name: impl VarKey, v: Value, c: SetConds) -> bool {
        let name = Hashed(name.var_hash());
        if c.is_empty() {
            self.set(scope, name, v);
            return true;
        }
        if !self.exists(scope, name) {
            if c.has("ifexists") {
                return false;
            }
            self.created.insert((scope, name.0));
        } else if c.has("ifnotexists") {
            return false;
        }
        let current = self.get(scope, name);
        if (c.has("ifset") && current.is_none()) || (c.has("ifnotset") && current.is_some()) {
            return false;
        }
        let empty = matches!(&v, Value::Str(b) | Value::Bin(b) if b.is_empty());
        if (c.has("ifempty") && !empty) || (c.has("ifnotempty") && empty) {
            return false;
        }
        if let (Some(Value::Sint(cur)), Value::Sint(new)) = (current, &v) {
            if (c.has("ifgt") && cur <= new) || (c.has("iflt") && cur >= new) {
                return false;
            }
        }
        self.set(scope, name, v);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.as_bytes().to_vec())
    }

    fn c(words: &[&str]) -> SetConds {
        SetConds::parse(words.iter().copied()).expect("known words")
    }

    #[test]
    fn conditions_as_haproxy() {
        let k = Scope::Txn;
        let mut v = Vars::default();
        assert!(!v.set_if(k, "a", s("A1"), c(&["ifexists"])));
        assert!(!v.exists(k, "a"));
        assert!(v.set_if(k, "b", s("B1"), c(&["ifnotexists"])));
        assert!(!v.set_if(k, "b", s("B2"), c(&["ifnotexists"])));
        assert_eq!(v.get(k, "b"), Some(&s("B1")));
        // created without a value: exists, not set
        assert!(!v.set_if(k, "e", s(""), c(&["ifnotempty"])));
        assert!(v.exists(k, "e") && v.get(k, "e").is_none());
        assert!(v.set_if(k, "e", s("E"), c(&["ifexists", "ifnotset"])));
        assert!(!v.set_if(k, "e", s("E2"), c(&["ifnotset"])));
        assert!(v.set_if(k, "e", s("E3"), c(&["ifset"])));
        assert!(v.set_if(k, "n", Value::Sint(5), SetConds::default()));
        assert!(!v.set_if(k, "n", Value::Sint(7), c(&["ifgt"])));
        assert!(v.set_if(k, "n", Value::Sint(3), c(&["ifgt"])));
        assert!(v.set_if(k, "n", Value::Sint(4), c(&["iflt"])));
        assert!(!v.set_if(k, "n", Value::Sint(4), c(&["iflt"])));
        // any pair that is not two integers passes ifgt/iflt
        assert!(v.set_if(k, "n", s("x"), c(&["ifgt"])));
        assert!(
            !v.set_if(k, "z", Value::Sint(0), c(&["ifempty"])),
            "numbers are never empty"
        );
        v.unset(k, "e");
        assert!(!v.exists(k, "e"));
        v.clear(k);
        assert!(!v.exists(k, "z"));
        // a request's end forgets `txn`, `req` and `res`, values and existence, not `sess`
        for scope in [Scope::Sess, Scope::Txn, Scope::Req, Scope::Res] {
            v.set(scope, "x", s("X"));
            assert!(!v.set_if(scope, "y", s(""), c(&["ifnotempty"])));
        }
        v.clear_transaction();
        assert_eq!(v.get(Scope::Sess, "x"), Some(&s("X")));
        assert!(v.exists(Scope::Sess, "y"));
        for scope in [Scope::Txn, Scope::Req, Scope::Res] {
            assert!(!v.exists(scope, "x") && !v.exists(scope, "y"));
        }
    }

    #[test]
    fn unknown_word_refused() {
        assert!(SetConds::parse(["ifnotexists", "ifbig"]).is_err());
        assert!(SetConds::parse([]).is_ok_and(SetConds::is_empty));
    }
}
