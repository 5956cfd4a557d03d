//! Sample values and their types, as HAProxy's `struct sample` carries them.
//!
//! Strings are bytes (HAProxy strings are byte arrays, not UTF-8); a method is kept as its
//! name (HAProxy's well-known methods and any other token alike).

use std::net::{Ipv4Addr, Ipv6Addr};

/// HAProxy's sample types (`smp_to_type`). `Addr` is "IPv4 or IPv6", only an input type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Any,
    Bool,
    Sint,
    Addr,
    Ipv4,
    Ipv6,
    Str,
    Bin,
    Meth,
}

impl Type {
    /// The name HAProxy uses in its messages.
    pub fn name(self) -> &'static str {
        match self {
            Type::Any => "any",
            Type::Bool => "bool",
            Type::Sint => "sint",
            Type::Addr => "addr",
            Type::Ipv4 => "ipv4",
            Type::Ipv6 => "ipv6",
            Type::Str => "str",
            Type::Bin => "bin",
            Type::Meth => "meth",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Sint(i64),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Str(Vec<u8>),
    Bin(Vec<u8>),
    Meth(Vec<u8>),
}

impl Value {
    pub fn ty(&self) -> Type {
        match self {
            Value::Bool(_) => Type::Bool,
            Value::Sint(_) => Type::Sint,
            Value::Ipv4(_) => Type::Ipv4,
            Value::Ipv6(_) => Type::Ipv6,
            Value::Str(_) => Type::Str,
            Value::Bin(_) => Type::Bin,
            Value::Meth(_) => Type::Meth,
        }
    }

    pub fn str(s: impl AsRef<[u8]>) -> Value {
        Value::Str(s.as_ref().to_vec())
    }

    /// The value as HAProxy writes it into a log line or a header (its string cast); `None`
    /// where HAProxy has no string form (never, for the types above).
    pub fn to_bytes(&self) -> Vec<u8> {
        match crate::cast::cast(self.clone(), Type::Str) {
            Some(Value::Str(s)) => s,
            _ => Vec::new(),
        }
    }

    /// [`Value::to_bytes`] of a value given away: a string's bytes are taken, not copied.
    pub fn into_bytes(self) -> Vec<u8> {
        match crate::cast::cast(self, Type::Str) {
            Some(Value::Str(s)) => s,
            _ => Vec::new(),
        }
    }

    /// The boolean an ACL or a condition sees: HAProxy's `bool` cast.
    pub fn truth(&self) -> bool {
        match crate::cast::cast(self.clone(), Type::Bool) {
            Some(Value::Bool(b)) => b,
            _ => false,
        }
    }
}
