//! The chunked transfer coding's machine (sans-IO): where a chunked body ends, its HTX size,
//! and the payload a caller moves without looking at it (spliced).

use super::BadFraming;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Size,
    /// Blanks after the size: only more blanks, `;` or the line end may follow.
    SizeWs,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    /// In a trailer field's name (token characters up to the colon).
    TrailerName,
    /// Blanks after a trailer field's colon.
    TrailerOws,
    /// In a trailer field's value (or an obs-fold continuation line).
    TrailerValue,
    /// A CR in a trailer line: only LF may follow.
    TrailerLf,
    FinalLf,
    Done,
}

/// RFC 9110 5.6.2 token characters (a field name).
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Finds the end of a chunked body in a byte stream (sans-IO).
#[derive(Debug)]
pub struct Chunked {
    st: St,
    size: u64,
    digits: u8,
    /// The body's size in HAProxy's internal (HTX) form so far: the chunks' payload, each
    /// trailer's name and value, and 1 for the end of the trailers (what `%B` counts).
    htx: u64,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            st: St::Size,
            size: 0,
            digits: 0,
            htx: 0,
        }
    }
}

impl Chunked {
    pub fn done(&self) -> bool {
        self.st == St::Done
    }

    /// Payload bytes of the current chunk not seen yet (0 outside a chunk's payload).
    pub fn data_left(&self) -> u64 {
        if self.st == St::Data {
            self.size
        } else {
            0
        }
    }

    /// `n` (at most [`Self::data_left`]) payload bytes went by without being seen (spliced).
    pub fn skip_data(&mut self, n: u64) {
        let n = n.min(self.data_left());
        self.htx += n;
        self.size -= n;
        if self.st == St::Data && self.size == 0 {
            self.st = St::DataCr;
        }
    }

    /// The body's HTX size so far (payload, trailers' names and values, end of trailers):
    /// HAProxy 2.6 logs this in `%B`, not the chunk framing.
    pub fn htx(&self) -> u64 {
        self.htx
    }

    /// Consumes bytes of `input` that belong to the body; returns how many.
    pub fn advance(&mut self, input: &[u8]) -> Result<usize, BadFraming> {
        self.advance_with(input, |_| {})
    }

    /// `advance`, also handing each piece of chunk payload to `data` (to re-encode a body).
    pub fn advance_with(
        &mut self,
        input: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<usize, BadFraming> {
        let mut i = 0;
        while i < input.len() && self.st != St::Done {
            if self.st == St::Data {
                let take = (self.size.min((input.len() - i) as u64)) as usize;
                data(&input[i..i + take]);
                self.htx += take as u64;
                i += take;
                self.size -= take as u64;
                if self.size == 0 {
                    self.st = St::DataCr;
                }
                continue;
            }
            let c = input[i];
            i += 1;
            self.st = match self.st {
                St::Size => match c {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if self.digits >= 15 {
                            return Err(BadFraming);
                        }
                        self.digits += 1;
                        let d = (c as char).to_digit(16).unwrap_or(0);
                        self.size = self.size * 16 + u64::from(d);
                        St::Size
                    }
                    b';' if self.digits > 0 => St::Ext,
                    b' ' | b'\t' if self.digits > 0 => St::SizeWs,
                    b'\r' if self.digits > 0 => St::SizeLf,
                    b'\n' if self.digits > 0 => self.line_end(),
                    _ => return Err(BadFraming),
                },
                St::SizeWs => match c {
                    b' ' | b'\t' => St::SizeWs,
                    b';' => St::Ext,
                    b'\r' => St::SizeLf,
                    b'\n' => self.line_end(),
                    _ => return Err(BadFraming),
                },
                St::Ext => match c {
                    b'\r' => St::SizeLf,
                    b'\n' => self.line_end(),
                    _ => St::Ext,
                },
                St::SizeLf => match c {
                    b'\n' => self.line_end(),
                    _ => return Err(BadFraming),
                },
                St::DataCr => match c {
                    b'\r' => St::DataLf,
                    b'\n' => self.next_chunk(),
                    _ => return Err(BadFraming),
                },
                St::DataLf => match c {
                    b'\n' => self.next_chunk(),
                    _ => return Err(BadFraming),
                },
                St::TrailerStart => match c {
                    b'\r' => St::FinalLf,
                    b'\n' => {
                        self.htx += 1;
                        St::Done
                    }
                    // obs-fold: continues the previous trailer line (HAProxy accepts it).
                    b' ' | b'\t' => St::TrailerValue,
                    c if is_tchar(c) => {
                        self.htx += 1;
                        St::TrailerName
                    }
                    // A trailer field line needs a token name before its colon (HAProxy: 400).
                    _ => return Err(BadFraming),
                },
                St::TrailerName => match c {
                    b':' => St::TrailerOws,
                    c if is_tchar(c) => {
                        self.htx += 1;
                        St::TrailerName
                    }
                    _ => return Err(BadFraming),
                },
                // Blanks before a trailer's value are not part of it.
                St::TrailerOws => match c {
                    b' ' | b'\t' => St::TrailerOws,
                    b'\r' => St::TrailerLf,
                    b'\n' => St::TrailerStart,
                    _ => {
                        self.htx += 1;
                        St::TrailerValue
                    }
                },
                St::TrailerValue => match c {
                    b'\r' => St::TrailerLf,
                    b'\n' => St::TrailerStart,
                    _ => {
                        self.htx += 1;
                        St::TrailerValue
                    }
                },
                St::TrailerLf => match c {
                    b'\n' => St::TrailerStart,
                    _ => return Err(BadFraming),
                },
                St::FinalLf => match c {
                    b'\n' => {
                        self.htx += 1;
                        St::Done
                    }
                    _ => return Err(BadFraming),
                },
                St::Data | St::Done => self.st,
            };
        }
        Ok(i)
    }

    fn line_end(&mut self) -> St {
        if self.size == 0 {
            St::TrailerStart
        } else {
            St::Data
        }
    }

    fn next_chunk(&mut self) -> St {
        self.size = 0;
        self.digits = 0;
        St::Size
    }
}
