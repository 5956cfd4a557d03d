//! HAProxy's HTTP/1 codec settings: per proxy, `option accept-invalid-http-request|response`,
//! `option h1-case-adjust-bogus-client|server`, `option http-use-proxy-header`; global,
//! `tune.http.maxhdr` and the `h1-case-adjust` / `h1-case-adjust-file` name table.

use serde::Serialize;

/// A proxy's HTTP/1 codec options (each `no option X` clears it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct H1Options {
    /// `option accept-invalid-http-request` (frontends): any byte but CR/LF in request
    /// header names, bytes above 127 and `#` in the target.
    pub accept_invalid_request: bool,
    /// `option accept-invalid-http-response` (backends): any byte but CR/LF in response
    /// header names.
    pub accept_invalid_response: bool,
    /// `option h1-case-adjust-bogus-client` (frontends): response header names written to
    /// HTTP/1 clients as the global table says.
    pub case_adjust_client: bool,
    /// `option h1-case-adjust-bogus-server` (backends): request header names written to
    /// HTTP/1 servers as the global table says.
    pub case_adjust_server: bool,
    /// `option http-use-proxy-header` (frontends): a request whose target does not start
    /// with `/` or `*` is a proxy request: `http-request auth` answers 407 with
    /// `Proxy-Authenticate` and the `http_auth*` fetches read `Proxy-Authorization`.
    pub use_proxy_header: bool,
}

/// The global HTTP/1 codec settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct H1Global {
    /// `tune.http.maxhdr` (default 101): a head with this many fields or more is refused.
    pub max_headers: u32,
    /// `h1-case-adjust FROM TO` lines and `h1-case-adjust-file` entries: the name to write
    /// for each header name (compared ignoring case), in file order.
    pub case_adjust: Vec<(String, String)>,
}

impl Default for H1Global {
    fn default() -> H1Global {
        H1Global {
            max_headers: 101,
            case_adjust: Vec::new(),
        }
    }
}

impl H1Global {
    /// Adds `FROM TO` as HAProxy does: both must be the same name but for case, and a name
    /// may be adjusted once.
    pub fn add_case(&mut self, from: &str, to: &str) -> Result<(), String> {
        if to.is_empty() {
            return Err(format!("empty <to> for '{from}'"));
        }
        if !from.eq_ignore_ascii_case(to) {
            return Err(format!(
                "'{from}' and '{to}' must not differ except in case"
            ));
        }
        if self
            .case_adjust
            .iter()
            .any(|(f, _)| f.eq_ignore_ascii_case(from))
        {
            return Err(format!("duplicate entry '{from}'"));
        }
        self.case_adjust.push((from.to_string(), to.to_string()));
        Ok(())
    }

    /// Reads an `h1-case-adjust-file`: one `FROM TO` per line, blank lines and lines
    /// starting with `#` skipped; an error names the file's line.
    pub fn add_case_file(&mut self, path: &str) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("h1-case-adjust-file '{path}': cannot read it: {e}"))?;
        for (n, line) in text.lines().enumerate() {
            let l = line.trim_start_matches([' ', '\t']);
            if l.is_empty() || l.starts_with('#') || l.starts_with('\r') {
                continue;
            }
            let end = l.find([' ', '\t', '\r']).unwrap_or(l.len());
            let (from, rest) = l.split_at(end);
            let to = rest.trim_matches([' ', '\t', '\r']);
            self.add_case(from, to)
                .map_err(|e| format!("h1-case-adjust-file '{path}': {e} at line {}", n + 1))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_entries_as_haproxy_checks_them() {
        let mut g = H1Global::default();
        assert!(g.add_case("content-type", "Content-Type").is_ok());
        assert!(
            g.add_case("CONTENT-TYPE", "content-type").is_err(),
            "duplicate"
        );
        assert!(g.add_case("x-a", "X-B").is_err(), "not the same name");
        let dir = std::env::temp_dir().join(format!("h1case-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let f = dir.join("map");
        let _ = std::fs::write(&f, "# names\n\n  x-foo   X-Foo \nx-bar X-Baz\n");
        let err = g.add_case_file(&f.to_string_lossy()).unwrap_err();
        assert!(err.ends_with("at line 4"), "{err}");
        assert_eq!(g.case_adjust[1], ("x-foo".to_string(), "X-Foo".to_string()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
