//! `capture request|response header NAME len N` and `capture cookie NAME len N` in a proxy.

use super::super::line::{number_in, Line};
use crate::model::Proxy;

/// Parses one `capture` line into `p`.
pub(super) fn parse(p: &mut Proxy, line: &Line<'_>) -> Result<(), String> {
    let side = line.need(1, "'request' or 'response'")?;
    let what = line.need(2, "'header'")?;
    let response = match (side, what) {
        ("request", "header") => false,
        ("response", "header") => true,
        ("cookie", name) => {
            if line.arg(3) != Some("len") {
                return Err("'capture cookie NAME' expects 'len N'".into());
            }
            // HAProxy caps it at tune.http.cookielen (63 by default).
            let len = number_in(line.need(4, "a length")?, "capture len", 1, 65535)?;
            line.no_more(5)?;
            if p.options.log.capture_cookie.is_some() {
                return Err("only one 'capture cookie' per proxy".into());
            }
            p.options.log.capture_cookie = Some((name.to_string(), (len as usize).min(63)));
            return Ok(());
        }
        _ => {
            return Err(format!(
                "'capture' expects 'request header' or 'response header', found '{side} {what}'"
            ))
        }
    };
    let name = line.need(3, "a header name")?.to_string();
    if line.arg(4) != Some("len") {
        return Err("'capture ... header NAME' expects 'len N'".into());
    }
    let len = number_in(line.need(5, "a length")?, "capture len", 1, 65535)? as usize;
    line.no_more(6)?;
    p.captures.push(crate::model::Capture {
        response,
        name,
        len,
        sample: false,
    });

    Ok(())
}
