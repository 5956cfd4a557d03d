//! `h1-case-adjust` / `h1-case-adjust-file`: the header names HAProxy writes in a given case
//! toward HTTP/1 peers that need it (`option h1-case-adjust-bogus-client` for responses to
//! clients, `-server` for requests to servers). A name is looked up ignoring case; one not
//! in the table is written in lower case, as HAProxy writes every name it does not adjust.

/// The configured names, each written as given.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CaseMap(Vec<Vec<u8>>);

impl CaseMap {
    /// From the global table's `(FROM, TO)` pairs (FROM and TO differ only in case).
    pub fn new(pairs: &[(String, String)]) -> CaseMap {
        CaseMap(pairs.iter().map(|(_, to)| to.as_bytes().to_vec()).collect())
    }

    /// The configured name for `name`, if it has one.
    pub fn find(&self, name: &[u8]) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|to| to.eq_ignore_ascii_case(name))
            .map(Vec::as_slice)
    }

    /// Writes the name to send for `name`: the table's, else `name` in lower case.
    pub fn write(&self, name: &[u8], out: &mut Vec<u8>) {
        match self.find(name) {
            Some(to) => out.extend_from_slice(to),
            None => out.extend(name.iter().map(u8::to_ascii_lowercase)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_the_table_take_its_case() {
        let m = CaseMap::new(&[("content-length".into(), "Content-Length".into())]);
        let w = |n: &[u8]| {
            let mut out = Vec::new();
            m.write(n, &mut out);
            out
        };
        assert_eq!(w(b"content-length"), b"Content-Length");
        assert_eq!(w(b"CONTENT-LENGTH"), b"Content-Length");
        assert_eq!(w(b"X-Other"), b"x-other");
    }
}
