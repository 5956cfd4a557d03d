//! `bind ... tls-ticket-keys FILE`: session tickets sealed with keys an operator gives, so that
//! several load balancers (a VRRP pair, a cluster) resume each other's TLS sessions. As
//! HAProxy reads the file: one base64 key per line, each 48 bytes (16 name, 16 HMAC, 16 AES:
//! AES-128) or 80 bytes (16 name, 32 HMAC, 32 AES: AES-256); at least 3 keys; the last three
//! open tickets and the second-to-last seals new ones, so a key appended to the file (and a
//! reload) rotates them. fulcrum seals with AES-GCM under the key's AES part; the ticket
//! starts with the key's name so the right key opens it. (The tickets are fulcrum's own: a
//! HAProxy node given the same file does not resume them, nor fulcrum HAProxy's.)
//!
//! Every file is one shared set of keys (HAProxy's "tls-keys reference"), whatever the number
//! of binds and certificates naming it; the runtime socket's `show tls-keys [ID|FILE|*]` lists
//! them and `set ssl tls-key ID|FILE KEY` rotates one at once (the new key last, the oldest
//! gone: the next handshakes seal with the former last key), with HAProxy 2.6's answers.
//! References are numbered as HAProxy numbers them: the file named last in the config is 0.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::server::ProducesTickets;
use std::sync::{Arc, Mutex, RwLock};

const NAME_LEN: usize = 16;
/// Keys HAProxy uses from the end of the file (its TLS_TICKETS_NO).
const IN_USE: usize = 3;

struct Key {
    name: [u8; NAME_LEN],
    aead: LessSafeKey,
    /// The key as given (`show tls-keys` prints it back).
    raw: Vec<u8>,
}

/// The keys in use for one file: the last three (`keys[1]` seals), swapped as a whole by
/// `set ssl tls-key` while handshakes read them.
pub struct TicketKeys {
    keys: RwLock<Vec<Key>>,
    rng: SystemRandom,
}

impl std::fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TicketKeys({} keys)", self.read().len())
    }
}

/// One key of 48 or 80 bytes (`Err`: its size is neither).
fn key(bytes: Vec<u8>) -> Result<Key, usize> {
    let (alg, aes) = match bytes.len() {
        48 => (&aead::AES_128_GCM, &bytes[32..48]),
        80 => (&aead::AES_256_GCM, &bytes[48..80]),
        other => return Err(other),
    };
    let unbound = UnboundKey::new(alg, aes).map_err(|_| bytes.len())?;
    let mut name = [0u8; NAME_LEN];
    name.copy_from_slice(&bytes[..NAME_LEN]);
    Ok(Key {
        name,
        aead: LessSafeKey::new(unbound),
        raw: bytes,
    })
}

/// The keys in use of file text `text` (`shown` names the file in messages).
fn parse_keys(text: &str, shown: &str) -> Result<Vec<Key>, String> {
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bytes = fulcrum_sample::unbase64(line.as_bytes())
            .ok_or_else(|| format!("'{shown}' line {}: not base64", n + 1))?;
        keys.push(key(bytes).map_err(|other| {
            format!(
                "'{shown}' line {}: a key is 48 or 80 bytes, this one is {other}",
                n + 1
            )
        })?);
    }
    if keys.len() < IN_USE {
        return Err(format!(
            "'{shown}': please supply at least {IN_USE} keys in the tls-tickets-file"
        ));
    }
    Ok(keys.split_off(keys.len() - IN_USE))
}

/// The keys of file text `text` (`shown` names the file in messages).
pub fn parse(text: &str, shown: &str) -> Result<TicketKeys, String> {
    Ok(TicketKeys {
        keys: RwLock::new(parse_keys(text, shown)?),
        rng: SystemRandom::new(),
    })
}

/// One file's keys as the process shares them.
struct Ref {
    file: String,
    /// The file's text when last read: a config built again from the same file keeps the
    /// keys (and what `set ssl tls-key` made of them).
    text: String,
    keys: Arc<TicketKeys>,
}

/// The files in the order the config first named them.
static REFS: Mutex<Vec<Ref>> = Mutex::new(Vec::new());

fn refs() -> std::sync::MutexGuard<'static, Vec<Ref>> {
    REFS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The keys of file `path`, shared by every bind naming it: read again when its text changed
/// (a reload after the file was rewritten), else the keys already in use.
pub fn load(path: &std::path::Path) -> Result<Arc<TicketKeys>, String> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read tls-ticket-keys '{shown}': {e}"))?;
    let mut refs = refs();
    if let Some(r) = refs.iter_mut().find(|r| r.file == shown) {
        if r.text != text {
            let keys = parse_keys(&text, &shown)?;
            *r.keys.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
            r.text = text;
        }
        return Ok(r.keys.clone());
    }
    let keys = Arc::new(parse(&text, &shown)?);
    refs.push(Ref {
        file: shown,
        text,
        keys: keys.clone(),
    });
    Ok(keys)
}

/// The runtime socket's commands on ticket keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsKeysCommand {
    /// `show tls-keys [ID|FILE|*]`.
    Show(Option<String>),
    /// `set ssl tls-key ID|FILE KEY` (either may be empty: missing).
    Set(String, String),
}

/// Runs a command on the process's ticket keys; HAProxy 2.6's answer.
pub fn run(cmd: &TlsKeysCommand) -> String {
    let refs = refs();
    // HAProxy numbers its references from the last one the config named.
    let id = |i: usize| refs.len() - 1 - i;
    let find = |reference: &str| -> Option<usize> {
        match reference.strip_prefix('#') {
            Some(n) => n
                .parse::<usize>()
                .ok()
                .filter(|n| *n < refs.len())
                .map(|n| refs.len() - 1 - n),
            None => refs.iter().position(|r| r.file == reference),
        }
    };
    match cmd {
        TlsKeysCommand::Show(None) => {
            let mut out = String::from("# id (file)\n");
            for i in (0..refs.len()).rev() {
                out.push_str(&format!("{} ({})\n", id(i), refs[i].file));
            }
            out
        }
        TlsKeysCommand::Show(Some(which)) => {
            let chosen: Vec<usize> = if which == "*" {
                (0..refs.len()).rev().collect()
            } else {
                match find(which) {
                    Some(i) => vec![i],
                    None => return "'show tls-keys' unable to locate referenced filename\n".into(),
                }
            };
            let mut out = String::from("# id secret\n");
            for i in chosen {
                out.push_str(&format!("# {} ({})\n", id(i), refs[i].file));
                for (k, key) in refs[i].keys.read().iter().enumerate() {
                    let text = fulcrum_sample::base64(&key.raw);
                    out.push_str(&format!(
                        "{}.{k} {}\n",
                        id(i),
                        String::from_utf8_lossy(&text)
                    ));
                }
            }
            out
        }
        TlsKeysCommand::Set(reference, text) => {
            const CMD: &str = "'set ssl tls-key'";
            if reference.is_empty() || text.is_empty() {
                return format!(
                    "{CMD} expects a filename and the new TLS key in base64 encoding.\n"
                );
            }
            let Some(i) = find(reference) else {
                return format!("{CMD} unable to locate referenced filename\n");
            };
            let Some(bytes) = fulcrum_sample::unbase64(text.as_bytes()) else {
                return format!("{CMD} received invalid base64 encoded TLS key.\n");
            };
            let keys = &refs[i].keys;
            let mut now = keys.keys.write().unwrap_or_else(|e| e.into_inner());
            // The key's size must be the file's (48 or 80 bytes), as HAProxy's.
            let same_size = now.last().is_some_and(|k| k.raw.len() == bytes.len());
            let new = match key(bytes) {
                Ok(k) if same_size => k,
                _ => return format!("{CMD} received a key of wrong size.\n"),
            };
            now.remove(0);
            now.push(new);
            "TLS ticket key updated!\n".into()
        }
    }
}

impl TicketKeys {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Key>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl ProducesTickets for TicketKeys {
    fn enabled(&self) -> bool {
        true
    }
    fn lifetime(&self) -> u32 {
        // Overridden by the lifetime wrapper (`tune.ssl.lifetime`).
        300
    }
    /// name || nonce || sealed(plain) with the name and nonce as additional data.
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let keys = self.read();
        let key = keys.get(1)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(NAME_LEN + NONCE_LEN + plain.len() + 16);
        out.extend_from_slice(&key.name);
        out.extend_from_slice(&nonce);
        let mut sealed = plain.to_vec();
        key.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&out[..]),
                &mut sealed,
            )
            .ok()?;
        out.extend_from_slice(&sealed);
        Some(out)
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let (head, sealed) = cipher.split_at_checked(NAME_LEN + NONCE_LEN)?;
        let keys = self.read();
        let at = keys.iter().position(|k| k.name == head[..NAME_LEN])?;
        let key = &keys[at];
        let nonce = Nonce::try_assume_unique_for_key(&head[NAME_LEN..]).ok()?;
        let mut buf = sealed.to_vec();
        let plain = key
            .aead
            .open_in_place(nonce, Aad::from(head), &mut buf)
            .ok()?;
        if at != 1 {
            // Not the sealing key: the resumption gets a ticket under it (as OpenSSL renews).
            super::renewal::stale();
        }
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fill: u8, len: usize) -> String {
        let bytes = vec![fill; len];
        String::from_utf8(base64_of(&bytes)).unwrap_or_default()
    }

    fn base64_of(b: &[u8]) -> Vec<u8> {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        for c in b.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= c.len() {
                    out.push(A[(n >> (18 - 6 * i)) as usize & 63]);
                } else {
                    out.push(b'=');
                }
            }
        }
        out
    }

    #[test]
    fn sealed_by_the_second_to_last_opened_by_the_last_three() {
        let file = format!(
            "{}\n{}\n{}\n{}\n",
            key(1, 48),
            key(2, 48),
            key(3, 80),
            key(4, 48)
        );
        let k = parse(&file, "k").expect("keys");
        let t = k.encrypt(b"session").expect("sealed");
        assert_eq!(
            &t[..NAME_LEN],
            &[3u8; NAME_LEN],
            "sealed by the third of four"
        );
        assert_eq!(k.decrypt(&t).as_deref(), Some(&b"session"[..]));
        // The next file (a key appended): the ticket still opens; a file without that key
        // does not open it.
        let next = format!("{file}{}\n", key(5, 48));
        assert_eq!(
            parse(&next, "k").expect("keys").decrypt(&t).as_deref(),
            Some(&b"session"[..])
        );
        let other = format!("{}\n{}\n{}\n", key(6, 48), key(7, 48), key(8, 48));
        assert_eq!(parse(&other, "k").expect("keys").decrypt(&t), None);
        let mut bad = t.clone();
        if let Some(last) = bad.last_mut() {
            *last ^= 1;
        }
        assert_eq!(k.decrypt(&bad), None, "tampered");
        assert!(parse(&format!("{}\n{}\n", key(1, 48), key(2, 48)), "k")
            .err()
            .is_some_and(|e| e.contains("at least 3 keys")));
        assert!(parse(
            &format!("{}\n{}\n{}\n", key(1, 48), key(2, 32), key(3, 48)),
            "k"
        )
        .err()
        .is_some_and(|e| e.contains("line 2")));
    }
}
