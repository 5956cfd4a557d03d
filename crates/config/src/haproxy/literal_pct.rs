//! Advice beyond HAProxy: where a `%[` reaches the wire as written because haproxy 2.6 sends
//! that place literally too (a `string` or `file` body of `return`/`deny`/`tarpit`/
//! `http-error`, an `errorfile`'s contents, a `set-status ... reason`, the header name of
//! `option forwardfor|originalto header`, an `errorloc` URL), `fulcrum check` says so at the
//! line. Behaviour stays haproxy's; the warnings are held until the end and left out under
//! `zero-warning` (which would then refuse a configuration haproxy starts).

use super::line::Line;
use crate::diagnostics::Diagnostics;
use crate::Span;

/// The warnings of the lines read so far.
#[derive(Debug, Default)]
pub struct LiteralPct(Vec<(Span, String)>);

fn has(text: &str) -> bool {
    text.contains("%[")
}

fn file_has(line: &Line<'_>, name: &str) -> bool {
    std::fs::read(line.paths.file(name)).is_ok_and(|b| b.windows(2).any(|w| w == b"%["))
}

impl LiteralPct {
    /// Notes what `line` sends literally.
    pub fn line(&mut self, line: &Line<'_>) {
        let mut say = |m: String| self.0.push((line.span.clone(), m));
        let kw = line.keyword();
        match kw {
            "http-request" | "http-response" | "http-after-response" | "http-error" => {
                let action = match kw {
                    "http-error" => "http-error",
                    _ => line.arg(1).unwrap_or(""),
                };
                let answers = matches!(action, "return" | "deny" | "tarpit" | "http-error");
                let mut i = 2;
                while let Some(w) = line.arg(i) {
                    let v = line.arg(i + 1).unwrap_or("");
                    match w {
                        "if" | "unless" => break,
                        "string" if answers && has(v) => say(format!(
                            "'{action} ... string {v}': '%[' is sent literally, as haproxy sends a 'string' body; did you mean 'lf-string'?"
                        )),
                        "file" if answers && file_has(line, v) => say(format!(
                            "'{action} ... file {v}': the file holds '%[', sent literally as haproxy does; did you mean 'lf-file'?"
                        )),
                        "errorfile" if answers && file_has(line, v) => say(format!(
                            "'{action} ... errorfile {v}': the file holds '%[', sent literally as haproxy does (an error file is no log-format)"
                        )),
                        "reason" if action == "set-status" && has(v) => say(format!(
                            "'set-status ... reason {v}': '%[' is sent literally in the status line, as haproxy does (the reason is no log-format)"
                        )),
                        _ => {}
                    }
                    i += 1;
                }
            }
            "errorfile" => {
                if let Some(f) = line.arg(2).filter(|f| file_has(line, f)) {
                    say(format!(
                        "errorfile '{f}': the file holds '%[', sent literally as haproxy does (an error file is no log-format)"
                    ));
                }
            }
            "errorloc" | "errorloc302" | "errorloc303" => {
                if let Some(u) = line.arg(2).filter(|u| has(u)) {
                    say(format!(
                        "{kw} '{u}': '%[' is sent literally in the Location, as haproxy does; did you mean 'http-request redirect location'?"
                    ));
                }
            }
            "option" if matches!(line.arg(1), Some("forwardfor" | "originalto")) => {
                let mut i = 2;
                while let Some(w) = line.arg(i) {
                    if let Some(h) = line.arg(i + 1).filter(|h| w == "header" && has(h)) {
                        say(format!(
                            "'option {} header {h}': '%[' is sent literally in the header name, as haproxy does (a name is no log-format)",
                            line.arg(1).unwrap_or("")
                        ));
                    }
                    i += 1;
                }
            }
            _ => {}
        }
    }

    pub fn warn(&self, diags: &mut Diagnostics) {
        for (span, m) in &self.0 {
            diags.warning(span, m.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{load_sources, Source};

    fn warnings(text: &str) -> Vec<String> {
        let l = load_sources(&[Source {
            name: "t.cfg",
            text,
        }]);
        l.diagnostics
            .warnings()
            .map(|d| d.to_string())
            .filter(|w| w.contains("%["))
            .collect()
    }

    const HEAD: &str =
        "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n";

    #[test]
    fn each_literal_place_is_said_at_its_line() {
        let dir = std::env::temp_dir().join(format!("fulcrum-literal-pct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let page = dir.join("p.http");
        std::fs::write(
            &page,
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 7\r\n\r\n%[src]\n",
        )
        .expect("write");
        let p = page.display();
        let w = warnings(&format!(
            "{HEAD}frontend f\n bind :80\n\
             http-request return status 200 content-type text/plain string \"%[src]\" if {{ path /a }}\n\
             http-request deny deny_status 403 content-type text/plain string \"x %[path]\"\n\
             http-request return status 200 content-type text/plain lf-string \"%[src]\"\n\
             http-response set-status 200 reason \"%[src]\"\n\
             option forwardfor header X-%[src]\n\
             errorloc 503 http://x/%[path]\n\
             errorfile 502 {p}\n\
             http-error status 500 content-type text/plain string %[src]\n\
             http-request return status 200 content-type text/plain file {p} if {{ path /b }}\n\
             default_backend b\n\
             backend b\n server s 127.0.0.1:1\n"
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let lines: Vec<&str> = w
            .iter()
            .map(|x| x.split(": ").next().unwrap_or(""))
            .collect();
        assert_eq!(
            lines,
            [
                "t.cfg:8", "t.cfg:9", "t.cfg:11", "t.cfg:12", "t.cfg:13", "t.cfg:14", "t.cfg:15",
                "t.cfg:16"
            ],
            "{w:#?}"
        );
        assert!(w[0].contains("did you mean 'lf-string'?"), "{w:?}");
        assert!(w[7].contains("did you mean 'lf-file'?"), "{w:?}");
    }

    #[test]
    fn nothing_under_zero_warning_nor_for_log_format_places() {
        assert!(warnings(&format!(
            "global\n zero-warning\n{HEAD}frontend f\n bind :80\n http-request return status 200 content-type text/plain string \"%[src]\"\n default_backend b\nbackend b\n server s 127.0.0.1:1\n"
        ))
        .is_empty());
        assert!(warnings(&format!(
            "{HEAD}frontend f\n bind :80\n http-request set-header x %[src]\n http-request return status 200 content-type text/plain lf-string %[src] hdr x %[src] if {{ path /string }}\n default_backend b\nbackend b\n server s 127.0.0.1:1\n"
        ))
        .is_empty());
    }
}
