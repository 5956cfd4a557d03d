//! `crt-list FILE`: one certificate per line with its own options and SNI filters,
//! `CRTFILE [[OPTIONS...]] [[!]SNI-FILTER...]`, `#` comments; and a line as the runtime
//! socket's `show ssl crt-list` prints it back (HAProxy 2.6's canonical form). Pure: text in,
//! lines out.

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
    /// The option words between `[` and `]` as written (`None`: no brackets).
    pub option_words: Option<Vec<String>>,
    /// The filters as written, `!` kept, in order.
    pub filter_words: Vec<String>,
}

pub fn parse(text: &str) -> Result<Vec<CrtLine>, (usize, String)> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        if let Some(l) = parse_line(raw, n + 1)? {
            out.push(l);
        }
    }
    Ok(out)
}

/// One line (`line`: its number, for messages); `None` for a blank or comment line.
pub fn parse_line(raw: &str, line: usize) -> Result<Option<CrtLine>, (usize, String)> {
    {
        let t = raw.split('#').next().unwrap_or("").trim();
        if t.is_empty() {
            return Ok(None);
        }
        let (file, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        let mut rest = rest.trim();
        let mut options = None;
        let mut option_words = None;
        if let Some(r) = rest.strip_prefix('[') {
            let (inside, after) = r
                .split_once(']')
                .ok_or((line, "missing ']' after the options".to_string()))?;
            let words: Vec<String> = inside.split_whitespace().map(str::to_string).collect();
            options = Some(
                fulcrum_config::haproxy::ssl::crt_list_options(&words).map_err(|e| (line, e))?,
            );
            option_words = Some(words);
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
        Ok(Some(CrtLine {
            line,
            file: file.to_string(),
            options,
            filters,
            excluded,
            option_words,
            filter_words: rest.split_whitespace().map(str::to_string).collect(),
        }))
    }
}

/// HAProxy 2.6's `dump_crtlist_sslconf`: the options it keeps, in its order, each once (the
/// last one written wins), in `[...]` after a blank; nothing without brackets. ALPN is
/// followed by a NUL byte, as HAProxy 2.6 writes it.
pub fn options_text(words: Option<&[String]>) -> String {
    let Some(words) = words else {
        return String::new();
    };
    let value = |kw: &str| {
        words
            .iter()
            .rposition(|w| w == kw)
            .and_then(|i| words.get(i + 1))
            .map(String::as_str)
    };
    let flag = |kw: &str| words.iter().any(|w| w == kw);
    let mut parts: Vec<String> = Vec::new();
    if let Some(a) = value("alpn") {
        parts.push(format!("alpn {a}\0"));
    }
    if let Some(v @ ("none" | "optional" | "required")) = value("verify") {
        parts.push(format!("verify {v}"));
    }
    for f in ["no-ca-names", "allow-0rtt"] {
        if flag(f) {
            parts.push(f.to_string());
        }
    }
    for kw in [
        "ca-file",
        "crl-file",
        "ciphers",
        "ciphersuites",
        "curves",
        "ecdhe",
        "ssl-min-ver",
        "ssl-max-ver",
    ] {
        if let Some(v) = value(kw) {
            parts.push(format!("{kw} {v}"));
        }
    }
    format!(" [{}]", parts.join(" "))
}

/// One line of a crt-list as the runtime socket keeps it: its number in the file (0 for the
/// files of a `crt` directory; lines added at runtime get the next number), the certificate's
/// path, the option and filter words as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub linenum: usize,
    pub cert: String,
    pub option_words: Option<Vec<String>>,
    pub filter_words: Vec<String>,
}

impl Listed {
    /// A line with only a certificate.
    pub fn plain(linenum: usize, cert: &str) -> Listed {
        Listed {
            linenum,
            cert: cert.to_string(),
            option_words: None,
            filter_words: Vec::new(),
        }
    }

    /// Parsed line `l`, its certificate found at `cert`.
    pub fn from_line(l: &CrtLine, cert: &str) -> Listed {
        Listed {
            linenum: l.line,
            cert: cert.to_string(),
            option_words: l.option_words.clone(),
            filter_words: l.filter_words.clone(),
        }
    }

    /// The line as written (for parsing again).
    pub fn text(&self) -> String {
        let mut out = self.cert.clone();
        if let Some(o) = &self.option_words {
            out.push_str(&format!(" [{}]", o.join(" ")));
        }
        for f in &self.filter_words {
            out.push(' ');
            out.push_str(f);
        }
        out
    }

    /// `show ssl crt-list [-n] LIST`'s line (`numbers`: with `:LINE`), without its newline.
    pub fn shown(&self, numbers: bool) -> String {
        let mut out = self.cert.clone();
        if numbers {
            out.push_str(&format!(":{}", self.linenum));
        }
        out.push_str(&options_text(self.option_words.as_deref()));
        for f in &self.filter_words {
            out.push(' ');
            out.push_str(f);
        }
        out
    }
}

/// What a bind read from one crt-list file or `crt` directory.
#[derive(Debug, Clone)]
pub struct ListRead {
    /// The path as HAProxy names the list (trailing slashes removed).
    pub key: String,
    /// A `crt DIR`: entries are its files, without options or filters.
    pub dir: bool,
    /// Lines in the file (a line added at runtime gets the next number).
    pub linecount: usize,
    pub lines: Vec<Listed>,
}

impl ListRead {
    pub fn new(key: &str, dir: bool, linecount: usize) -> ListRead {
        ListRead {
            key: key.to_string(),
            dir,
            linecount,
            lines: Vec::new(),
        }
    }
}

/// A crt-list's or directory's name: its path without trailing slashes.
pub fn list_key(path: &std::path::Path) -> String {
    let s = path.display().to_string();
    let t = s.trim_end_matches('/');
    if t.is_empty() {
        s
    } else {
        t.to_string()
    }
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
        assert_eq!(l[1].filter_words, vec!["*.b.test", "!x.b.test"]);
    }

    #[test]
    fn options_printed_as_haproxy_2_6() {
        let l = parse("b.pem [ssl-min-ver TLSv1.2 verify none alpn h2,http/1.1 ciphers A curves P-256 ssl-max-ver TLSv1.3 ca-file /ca.pem] x\nc.pem []\n")
            .unwrap_or_default();
        assert_eq!(
            options_text(l[0].option_words.as_deref()),
            " [alpn h2,http/1.1\0 verify none ca-file /ca.pem ciphers A curves P-256 ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3]"
        );
        assert_eq!(options_text(l[1].option_words.as_deref()), " []");
        assert_eq!(options_text(None), "");
    }
}
