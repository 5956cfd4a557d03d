//! `userlist` sections at run time: `Authorization: Basic` credentials checked against a
//! list's users (crypt(3) hashes through `pwhash`, as HAProxy checks them with libc's
//! `crypt()`), for the `http_auth(L)`, `http_auth_group(L)` and `http_auth_*` fetches.
//!
//! The lists of the running configuration are published once per generation in a process-wide
//! registry (the fetches name a list by the name written in the file).

use fulcrum_config::model_userlist::{Password, Userlist};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

static LISTS: RwLock<Option<Arc<HashMap<String, Userlist>>>> = RwLock::new(None);

/// Publishes the userlists of a configuration that starts serving.
pub fn publish(lists: &[Userlist]) {
    let map = lists.iter().map(|u| (u.name.clone(), u.clone())).collect();
    if let Ok(mut g) = LISTS.write() {
        *g = Some(Arc::new(map));
    }
}

/// Adds one list to those published (tests running side by side in one process).
#[cfg(test)]
pub fn publish_one(list: &Userlist) {
    if let Ok(mut g) = LISTS.write() {
        let mut map = g.as_deref().cloned().unwrap_or_default();
        map.insert(list.name.clone(), list.clone());
        *g = Some(Arc::new(map));
    }
}

fn lists() -> Option<Arc<HashMap<String, Userlist>>> {
    LISTS.read().ok().and_then(|g| g.clone())
}

/// The credentials of an `Authorization` header value.
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The scheme as written (`Basic`, `Bearer`...).
    pub scheme: Vec<u8>,
    /// User and password, for `Basic`.
    pub user: Vec<u8>,
    pub pass: Vec<u8>,
}

/// Parses `Authorization: SCHEME DATA` (`Basic base64(user:pass)`), as HAProxy's
/// `get_http_auth`: a Basic value that does not decode, or has no `:`, gives no credentials.
pub fn parse(value: &[u8]) -> Option<Credentials> {
    let value = trim(value);
    let sp = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = (&value[..sp], trim(&value[sp + 1..]));
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return Some(Credentials {
            scheme: scheme.to_vec(),
            user: Vec::new(),
            pass: Vec::new(),
        });
    }
    let decoded = base64(rest)?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some(Credentials {
        scheme: scheme.to_vec(),
        user: decoded[..colon].to_vec(),
        pass: decoded[colon + 1..].to_vec(),
    })
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// Standard base64 (with or without padding); `None` on any other byte.
fn base64(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s.iter().take_while(|&&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The groups of the user whose credentials check against list `list`; `None` when the list
/// is unknown, the user is not in it or the password is wrong.
pub fn check(list: &str, c: &Credentials) -> Option<Vec<String>> {
    let lists = lists()?;
    let l = lists.get(list)?;
    let user = l.users.iter().find(|u| u.name.as_bytes() == c.user)?;
    let ok = match &user.password {
        Password::Insecure(p) => p.as_bytes() == c.pass,
        Password::Hashed(h) => std::str::from_utf8(&c.pass)
            .map(|p| pwhash::unix::verify(p, h))
            .unwrap_or(false),
    };
    ok.then(|| user.groups.clone())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use fulcrum_config::model_userlist::User;

    pub(crate) fn list_named(name: &str) -> Userlist {
        Userlist {
            name: name.into(),
            span: Default::default(),
            groups: vec!["G1".into(), "G2".into()],
            users: vec![
                User {
                    name: "scott".into(),
                    password: Password::Insecure("elgato".into()),
                    groups: vec!["G1".into()],
                },
                User {
                    name: "tiger".into(),
                    // `mkpasswd -m sha-512 -S saltsalt secret`
                    password: Password::Hashed(
                        pwhash::sha512_crypt::hash_with("$6$saltsalt", "secret").expect("hashes"),
                    ),
                    groups: vec!["G2".into()],
                },
            ],
        }
    }

    fn list() -> Userlist {
        list_named("L")
    }

    #[test]
    fn basic_credentials_check_against_the_list() {
        publish_one(&list());
        let c = parse(b"Basic c2NvdHQ6ZWxnYXRv").expect("parses");
        assert_eq!(
            (c.user.as_slice(), c.pass.as_slice()),
            (&b"scott"[..], &b"elgato"[..])
        );
        assert_eq!(check("L", &c), Some(vec!["G1".to_string()]));
        assert_eq!(check("other", &c), None);
        // tiger:secret against a SHA-512 crypt hash, then a wrong password.
        let c = parse(b"basic dGlnZXI6c2VjcmV0").expect("parses");
        assert_eq!(check("L", &c), Some(vec!["G2".to_string()]));
        let c = parse(b"Basic dGlnZXI6c2VjcmV1").expect("parses");
        assert_eq!(check("L", &c), None);
        // Not base64, no colon, another scheme.
        assert!(parse(b"Basic !!!").is_none());
        assert!(parse(b"Basic c2NvdHQ=").is_none());
        let b = parse(b"Bearer abc").expect("parses");
        assert_eq!(b.scheme, b"Bearer");
        assert_eq!(check("L", &b), None);
    }
}
