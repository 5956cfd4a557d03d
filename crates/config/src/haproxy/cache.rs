//! `cache NAME` sections (`total-max-size`, `max-object-size`, `max-age`, `process-vary`,
//! `max-secondary-entries`) with HAProxy 2.6's defaults and limits, and the check that every
//! `cache-use` / `cache-store` rule names a section that exists.

use super::line::{number, number_in, Line};
use crate::diagnostics::Diagnostics;
use crate::model::{HttpAction, Proxy};
use crate::model_cache::CacheSection;

/// `cache NAME` opens a section; `None` (reported) when the line is unusable.
pub fn open(
    line: &Line<'_>,
    known: &[CacheSection],
    diags: &mut Diagnostics,
) -> Option<CacheSection> {
    let Some(name) = line.arg(1) else {
        diags.error(&line.span, "'cache' expects a <name> argument");
        return None;
    };
    if line.arg(2).is_some() {
        diags.error(&line.span, "'cache' expects only a section name");
        return None;
    }
    if let Some(first) = known.iter().find(|c| c.name == name) {
        diags.error(
            &line.span,
            format!(
                "duplicate cache name '{name}' (first defined at {})",
                first.span
            ),
        );
        return None;
    }
    Some(CacheSection::new(name.to_string(), line.span.clone()))
}

/// One line inside a `cache` section.
pub fn keyword(c: &mut CacheSection, line: &Line<'_>, diags: &mut Diagnostics) {
    if let Err(msg) = apply(c, line) {
        diags.error(&line.span, msg);
    }
}

fn apply(c: &mut CacheSection, line: &Line<'_>) -> Result<(), String> {
    let kw = line.keyword();
    let value = line.need(1, "a value")?;
    line.no_more(2)?;
    match kw {
        "total-max-size" => {
            // megabytes, at most 4095 (HAProxy: UINT_MAX >> 20)
            let mb = number_in(value, "total-max-size (megabytes)", 1, 4095)?;
            c.total_max_size = u64::from(mb) << 20;
        }
        "max-object-size" => c.max_object_size = number(value, "max-object-size (bytes)")?,
        "max-age" => c.max_age = number(value, "max-age (seconds)")?,
        "process-vary" => {
            c.process_vary = match value {
                "on" => true,
                "off" => false,
                other => {
                    return Err(format!(
                        "'process-vary' expects \"on\" or \"off\", found '{other}'"
                    ))
                }
            }
        }
        "max-secondary-entries" => {
            c.max_secondary_entries =
                number_in(value, "max-secondary-entries", 1, u64::from(u32::MAX))?
        }
        other => return Err(format!("unknown keyword '{other}' in 'cache' section")),
    }
    Ok(())
}

/// The section is complete: size given, `max-object-size` defaulted or bounded.
pub fn close(mut c: CacheSection, diags: &mut Diagnostics) -> Option<CacheSection> {
    if c.total_max_size == 0 {
        diags.error(
            &c.span,
            format!(
                "size not specified for cache '{}' (add 'total-max-size MEGABYTES')",
                c.name
            ),
        );
        return None;
    }
    if c.max_object_size == 0 {
        c.max_object_size = c.total_max_size >> 8;
    } else if c.max_object_size > c.total_max_size / 2 {
        diags.error(
            &c.span,
            format!(
                "cache '{}': \"max-object-size\" is limited to half of \"total-max-size\" => {}",
                c.name,
                c.total_max_size / 2
            ),
        );
        return None;
    }
    Some(c)
}

/// Every `cache-use` / `cache-store` names a `cache` section.
pub fn check_references(caches: &[String], proxies: &[Proxy], diags: &mut Diagnostics) {
    for p in proxies {
        for r in p.http_request.iter().chain(&p.http_response) {
            if let HttpAction::CacheUse { cache } | HttpAction::CacheStore { cache } = &r.action {
                if !caches.contains(cache) {
                    diags.error(
                        &r.span,
                        format!("unable to find cache '{cache}' (no 'cache {cache}' section)"),
                    );
                }
            }
        }
    }
}
