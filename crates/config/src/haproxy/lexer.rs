//! Splits one haproxy.cfg line into words, as HAProxy 2.x does.
//!
//! Words are separated by blanks; `#` starts a comment unless quoted or escaped; `"…"` keeps
//! blanks and expands environment variables (`$VAR`, `${VAR}`, `${VAR-default}`, and
//! `${VAR[*]}` which splits the value into several words); `'…'` keeps everything literally;
//! a backslash escapes the next character (`\ `, `\#`, `\"`, `\'`, `\\`, `\$`) or writes one
//! (`\t`, `\n`, `\r`, `\xNN`); before any other character it stays (`\.` in a regex). As in HAProxy 2.6, variables outside double quotes are left as
//! written; addresses expand them later (`expand_address`), as HAProxy's address parser does.
//! An undefined variable becomes empty, and is recorded so address parsers can refuse it.
//! This module knows nothing about sections or keywords.

/// Looks up environment variables; a function so tests need not touch the process env.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The words of one line, and the undefined variables met in each (word index, name).
#[derive(Debug, Default, PartialEq)]
pub struct Lexed {
    pub words: Vec<String>,
    pub undefined: Vec<(usize, String)>,
}

/// The words of one line, or a message saying what is wrong with the quoting.
pub fn split_line(line: &str, env: EnvLookup<'_>) -> Result<Lexed, String> {
    let mut words = Vec::new();
    let mut undefined = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, ' ' | '\t' | '\r' | '\n') => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '#') => break,
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                in_word = true;
                match chars.next() {
                    None => return Err("line ends with a lone backslash".into()),
                    Some('t') => cur.push('\t'),
                    Some('n') => cur.push('\n'),
                    Some('r') => cur.push('\r'),
                    Some('x') => {
                        let hi = chars.next();
                        let lo = chars.next();
                        let byte = match (hi, lo) {
                            (Some(h), Some(l)) => u8::from_str_radix(&format!("{h}{l}"), 16).ok(),
                            _ => None,
                        };
                        match byte {
                            Some(b) => cur.push(char::from(b)),
                            None => return Err("'\\x' must be followed by two hex digits".into()),
                        }
                    }
                    Some(c @ (' ' | '#' | '"' | '\'' | '\\' | '$')) => cur.push(c),
                    // Any other backslash is kept with its character, as HAProxy does, so
                    // regexes such as `^\+PONG` or `\.example` reach their matcher intact.
                    Some(other) => {
                        cur.push('\\');
                        cur.push(other);
                    }
                }
            }
            (Some('"'), '$') => {
                let var = match read_variable(&mut chars)? {
                    Some(v) => v,
                    None => {
                        cur.push('$');
                        in_word = true;
                        continue;
                    }
                };
                let value = match env(&var.name) {
                    Some(v) => v,
                    None => match var.default {
                        Some(d) => d,
                        None => {
                            undefined.push((words.len(), var.name.clone()));
                            String::new()
                        }
                    },
                };
                in_word = true;
                if var.split {
                    let mut parts = value.split_whitespace();
                    if let Some(first) = parts.next() {
                        cur.push_str(first);
                    }
                    for part in parts {
                        words.push(std::mem::take(&mut cur));
                        cur.push_str(part);
                    }
                } else {
                    cur.push_str(&value);
                }
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!(
            "unmatched quote ({q}): the quoted text runs to the end of the line"
        ));
    }
    if in_word {
        words.push(cur);
    }
    Ok(Lexed { words, undefined })
}

struct Variable {
    name: String,
    default: Option<String>,
    /// `${NAME[*]}`: the value is split into several words.
    split: bool,
}

/// After a `$`: `{NAME[-default][[*]]}` or `NAME`; `None` when no name follows (a lone `$`).
fn read_variable(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<Option<Variable>, String> {
    if chars.peek() == Some(&'{') {
        chars.next();
        let mut inner = String::new();
        let mut closed = false;
        for n in chars.by_ref() {
            if n == '}' {
                closed = true;
                break;
            }
            inner.push(n);
        }
        if !closed {
            return Err(format!(
                "unterminated '${{{inner}' (expected a closing '}}')"
            ));
        }
        let (inner, split) = match inner.strip_suffix("[*]") {
            Some(i) => (i.to_string(), true),
            None => (inner, false),
        };
        let (name, default) = match inner.split_once('-') {
            Some((n, d)) => (n.to_string(), Some(d.to_string())),
            None => (inner, None),
        };
        if !valid_name(&name) {
            return Err(format!("invalid variable name '{name}' (letters, digits and '_', not starting with a digit)"));
        }
        return Ok(Some(Variable {
            name,
            default,
            split,
        }));
    }
    let mut name = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
            chars.next();
        } else {
            break;
        }
    }
    if name.is_empty() {
        return Ok(None);
    }
    if !valid_name(&name) {
        return Err(format!(
            "invalid variable name '{name}' (letters, digits and '_', not starting with a digit)"
        ));
    }
    Ok(Some(Variable {
        name,
        default: None,
        split: false,
    }))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Expands `$NAME` and `${NAME[-default]}` left in an address, as HAProxy's address parser does
/// whatever the quoting; an undefined variable without default is an error, not an empty string.
pub fn expand_address(text: &str, env: EnvLookup<'_>) -> Result<String, String> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        match read_variable(&mut chars)? {
            None => out.push('$'),
            Some(v) => match env(&v.name).or(v.default) {
                Some(value) => out.push_str(&value),
                None => {
                    return Err(format!(
                        "environment variable '{}' used in address '{text}' is not defined",
                        v.name
                    ))
                }
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("8080".into()),
            "EMPTY" => Some(String::new()),
            "LIST" => Some("x y  z".into()),
            _ => None,
        }
    }

    fn split(line: &str) -> Result<Vec<String>, String> {
        split_line(line, &env).map(|l| l.words)
    }

    #[test]
    fn words_and_comments() {
        assert_eq!(split("  bind :80   # web").unwrap(), vec!["bind", ":80"]);
        assert_eq!(split("# only a comment").unwrap(), Vec::<String>::new());
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert_eq!(split("a\tb").unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            split(r#"string "hello world""#).unwrap(),
            vec!["string", "hello world"]
        );
        assert_eq!(split(r"a\ b c").unwrap(), vec!["a b", "c"]);
        assert_eq!(split(r"a\#b").unwrap(), vec!["a#b"]);
        assert_eq!(split(r#""a#b""#).unwrap(), vec!["a#b"]);
        assert_eq!(split(r"'${PORT} x'").unwrap(), vec!["${PORT} x"]);
        assert_eq!(split(r#""a$""#).unwrap(), vec!["a$"]);
        assert_eq!(split(r"\x41\t").unwrap(), vec!["A\t"]);
        assert_eq!(split(r#""""#).unwrap(), vec![""]);
        assert_eq!(split(r#"ab"cd"ef"#).unwrap(), vec!["abcdef"]);
    }

    #[test]
    fn environment_in_double_quotes_only() {
        assert_eq!(split(r#"bind ":${PORT}""#).unwrap(), vec!["bind", ":8080"]);
        assert_eq!(split(r#"bind ":$PORT""#).unwrap(), vec!["bind", ":8080"]);
        assert_eq!(split(r"bind :${PORT}").unwrap(), vec!["bind", ":${PORT}"]);
        assert_eq!(split(r#""${NOPE-9000}""#).unwrap(), vec!["9000"]);
        assert_eq!(split(r#""\$PORT $ x""#).unwrap(), vec!["$PORT $ x"]);
        assert_eq!(
            split(r#"a "${LIST[*]}" b"#).unwrap(),
            vec!["a", "x", "y", "z", "b"]
        );
        let l = split_line(r#"x "${NOPE}" "$PORT""#, &env).unwrap();
        assert_eq!(l.words, vec!["x", "", "8080"]);
        assert_eq!(l.undefined, vec![(1, "NOPE".to_string())]);
        assert!(split(r#""${1BAD}""#).is_err());
    }

    #[test]
    fn addresses_expand_whatever_the_quoting() {
        assert_eq!(expand_address(":${PORT}", &env).unwrap(), ":8080");
        assert_eq!(
            expand_address("127.0.0.1:$PORT", &env).unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(expand_address(":${NOPE-81}", &env).unwrap(), ":81");
        assert_eq!(
            expand_address("${NOPE}:80", &env).unwrap_err(),
            "environment variable 'NOPE' used in address '${NOPE}:80' is not defined"
        );
    }

    #[test]
    fn errors() {
        assert!(split(r#"a "b"#).is_err());
        assert!(split("a 'b").is_err());
        assert!(split(r"a \").is_err());
        assert!(split(r#""${PORT""#).is_err());
        assert!(split(r"\xZZ").is_err());
    }
}
