use super::{DecoderError, NeedMore};
use crate::ext::Protocol;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode};
use std::fmt;

/// HTTP/2 Header
#[derive(Debug, Clone, Eq, PartialEq)]
pub enum Header<T = HeaderName> {
    Field { name: T, value: HeaderValue },
    // TODO: Change these types to `http::uri` types.
    Authority(BytesStr),
    Method(Method),
    Scheme(BytesStr),
    Path(BytesStr),
    Protocol(Protocol),
    Status(StatusCode),
}

/// The header field name
#[derive(Debug, Clone, Eq, PartialEq, Hash)]
pub enum Name<'a> {
    Field(&'a HeaderName),
    Authority,
    Method,
    Scheme,
    Path,
    Protocol,
    Status,
}

/// fulcrum: a header borrowed from the block being encoded. The encoder looks it up in its
/// table and writes it without taking it apart: upstream moved every header out of the
/// frame (pseudo-headers and the `HeaderMap`'s `IntoIter`) into the table's `Index` and back,
/// several copies of a ~70-byte enum per header. The table keeps a copy of the headers it
/// inserts (`to_table_entry`), so it pins no frame either.
#[derive(Debug, Clone, Copy)]
pub enum HeaderRef<'a> {
    Field {
        name: &'a HeaderName,
        value: &'a HeaderValue,
    },
    Authority(&'a BytesStr),
    Method(&'a Method),
    Scheme(&'a BytesStr),
    Path(&'a BytesStr),
    Protocol(&'a Protocol),
    Status(&'a StatusCode),
}

#[doc(hidden)]
#[derive(Clone, Eq, PartialEq, Default)]
pub struct BytesStr(Bytes);

pub fn len(name: &HeaderName, value: &HeaderValue) -> usize {
    let n: &str = name.as_ref();
    32 + n.len() + value.len()
}

impl Header<Option<HeaderName>> {
    // fulcrum: the frames' blocks are encoded by reference (`Encoder::encode_block`); the
    // by-value `Encoder::encode` (and this) serve the tests.
    #[cfg(test)]
    pub fn reify(self) -> Result<Header, HeaderValue> {
        use self::Header::*;

        Ok(match self {
            Field {
                name: Some(n),
                value,
            } => Field { name: n, value },
            Field { name: None, value } => return Err(value),
            Authority(v) => Authority(v),
            Method(v) => Method(v),
            Scheme(v) => Scheme(v),
            Path(v) => Path(v),
            Protocol(v) => Protocol(v),
            Status(v) => Status(v),
        })
    }
}

impl Header {
    pub fn new(name: Bytes, value: Bytes) -> Result<Header, DecoderError> {
        if name.is_empty() {
            return Err(DecoderError::NeedMore(NeedMore::UnexpectedEndOfStream));
        }
        if name[0] == b':' {
            match &name[1..] {
                b"authority" => {
                    let value = BytesStr::try_from(value)?;
                    Ok(Header::Authority(value))
                }
                b"method" => {
                    let method = Method::from_bytes(&value)?;
                    Ok(Header::Method(method))
                }
                b"scheme" => {
                    let value = BytesStr::try_from(value)?;
                    Ok(Header::Scheme(value))
                }
                b"path" => {
                    let value = BytesStr::try_from(value)?;
                    Ok(Header::Path(value))
                }
                b"protocol" => {
                    let value = Protocol::try_from(value)?;
                    Ok(Header::Protocol(value))
                }
                b"status" => {
                    let status = StatusCode::from_bytes(&value)?;
                    Ok(Header::Status(status))
                }
                _ => Err(DecoderError::InvalidPseudoheader),
            }
        } else {
            // HTTP/2 requires lower case header names
            let name = HeaderName::from_lowercase(&name)?;
            // fulcrum: the value keeps the decoded bytes (a slice of the frame or of the
            // Huffman buffer) instead of a copy; the dynamic table gets a copy of those it
            // indexes (`to_table_entry`).
            let value = HeaderValue::from_maybe_shared(value)?;

            Ok(Header::Field { name, value })
        }
    }

    /// The header, borrowed.
    pub fn as_header_ref(&self) -> HeaderRef<'_> {
        match *self {
            Header::Field {
                ref name,
                ref value,
            } => HeaderRef::Field { name, value },
            Header::Authority(ref v) => HeaderRef::Authority(v),
            Header::Method(ref v) => HeaderRef::Method(v),
            Header::Scheme(ref v) => HeaderRef::Scheme(v),
            Header::Path(ref v) => HeaderRef::Path(v),
            Header::Protocol(ref v) => HeaderRef::Protocol(v),
            Header::Status(ref v) => HeaderRef::Status(v),
        }
    }

    /// The copy of a header a dynamic table keeps (see `HeaderRef::to_table_entry`).
    pub fn to_table_entry(&self) -> Header {
        self.as_header_ref().to_table_entry()
    }

    pub fn len(&self) -> usize {
        self.as_header_ref().len()
    }

    /// Returns the header name
    pub fn name(&self) -> Name<'_> {
        self.as_header_ref().name()
    }
}

impl<'a> HeaderRef<'a> {
    /// fulcrum: the copy of a header a dynamic table keeps (the decoder's, of a decoded
    /// header; the encoder's, of one it inserts). Values get bytes of their own, as upstream
    /// copied every decoded value: a table lives as long as the connection and must not pin
    /// the frame (or read buffer) a value was decoded from, nor a buffer the application
    /// sliced it from.
    pub fn to_table_entry(self) -> Header {
        match self {
            HeaderRef::Field { name, value } => {
                let bytes = Bytes::copy_from_slice(value.as_bytes());
                // SAFETY (of the `unchecked`): the bytes are those of a valid `HeaderValue`.
                let mut copy = unsafe { HeaderValue::from_maybe_shared_unchecked(bytes) };
                copy.set_sensitive(value.is_sensitive());
                Header::Field {
                    name: name.clone(),
                    value: copy,
                }
            }
            HeaderRef::Authority(v) => Header::Authority(BytesStr::from(v.as_str())),
            HeaderRef::Method(v) => Header::Method(v.clone()),
            HeaderRef::Scheme(v) => Header::Scheme(BytesStr::from(v.as_str())),
            HeaderRef::Path(v) => Header::Path(BytesStr::from(v.as_str())),
            HeaderRef::Protocol(v) => Header::Protocol(Protocol::from(v.as_str())),
            HeaderRef::Status(v) => Header::Status(*v),
        }
    }

    pub fn len(self) -> usize {
        match self {
            HeaderRef::Field { name, value } => len(name, value),
            HeaderRef::Authority(v) => 32 + 10 + v.len(),
            HeaderRef::Method(v) => 32 + 7 + v.as_ref().len(),
            HeaderRef::Scheme(v) => 32 + 7 + v.len(),
            HeaderRef::Path(v) => 32 + 5 + v.len(),
            HeaderRef::Protocol(v) => 32 + 9 + v.as_str().len(),
            HeaderRef::Status(_) => 32 + 7 + 3,
        }
    }

    /// Returns the header name
    pub fn name(self) -> Name<'a> {
        match self {
            HeaderRef::Field { name, .. } => Name::Field(name),
            HeaderRef::Authority(..) => Name::Authority,
            HeaderRef::Method(..) => Name::Method,
            HeaderRef::Scheme(..) => Name::Scheme,
            HeaderRef::Path(..) => Name::Path,
            HeaderRef::Protocol(..) => Name::Protocol,
            HeaderRef::Status(..) => Name::Status,
        }
    }

    pub fn value_slice(self) -> &'a [u8] {
        match self {
            HeaderRef::Field { value, .. } => value.as_ref(),
            HeaderRef::Authority(v) => v.as_ref(),
            HeaderRef::Method(v) => v.as_ref().as_ref(),
            HeaderRef::Scheme(v) => v.as_ref(),
            HeaderRef::Path(v) => v.as_ref(),
            HeaderRef::Protocol(v) => v.as_ref(),
            HeaderRef::Status(v) => v.as_str().as_bytes(),
        }
    }

    pub fn value_eq(self, other: HeaderRef<'_>) -> bool {
        match (self, other) {
            (HeaderRef::Field { value: a, .. }, HeaderRef::Field { value: b, .. }) => a == b,
            (HeaderRef::Authority(a), HeaderRef::Authority(b)) => a == b,
            (HeaderRef::Method(a), HeaderRef::Method(b)) => a == b,
            (HeaderRef::Scheme(a), HeaderRef::Scheme(b)) => a == b,
            (HeaderRef::Path(a), HeaderRef::Path(b)) => a == b,
            (HeaderRef::Protocol(a), HeaderRef::Protocol(b)) => a == b,
            (HeaderRef::Status(a), HeaderRef::Status(b)) => a == b,
            _ => false,
        }
    }

    pub fn is_sensitive(self) -> bool {
        match self {
            HeaderRef::Field { value, .. } => value.is_sensitive(),
            // TODO: Technically these other header values can be sensitive too.
            _ => false,
        }
    }

    pub fn skip_value_index(self) -> bool {
        use http::header;

        match self {
            HeaderRef::Field { name, .. } => matches!(
                *name,
                header::AGE
                    | header::AUTHORIZATION
                    | header::CONTENT_LENGTH
                    | header::ETAG
                    | header::IF_MODIFIED_SINCE
                    | header::IF_NONE_MATCH
                    | header::LOCATION
                    | header::COOKIE
                    | header::SET_COOKIE
            ),
            HeaderRef::Path(..) => true,
            _ => false,
        }
    }
}

// Mostly for tests
impl From<Header> for Header<Option<HeaderName>> {
    fn from(src: Header) -> Self {
        match src {
            Header::Field { name, value } => Header::Field {
                name: Some(name),
                value,
            },
            Header::Authority(v) => Header::Authority(v),
            Header::Method(v) => Header::Method(v),
            Header::Scheme(v) => Header::Scheme(v),
            Header::Path(v) => Header::Path(v),
            Header::Protocol(v) => Header::Protocol(v),
            Header::Status(v) => Header::Status(v),
        }
    }
}

impl<'a> Name<'a> {
    pub fn into_entry(self, value: Bytes) -> Result<Header, DecoderError> {
        match self {
            Name::Field(name) => Ok(Header::Field {
                name: name.clone(),
                // fulcrum: no copy (see `Header::new`)
                value: HeaderValue::from_maybe_shared(value)?,
            }),
            Name::Authority => Ok(Header::Authority(BytesStr::try_from(value)?)),
            Name::Method => Ok(Header::Method(Method::from_bytes(&value)?)),
            Name::Scheme => Ok(Header::Scheme(BytesStr::try_from(value)?)),
            Name::Path => Ok(Header::Path(BytesStr::try_from(value)?)),
            Name::Protocol => Ok(Header::Protocol(Protocol::try_from(value)?)),
            Name::Status => {
                match StatusCode::from_bytes(&value) {
                    Ok(status) => Ok(Header::Status(status)),
                    // TODO: better error handling
                    Err(_) => Err(DecoderError::InvalidStatusCode),
                }
            }
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match *self {
            Name::Field(ref name) => name.as_ref(),
            Name::Authority => b":authority",
            Name::Method => b":method",
            Name::Scheme => b":scheme",
            Name::Path => b":path",
            Name::Protocol => b":protocol",
            Name::Status => b":status",
        }
    }
}

// ===== impl BytesStr =====

impl BytesStr {
    pub(crate) const fn from_static(value: &'static str) -> Self {
        BytesStr(Bytes::from_static(value.as_bytes()))
    }

    pub(crate) fn from(value: &str) -> Self {
        BytesStr(Bytes::copy_from_slice(value.as_bytes()))
    }

    #[doc(hidden)]
    pub fn try_from(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(bytes.as_ref())?;
        Ok(BytesStr(bytes))
    }

    pub(crate) fn as_str(&self) -> &str {
        // Safety: check valid utf-8 in constructor
        unsafe { std::str::from_utf8_unchecked(self.0.as_ref()) }
    }

    pub(crate) fn into_inner(self) -> Bytes {
        self.0
    }
}

impl std::ops::Deref for BytesStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for BytesStr {
    fn as_ref(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl fmt::Debug for BytesStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
