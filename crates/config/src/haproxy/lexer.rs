//! Splits one haproxy.cfg line into words, as HAProxy 2.x does.
//!
//! Words are separated by blanks; `#` starts a comment unless quoted or escaped; `"…"` keeps
//! blanks and expands `${VAR}` (and `${VAR-default}`); `'…'` keeps everything literally;
//! a backslash escapes the next character (`\ `, `\#`, `\"`, `\'`, `\\`) or writes one
//! (`\t`, `\n`, `\r`, `\xNN`). Unquoted `${VAR}` is expanded too. This module knows nothing
//! about sections or keywords.

/// Looks up environment variables; a function so tests need not touch the process env.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The words of one line, or a message saying what is wrong with the quoting.
pub fn split_line(line: &str, env: EnvLookup<'_>) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
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
                    Some(other) => cur.push(other),
                }
            }
            (_, '$') if chars.peek() == Some(&'{') => {
                chars.next();
                let mut name = String::new();
                let mut closed = false;
                for n in chars.by_ref() {
                    if n == '}' {
                        closed = true;
                        break;
                    }
                    name.push(n);
                }
                if !closed {
                    return Err(format!("unterminated '${{{name}' (expected a closing '}}')"));
                }
                let (var, default) = match name.split_once('-') {
                    Some((v, d)) => (v.to_string(), Some(d.to_string())),
                    None => (name.clone(), None),
                };
                if var.is_empty() {
                    return Err("empty variable name in '${}'".into());
                }
                let value = env(&var).or(default).unwrap_or_default();
                cur.push_str(&value);
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unmatched quote ({q}): the quoted text runs to the end of the line"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("8080".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn split(line: &str) -> Result<Vec<String>, String> {
        split_line(line, &env)
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
        assert_eq!(split(r#"string "hello world""#).unwrap(), vec!["string", "hello world"]);
        assert_eq!(split(r"a\ b c").unwrap(), vec!["a b", "c"]);
        assert_eq!(split(r"a\#b").unwrap(), vec!["a#b"]);
        assert_eq!(split(r#""a#b""#).unwrap(), vec!["a#b"]);
        assert_eq!(split(r"'${PORT} x'").unwrap(), vec!["${PORT} x"]);
        assert_eq!(split(r"\x41\t").unwrap(), vec!["A\t"]);
        assert_eq!(split(r#""""#).unwrap(), vec![""]);
        assert_eq!(split(r#"ab"cd"ef"#).unwrap(), vec!["abcdef"]);
    }

    #[test]
    fn environment() {
        assert_eq!(split(r#"bind ":${PORT}""#).unwrap(), vec!["bind", ":8080"]);
        assert_eq!(split(r"bind :${PORT}").unwrap(), vec!["bind", ":8080"]);
        assert_eq!(split(r#""${NOPE-9000}""#).unwrap(), vec!["9000"]);
        assert_eq!(split(r#""${NOPE}""#).unwrap(), vec![""]);
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
