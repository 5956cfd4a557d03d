//! `vrrp_script NAME { script interval timeout weight rise fall }`.
//!
//! Defaults as keepalived.conf(5): interval 1s, weight 0, rise 1, fall 1, no timeout.

use super::args;
use super::lexer::Stmt;
use crate::diagnostics::Diagnostics;
use crate::model::VrrpScript;
use std::time::Duration;

const KNOWN: &[&str] = &[
    "script", "interval", "timeout", "weight", "rise", "fall", "user",
];
const UNSUPPORTED: &[&str] = &["init_fail"];

pub fn parse(stmt: &Stmt, d: &mut Diagnostics) -> Option<VrrpScript> {
    let (name, span) = args::first_arg_or_error(stmt, "vrrp_script", d)?;
    let body = args::block(stmt, d)?;
    let mut s = VrrpScript {
        name,
        span,
        script: String::new(),
        interval: Duration::from_secs(1),
        timeout: None,
        weight: 0,
        fall: 1,
        rise: 1,
        user: None,
    };
    let mut have_script = false;
    for kw in body {
        match kw.keyword() {
            "user" => {
                args::no_block(kw, d);
                match kw.args() {
                    [] => d.error(
                        kw.span(),
                        "'user' expects USERNAME [GROUPNAME], found nothing",
                    ),
                    [u] => s.user = Some(u.text.clone()),
                    [u, g, ..] => s.user = Some(format!("{} {}", u.text, g.text)),
                }
            }
            "script" => {
                if let Some(c) = args::command(kw, d) {
                    s.script = c;
                    have_script = true;
                }
            }
            "interval" => {
                if let Some(t) = args::one(kw, d).and_then(|w| args::seconds(w, "interval", d)) {
                    if t.is_zero() {
                        d.error(
                            kw.span(),
                            "vrrp_script interval must be greater than 0, found 0",
                        );
                    } else {
                        s.interval = t;
                    }
                }
            }
            "timeout" => {
                if let Some(t) = args::one(kw, d).and_then(|w| args::seconds(w, "timeout", d)) {
                    s.timeout = Some(t);
                }
            }
            "weight" => {
                args::no_block(kw, d);
                match kw.args() {
                    [] => d.error(
                        kw.span(),
                        "'weight' expects a number -253..253, found nothing",
                    ),
                    [w, rest @ ..] => {
                        if let Some(v) = args::i32_in(w, "vrrp_script weight", -253, 253, d) {
                            s.weight = v;
                        }
                        if let Some(r) = rest.first() {
                            if r.text == "reverse" {
                                d.warning(
                                    &r.span,
                                    "weight 'reverse' is not supported yet, ignored",
                                );
                            } else {
                                d.error(&r.span, format!("after the weight expected 'reverse' or nothing, found '{}'", r.text));
                            }
                        }
                    }
                }
            }
            "rise" | "fall" => {
                if let Some(v) =
                    args::one(kw, d).and_then(|w| args::u32_in(w, kw.keyword(), 1, u32::MAX, d))
                {
                    if kw.keyword() == "rise" {
                        s.rise = v;
                    } else {
                        s.fall = v;
                    }
                }
            }
            _ => args::unknown(
                kw,
                &format!("vrrp_script {}", s.name),
                KNOWN,
                UNSUPPORTED,
                d,
            ),
        }
    }
    if !have_script {
        d.error(stmt.span(), format!("vrrp_script {} has no 'script': expected 'script PATH' or 'script \"COMMAND ARGS\"'", s.name));
    }
    Some(s)
}
