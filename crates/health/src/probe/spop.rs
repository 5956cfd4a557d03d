//! `option spop-check` (HAProxy 2.6): the SPOP HAPROXY-HELLO frame with `healthcheck` set,
//! byte for byte as haproxy sends it, and the judge of the agent's answer (an AGENT-HELLO
//! with a supported version and a max-frame-size, else HAProxy's SPOE error reason). Pure.

/// HAProxy 2.6's health-check HELLO (captured): length 78, type HAPROXY-HELLO, FIN, stream
/// and frame id 0, `supported-versions "2.0"`, `max-frame-size 16380`, `capabilities ""`,
/// `healthcheck true`.
pub fn hello() -> Vec<u8> {
    let mut body = vec![0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
    let kv_str = |b: &mut Vec<u8>, k: &str, v: &str| {
        b.push(k.len() as u8);
        b.extend_from_slice(k.as_bytes());
        b.push(0x08);
        b.push(v.len() as u8);
        b.extend_from_slice(v.as_bytes());
    };
    kv_str(&mut body, "supported-versions", "2.0");
    body.push(14);
    body.extend_from_slice(b"max-frame-size");
    body.extend_from_slice(&[0x03, 0xfc, 0xf0, 0x06]);
    kv_str(&mut body, "capabilities", "");
    body.push(11);
    body.extend_from_slice(b"healthcheck");
    body.push(0x11);
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

const AGENT_HELLO: u8 = 101;
const AGENT_DISCON: u8 = 102;
/// HAProxy's `tune.bufsize`: the largest max-frame-size an agent may announce.
const MAX_FRAME: u64 = 16384;
const MIN_FRAME: u64 = 256;

/// HAProxy's `spoe_frm_err_reasons`, by status code.
const REASONS: [&str; 15] = [
    "normal",
    "I/O error",
    "a timeout occurred",
    "frame is too big",
    "invalid frame received",
    "version value not found",
    "max-frame-size value not found",
    "capabilities value not found",
    "unsupported version",
    "max-frame-size too big or too small",
    "fragmentation not supported",
    "invalid interlaced frames",
    "frame-id not found",
    "resource allocation error",
    "an unknown error occurred",
];
const INVALID: usize = 4;

/// Whether the whole frame is here (4-byte length, then the frame), unless `closed`.
pub fn complete(buf: &[u8]) -> bool {
    buf.get(..4)
        .is_some_and(|l| buf.len() - 4 >= u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize)
}

/// The agent's answer: Ok (an acceptable AGENT-HELLO) or HAProxy's reason.
pub fn judge(buf: &[u8]) -> Result<(), &'static str> {
    let len = buf
        .get(..4)
        .map_or(0, |l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize);
    let frame = buf.get(4..).unwrap_or_default();
    let frame = &frame[..len.min(frame.len())];
    let code = match frame.first() {
        Some(&AGENT_DISCON) => discon_code(frame),
        _ => match agent_hello(frame) {
            Ok(()) => return Ok(()),
            Err(code) => code,
        },
    };
    Err(REASONS[if code < REASONS.len() { code } else { 14 }])
}

/// SPOP's variable-length integer.
fn varint(p: &mut &[u8]) -> Option<u64> {
    let (&first, rest) = p.split_first()?;
    *p = rest;
    let mut v = u64::from(first);
    if first < 240 {
        return Some(v);
    }
    let mut shift = 4;
    loop {
        let (&b, rest) = p.split_first()?;
        *p = rest;
        v = v.checked_add(u64::from(b).checked_shl(shift)?)?;
        shift += 7;
        if b < 128 {
            return Some(v);
        }
    }
}

fn bytes<'a>(p: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = usize::try_from(varint(p)?).ok()?;
    if p.len() < n {
        return None;
    }
    let (b, rest) = p.split_at(n);
    *p = rest;
    Some(b)
}

/// Skips a typed value (SPOP data types).
fn skip(p: &mut &[u8], kind: u8) -> Option<()> {
    match kind & 0x0f {
        0 | 1 => {}
        2..=5 => {
            varint(p)?;
        }
        6 | 7 => {
            let n = if kind & 0x0f == 6 { 4 } else { 16 };
            *p = p.get(n..)?;
        }
        8 | 9 => {
            bytes(p)?;
        }
        _ => return None,
    }
    Some(())
}

/// `spoe_handle_agenthello_frame`: Err(status code) on anything HAProxy refuses.
fn agent_hello(frame: &[u8]) -> Result<(), usize> {
    if frame.first() != Some(&AGENT_HELLO) || frame.len() < 7 {
        return Err(INVALID);
    }
    if frame[4] & 0x01 == 0 {
        return Err(10); // FIN missing: fragmentation not supported
    }
    if frame[5] != 0 || frame[6] != 0 {
        return Err(INVALID);
    }
    let mut p = &frame[7..];
    let (mut version, mut frame_size) = (false, false);
    while !p.is_empty() {
        let key = bytes(&mut p).filter(|k| !k.is_empty()).ok_or(INVALID)?;
        let (&kind, rest) = p.split_first().ok_or(INVALID)?;
        p = rest;
        // HAProxy compares the key's bytes only (a prefix of the name matches)
        let is = |name: &str| name.as_bytes().starts_with(key);
        if is("version") {
            if kind & 0x0f != 8 {
                return Err(INVALID);
            }
            let v = bytes(&mut p).ok_or(INVALID)?;
            if version_number(v) != Some(2000) {
                return Err(8);
            }
            version = true;
        } else if is("max-frame-size") {
            if !(2..=5).contains(&(kind & 0x0f)) {
                return Err(INVALID);
            }
            let n = varint(&mut p).ok_or(INVALID)?;
            if !(MIN_FRAME..=MAX_FRAME).contains(&n) {
                return Err(9);
            }
            frame_size = true;
        } else if is("capabilities") {
            if kind & 0x0f != 8 {
                return Err(INVALID);
            }
            bytes(&mut p).ok_or(INVALID)?;
        } else {
            skip(&mut p, kind).ok_or(INVALID)?;
        }
    }
    if !version {
        return Err(5);
    }
    if !frame_size {
        return Err(6);
    }
    Ok(())
}

/// "MAJOR.MINOR" as HAProxy's `spoe_str_to_vsn` (2.0 → 2000).
fn version_number(v: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let (major, minor) = s.split_once('.')?;
    let major: u32 = major.parse().ok()?;
    let minor: u32 = minor.parse().ok()?;
    (minor < 1000).then_some(major * 1000 + minor)
}

/// `spoe_handle_agentdiscon_frame`: the `status-code` the agent gave.
fn discon_code(frame: &[u8]) -> usize {
    let mut p = frame.get(7..).unwrap_or_default();
    while !p.is_empty() {
        let Some(key) = bytes(&mut p) else {
            return INVALID;
        };
        let Some((&kind, rest)) = p.split_first() else {
            return INVALID;
        };
        p = rest;
        if "status-code".as_bytes().starts_with(key)
            && !key.is_empty()
            && (2..=5).contains(&(kind & 0x0f))
        {
            return varint(&mut p).map_or(INVALID, |c| c as usize);
        }
        if skip(&mut p, kind).is_none() {
            return INVALID;
        }
    }
    INVALID
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An AGENT-HELLO as an SPOA answers: version 2.0, max-frame-size 16380, capabilities.
    pub fn agent_hello_frame(version: &str, max: &[u8]) -> Vec<u8> {
        let mut b = vec![AGENT_HELLO, 0, 0, 0, 1, 0, 0];
        b.push(7);
        b.extend_from_slice(b"version");
        b.push(8);
        b.push(version.len() as u8);
        b.extend_from_slice(version.as_bytes());
        b.push(14);
        b.extend_from_slice(b"max-frame-size");
        b.push(3);
        b.extend_from_slice(max);
        b.push(12);
        b.extend_from_slice(b"capabilities");
        b.push(8);
        b.push(0);
        let mut f = (b.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&b);
        f
    }

    #[test]
    fn hello_is_haproxys() {
        let want: &[u8] = b"\x00\x00\x00N\x01\x00\x00\x00\x01\x00\x00\x12supported-versions\x08\x032.0\x0emax-frame-size\x03\xfc\xf0\x06\x0ccapabilities\x08\x00\x0bhealthcheck\x11";
        assert_eq!(hello(), want);
    }

    #[test]
    fn agent_answers() {
        let ok = agent_hello_frame("2.0", &[0xfc, 0xf0, 0x06]);
        assert!(complete(&ok));
        assert!(!complete(&ok[..ok.len() - 1]));
        assert_eq!(judge(&ok), Ok(()));
        assert_eq!(
            judge(&agent_hello_frame("1.0", &[0xfc, 0xf0, 0x06])),
            Err("unsupported version")
        );
        assert_eq!(
            judge(&agent_hello_frame("2.0", &[100])),
            Err("max-frame-size too big or too small")
        );
        assert_eq!(
            judge(b"HTTP/1.0 400 Bad\r\n\r\n"),
            Err("invalid frame received")
        );
        let mut discon = vec![AGENT_DISCON, 0, 0, 0, 1, 0, 0, 11];
        discon.extend_from_slice(b"status-code");
        discon.extend_from_slice(&[3, 8]);
        let mut f = (discon.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&discon);
        assert_eq!(judge(&f), Err("unsupported version"));
    }
}
