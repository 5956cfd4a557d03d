//! `crt-list FILE`: one certificate per line with its own options and SNI filters,
//! `CRTFILE [[OPTIONS...]] [[!]SNI-FILTER...]`, `#` comments. Pure: text in, lines out.

use fulcrum_config::tls::TlsOptions;

pub struct CrtLine {
    /// Line number in the list (1-based), for messages.
    pub line: usize,
    pub file: String,
    pub options: Option<TlsOptions>,
    /// Names this certificate answers for instead of its own (empty: its own names).
    pub filters: Vec<String>,
    /// `!name`: names it must not answer for.
    pub excluded: Vec<String>,
}

pub fn parse(text: &str) -> Result<Vec<CrtLine>, (usize, String)> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let t = raw.split('#').next().unwrap_or("").trim();
        if t.is_empty() {
            continue;
        }
        let (file, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        let mut rest = rest.trim();
        let mut options = None;
        if let Some(r) = rest.strip_prefix('[') {
            let (inside, after) = r
                .split_once(']')
                .ok_or((line, "missing ']' after the options".to_string()))?;
            let words: Vec<String> = inside.split_whitespace().map(str::to_string).collect();
            options = Some(
                fulcrum_config::haproxy::ssl::crt_list_options(&words).map_err(|e| (line, e))?,
            );
            rest = after.trim();
        }
        let mut filters = Vec::new();
        let mut excluded = Vec::new();
        for w in rest.split_whitespace() {
            match w.strip_prefix('!') {
                Some(x) => excluded.push(x.to_string()),
                None => filters.push(w.to_string()),
            }
        }
        out.push(CrtLine {
            line,
            file: file.to_string(),
            options,
            filters,
            excluded,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_options_and_filters() {
        let l = parse("# certs\n/a.pem\nb.pem [alpn http/1.1 ssl-min-ver TLSv1.3] *.b.test !x.b.test\n\nc.pem c.test # end\n")
            .unwrap_or_default();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].file, "/a.pem");
        assert!(l[0].options.is_none() && l[0].filters.is_empty());
        let o = l[1].options.clone().unwrap_or_default();
        assert_eq!(o.alpn.unwrap_or_default(), vec!["http/1.1".to_string()]);
        assert_eq!(l[1].filters, vec!["*.b.test"]);
        assert_eq!(l[1].excluded, vec!["x.b.test"]);
        assert_eq!(
            (l[2].line, l[2].filters.clone()),
            (5, vec!["c.test".to_string()])
        );
        assert!(parse("a.pem [alpn h2,http/1.1]\n").is_ok());
        assert_eq!(parse("a.pem [npn http/1.1]\n").err().map(|e| e.0), Some(1));
        assert!(parse("a.pem [npn x").is_err());
    }
}
