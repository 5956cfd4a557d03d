//! Log-format strings (`log-format`, `unique-id-format`, `%[...]` in header values and
//! `lf-string`): literal text, `%[expr]` sample expressions and HAProxy's `%` variables
//! (configuration manual 8.2.4), each with optional `%{+Q,+X,+E}` flags. `option httplog` and
//! `option tcplog` are the predefined formats below, compiled by the same code.
//! A literal `%[` never survives compilation: it is an expression or an error.

use crate::env::Env;
use crate::error::CompileError;
use crate::expr::{compile_with, Compiler, Expr, Sample};
use crate::value::Value;
use crate::value_text;

/// HAProxy 2.6's `option httplog` format.
pub const HTTP_LOG: &str = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r";
/// `option httplog clf`.
pub const CLF_HTTP_LOG: &str = "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl";
/// `option tcplog`.
pub const TCP_LOG: &str = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";

/// Every `%` variable of the manual's table 8.2.4 (`o` only sets flags for what follows).
pub static VARIABLES: &[&str] = &[
    "o", "B", "CC", "CS", "H", "HM", "HP", "HPO", "HQ", "HU", "HV", "ID", "ST", "T", "TR", "Ta",
    "Tc", "Td", "Th", "Ti", "Tl", "Tq", "Tr", "Ts", "Tt", "Tu", "Tw", "U", "ac", "b", "bc", "bi",
    "bp", "bq", "ci", "cp", "f", "fc", "fi", "fp", "ft", "hr", "hrl", "hs", "hsl", "lc", "ms",
    "pid", "r", "rc", "rt", "s", "sc", "si", "sp", "sq", "sslc", "sslv", "t", "tr", "trg", "trl",
    "ts", "tsc",
];

/// The `%` variables an exchange's own request and connection answer in rule values; the
/// others are the stream's log facts (`%t %b %s %ID %Tw`...), which the data plane gathers
/// per request only once a rule value in the process reads one ([`rule_facts_read`]).
pub static EXCHANGE_VARS: &[&str] = &[
    "ci", "cp", "fi", "fp", "ST", "HM", "HU", "HP", "HPO", "HQ", "HV", "r", "sslv", "sslc",
];

static RULE_FACTS_READ: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static RULE_SOURCE_READ: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Notes a rule value's format (not a log line's): whether it reads the stream's log facts.
pub fn note_rule_value(f: &Format) {
    let reads = f
        .nodes
        .iter()
        .any(|n| matches!(n, Node::Var(v, f) if !EXCHANGE_VARS.contains(v) || f.hex));
    if reads {
        RULE_FACTS_READ.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    if f.nodes
        .iter()
        .any(|n| matches!(n, Node::Var("bi" | "bp", _)))
    {
        RULE_SOURCE_READ.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether a rule value compiled in this process writes `%bi`/`%bp` (the server
/// connection's own address, asked of the socket only then).
pub fn rule_source_read() -> bool {
    RULE_SOURCE_READ.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether a rule value compiled in this process reads the stream's log facts (it stays
/// true: a later configuration without them only gathers a few words per request more).
pub fn rule_facts_read() -> bool {
    RULE_FACTS_READ.load(std::sync::atomic::Ordering::Relaxed)
}

/// Variables HAProxy 2.6 writes without quotes even under `+Q` (numbers, dates and the
/// termination state, ports), as the `%{+Q}o` of `option httplog clf` shows.
pub static UNQUOTED: &[&str] = &[
    "Th", "Ti", "TR", "Tq", "Tw", "Tc", "Tr", "Td", "Ta", "Tt", "Tu", "ST", "B", "U", "ac", "fc",
    "bc", "sc", "rc", "sq", "bq", "lc", "rt", "pid", "Ts", "ts", "tsc", "t", "tr", "trg", "trl",
    "T", "Tl", "cp", "fp", "sp", "bp", "ms",
];

/// `+Q` quote, `+X` hexadecimal, `+E` escape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub quote: bool,
    pub hex: bool,
    pub escape: bool,
}

#[derive(Debug, Clone)]
pub enum Node {
    Lit(Vec<u8>),
    Expr(Box<Expr>, Flags),
    Var(&'static str, Flags),
}

/// What a `%` variable's writer wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Its value: the flags (`+Q`, `+E`) apply.
    Value,
    /// Its value already formatted with the flags.
    Formatted,
    /// Nothing, not even an empty value: in a log line ([`Format::render_log`]) the blank
    /// before it and the one after it are one separator, as when HAProxy 2.6 skips a node
    /// (`%hr` on a `<BADREQ>` line), while an empty value (`%HQ` without a query) leaves both.
    Skipped,
}

/// Writes a `%` variable (its name and flags) for [`Format::render_flagged`].
pub type VarWriter<'a> = dyn FnMut(&str, Flags, &mut Vec<u8>) -> Option<Written> + 'a;

/// A compiled log-format string.
#[derive(Debug, Clone, Default)]
pub struct Format {
    pub nodes: Vec<Node>,
}

/// Compiles a log-format string (map files relative to nothing).
pub fn compile_format(text: &str) -> Result<Format, CompileError> {
    compile_format_with(text, &mut Compiler::default())
}

fn parse_flags(text: &str, mut f: Flags) -> Flags {
    // HAProxy 2.6 ignores what it does not know: a flag without its sign (`%{Q}`) or an
    // unknown name (`%{+M}`) is accepted by `haproxy -c` without a word and changes nothing
    // (measured: `%{Q}HM` and `%{+Q,M}HM` write `GET` and `"GET"`).
    for flag in text.split(',') {
        let on = match flag.as_bytes().first() {
            Some(b'+') => true,
            Some(b'-') => false,
            _ => continue,
        };
        match &flag[1..] {
            "Q" => f.quote = on,
            "X" => f.hex = on,
            "E" => f.escape = on,
            _ => {}
        }
    }
    f
}

pub fn compile_format_with(text: &str, c: &mut Compiler) -> Result<Format, CompileError> {
    let b = text.as_bytes();
    let mut nodes = Vec::new();
    let mut lit = Vec::new();
    let mut defaults = Flags::default();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            lit.push(b[i]);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if b.get(i) == Some(&b'%') {
            lit.push(b'%');
            i += 1;
            continue;
        }
        let mut flags = defaults;
        if b.get(i) == Some(&b'{') {
            let close = text[i..]
                .find('}')
                .map(|n| i + n)
                .ok_or_else(|| CompileError::at(i + 1, "missing '}' after '%{'"))?;
            flags = parse_flags(&text[i + 1..close], flags);
            i = close + 1;
        }
        if !lit.is_empty() {
            nodes.push(Node::Lit(std::mem::take(&mut lit)));
        }
        if b.get(i) == Some(&b'[') {
            // The expression ends at the first ']' outside parentheses and quotes.
            let (mut depth, mut quote, mut j) = (0usize, None::<u8>, i + 1);
            let end = loop {
                let Some(&ch) = b.get(j) else {
                    return Err(CompileError::at(i + 1, "missing ']' after '%['"));
                };
                match (quote, ch) {
                    (_, b'\\') => j += 1,
                    (Some(q), ch) if ch == q => quote = None,
                    (Some(_), _) => {}
                    (None, b'\'' | b'"') => quote = Some(ch),
                    (None, b'(') => depth += 1,
                    (None, b')') => depth = depth.saturating_sub(1),
                    (None, b']') if depth == 0 => break j,
                    _ => {}
                }
                j += 1;
            };
            // A health check's format names the rest of the string from the fetch on, as
            // HAProxy 2.6 (`check_scope`).
            let check = std::mem::replace(&mut c.health_check, false);
            let expr = compile_with(&text[i + 1..end], c);
            c.health_check = check;
            let expr = expr.map_err(|e| e.shifted(i + 1))?;
            if let Some(needs) = check
                .then(|| crate::check_scope::unavailable(expr.fetch.kw))
                .flatten()
            {
                return Err(CompileError::at(
                    i + 2,
                    format!(
                        "sample fetch <{}> may not be reliably used here because it needs '{needs}' which is not available here",
                        &text[i + 1..]
                    ),
                ));
            }
            if expr.fetch.kw.l6 {
                crate::l6_uses::note(&text[i + 1..]);
            }
            nodes.push(Node::Expr(Box::new(expr), flags));
            i = end + 1;
            continue;
        }
        let name_end = b[i..]
            .iter()
            .position(|ch| !ch.is_ascii_alphanumeric())
            .map_or(b.len(), |n| i + n);
        let name = &text[i..name_end];
        if name.is_empty() {
            return Err(CompileError::at(
                start + 1,
                "'%' must be followed by a variable, '[expression]' or '%'",
            ));
        }
        let var = VARIABLES.iter().find(|v| **v == name).ok_or_else(|| {
            CompileError::at(i + 1, format!("no such log-format variable '%{name}'"))
        })?;
        if *var == "o" {
            defaults = flags;
        } else {
            nodes.push(Node::Var(var, flags));
        }
        i = name_end;
    }
    if !lit.is_empty() {
        nodes.push(Node::Lit(lit));
    }
    let format = Format { nodes };
    crate::format_uses::note(&format);
    Ok(format)
}

impl Format {
    /// The format as HAProxy writes log lines and ids (not HTTP action values): a run of
    /// blanks is one separator, written once and never at the start nor right after another;
    /// the `%` variables `skip` names write nothing at all (so the separators around them are
    /// written once).
    pub fn blanks_once(mut self, skip: impl Fn(&str) -> bool) -> Format {
        let mut out: Vec<Node> = Vec::with_capacity(self.nodes.len());
        let mut last_blank = true;
        for n in self.nodes.drain(..) {
            match n {
                Node::Var(name, _) if skip(name) => {}
                Node::Lit(l) => {
                    let mut text = Vec::with_capacity(l.len());
                    for b in l {
                        if b != b' ' {
                            text.push(b);
                            last_blank = false;
                        } else if !last_blank {
                            text.push(b' ');
                            last_blank = true;
                        }
                    }
                    match out.last_mut() {
                        Some(Node::Lit(prev)) => prev.extend_from_slice(&text),
                        _ if !text.is_empty() => out.push(Node::Lit(text)),
                        _ => {}
                    }
                }
                other => {
                    last_blank = false;
                    out.push(other);
                }
            }
        }
        self.nodes = out;
        self
    }

    /// Whether the string is only literal text (nothing to evaluate).
    pub fn is_literal(&self) -> bool {
        self.nodes.iter().all(|n| matches!(n, Node::Lit(_)))
    }

    /// Appends the rendered string to `out`. `var` writes a `%` variable's value and returns
    /// false when it has none. A missing value is written as `absent`: HAProxy writes `-` in
    /// log lines and nothing in header values and `lf-string` bodies (`""` when quoted).
    pub fn render(
        &self,
        env: &dyn Env,
        var: &mut dyn FnMut(&str, &mut Vec<u8>) -> bool,
        absent: &[u8],
        out: &mut Vec<u8>,
    ) {
        self.render_with(
            env,
            &mut |name, _, o| var(name, o).then_some(Written::Value),
            absent,
            true,
            false,
            out,
        )
    }

    /// [`Format::render`] where `var` sees the variable's flags and may write a value that
    /// is already formatted with them ([`Written::Formatted`], e.g. `%{+Q}hrl` quoting each
    /// capture); `None`: no value.
    pub fn render_flagged(
        &self,
        env: &dyn Env,
        var: &mut VarWriter<'_>,
        absent: &[u8],
        out: &mut Vec<u8>,
    ) {
        self.render_with(env, var, absent, true, false, out);
    }

    /// [`Format::render_flagged`] for a log line of a format made with
    /// [`Format::blanks_once`]: the blanks around a [`Written::Skipped`] variable are one
    /// separator, as HAProxy 2.6 writes them (`%hr` on a `<BADREQ>` line leaves one blank).
    pub fn render_log(
        &self,
        env: &dyn Env,
        var: &mut VarWriter<'_>,
        absent: &[u8],
        out: &mut Vec<u8>,
    ) {
        self.render_with(env, var, absent, true, true, out);
    }

    /// As `render`, for the values of HTTP actions (headers, redirects, bodies), which HAProxy
    /// parses with LOG_OPT_HTTP: a missing value is empty and `+Q` quotes no sample
    /// expression (haproxy 2.6.12 sets `%{+Q}[str(a)]` as `a`, and Octavia's
    /// `X-SSL-Client-DN %{+Q}[ssl_c_s_dn]` unquoted), while it does quote a `%` variable
    /// (measured: `%{+Q}HU` is sent as `"/p"`). A sample's control bytes are written `%XX`
    /// (`value_text`): no CR, LF or NUL from a sample reaches a header or request line.
    pub fn render_value(
        &self,
        env: &dyn Env,
        var: &mut dyn FnMut(&str, &mut Vec<u8>) -> bool,
        out: &mut Vec<u8>,
    ) {
        self.render_with(
            env,
            &mut |name, _, o| var(name, o).then_some(Written::Value),
            b"",
            false,
            false,
            out,
        );
    }

    /// [`Format::render_value`] where `var` sees the variable's flags (`+X` writes numbers
    /// and addresses in hexadecimal) and may write a value already formatted with them.
    pub fn render_value_flagged(&self, env: &dyn Env, var: &mut VarWriter<'_>, out: &mut Vec<u8>) {
        // one sample expression (most header values: `%[src]`, `%[path,length]`): what
        // `render_with` writes for it, without its set-up and its loop
        if let [Node::Expr(e, f)] = &self.nodes[..] {
            let f = *f;
            return e.eval_lent(env, &mut |v| write_http_sample(v, f, out));
        }
        self.render_with(env, var, b"", false, false, out);
    }

    /// [`Format::render_value_flagged`] lent to `with` instead of appended to a buffer: a
    /// format that is one sample expression whose string needs no encoding (a header value,
    /// a map's value) is lent as it is, without a copy (`use_backend %[...]` looks the name
    /// up in it). `with` must not read or set a variable nor change a map.
    pub fn lend_value(&self, env: &dyn Env, var: &mut VarWriter<'_>, with: &mut dyn FnMut(&[u8])) {
        if let [Node::Expr(e, f)] = &self.nodes[..] {
            if !f.escape {
                let f = *f;
                e.eval_lent(env, &mut |v| match v {
                    None => with(b""),
                    Some(Sample::Str(b)) if !value_text::needs_encoding(b) => with(b),
                    v => {
                        let mut out = crate::spare::copy(b"");
                        write_http_sample(v, f, &mut out);
                        with(&out);
                        crate::spare::give(out);
                    }
                });
                return;
            }
        }
        let mut out = crate::spare::copy(b"");
        self.render_value_flagged(env, var, &mut out);
        with(&out);
        crate::spare::give(out);
    }

    fn render_with(
        &self,
        env: &dyn Env,
        var: &mut VarWriter<'_>,
        absent: &[u8],
        quoting: bool,
        blanks: bool,
        out: &mut Vec<u8>,
    ) {
        // `blanks`: where the last separator blank ended (None: a node was written since).
        let mut blank_at = Some(out.len());
        // `+E` variables are written here first (one buffer for all of them, allocated
        // only by the first); the others straight into `out`
        let mut tmp = Vec::new();
        for n in &self.nodes {
            match n {
                Node::Lit(l) if blanks => {
                    let l = match l.split_first() {
                        Some((b' ', rest)) if blank_at == Some(out.len()) => rest,
                        _ => &l[..],
                    };
                    if !l.is_empty() {
                        out.extend_from_slice(l);
                        blank_at = (l.last() == Some(&b' ')).then_some(out.len());
                    }
                }
                Node::Lit(l) => out.extend_from_slice(l),
                // HTTP values encode control bytes; log lines cut at NUL (`value_text`)
                Node::Expr(e, f) if quoting => {
                    e.eval_lent(env, &mut |v| match v {
                        None => emit(None, *f, absent, out),
                        Some(Sample::Str(b)) => emit(Some(value_text::to_nul(b)), *f, absent, out),
                        // digits and dots: nothing to escape nor to cut, no text made
                        Some(Sample::Val(Value::Sint(n))) => quoted(*f, out, |o| {
                            value_text::write_int(o, n);
                        }),
                        Some(Sample::Val(Value::Ipv4(a))) => {
                            quoted(*f, out, |o| value_text::write_v4(o, a));
                        }
                        Some(Sample::Val(v)) => {
                            let text = value_text::log_text(v);
                            emit(Some(&text), *f, absent, out);
                            crate::spare::give(text);
                        }
                    });
                    blank_at = None;
                }
                Node::Expr(e, f) => {
                    e.eval_lent(env, &mut |v| write_http_sample(v, *f, out));
                    blank_at = None;
                }
                Node::Var(name, f) if f.escape => {
                    tmp.clear();
                    let f = *f;
                    match var(name, f, &mut tmp) {
                        Some(Written::Skipped) => continue,
                        Some(Written::Formatted) => out.extend_from_slice(&tmp),
                        Some(Written::Value) => emit(Some(&tmp[..]), f, absent, out),
                        None => emit(None, f, absent, out),
                    }
                    blank_at = None;
                }
                // written in place: what `emit` would write around it added after
                Node::Var(name, f) => {
                    let start = out.len();
                    match var(name, *f, out) {
                        Some(Written::Skipped) => {
                            out.truncate(start);
                            continue;
                        }
                        Some(Written::Formatted) => {}
                        Some(Written::Value) if f.quote => {
                            out.insert(start, b'"');
                            out.push(b'"');
                        }
                        Some(Written::Value) => {}
                        None => {
                            out.truncate(start);
                            emit(None, *f, absent, out);
                        }
                    }
                    blank_at = None;
                }
            }
        }
    }
}

/// A sample expression's value appended to an HTTP value ([`Format::render_value`]).
#[inline(always)]
fn write_http_sample(v: Option<Sample<'_>>, f: Flags, out: &mut Vec<u8>) {
    match v {
        None => {}
        Some(Sample::Str(b)) => value_text::write_http(b, f.escape, out),
        // digits and `-`: nothing to encode
        Some(Sample::Val(Value::Sint(n))) => {
            value_text::write_int(out, n);
        }
        Some(Sample::Val(Value::Ipv4(a))) => value_text::write_v4(out, a),
        Some(Sample::Val(v)) => {
            let text = value_text::http_text(v);
            value_text::write_http(&text, f.escape, out);
            crate::spare::give(text);
        }
    }
}

/// What `write` appends, in quotes under `+Q` (a value `+E` leaves alone: digits, dots).
fn quoted(f: Flags, out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    if f.quote {
        out.push(b'"');
    }
    write(out);
    if f.quote {
        out.push(b'"');
    }
}

fn emit(v: Option<&[u8]>, f: Flags, absent: &[u8], out: &mut Vec<u8>) {
    if f.quote {
        out.push(b'"');
    }
    match v {
        None if f.quote => {}
        None => out.extend_from_slice(absent),
        Some(v) if f.escape => {
            for &b in v {
                if matches!(b, b'"' | b'\\' | b']') {
                    out.push(b'\\');
                }
                out.push(b);
            }
        }
        Some(v) => out.extend_from_slice(v),
    }
    if f.quote {
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags_of(text: &str) -> Flags {
        match compile_format(text).expect("compiles").nodes.first() {
            Some(Node::Var(_, f)) => *f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_log_line_writes_one_blank_where_a_variable_wrote_nothing() {
        // HAProxy 2.6's separators: `option httplog` with captures on a `<BADREQ>` line
        // (`%hr %hs` are skipped) reads `0/0 "<BADREQ>"`, one blank.
        let f = compile_format("%sq/%bq %hr %hs %{+Q}r %HQ end").expect("compiles");
        let f = f.blanks_once(|_| false);
        let mut var = |name: &str, _: Flags, o: &mut Vec<u8>| match name {
            "hr" | "hs" => Some(Written::Skipped),
            "HQ" => Some(Written::Value),
            "r" => {
                o.extend_from_slice(b"<BADREQ>");
                Some(Written::Value)
            }
            _ => {
                o.push(b'0');
                Some(Written::Value)
            }
        };
        let mut out = Vec::new();
        f.render_log(&crate::NoEnv, &mut var, b"-", &mut out);
        // An empty value (`%HQ` without a query) is written: its blanks stay (haproxy too).
        assert_eq!(out, b"0/0 \"<BADREQ>\"  end");
        // Without `render_log` (HTTP action values) the blanks stay as written.
        let mut out = Vec::new();
        f.render_flagged(&crate::NoEnv, &mut var, b"-", &mut out);
        assert_eq!(out, b"0/0   \"<BADREQ>\"  end");
    }

    #[test]
    fn a_lent_value_is_the_rendered_value() {
        // `use_backend %[...]` looks its name up in the lent value: what a header would get.
        let dir = std::env::temp_dir().join(format!("fulcrum-lend-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("m.map"),
            "a.example.com app\nctl c\x01d\nn 42\nre.* x\n",
        )
        .expect("write");
        std::fs::write(dir.join("n.map"), "n 42\n").expect("write");
        let mut c = Compiler::new(&dir);
        let formats = [
            "%[str(A.example.com),lower,map(m.map)]",
            "%[str(zzz),map(m.map,dflt)]",
            "%[str(zzz),map(m.map)]",
            "%[str(ctl),map(m.map)]",
            "%[str(n),map_str_int(n.map)]",
            "%[str(reg),map_reg(m.map)]",
            "%{+E}[str(a.example.com),map(m.map)]",
            "%{+Q}[str(a.example.com),map(m.map)]",
            "be_%[str(a.example.com),map(m.map)]",
            "%[str(lit)]",
            "%[int(7)]",
            "plain",
        ];
        for text in formats {
            let f = compile_format_with(text, &mut c).expect(text);
            let mut var = |_: &str, _: Flags, _: &mut Vec<u8>| None;
            let mut rendered = Vec::new();
            f.render_value_flagged(&crate::NoEnv, &mut var, &mut rendered);
            let mut lent = None;
            f.lend_value(&crate::NoEnv, &mut var, &mut |b| lent = Some(b.to_vec()));
            assert_eq!(lent.as_deref(), Some(&rendered[..]), "{text}");
        }
        let mut out = Vec::new();
        let f = compile_format_with("%[str(ctl),map(m.map)]", &mut c).expect("ctl");
        f.render_value_flagged(&crate::NoEnv, &mut |_, _, _| None, &mut out);
        assert_eq!(
            out, b"c%01d",
            "a control byte is encoded in the lent value too"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unknown_and_unsigned_flags_are_ignored_as_haproxy() {
        // haproxy 2.6.12: `%{Q}HM` writes GET, `%{+Q,M}HM` and `%{+M,+Q}HM` "GET".
        assert_eq!(flags_of("%{Q}HM"), Flags::default());
        assert!(flags_of("%{+Q,M}HM").quote);
        assert!(flags_of("%{+M,+Q}HM").quote);
        assert_eq!(flags_of("%{+M}ST"), Flags::default());
        assert_eq!(flags_of("%{}ST"), Flags::default());
        assert!(flags_of("%{+X,-Q}ci").hex);
    }

    #[test]
    fn rule_values_note_what_they_read() {
        note_rule_value(&compile_format("%ci %[src] %HM").expect("compiles"));
        // (a process-wide flag: other tests may have set it; this one only sets)
        note_rule_value(&compile_format("%b %{+X}bp").expect("compiles"));
        assert!(rule_facts_read());
        assert!(rule_source_read());
    }
}
