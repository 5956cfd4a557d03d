//! `http-errors NAME` sections (`errorfile CODE FILE` lines) and the proxies' `errorfile` and
//! `errorfiles NAME [CODE...]` lines, applied in the order written (the last one of a status
//! wins, as HAProxy 2.6).

use super::line::{number, Line};
use crate::diagnostics::{Diagnostics, Span};
use crate::model::ErrorFile;

/// One `http-errors` section.
#[derive(Debug, Clone)]
pub struct HttpErrors {
    pub name: String,
    pub span: Span,
    pub files: Vec<ErrorFile>,
}

/// The statuses HAProxy 2.6 has a page for (`http_err_codes`), which an error file may
/// replace.
const CODES: &[u16] = &[
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 421, 422, 425, 429, 500, 501, 502, 503, 504,
];

/// The status of a reply made from the error pages (`how`: `default-errorfiles`, which a
/// plain `deny`/`tarpit` means, or `errorfiles`) must be one HAProxy 2.6 has a page for:
/// it refuses the configuration otherwise (`deny_status 418`).
pub(in crate::haproxy) fn check_page_status(status: u16, how: &str) -> Result<(), String> {
    if CODES.contains(&status) {
        return Ok(());
    }
    Err(format!(
        "status code '{status}' not handled by default with '{how}' argument (HAProxy 2.6 has pages for {CODES:?})"
    ))
}

pub(super) fn status(text: &str, what: &str) -> Result<u16, String> {
    let status: u16 = number(text, what)?;
    if !CODES.contains(&status) {
        return Err(format!(
            "{what}: status {status} cannot be customized (expected one of {CODES:?})"
        ));
    }
    Ok(status)
}

/// `errorfile CODE FILE`: the file must exist; replaces an earlier one of the same status.
pub fn errorfile(list: &mut Vec<ErrorFile>, line: &Line<'_>) -> Result<(), String> {
    let status = status(line.need(1, "an HTTP status code")?, "errorfile")?;
    let path = line.file(2, "a file")?;
    if let Err(e) = std::fs::metadata(&path) {
        return Err(format!("errorfile {status}: cannot open '{path}': {e}"));
    }
    list.retain(|e| e.status != status);
    list.push(ErrorFile {
        span: line.span.clone(),
        status,
        path,
        reply: None,
    });
    Ok(())
}

/// `http-errors NAME` opens a section.
pub fn open(line: &Line<'_>, diags: &mut Diagnostics) -> Option<HttpErrors> {
    match line.arg(1) {
        Some(name) if line.arg(2).is_none() => Some(HttpErrors {
            name: name.to_string(),
            span: line.span.clone(),
            files: Vec::new(),
        }),
        Some(_) => {
            diags.error(&line.span, "'http-errors' expects only a section name");
            None
        }
        None => {
            diags.error(&line.span, "'http-errors' expects a section name");
            None
        }
    }
}

/// A line inside `http-errors`: only `errorfile CODE FILE`.
pub fn keyword(h: &mut HttpErrors, line: &Line<'_>, diags: &mut Diagnostics) {
    let r = match line.keyword() {
        "errorfile" => errorfile(&mut h.files, line),
        other => Err(format!(
            "unknown keyword '{other}' in 'http-errors' section (expected 'errorfile')"
        )),
    };
    if let Err(msg) = r {
        diags.error(&line.span, msg);
    }
}

/// `errorfiles NAME [CODE...]`: imports the section's files (all, or the listed statuses).
pub fn import(
    list: &mut Vec<ErrorFile>,
    sections: &[HttpErrors],
    line: &Line<'_>,
) -> Result<(), String> {
    import_where(list, sections, line, |_| true).map_err(|e| {
        if e.contains("unknown http-errors section") {
            format!("{e} (in a 'defaults' section, fulcrum needs it written above the line)")
        } else {
            e
        }
    })
}

/// `import` for a section read after the line (once every file is read): a status the proxy
/// set again after this line (an `errorfile`, or an import written later) keeps its page.
pub fn import_later(
    list: &mut Vec<ErrorFile>,
    sections: &[HttpErrors],
    line: &Line<'_>,
) -> Result<(), String> {
    let at = line.span.clone();
    let later: Vec<u16> = list
        .iter()
        .filter(|e| e.span.file == at.file && e.span.line > at.line)
        .map(|e| e.status)
        .collect();
    import_where(list, sections, line, |s| !later.contains(&s))
}

fn import_where(
    list: &mut Vec<ErrorFile>,
    sections: &[HttpErrors],
    line: &Line<'_>,
    take: impl Fn(u16) -> bool,
) -> Result<(), String> {
    let name = line.need(1, "an http-errors section name")?;
    let Some(h) = sections.iter().rev().find(|h| h.name == name) else {
        return Err(format!("errorfiles: unknown http-errors section '{name}'"));
    };
    let mut codes = Vec::new();
    for c in line.args_from(2) {
        codes.push(status(c, "errorfiles")?);
    }
    for f in &h.files {
        if (codes.is_empty() || codes.contains(&f.status)) && take(f.status) {
            list.retain(|e| e.status != f.status);
            // where the proxy imported it: later lines of the proxy win over it
            list.push(ErrorFile {
                span: line.span.clone(),
                ..f.clone()
            });
        }
    }
    Ok(())
}

/// `errorfiles NAME` in `return`, `deny` and `tarpit` rules: the section's file for the
/// rule's status, or an empty answer of that status when the section has none (HAProxy 2.6
/// warns so, and answers the status with `content-length: 0`). An unknown section is an
/// error at the rule's line.
pub fn resolve_rules(
    proxies: &mut [crate::model::Proxy],
    sections: &[HttpErrors],
    diags: &mut Diagnostics,
) {
    use crate::model::{HttpAction, Reply, ReturnBody};
    for p in proxies.iter_mut() {
        let proxy = p.name.clone();
        // `http-error status N errorfiles NAME`: the section's file, else haproxy's warning
        // and the built-in page.
        p.errorfiles.retain_mut(|e| {
            let Some(crate::model_keywords::ErrorReply::Section(name)) = &e.reply else {
                return true;
            };
            let Some(h) = sections.iter().rev().find(|h| &h.name == name) else {
                diags.error(&e.span, format!("errorfiles: unknown http-errors section '{name}'"));
                return false;
            };
            match h.files.iter().find(|f| f.status == e.status) {
                Some(f) => {
                    e.path = f.path.clone();
                    e.reply = Some(crate::model_keywords::ErrorReply::File);
                    true
                }
                None => {
                    diags.warning(
                        &e.span,
                        format!("proxy '{proxy}': status '{}' not declared in http-errors section '{name}' (the built-in page is sent, as in HAProxy)", e.status),
                    );
                    false
                }
            }
        });
        for r in p.http_request.iter_mut().chain(p.http_response.iter_mut()) {
            let (status, body) = match &mut r.action {
                HttpAction::Return { status, body, .. } => (*status, body),
                HttpAction::DenyReply(Reply { status, body, .. })
                | HttpAction::Tarpit {
                    reply: Some(Reply { status, body, .. }),
                    ..
                } => (*status, body),
                _ => continue,
            };
            let ReturnBody::Errorfiles(name) = &*body else {
                continue;
            };
            let Some(h) = sections.iter().rev().find(|h| &h.name == name) else {
                diags.error(
                    &r.span,
                    format!("errorfiles: unknown http-errors section '{name}'"),
                );
                continue;
            };
            *body = match h.files.iter().find(|f| f.status == status) {
                Some(f) => ReturnBody::Errorfile(f.path.clone()),
                None => {
                    diags.warning(
                        &r.span,
                        format!("Proxy '{proxy}': status '{status}' referenced by an http reply not declared in http-errors section '{name}' (the answer is empty, as in HAProxy)"),
                    );
                    ReturnBody::None
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{load_sources, Source};

    #[test]
    fn errorfiles_import_in_written_order() {
        let dir = std::env::temp_dir().join(format!("fulcrum-http-errors-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let a = dir.join("a.http");
        let s = dir.join("s.http");
        let d = dir.join("d.http");
        for p in [&a, &s, &d] {
            std::fs::write(p, "HTTP/1.0 503 X\r\n\r\n").expect("write");
        }
        let text = format!(
            "http-errors S\n errorfile 503 {s}\n errorfile 403 {d}\n\
             defaults\n mode http\n\
             frontend f1\n bind :1\n errorfile 503 {a}\n errorfiles S\n\
             frontend f2\n bind :2\n errorfiles S\n errorfile 503 {a}\n\
             frontend f3\n bind :3\n errorfiles S 403\n",
            s = s.display(),
            a = a.display(),
            d = d.display()
        );
        let l = load_sources(&[Source {
            name: "t.cfg",
            text: &text,
        }]);
        let errs: Vec<String> = l.diagnostics.errors().map(|d| d.to_string()).collect();
        assert!(errs.is_empty(), "{errs:?}");
        let files = |name: &str| -> Vec<(u16, String)> {
            let p = l
                .config
                .proxies
                .iter()
                .find(|p| p.name == name)
                .expect("proxy");
            let mut v: Vec<(u16, String)> = p
                .errorfiles
                .iter()
                .map(|e| (e.status, e.path.clone()))
                .collect();
            v.sort();
            v
        };
        let (a, s, d) = (
            a.display().to_string(),
            s.display().to_string(),
            d.display().to_string(),
        );
        let a_path = a.clone();
        assert_eq!(files("f1"), vec![(403, d.clone()), (503, s.clone())]);
        assert_eq!(files("f2"), vec![(403, d.clone()), (503, a)]);
        assert_eq!(files("f3"), vec![(403, d.clone())]);

        // a section written after its users (all in one file): the same pages
        let later = format!(
            "defaults\n mode http\n\
             frontend f1\n bind :1\n errorfile 503 {a_path}\n errorfiles S\n\
             frontend f2\n bind :2\n errorfiles S\n errorfile 503 {a_path}\n\
             frontend f3\n bind :3\n errorfiles S 403\n\
             http-errors S\n errorfile 503 {s}\n errorfile 403 {d}\n"
        );
        let l2 = load_sources(&[Source {
            name: "t.cfg",
            text: &later,
        }]);
        let errs: Vec<String> = l2.diagnostics.errors().map(|d| d.to_string()).collect();
        assert!(errs.is_empty(), "{errs:?}");
        for name in ["f1", "f2", "f3"] {
            let p = l2
                .config
                .proxies
                .iter()
                .find(|p| p.name == name)
                .expect("proxy");
            let mut x: Vec<(u16, String)> = p
                .errorfiles
                .iter()
                .map(|e| (e.status, e.path.clone()))
                .collect();
            x.sort();
            assert_eq!(x, files(name), "{name}");
        }

        let bad = "defaults\n mode http\nfrontend f\n bind :1\n errorfiles NOPE\nhttp-errors\nhttp-errors X\n server s 1.2.3.4:80\n errorfile 999 /x\n";
        let l = load_sources(&[Source {
            name: "t.cfg",
            text: bad,
        }]);
        let mut errs: Vec<String> = l.diagnostics.errors().map(|d| d.to_string()).collect();
        errs.sort();
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(
            errs[0].contains("unknown http-errors section 'NOPE'"),
            "{errs:?}"
        );
        for (e, line) in errs
            .iter()
            .zip(["t.cfg:5: ", "t.cfg:6: ", "t.cfg:8: ", "t.cfg:9: "])
        {
            assert!(e.starts_with(line), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
