//! HAProxy's sample language, compiled once per configuration and evaluated per request.
//!
//! A sample expression is `fetch(args),converter(args),converter…`: a fetch takes a typed
//! value from the request, the connection or the process, and each converter turns it into
//! another. Values carry HAProxy's types (boolean, integer, IPv4, IPv6, string, binary,
//! method) and are cast implicitly where HAProxy casts them. The same compiled expressions
//! serve ACLs, `%[...]` in log-format strings, header values and rule arguments.
//!
//! This crate is sans-IO: it knows nothing of sockets or HTTP messages. What a fetch reads
//! comes from the caller through [`Env`]; the crate evaluates the process-level fetches
//! (`str`, `int`, `env`, `date`, `rand`, `var`...) and every converter itself.
//! Compile errors carry the column (1-based) where the expression went wrong, so the config
//! layer can say `FILE:LINE:COL`.

pub mod acl;
mod ascii_case;
pub mod cast;
pub mod check_scope;
pub mod conv;
mod conv_codec;
mod conv_json;
mod conv_more;
mod conv_table;
mod conv_var;
mod encode;
/// Base64 text to bytes (the `b64dec` converter's decoder; also TLS ticket key files).
pub use encode::{base64, unbase64};
pub mod env;
pub mod environ;
pub mod error;
pub mod expr;
pub mod fetch;
pub mod files;
pub mod format_uses;
pub mod hash;
pub mod index;
pub mod l6_uses;
pub mod localtime;
pub mod logformat;
#[cfg(test)]
mod manual_cases;
pub mod map;
pub mod pattern;
mod proxy_refs;
pub mod registry;
pub mod registry_cli;
pub mod registry_edit;
mod registry_versions;
mod request_content;
pub mod spare;
pub mod table_refs;
pub mod time;
pub mod value;
pub mod value_text;
pub mod var_name;
pub mod var_set;
pub mod var_uses;

pub use env::{proc_vars, Env, Scope, Vars};
pub use error::CompileError;
pub use expr::{compile, Expr};
pub use logformat::{compile_format, Format};
pub use value::{Type, Value};
pub use var_name::{VarKey, VarName};
pub use var_set::SetConds;

/// An environment with no stream, no variables, time 0 and random 0: for unit tests of
/// converters that read nothing of it.
#[cfg(test)]
pub(crate) struct NoEnv;

#[cfg(test)]
impl Env for NoEnv {
    fn fetch(&self, _: &fetch::Fetch) -> Option<Value> {
        None
    }
    fn var(&self, _: Scope, _: &VarName) -> Option<Value> {
        None
    }
    fn now_unix(&self) -> i64 {
        0
    }
    fn random(&self) -> u32 {
        0
    }
}
