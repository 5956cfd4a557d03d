//! A `reg` pattern that is one anchored byte class repeated, `^[a-z0-9.:-]+$` (what a
//! `Host` check usually is): matched by a bit test per byte instead of the regex engine
//! (a `hdr(host) -m reg` of that shape cost ~300 instructions a request in the engine).
//!
//! Only a pattern whose meaning is beyond doubt is taken: ASCII letters, digits and
//! punctuation that a class holds literally, ranges of letters or digits, `-` first or last;
//! anything else (escapes, negation, nested classes, set operations, case folding) stays
//! with the regex engine. The answer is the engine's: a class of ASCII characters matches no
//! byte above 127 (no UTF-8 sequence of another character), and `$` is the end of the text.

/// `^[class]+$` (or `*`): the bytes of the class, and whether the empty text matches.
#[derive(Debug, Clone)]
pub(super) struct ClassRe {
    set: [u64; 4],
    empty: bool,
}

impl ClassRe {
    /// The pattern, if it is of that shape.
    pub(super) fn parse(text: &str) -> Option<ClassRe> {
        let b = text.as_bytes().strip_prefix(b"^[")?;
        let (inner, empty) = match b.strip_suffix(b"]+$") {
            Some(inner) => (inner, false),
            None => (b.strip_suffix(b"]*$")?, true),
        };
        let mut set = [0u64; 4];
        let mut add = |c: u8| set[usize::from(c >> 6)] |= 1 << (c & 63);
        let last = inner.len().checked_sub(1)?;
        let mut i = 0;
        while i <= last {
            let c = inner[i];
            match inner.get(i + 1..i + 3) {
                Some(&[b'-', d]) if range_end(c) && range_end(d) && c <= d => {
                    (c..=d).for_each(&mut add);
                    i += 3;
                    continue;
                }
                _ => {}
            }
            // `-` stands for itself only first or last
            if !(literal(c) || (c == b'-' && (i == 0 || i == last))) {
                return None;
            }
            add(c);
            i += 1;
        }
        Some(ClassRe { set, empty })
    }

    pub(super) fn is_match(&self, s: &[u8]) -> bool {
        (self.empty || !s.is_empty())
            && s.iter()
                .all(|&c| self.set[usize::from(c >> 6)] & (1 << (c & 63)) != 0)
    }
}

/// A byte a class holds as itself: visible ASCII but what starts an escape, a nested class,
/// a negation, a range or a set operation (`&&`, `--`, `~~`).
fn literal(c: u8) -> bool {
    c.is_ascii_graphic() && !matches!(c, b'\\' | b'[' | b']' | b'^' | b'-' | b'&' | b'~')
}

/// An end of a range taken here: a letter or a digit.
fn range_end(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::ClassRe;
    use regex::bytes::Regex;

    #[test]
    fn a_class_pattern_matches_as_the_regex_engine() {
        let taken = [
            "^[a-z0-9.:]+$",
            "^[a-z0-9.-]+$",
            "^[-a-z]+$",
            "^[A-Za-z0-9_.:-]*$",
            "^[a-f0-9]+$",
            "^[0-9]+$",
            "^[.]+$",
            "^[a-]+$",
            "^[$*+?(){}|#/@!%=,;'\"<>`]+$",
            "^[z-z]+$",
        ];
        let refused = [
            "^[^a-z]+$",
            "^[a-z\\d]+$",
            "^[[:alpha:]]+$",
            "^[a-z&&b]+$",
            "^[a--b]+$",
            "^[a~~b]+$",
            "^[z-a]+$",
            "^[a-z]+",
            "[a-z]+$",
            "^[a-z]$",
            "^[]+$",
            "^[a b]+$",
            "^[a-z]+$|x",
            "^[é]+$",
            "^[a-c-e]+$",
            "^[.-/]+$",
        ];
        for p in refused {
            assert!(ClassRe::parse(p).is_none(), "{p} is left to the engine");
        }
        let texts: &[&[u8]] = &[
            b"",
            b"127.0.0.1:8080",
            b"www.example.com",
            b"WWW.Example.com",
            b"a-b_c",
            b"abc\n",
            b"\nabc",
            b"a\xc3\xa9",
            b"\xff",
            b"-",
            b"a]",
            b"a^",
            b"\\",
            b"$*+?(){}|#/@!%=,;'\"<>`",
            b"zzz",
            b"0123456789abcdef",
            b" ",
            b"a b",
        ];
        for p in taken {
            let class = ClassRe::parse(p).unwrap_or_else(|| panic!("{p} is taken"));
            let re = Regex::new(p).expect("a valid regex");
            for t in texts {
                assert_eq!(class.is_match(t), re.is_match(t), "{p} on {t:?}");
            }
            // every single byte, and two of them
            for c in 0..=255u8 {
                for t in [&[c][..], &[c, c][..], &[b'a', c][..]] {
                    assert_eq!(class.is_match(t), re.is_match(t), "{p} on {t:?}");
                }
            }
        }
    }
}
