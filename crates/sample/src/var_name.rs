//! A variable's name as compiled rules hold it (`txn.host` in `set-var(txn.host)`,
//! `var(txn.host)`): its text and a 64-bit hash of it, computed once when the rule is
//! compiled. [`crate::Vars`] tells variables apart by that number, as haproxy 2.6 does (its
//! `vars.c` keys each variable by a 64-bit hash of the name), so a lookup compares integers
//! instead of strings. A name only known at run time (the runtime socket's `set var`, a
//! health check's variables, tests) is hashed where it is used: [`VarKey`] takes both.

use std::hash::Hasher;

/// A variable name and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VarName {
    hash: u64,
    text: Box<str>,
}

impl VarName {
    pub fn new(text: &str) -> VarName {
        VarName {
            hash: hash(text),
            text: text.into(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::ops::Deref for VarName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl PartialEq<str> for VarName {
    fn eq(&self, other: &str) -> bool {
        &*self.text == other
    }
}

impl PartialEq<&str> for VarName {
    fn eq(&self, other: &&str) -> bool {
        &*self.text == *other
    }
}

impl std::fmt::Display for VarName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The hash of name `text` (std's `DefaultHasher::new()`: fixed keys, the same for the whole
/// process, whoever computes it).
pub fn hash(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(text.as_bytes());
    h.finish()
}

/// What [`crate::Vars`] accepts as a variable's name: a compiled [`VarName`] (its hash is
/// read) or a name's text (hashed on the spot).
pub trait VarKey {
    fn var_hash(&self) -> u64;
}

impl VarKey for VarName {
    #[inline]
    fn var_hash(&self) -> u64 {
        self.hash
    }
}

impl VarKey for str {
    fn var_hash(&self) -> u64 {
        hash(self)
    }
}

impl VarKey for String {
    fn var_hash(&self) -> u64 {
        hash(self)
    }
}

/// A name already hashed (inside [`crate::Vars`]: one hash for several steps).
#[derive(Clone, Copy)]
pub(crate) struct Hashed(pub u64);

impl VarKey for Hashed {
    #[inline]
    fn var_hash(&self) -> u64 {
        self.0
    }
}

impl<K: VarKey + ?Sized> VarKey for &K {
    #[inline]
    fn var_hash(&self) -> u64 {
        (**self).var_hash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_and_runtime_names_agree() {
        let n = VarName::new("host");
        assert_eq!(n.var_hash(), "host".var_hash());
        assert_ne!(n.var_hash(), "path".var_hash());
        assert_eq!(n, "host");
        assert_eq!(&*n, "host");
    }
}
