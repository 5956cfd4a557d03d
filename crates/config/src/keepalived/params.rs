//! keepalived's "advanced configuration" line rewriting, applied before tokens exist:
//! conditional lines (`@ID line`, `@^ID line`, kept only when ID is / is not the config id) and
//! parameter substitution (`$NAME=VALUE`, multi-line with trailing `\`, then `$NAME` followed
//! by whitespace or `${NAME}` anywhere, recursively; `${_PWD}`, `${_INSTANCE}`, `${_HASH}`
//! predefined). Undefined parameters stay as written, as in keepalived, so a `$` in a script
//! is untouched. Expansion is bounded so a self-referencing definition cannot run away.

use std::collections::HashMap;

/// Longest line a substitution may produce.
pub const MAX_EXPANDED_LEN: usize = 64 * 1024;
/// Substitution rounds on one line before giving up (recursive definitions).
pub const MAX_ROUNDS: usize = 32;

#[derive(Debug, Default)]
pub struct Params {
    defs: HashMap<String, String>,
    /// keepalived's `-i` config id; by default the first label of the host name.
    pub config_id: Option<String>,
}

/// What a line is, once the conditional prefix is applied.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// `@ID` that does not select this node: drop the line.
    Skipped,
    /// `$NAME=VALUE`; `continued` when the value goes on with the next lines (trailing `\`).
    Define {
        name: &'a str,
        value: &'a str,
        continued: bool,
    },
    Text(&'a str),
}

impl Params {
    pub fn new(config_id: Option<String>) -> Params {
        Params {
            defs: HashMap::new(),
            config_id,
        }
    }

    pub fn define(&mut self, name: &str, value: String) {
        self.defs.insert(name.to_string(), value);
    }

    pub fn classify<'a>(&self, line: &'a str) -> Line<'a> {
        let trimmed = line.trim_start();
        let body = match trimmed.strip_prefix('@') {
            Some(rest) => {
                let (negate, rest) = match rest.strip_prefix('^') {
                    Some(r) => (true, r),
                    None => (false, rest),
                };
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                let (id, tail) = rest.split_at(end);
                let matches = self.config_id.as_deref() == Some(id);
                if matches == negate {
                    return Line::Skipped;
                }
                tail.trim_start()
            }
            None => trimmed,
        };
        if let Some(rest) = body.strip_prefix('$') {
            let name_end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..name_end];
            if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
                if let Some(value) = rest[name_end..].strip_prefix('=') {
                    let value = value.trim();
                    return match value.strip_suffix('\\') {
                        Some(v) => Line::Define {
                            name,
                            value: v.trim_end(),
                            continued: true,
                        },
                        None => Line::Define {
                            name,
                            value,
                            continued: false,
                        },
                    };
                }
            }
        }
        Line::Text(body)
    }

    /// Replaces defined parameters in `line`. `pwd` is the current file's directory.
    pub fn substitute(&self, line: &str, pwd: &str) -> Result<String, String> {
        if !line.contains('$') {
            return Ok(line.to_string());
        }
        let mut cur = line.to_string();
        for _ in 0..MAX_ROUNDS {
            let (next, changed) = self.one_round(&cur, pwd);
            if next.len() > MAX_EXPANDED_LEN {
                return Err(format!(
                    "parameter substitution makes this line longer than {MAX_EXPANDED_LEN} bytes"
                ));
            }
            if !changed {
                return Ok(next);
            }
            cur = next;
        }
        Err(format!("parameter substitution did not settle after {MAX_ROUNDS} rounds (a parameter refers to itself?)"))
    }

    fn lookup(&self, name: &str, pwd: &str) -> Option<String> {
        match name {
            "_PWD" => Some(pwd.to_string()),
            "_HASH" => Some("#".to_string()),
            "_INSTANCE" => self.config_id.clone(),
            _ => self.defs.get(name).cloned(),
        }
    }

    fn one_round(&self, s: &str, pwd: &str) -> (String, bool) {
        let mut out = String::with_capacity(s.len());
        let mut changed = false;
        let mut rest = s;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(inner) = after.strip_prefix('{') {
                if let Some(close) = inner.find('}') {
                    if let Some(v) = self.lookup(&inner[..close], pwd) {
                        out.push_str(&v);
                        changed = true;
                        rest = &inner[close + 1..];
                        continue;
                    }
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                let followed_by_space =
                    !matches!(after[end..].chars().next(), Some(c) if !c.is_whitespace());
                if end > 0 && followed_by_space {
                    if let Some(v) = self.lookup(&after[..end], pwd) {
                        out.push_str(&v);
                        changed = true;
                        rest = &after[end..];
                        continue;
                    }
                }
            }
            out.push('$');
            rest = after;
        }
        out.push_str(rest);
        (out, changed)
    }
}

/// The config id keepalived uses by default: the first label of the node name.
pub fn default_config_id() -> Option<String> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let first = host.trim().split('.').next()?.to_string();
    (!first.is_empty()).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_lines() {
        let p = Params::new(Some("main".into()));
        assert_eq!(p.classify("  @main router_id a"), Line::Text("router_id a"));
        assert_eq!(p.classify("@backup router_id b"), Line::Skipped);
        assert_eq!(p.classify("@^backup x"), Line::Text("x"));
        assert_eq!(p.classify("@^main x"), Line::Skipped);
    }

    #[test]
    fn definitions_and_recursive_substitution() {
        let mut p = Params::new(None);
        assert_eq!(
            p.classify("$A=10.2.${B}"),
            Line::Define {
                name: "A",
                value: "10.2.${B}",
                continued: false
            }
        );
        assert_eq!(
            p.classify("$M= \\"),
            Line::Define {
                name: "M",
                value: "",
                continued: true
            }
        );
        p.define("A", "10.2.${B}".into());
        p.define("B", "0".into());
        assert_eq!(
            p.substitute("${A}.100/32", "/d").as_deref(),
            Ok("10.2.0.100/32")
        );
        assert_eq!(
            p.substitute("priority $B", "/d").as_deref(),
            Ok("priority 0")
        );
        assert_eq!(
            p.substitute("x $Bx ${UNDEF} $", "/d").as_deref(),
            Ok("x $Bx ${UNDEF} $")
        );
        assert_eq!(
            p.substitute("${_PWD}/s ${_HASH}", "/d").as_deref(),
            Ok("/d/s #")
        );
        p.define("L", "${L}${L}".into());
        assert!(p.substitute("${L}", "/d").is_err());
    }
}
