//! The stick-table converters (`table_<data>(T)`, `in_table(T)`, `table_expire(T[,D])`,
//! `table_idle(T[,D])`, `table_gpt(IDX,T)`...): the input sample is the key, the caller's
//! tables answer ([`Env::table_lookup`]).

use crate::conv::Conv;
use crate::env::Env;
use crate::value::Value;

/// `table_<data>(table)` and `in_table(table)`: the input sample is the key (HAProxy 2.6's
/// stick-table converters), answered by the caller's tables.
pub(crate) fn table_conv(v: Value, c: &Conv, env: &dyn Env) -> Option<Value> {
    let name = c.kw.name;
    let what = name.strip_prefix("table_").unwrap_or(name);
    let table = std::str::from_utf8(c.args.first()?.as_bytes()).ok()?;
    env.table_lookup(table, v, what)
}

/// `table_expire(table[,default])`, `table_idle(table[,default])`: a key not in the table
/// gives `default` when there is one, no value otherwise.
pub(crate) fn table_conv_or(v: Value, c: &Conv, env: &dyn Env) -> Option<Value> {
    table_conv(v, c, env).or_else(|| c.args.get(1).map(|d| Value::Sint(d.as_int())))
}

/// `table_gpt(IDX,table)`, `table_gpc(IDX,table)`, `table_gpc_rate(IDX,table)`: an array
/// element of the key's entry, asked of the caller as `gpt(IDX)`...
pub(crate) fn table_array_conv(v: Value, c: &Conv, env: &dyn Env) -> Option<Value> {
    let what = c.kw.name.strip_prefix("table_")?;
    let idx = c.args.first()?.as_int();
    let table = std::str::from_utf8(c.args.get(1)?.as_bytes()).ok()?;
    env.table_lookup(table, v, &format!("{what}({idx})"))
}
