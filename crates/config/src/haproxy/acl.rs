//! `acl NAME FETCH [FLAGS] VALUES...` and the `if|unless` conditions that use ACLs.

use super::line::Line;
use super::suggest::did_you_mean;
use crate::model::{Acl, AclRef, AclTerm, Condition, Fetch, Reference};
use fulcrum_sample::expr::Compiler;

/// "did you mean" for an unknown fetch or ACL keyword: the closest the sample crate knows.
fn suggest(name: &str) -> String {
    let names = fulcrum_sample::acl::criterion_names();
    let known: Vec<&str> = names.iter().map(String::as_str).collect();
    did_you_mean(name, &known)
}

/// ACLs every proxy knows without declaring them.
pub const PREDEFINED: &[&str] = &[
    "TRUE",
    "FALSE",
    "HTTP",
    "HTTP_1.0",
    "HTTP_1.1",
    "HTTP_2.0",
    "HTTP_3.0",
    "HTTP_CONTENT",
    "HTTP_URL_ABS",
    "HTTP_URL_SLASH",
    "HTTP_URL_STAR",
    "LOCALHOST",
    "METH_CONNECT",
    "METH_DELETE",
    "METH_GET",
    "METH_HEAD",
    "METH_OPTIONS",
    "METH_POST",
    "METH_PUT",
    "METH_TRACE",
    "RDP_COOKIE",
    "REQ_CONTENT",
    "WAIT_END",
];

pub fn parse_named(line: &Line<'_>) -> Result<Acl, String> {
    let name = line.need(1, "an ACL name")?;
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:".contains(*c)))
    {
        return Err(format!(
            "character '{bad}' is not permitted in ACL name '{name}'"
        ));
    }
    parse_body(line.args_from(2), name, line)
}

/// FETCH [FLAGS] [VALUES]: `words` starts at the fetch. The whole ACL is compiled by the
/// sample engine here, so every mistake (unknown fetch or converter, bad pattern, missing
/// pattern file, a fetch the data plane does not answer) is a `FILE:LINE` error.
fn parse_body(words: &[String], name: &str, line: &Line<'_>) -> Result<Acl, String> {
    let criterion = words
        .first()
        .ok_or_else(|| format!("ACL '{name}' needs a criterion such as path_beg or hdr(host)"))?;
    let what = if name.is_empty() {
        "anonymous ACL".to_string()
    } else {
        format!("ACL '{name}'")
    };
    let head = &criterion[..criterion.find(['(', ',']).unwrap_or(criterion.len())];
    // HAProxy only warns about an ACL whose fetch is not available where it is used ("will
    // never match"): not refused here (values and expressions are).
    let mut compiler = Compiler {
        before_backend: false,
        ..Compiler::default()
    };
    let compiled = fulcrum_sample::acl::compile(words, &mut compiler).map_err(|e| {
        let hint = if e.contains("unknown fetch") {
            suggest(head)
        } else {
            String::new()
        };
        format!("{what}: {e}{hint}")
    })?;
    let fetch_name = compiled.expr.fetch.kw.name;
    super::logformat::check_answered(fetch_name).map_err(|e| format!("{what}: {e}"))?;
    let open = criterion.find('(');
    let arg = open.and_then(|o| {
        let close = criterion[o..].find(')')? + o;
        Some(criterion[o + 1..close].to_string())
    });
    let mut acl = Acl {
        name: name.to_string(),
        span: line.span.clone(),
        fetch: Fetch {
            name: head.to_string(),
            arg,
        },
        ignore_case: false,
        match_method: None,
        patterns: Vec::new(),
        words: words.to_vec(),
    };
    let mut i = 1;
    while let Some(w) = words.get(i) {
        match w.as_str() {
            "-i" => acl.ignore_case = true,
            "-n" | "-M" => {}
            "-u" | "-f" => i += 1,
            "-m" => {
                acl.match_method = words.get(i + 1).cloned();
                i += 1;
            }
            "--" => {
                i += 1;
                break;
            }
            _ => break,
        }
        i += 1;
    }
    acl.patterns = words[i.min(words.len())..].to_vec();
    Ok(acl)
}

/// `name(arg)` or `name(arg),converter...` (converters are kept in the arg-less name check).
pub fn parse_fetch(text: &str) -> Result<Fetch, String> {
    let main = text.split(',').next().unwrap_or(text);
    let (name, arg) = match main.split_once('(') {
        Some((n, rest)) => {
            let a = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("missing ')' in '{text}'"))?;
            (n, Some(a.to_string()))
        }
        None => (main, None),
    };
    if fulcrum_sample::fetch::lookup(name).is_none() && fulcrum_sample::acl::keyword(name).is_none()
    {
        return Err(format!(
            "unknown fetch method '{name}' in ACL expression '{text}'{}",
            suggest(name)
        ));
    }
    Ok(Fetch {
        name: name.to_string(),
        arg,
    })
}

/// `if|unless TERM...` starting at word `start`.
pub fn condition(line: &Line<'_>, start: usize) -> Result<Condition, String> {
    let unless = match line.need(start, "'if' or 'unless'")? {
        "if" => false,
        "unless" => true,
        other => return Err(format!("expected 'if' or 'unless', found '{other}'")),
    };
    let words = line.args_from(start + 1);
    if words.is_empty() {
        return Err(format!(
            "'{}' needs a condition after it",
            if unless { "unless" } else { "if" }
        ));
    }
    let mut any_of: Vec<Vec<AclTerm>> = vec![Vec::new()];
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        if w == "||" || w.eq_ignore_ascii_case("or") {
            if any_of.last().map(Vec::is_empty).unwrap_or(true) {
                return Err(format!("'{w}' must stand between two ACLs"));
            }
            any_of.push(Vec::new());
            i += 1;
            continue;
        }
        let (negate, w) = match w.strip_prefix('!') {
            Some("") => {
                i += 1;
                let next = words.get(i).ok_or("'!' must be followed by an ACL")?;
                (true, next.as_str())
            }
            Some(rest) => (true, rest),
            None => (false, w),
        };
        let acl = if w == "{" {
            let close = words[i + 1..]
                .iter()
                .position(|x| x == "}")
                .ok_or("anonymous ACL opened with '{' is not closed with '}'")?;
            let inner = &words[i + 1..i + 1 + close];
            let acl = parse_body(inner, "", line)?;
            i += close + 1;
            AclRef::Anonymous(Box::new(acl))
        } else {
            AclRef::Named(Reference {
                name: w.to_string(),
                span: line.span.clone(),
            })
        };
        if let Some(group) = any_of.last_mut() {
            group.push(AclTerm { negate, acl });
        }
        i += 1;
    }
    if any_of.last().map(Vec::is_empty).unwrap_or(true) {
        return Err("condition ends with '||'".into());
    }
    Ok(Condition { unless, any_of })
}
