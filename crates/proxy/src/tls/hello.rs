//! Reading a TLS ClientHello without decrypting anything (TLS passthrough routing): the
//! `req.ssl_hello_type` / `req_ssl_hello_type` and `req.ssl_sni` / `req_ssl_sni` fetches, as
//! HAProxy answers them from the first bytes a client sent; and whether a client offers a
//! session to resume ([`offers_psk`], for the TLS acceptor). Sans-IO: bytes in, verdict out;
//! the TCP session peeks the socket and calls [`parse`] until it is not [`Hello::Incomplete`].

/// What the first bytes of a connection are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hello {
    /// Could still become a complete hello: wait for more (within `tcp-request inspect-delay`).
    Incomplete,
    /// Not a TLS handshake record (or malformed): the fetches have no value.
    NotTls,
    /// A complete handshake message in the first record.
    Complete {
        /// The handshake type (1: ClientHello).
        hello_type: u8,
        /// The server name asked for, lower case (`req.ssl_sni`), if any.
        sni: Option<String>,
    },
}

/// A bounds-checked reader over a byte slice.
struct Cur<'a>(&'a [u8]);

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(b[0]) << 8 | usize::from(b[1]))
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(n)
    }
}

/// `req.ssl_ver` / `req_ssl_ver` on the first bytes a client sent, as HAProxy reads it: the
/// ClientHello's version (major << 16 | minor; `0x30003` for TLS 1.2 and 1.3, whose hello
/// says 1.2) of an SSLv3-or-later record of any type, or of an SSLv2 hello; once the whole
/// record is in `buf` (or `limit` bytes, the buffer's size, of it).
pub fn version(buf: &[u8], limit: usize) -> SslVer {
    match version_of(buf, limit) {
        Err(Wait) => SslVer::Incomplete,
        Ok(None) => SslVer::NotSsl,
        Ok(Some(v)) => SslVer::Version(v),
    }
}

/// What `req.ssl_ver` finds in the first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslVer {
    /// Not decidable yet: more bytes may make it a version.
    Incomplete,
    NotSsl,
    Version(i64),
}

impl SslVer {
    pub fn value(self) -> Option<i64> {
        match self {
            SslVer::Version(v) => Some(v),
            _ => None,
        }
    }
}

/// More bytes are needed.
struct Wait;

fn version_of(buf: &[u8], limit: usize) -> Result<Option<i64>, Wait> {
    let Some(&first) = buf.first() else {
        return Err(Wait);
    };
    let (version, msg_len, left) = if (0x14..=0x17).contains(&first) || first == 0xff {
        if buf.len() < 11 {
            return Err(Wait);
        }
        let record = (i64::from(buf[1]) << 16) + i64::from(buf[2]);
        let msg_len = usize::from(buf[3]) << 8 | usize::from(buf[4]);
        if record < 0x30000 || !(6..=(1 << 14) + 2048).contains(&msg_len) {
            return Ok(None);
        }
        // The hello's version, not the record layer's.
        let version = (i64::from(buf[9]) << 16) + i64::from(buf[10]);
        (version, msg_len, buf.len() - 5)
    } else {
        // SSLv2 header, for a client hello only.
        let (rlen, plen, head) = if first & 0x80 != 0 {
            if buf.len() < 3 {
                return Err(Wait);
            }
            (usize::from(first & 0x7f) << 8 | usize::from(buf[1]), 0, 2)
        } else {
            if buf.len() < 4 {
                return Err(Wait);
            }
            (
                usize::from(first & 0x3f) << 8 | usize::from(buf[1]),
                usize::from(buf[2]),
                3,
            )
        };
        if buf[head] != 0x01 {
            return Ok(None);
        }
        let d = &buf[head + 1..];
        if d.len() < 8 {
            return Err(Wait);
        }
        let u16at = |i: usize| usize::from(d[i]) << 8 | usize::from(d[i + 1]);
        let version = (i64::from(d[0]) << 16) + i64::from(d[1]);
        let (cilen, silen, chlen) = (u16at(2), u16at(4), u16at(6));
        if cilen % 3 != 0
            || (silen != 0 && silen != 16)
            || !(16..=32).contains(&chlen)
            || rlen != 9 + cilen + silen + chlen
        {
            return Ok(None);
        }
        (version, cilen + silen + chlen + plen, d.len() - 8)
    };
    if left < msg_len.min(limit) {
        return Err(Wait);
    }
    Ok(Some(version))
}

pub fn parse(buf: &[u8]) -> Hello {
    match first_message(buf) {
        Ok((1, msg)) => Hello::Complete {
            hello_type: 1,
            sni: sni(msg),
        },
        Ok((hello_type, _)) => Hello::Complete {
            hello_type,
            sni: None,
        },
        Err(h) => h,
    }
}

/// Whether the ClientHello at the start of `buf` (complete, in its first record) offers a
/// session to resume: a TLS 1.3 `pre_shared_key` extension (41, always the last one).
pub fn offers_psk(buf: &[u8]) -> bool {
    matches!(first_message(buf), Ok((1, msg)) if extension(msg, 41).is_some())
}

/// The type and body of the handshake message that opens the first record of `buf`; else
/// whether more bytes could make one ([`Hello::Incomplete`]) or not ([`Hello::NotTls`]).
fn first_message(buf: &[u8]) -> Result<(u8, &[u8]), Hello> {
    // Record header: content type 22 (handshake), version 3.x, length.
    if buf.is_empty() {
        return Err(Hello::Incomplete);
    }
    if buf[0] != 0x16 || (buf.len() > 1 && buf[1] != 3) {
        return Err(Hello::NotTls);
    }
    if buf.len() < 5 {
        return Err(Hello::Incomplete);
    }
    let rec_len = usize::from(buf[3]) << 8 | usize::from(buf[4]);
    if !(4..=16_384 + 2048).contains(&rec_len) {
        return Err(Hello::NotTls);
    }
    let Some(record) = buf.get(5..5 + rec_len) else {
        return Err(Hello::Incomplete);
    };
    let msg_len =
        usize::from(record[1]) << 16 | usize::from(record[2]) << 8 | usize::from(record[3]);
    // Spread over more records: HAProxy reads the first one only.
    let msg = record.get(4..4 + msg_len).ok_or(Hello::NotTls)?;
    Ok((record[0], msg))
}

/// The data of extension `ty` of a ClientHello body.
fn extension(msg: &[u8], ty: usize) -> Option<&[u8]> {
    let mut c = Cur(msg);
    c.take(2 + 32)?; // version, random
    c.vec8()?; // session id
    c.vec16()?; // cipher suites
    c.vec8()?; // compression methods
    let mut exts = Cur(c.vec16()?);
    while !exts.0.is_empty() {
        let t = exts.u16()?;
        let data = exts.vec16()?;
        if t == ty {
            return Some(data);
        }
    }
    None
}

/// The host_name of the server_name extension of a ClientHello body.
fn sni(msg: &[u8]) -> Option<String> {
    let mut list = Cur(Cur(extension(msg, 0)?).vec16()?);
    while !list.0.is_empty() {
        let kind = list.u8()?;
        let name = list.vec16()?;
        if kind == 0 {
            let s = std::str::from_utf8(name).ok()?;
            return Some(s.to_ascii_lowercase());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ClientHello record for `name`.
    fn hello(name: Option<&str>) -> Vec<u8> {
        hello_with(name, &[])
    }

    /// A minimal ClientHello record for `name`, `last` (whole extensions) at the end.
    fn hello_with(name: Option<&str>, last: &[u8]) -> Vec<u8> {
        let mut exts = Vec::new();
        if let Some(n) = name {
            let mut list = vec![0u8];
            list.extend((n.len() as u16).to_be_bytes());
            list.extend(n.as_bytes());
            let mut data = (list.len() as u16).to_be_bytes().to_vec();
            data.extend(list);
            exts.extend([0, 0]);
            exts.extend((data.len() as u16).to_be_bytes());
            exts.extend(data);
        }
        exts.extend([0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]); // supported_versions
        exts.extend(last);
        let mut body = vec![3, 3];
        body.extend([7u8; 32]);
        body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend((exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let mut msg = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
        msg.extend(body);
        let mut rec = vec![0x16, 3, 1, (msg.len() >> 8) as u8, msg.len() as u8];
        rec.extend(msg);
        rec
    }

    #[test]
    fn sni_and_type_of_a_complete_hello() {
        let h = hello(Some("A.Example.com"));
        assert_eq!(
            parse(&h),
            Hello::Complete {
                hello_type: 1,
                sni: Some("a.example.com".into())
            }
        );
        assert_eq!(
            parse(&hello(None)),
            Hello::Complete {
                hello_type: 1,
                sni: None
            }
        );
        for n in 0..h.len() {
            assert_eq!(parse(&h[..n]), Hello::Incomplete, "prefix of {n} bytes");
        }
    }

    #[test]
    fn a_session_offered_for_resumption_is_seen() {
        // pre_shared_key (41): one identity of 3 bytes, age 0; one binder of 32 bytes.
        let mut psk = vec![0, 41];
        let mut data = vec![0, 9, 0, 3, 1, 2, 3, 0, 0, 0, 0, 0, 33, 32];
        data.extend([9u8; 32]);
        psk.extend((data.len() as u16).to_be_bytes());
        psk.extend(data);
        let h = hello_with(Some("a.test"), &psk);
        assert!(offers_psk(&h));
        assert_eq!(
            parse(&h),
            Hello::Complete {
                hello_type: 1,
                sni: Some("a.test".into())
            }
        );
        assert!(!offers_psk(&hello(Some("a.test"))));
        for n in 0..h.len() {
            assert!(!offers_psk(&h[..n]), "prefix of {n} bytes");
        }
        assert!(!offers_psk(b"GET / HTTP/1.1\r\n\r\n"));
    }

    #[test]
    fn version_of_a_hello_as_haproxy_reads_it() {
        let h = hello(Some("a.test"));
        // The hello's version (3.3), not the record's (3.1), once the record is in.
        assert_eq!(version(&h, 16384), SslVer::Version(0x30003));
        for n in 0..h.len() {
            assert_eq!(
                version(&h[..n], 16384),
                SslVer::Incomplete,
                "prefix of {n} bytes"
            );
        }
        assert_eq!(
            version(&h[..20], 10),
            SslVer::Version(0x30003),
            "a full buffer decides"
        );
        assert_eq!(version(b"GET / HTTP/1.1\r\n", 16384), SslVer::NotSsl);
        // Any SSLv3 record type; a record older than SSLv3 is not SSL.
        let alert = [0x15, 3, 3, 0, 6, 2, 40, 0, 0, 3, 1];
        assert_eq!(version(&alert, 16384), SslVer::Version(0x30001));
        assert_eq!(
            version(&[0x16, 2, 0, 0, 6, 1, 0, 0, 2, 3, 3], 16384),
            SslVer::NotSsl
        );
        // An SSLv2 hello: 9 + ciphers (3) + challenge (16) bytes.
        let mut v2 = vec![0x80, 28, 0x01, 3, 0, 0, 3, 0, 0, 0, 16];
        v2.extend([0, 0, 0x04]);
        v2.extend([9u8; 16]);
        assert_eq!(version(&v2, 16384), SslVer::Version(0x30000));
        assert_eq!(version(&v2[..v2.len() - 1], 16384), SslVer::Incomplete);
        for b in 0..=255u8 {
            let _ = version(&[b, b, b, b, b, b, b, b, b, b, b, b], 16384);
        }
    }

    #[test]
    fn other_protocols_and_garbage() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Hello::NotTls);
        assert_eq!(parse(b"SSH-2.0-x"), Hello::NotTls);
        assert_eq!(parse(&[0x16, 3, 1, 0, 0]), Hello::NotTls);
        let mut h = hello(Some("x.test"));
        let l = h.len();
        h[l - 20] ^= 0xff; // a broken extension gives no name, never a panic
        let _ = parse(&h);
        for b in 0..=255u8 {
            let _ = parse(&[0x16, 3, 3, 0, 8, 1, 0, 0, 4, b, b, b, b]);
        }
    }

    #[test]
    fn a_real_rustls_hello_is_read() {
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        });
        let Ok(config) = config else {
            panic!("client config")
        };
        let name = rustls::pki_types::ServerName::try_from("real.test").map(|n| n.to_owned());
        let Ok(name) = name else { panic!("name") };
        let mut c = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        let _ = c.write_tls(&mut out);
        assert_eq!(
            parse(&out),
            Hello::Complete {
                hello_type: 1,
                sni: Some("real.test".into())
            }
        );
    }
}
