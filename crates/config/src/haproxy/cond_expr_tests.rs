//! Every case of `cond_expr_cases.txt` (haproxy 2.6.12's recorded verdicts), read through
//! the line lexer as a `.if` line is, plus the version splitting and `strtol` details.

use super::{evaluate, split_version, strtol};
use crate::haproxy::lexer::split_line;

/// (expression, haproxy's verdict, fulcrum's verdict) from the shared table.
pub fn cases() -> Vec<(String, String, String)> {
    include_str!("cond_expr_cases.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut cols = l.split('\t');
            let expr = cols.next().unwrap_or_default().to_string();
            let theirs = cols.next().unwrap_or_default().to_string();
            let ours = cols.next().map_or_else(|| theirs.clone(), str::to_string);
            (expr, theirs, ours)
        })
        .collect()
}

fn env(name: &str) -> Option<String> {
    (name == "PATH").then(|| "/usr/bin:/bin".to_string())
}

fn verdict(expr: &str) -> String {
    let words = match split_line(&format!(".if {expr}"), &env) {
        Ok(l) => l.words,
        Err(_) => return "ERR".into(),
    };
    match evaluate(&words[1..].join(" "), &env) {
        Ok(true) => "T".into(),
        Ok(false) => "F".into(),
        Err(_) => "ERR".into(),
    }
}

#[test]
fn table_of_haproxy_verdicts() {
    let cases = cases();
    assert!(cases.len() > 100, "the table has {} cases", cases.len());
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(e, _, ours)| verdict(e) != *ours)
        .map(|(e, _, ours)| format!("{e:?}: expected {ours}, got {}", verdict(e)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn versions_split_as_haproxy() {
    assert_eq!(split_version("2.6.12"), Some([2, 6, 12, 0, 3, 0, 0]));
    assert_eq!(split_version("1.2.1-pre2"), Some([1, 2, 1, 0, 2, 2, 0]));
    assert_eq!(split_version("1.5-dev18-43"), Some([1, 5, 0, 0, 1, 18, 43]));
    assert_eq!(
        split_version("2.4-dev18-f6818d-20"),
        Some([2, 4, 0, 0, 1, 18, 20])
    );
    assert_eq!(split_version("1.2.10.1"), Some([1, 2, 10, 1, 3, 0, 0]));
    assert_eq!(
        split_version("2.6.12-1+deb12u4"),
        Some([2, 6, 12, 0, 3, 0, 0])
    );
    assert_eq!(split_version(""), None);
    assert_eq!(split_version("abc"), None);
    assert_eq!(split_version("2.6.13-dev1x"), None);
    assert_eq!(split_version("2.6-"), Some([2, 6, 0, 0, 3, 0, 0]));
    assert_eq!(split_version("2.6-x-"), None);
}

#[test]
fn strtol_as_c() {
    assert_eq!(strtol(b"0x1f", true), (4, 31));
    assert_eq!(strtol(b"0x", true), (1, 0));
    assert_eq!(strtol(b"017", true), (3, 15));
    assert_eq!(strtol(b"08", true), (1, 0));
    assert_eq!(strtol(b" -12z", false), (4, -12));
    assert_eq!(strtol(b"+", false), (0, 0));
    assert_eq!(strtol(b"99999999999999999999", false), (20, i64::MAX));
}

#[test]
fn errors_say_where() {
    let e = evaluate("defined(X) |", &env).unwrap_err();
    assert_eq!(e.at, 11);
    assert!(e.msg.contains("unexpected character '|'"), "{}", e.msg);
    let e = evaluate("openssl_version_atleast(1.1.1)", &env).unwrap_err();
    assert!(e.msg.contains("rustls"), "{}", e.msg);
    let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(evaluate(&deep, &env).is_err());
    let ok = format!("{}1{}", "(".repeat(100), ")".repeat(100));
    assert_eq!(evaluate(&ok, &env), Ok(true));
}
