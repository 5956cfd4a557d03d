//! Sample expressions: `fetch(args),conv(args),...` parsed, type-checked and compiled once.
//!
//! Type checking happens here, where HAProxy finds many mistakes only at run time: a converter
//! whose input type the previous step's output cannot be cast to, a wrong argument count or an
//! argument that is not an integer, an unknown variable scope, a map file that does not
//! exist. Each error says the column.

use crate::cast::can_cast;
use crate::conv::{self, Conv};
use crate::env::{Env, Scope};
use crate::error::CompileError;
use crate::fetch::{self, Arg, ArgKind, Fetch};
use crate::map::{Map, Match};
use crate::registry::Registry;
use crate::value::{Type, Value};
use regex::bytes::Regex;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// A value [`Expr::eval_lent`] gives: a string lent by its owner, or a value of its own.
pub(crate) enum Sample<'a> {
    Str(&'a [u8]),
    Val(Value),
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Expr {
    pub fetch: Fetch,
    pub convs: Vec<Conv>,
    /// The type of what it returns.
    pub out: Type,
    /// How [`Expr::eval_lent`] gives its value (from `convs`, when compiled).
    lend: Lend,
}

/// How [`Expr::eval_lent`] gives an expression's value, decided once when it is compiled
/// (not by matching the converters' names per evaluation).
#[derive(Debug, Clone, Copy)]
enum Lend {
    /// No converter: the fetch's string as the environment lends it.
    Bytes,
    /// One converter reading the lent bytes (`length`, a hash).
    Step(conv::LentConv),
    /// A string map lookup last: the map's value lent under its lock.
    Map,
    /// Anything else: evaluated, then given.
    Eval,
}

impl Lend {
    fn of(convs: &[Conv]) -> Lend {
        if let [c] = convs {
            if let Some(which) = conv::reads_lent(c) {
                return Lend::Step(which);
            }
        }
        match convs {
            [] => Lend::Bytes,
            [.., last] if last.map.is_some() && last.kw.out == Type::Str => Lend::Map,
            _ => Lend::Eval,
        }
    }
}

/// What compiling needs beyond the text: where relative map files are, and the maps already
/// loaded (a file used by several converters is one shared map, as in HAProxy).
#[derive(Debug)]
pub struct Compiler {
    pub base_dir: PathBuf,
    /// What the rule being compiled can read: an `http-request` rule has the request but no
    /// response yet, a `tcp-request connection` rule only the connection.
    pub available: fetch::Needs,
    /// The generation's map and ACL-file references: a file named by several converters or
    /// ACLs is one table (one compiled set per match method), changed at run time as one.
    pub registry: Arc<Registry>,
    /// The rule runs in a frontend before a backend is chosen: the fetches of
    /// [`fetch::NEEDS_BACKEND`] are refused (HAProxy: "needs 'backend' which is not
    /// available here"). Set from [`before_backend`] when the compiler is made.
    pub before_backend: bool,
    /// The expression is a health check's (`tcp-check`, `http-check`): the fetches of
    /// [`crate::check_scope`] are refused, as HAProxy 2.6 refuses them.
    pub health_check: bool,
}

pub use crate::proxy_refs::{with_proxy_refs, ProxyRef, TableUse};

thread_local! {
    static BEFORE_BACKEND: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every compiler made meanwhile on this thread marked [`Compiler::before_backend`]
/// (the config parser wraps a frontend's request-side lines with it).
pub fn before_backend<T>(f: impl FnOnce() -> T) -> T {
    let was = BEFORE_BACKEND.with(|b| b.replace(true));
    let out = f();
    BEFORE_BACKEND.with(|b| b.set(was));
    out
}

impl Compiler {
    pub fn new(base_dir: impl Into<PathBuf>) -> Compiler {
        Compiler {
            base_dir: base_dir.into(),
            available: fetch::Needs::Response,
            registry: crate::registry::current(),
            before_backend: BEFORE_BACKEND.with(std::cell::Cell::get),
            health_check: false,
        }
    }

    /// The compiler of a health check's expressions and log-format strings.
    pub fn for_checks() -> Compiler {
        Compiler {
            health_check: true,
            ..Compiler::default()
        }
    }

    /// The same compiler for rules that can read only up to `available`.
    pub fn with_available(mut self, available: fetch::Needs) -> Compiler {
        self.available = available;
        self
    }

    /// The map of `file` for match `how`; its values checked when the converter's output
    /// `out` is an integer or an address, as HAProxy checks them when it reads the file.
    fn map(&mut self, file: &str, how: Match, out: Type) -> Result<Arc<RwLock<Map>>, String> {
        let (name, path) = crate::files::resolve(&self.base_dir, file);
        let read = || std::fs::read_to_string(&path).map_err(|e| format!("map file '{name}': {e}"));
        let map = self.registry.map(&name, how, read)?;
        if matches!(out, Type::Sint | Type::Addr) {
            crate::map::check_values(&read()?, out, &name)?;
        }
        Ok(map)
    }
}

/// Compiles `text` (no map files relative to anything: `Compiler::default()`).
pub fn compile(text: &str) -> Result<Expr, CompileError> {
    compile_with(text, &mut Compiler::default())
}

impl Default for Compiler {
    fn default() -> Self {
        Compiler::new(PathBuf::new())
    }
}

/// One `name(args)` step and where it starts.
struct Step<'a> {
    col: usize,
    name: &'a str,
    args: Vec<(usize, Vec<u8>)>,
}

/// Splits `text` into steps at top-level commas, and each step's arguments, honouring
/// quotes ('...', "...") and backslash escapes inside parentheses.
fn steps(text: &str) -> Result<Vec<Step<'_>>, CompileError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && b[i] != b'(' && b[i] != b',' {
            if b[i].is_ascii_whitespace() {
                return Err(CompileError::at(
                    i + 1,
                    "unexpected space in a sample expression",
                ));
            }
            i += 1;
        }
        let name = &text[start..i];
        if name.is_empty() {
            return Err(CompileError::at(
                start + 1,
                "expected a fetch or converter name",
            ));
        }
        let mut args = Vec::new();
        if i < b.len() && b[i] == b'(' {
            i += 1;
            let mut cur = Vec::new();
            let mut cur_col = i + 1;
            let mut quote: Option<u8> = None;
            loop {
                let Some(&c) = b.get(i) else {
                    return Err(CompileError::at(
                        start + 1,
                        format!("missing ')' after '{name}('"),
                    ));
                };
                match (quote, c) {
                    // Inside single quotes everything is literal, backslashes included;
                    // elsewhere HAProxy 2.6 unescapes `\\ \' \" \<space> \t \n \r` and
                    // keeps any other backslash with its character (`\b` stays `\b`).
                    (q, b'\\') if q != Some(b'\'') && i + 1 < b.len() => {
                        match b[i + 1] {
                            e @ (b'\\' | b'\'' | b'"' | b' ') => cur.push(e),
                            b't' => cur.push(b'\t'),
                            b'n' => cur.push(b'\n'),
                            b'r' => cur.push(b'\r'),
                            _ => {
                                cur.push(b'\\');
                                i += 1;
                                continue;
                            }
                        }
                        i += 2;
                        continue;
                    }
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), c) => cur.push(c),
                    (None, b'\'' | b'"') => quote = Some(c),
                    (None, b',') => {
                        args.push((cur_col, std::mem::take(&mut cur)));
                        cur_col = i + 2;
                    }
                    (None, b')') => {
                        if !(cur.is_empty() && args.is_empty()) {
                            args.push((cur_col, cur));
                        }
                        i += 1;
                        break;
                    }
                    (None, c) => cur.push(c),
                }
                i += 1;
            }
        }
        out.push(Step {
            col: start + 1,
            name,
            args,
        });
        match b.get(i) {
            None => return Ok(out),
            Some(b',') => i += 1,
            Some(_) => {
                return Err(CompileError::at(
                    i + 1,
                    format!("unexpected '{}' after '{name}(...)'", &text[i..=i]),
                ))
            }
        }
    }
}

fn compile_args(
    what: &str,
    kinds: &[ArgKind],
    min: usize,
    col: usize,
    raw: &[(usize, Vec<u8>)],
) -> Result<Vec<Arg>, CompileError> {
    if raw.len() < min {
        return Err(CompileError::at(
            col,
            format!(
                "'{what}' expects at least {min} argument(s), got {}",
                raw.len()
            ),
        ));
    }
    if raw.len() > kinds.len() {
        return Err(CompileError::at(
            col,
            format!(
                "'{what}' expects at most {} argument(s), got {}",
                kinds.len(),
                raw.len()
            ),
        ));
    }
    raw.iter()
        .zip(kinds)
        .map(|((acol, a), kind)| {
            let text = String::from_utf8_lossy(a);
            match kind {
                ArgKind::Str => Ok(Arg::Str(a.clone())),
                ArgKind::Int => text.trim().parse::<i64>().map(Arg::Int).map_err(|_| {
                    CompileError::at(*acol, format!("'{what}': '{text}' is not an integer"))
                }),
                ArgKind::Var => {
                    if let Ok(n) = text.trim().parse::<i64>() {
                        return Ok(Arg::Int(n));
                    }
                    let (scope, name) = text.split_once('.').ok_or_else(|| {
                        CompileError::at(*acol, format!("'{what}': '{text}' is neither an integer nor a variable (scope.name)"))
                    })?;
                    let scope_word = scope;
                    let scope = Scope::parse(scope).ok_or_else(|| {
                        CompileError::at(*acol, format!("'{what}': unknown variable scope '{scope}' (expected proc, sess, txn, req, res or check)"))
                    })?;
                    if name.is_empty() {
                        return Err(CompileError::at(*acol, format!("'{what}': empty variable name")));
                    }
                    crate::var_uses::note_read(scope_word, name);
                    Ok(Arg::Var(scope, crate::VarName::new(name)))
                }
            }
        })
        .collect()
}

/// `v` through converters `convs`, each after the cast to its input type.
fn convert(convs: &[Conv], mut v: Value, env: &dyn Env) -> Option<Value> {
    for c in convs {
        v = crate::cast::cast(v, c.kw.input)?;
        v = (c.kw.run)(v, c, env)?;
    }
    Some(v)
}

/// Compiles `text` with `c` (map files, shared maps).
pub fn compile_with(text: &str, c: &mut Compiler) -> Result<Expr, CompileError> {
    let mut steps = steps(text)?.into_iter();
    let first = steps
        .next()
        .ok_or_else(|| CompileError::at(1, "empty sample expression"))?;
    let kw = fetch::lookup(first.name).ok_or_else(|| {
        if let Some(why) = fetch::refused(first.name) {
            let m = format!("fetch '{}' is not supported by fulcrum ({why})", first.name);
            return CompileError::at(first.col, m);
        }
        let hint = if conv::lookup(first.name).is_some() {
            " (it is a converter: it follows a fetch after a comma)"
        } else {
            ""
        };
        CompileError::at(first.col, format!("unknown fetch '{}'{hint}", first.name))
    })?;
    if kw.needs > c.available {
        let what = match kw.needs {
            fetch::Needs::Response => "the response",
            fetch::Needs::Request => "the request",
            _ => "the connection",
        };
        return Err(CompileError::at(
            first.col,
            format!(
                "fetch '{}' reads {what}, which is not available where it is used",
                first.name
            ),
        ));
    }
    if c.before_backend && fetch::NEEDS_BACKEND.contains(&kw.name) {
        return Err(CompileError::at(
            first.col,
            format!(
                "fetch '{}' may not be reliably used here because it needs 'backend' which is not available here",
                first.name
            ),
        ));
    }
    if let Some(needs) = c
        .health_check
        .then(|| crate::check_scope::unavailable(kw))
        .flatten()
    {
        return Err(CompileError::at(
            first.col,
            format!(
                "fetch method '{}' extracts information from '{needs}', none of which is available here",
                first.name
            ),
        ));
    }
    let mut args = compile_args(first.name, kw.args, kw.min, first.col, &first.args)?;
    fetch::note_compiled(kw);
    crate::proxy_refs::note_fetch(kw, &mut args);
    if matches!(kw.name, "fc_rtt" | "fc_rttvar") {
        if let Some(Arg::Str(u)) = args.first() {
            if !fetch::RTT_UNITS.iter().any(|x| x.as_bytes() == &u[..]) {
                return Err(CompileError::at(
                    first.col,
                    format!(
                        "'{}' expects 'us' or 'ms', got '{}'",
                        kw.name,
                        String::from_utf8_lossy(u)
                    ),
                ));
            }
        }
    }
    if kw.name == "bool"
        && !matches!(
            args.first().map(Arg::as_bytes),
            Some(b"true" | b"false" | b"0" | b"1")
        )
    {
        return Err(CompileError::at(
            first.col,
            "invalid args in fetch method 'bool' : Expects 'true', 'false', '0' or '1'.",
        ));
    }
    if kw.name == "var" && !matches!(args.first(), Some(Arg::Var(..))) {
        return Err(CompileError::at(
            first.col,
            "'var' expects a variable name (scope.name)",
        ));
    }
    let fetch = Fetch { kw, args };
    let mut ty = kw.out;
    let mut convs = Vec::new();
    for st in steps {
        let ckw = conv::lookup(st.name).ok_or_else(|| {
            let hint = if fetch::lookup(st.name).is_some() {
                " (it is a fetch: a converter must follow the first step)"
            } else {
                ""
            };
            CompileError::at(st.col, format!("unknown converter '{}'{hint}", st.name))
        })?;
        if !can_cast(ty, ckw.input) {
            return Err(CompileError::at(
                st.col,
                format!(
                    "converter '{}' takes {} but the value before it is {}, which cannot be cast to it",
                    st.name,
                    ckw.input.name(),
                    ty.name()
                ),
            ));
        }
        let args = compile_args(st.name, ckw.args, ckw.min, st.col, &st.args)?;
        crate::conv_more::check_args(ckw.name, &args)
            .and_then(|()| crate::conv_var::check_args(ckw.name, &args))
            .map_err(|e| CompileError::at(st.col, format!("{}: {e}", st.name)))?;
        crate::proxy_refs::note_conv(kw.name, ckw, &args);
        let regex = if ckw.name == "regsub" {
            let icase = args.get(2).is_some_and(|f| f.as_bytes().contains(&b'i'));
            let pat = String::from_utf8_lossy(args[0].as_bytes()).into_owned();
            let pat = if icase { format!("(?i){pat}") } else { pat };
            Some(Regex::new(&pat).map_err(|e| {
                CompileError::at(
                    st.args[0].0,
                    format!("regsub: invalid regular expression: {e}"),
                )
            })?)
        } else {
            None
        };
        let map = if ckw.name.starts_with("map") {
            let how = Match::of_converter(ckw.name).ok_or_else(|| {
                CompileError::at(st.col, format!("unknown map converter '{}'", st.name))
            })?;
            let file = String::from_utf8_lossy(args[0].as_bytes()).into_owned();
            if let Some(d) = args.get(1).map(|a| String::from_utf8_lossy(a.as_bytes())) {
                if !crate::map::value_parses(&d, ckw.out) {
                    // HAProxy 2.6's words for each
                    let msg = if ckw.out == Type::Addr {
                        format!("map: cannot parse default ip <{d}>")
                    } else {
                        format!("invalid arg 2 in converter '{}': failed to parse '{d}' as type 'integer'", ckw.name)
                    };
                    return Err(CompileError::at(st.args[1].0, msg));
                }
            }
            Some(
                c.map(&file, how, ckw.out)
                    .map_err(|e| CompileError::at(st.args[0].0, e))?,
            )
        } else {
            None
        };
        ty = ckw.out;
        convs.push(Conv {
            kw: ckw,
            args,
            regex,
            map,
        });
    }
    Ok(Expr {
        fetch,
        lend: Lend::of(&convs),
        convs,
        out: ty,
    })
}

impl Expr {
    /// The expression's value, or `None` where HAProxy's would have none (a missing header, a
    /// failed cast, a converter that fails).
    pub fn eval(&self, env: &dyn Env) -> Option<Value> {
        let v = fetch::eval(&self.fetch, env)?;
        self.convert(v, env)
    }

    /// [`Expr::eval`] given to `with`, the fetch's string lent by the environment where it
    /// can (a header value, the path, a variable: no copy) when no converter but `length`
    /// follows, and a map's value lent by the map when a string map lookup is the last step
    /// (`%[req.hdr(host),lower,map(hosts.map)]`). `with` must not read or set a variable
    /// ([`Env::with_var`]) nor change a map (it may hold the map's read lock).
    ///
    /// Generic over `with` (its few callers each get their own copy, `with` inlined in it:
    /// a header value's writer costs no call per evaluation).
    #[inline]
    pub(crate) fn eval_lent<W>(&self, env: &dyn Env, with: &mut W)
    where
        W: FnMut(Option<Sample<'_>>),
    {
        // a converter that reads the lent bytes (`length`, a hash), or none
        let step = match self.lend {
            Lend::Bytes => None,
            Lend::Step(which) => Some((&self.convs[0], which)),
            Lend::Map => match &self.convs[..] {
                [before @ .., last] => return self.lend_map(before, last, env, with),
                [] => return with(self.eval(env).map(Sample::Val)),
            },
            Lend::Eval => return with(self.eval(env).map(Sample::Val)),
        };
        #[inline(always)]
        fn lend<W: FnMut(Option<Sample<'_>>)>(
            step: Option<(&Conv, conv::LentConv)>,
            b: &[u8],
            with: &mut W,
        ) {
            match step {
                None => with(Some(Sample::Str(b))),
                Some((c, which)) => with(conv::on_lent(c, which, b).map(Sample::Val)),
            }
        }
        match (self.fetch.kw.id, &self.fetch.args[..]) {
            (fetch::Id::Var, [Arg::Var(scope, name)]) => {
                let mut other = None;
                env.with_var(*scope, name, &mut |v| match v {
                    Some(Value::Str(b)) => lend(step, b, with),
                    v => other = Some(v.cloned()),
                });
                // unset, or not a string: after the lock, through the converters
                if let Some(v) = other {
                    with(v.and_then(|v| self.convert(v, env)).map(Sample::Val));
                }
            }
            _ if matches!(self.fetch.kw.out, Type::Str | Type::Meth) => {
                match env.str_of(&self.fetch) {
                    Some(Some(b)) => lend(step, b, with),
                    Some(None) => with(None),
                    None => with(self.eval(env).map(Sample::Val)),
                }
            }
            _ => with(self.eval(env).map(Sample::Val)),
        }
    }

    /// [`Expr::eval_lent`] of an expression whose last step `map` is a string map lookup:
    /// what the map converter gives (the entry's value, else the default, else none), lent
    /// under the map's read lock instead of copied.
    fn lend_map(
        &self,
        before: &[Conv],
        map: &Conv,
        env: &dyn Env,
        with: &mut dyn FnMut(Option<Sample<'_>>),
    ) {
        let key = fetch::eval(&self.fetch, env)
            .and_then(|v| convert(before, v, env))
            .and_then(|v| crate::cast::cast(v, map.kw.input));
        let (Some(key), Some(shared)) = (key, map.map.as_ref()) else {
            return with(None);
        };
        match shared.read() {
            Ok(m) => {
                let found = m.find_value(&key);
                let value = found
                    .as_deref()
                    .or_else(|| map.args.get(1).map(Arg::as_bytes));
                with(value.map(Sample::Str));
            }
            Err(_) => with(None),
        }
        crate::spare::give_value(key);
    }

    /// Whether `pred` holds for any value of the expression: a fetch with several values
    /// (each header value, each cookie) is tried value by value through the converters, as
    /// HAProxy's ACLs do.
    pub fn any(&self, env: &dyn Env, pred: &mut dyn FnMut(&Value) -> bool) -> bool {
        fetch::each(&self.fetch, env, &mut |v| match self.convert(v, env) {
            Some(v) => {
                let found = pred(&v);
                crate::spare::give_value(v);
                found
            }
            None => false,
        })
    }

    fn convert(&self, v: Value, env: &dyn Env) -> Option<Value> {
        convert(&self.convs, v, env)
    }

    /// Whether it reads nothing of the stream (a constant for the life of the config).
    pub fn needs(&self) -> fetch::Needs {
        self.fetch.kw.needs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment that lends its path, as the data plane's does.
    struct Lends;

    impl Env for Lends {
        fn fetch(&self, f: &Fetch) -> Option<Value> {
            (f.kw.id == fetch::Id::Path).then(|| Value::str("/Shop/Item.html"))
        }
        fn str_of<'s>(&'s self, f: &'s Fetch) -> Option<Option<&'s [u8]>> {
            (f.kw.id == fetch::Id::Path).then_some(Some(b"/Shop/Item.html"))
        }
        fn var(&self, _: Scope, _: &crate::VarName) -> Option<Value> {
            None
        }
        fn now_unix(&self) -> i64 {
            0
        }
        fn random(&self) -> u32 {
            0
        }
    }

    #[test]
    fn a_lent_value_is_the_evaluated_value() {
        for text in [
            "path",
            "path,length",
            "path,crc32",
            "path,crc32(1)",
            "path,djb2",
            "path,sdbm(1)",
            "path,wt6",
            "path,lower",
            "path,upper,length",
            "method,crc32",
        ] {
            let e = compile(text).expect(text);
            let evaluated = e.eval(&Lends);
            let mut lent = None;
            e.eval_lent(&Lends, &mut |v| {
                lent = Some(v.map(|v| match v {
                    Sample::Str(b) => Value::Str(b.to_vec()),
                    Sample::Val(v) => v,
                }));
            });
            assert_eq!(lent, Some(evaluated), "{text}");
        }
    }
}
