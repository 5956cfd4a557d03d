//! `h1-case-adjust` / `h1-case-adjust-file`: the header names HAProxy writes in a given case
//! toward HTTP/1 peers that need it (`option h1-case-adjust-bogus-client` for responses to
//! clients, `-server` for requests to servers). A name is looked up ignoring case; one not
//! in the table is written as it is.

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

    /// The name to write for `name`.
    pub fn adjust<'a>(&'a self, name: &'a [u8]) -> &'a [u8] {
        self.find(name).unwrap_or(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_the_table_take_its_case() {
        let m = CaseMap::new(&[("content-length".into(), "Content-Length".into())]);
        assert_eq!(m.adjust(b"content-length"), b"Content-Length");
        assert_eq!(m.adjust(b"CONTENT-LENGTH"), b"Content-Length");
        assert_eq!(m.adjust(b"x-other"), b"x-other");
    }
}
