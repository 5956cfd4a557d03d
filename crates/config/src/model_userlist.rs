//! Model of `userlist` sections: users with their passwords and groups, read by
//! `http-request auth` rules and the `http_auth(L)` / `http_auth_group(L)` fetches.

use crate::diagnostics::Span;
use serde::Serialize;

/// `userlist NAME` and its `group` / `user` lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Userlist {
    pub name: String,
    pub span: Span,
    /// Group names, in the order written (`group NAME [users U1,U2...]`).
    pub groups: Vec<String>,
    pub users: Vec<User>,
}

/// `user NAME password HASH | insecure-password TEXT [groups G1,G2...]`, with the groups a
/// `group ... users` line gave it merged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    pub password: Password,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Password {
    /// `password HASH`: a crypt(3) hash (`$1$` MD5, `$5$` SHA-256, `$6$` SHA-512, `$2b$`
    /// bcrypt, or traditional DES).
    Hashed(String),
    /// `insecure-password TEXT`: compared as written.
    Insecure(String),
}
