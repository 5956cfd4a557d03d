//! `bind ... tls-ticket-keys FILE`: session tickets sealed with keys an operator gives, so that
//! several load balancers (a VRRP pair, a cluster) resume each other's TLS sessions. As
//! HAProxy reads the file: one base64 key per line, each 48 bytes (16 name, 16 HMAC, 16 AES:
//! AES-128) or 80 bytes (16 name, 32 HMAC, 32 AES: AES-256); at least 3 keys; the last three
//! open tickets and the second-to-last seals new ones, so a key appended to the file (and a
//! reload) rotates them. fulcrum seals with AES-GCM under the key's AES part; the ticket
//! starts with the key's name so the right key opens it. (The tickets are fulcrum's own: a
//! HAProxy node given the same file does not resume them, nor fulcrum HAProxy's.)

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::server::ProducesTickets;

const NAME_LEN: usize = 16;
/// Keys HAProxy uses from the end of the file (its TLS_TICKETS_NO).
const IN_USE: usize = 3;

struct Key {
    name: [u8; NAME_LEN],
    aead: LessSafeKey,
}

/// The keys of one file.
pub struct TicketKeys {
    /// The last three keys of the file; `keys[1]` seals.
    keys: Vec<Key>,
    rng: SystemRandom,
}

impl std::fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TicketKeys({} keys)", self.keys.len())
    }
}

/// The keys of file text `text` (`shown` names the file in messages).
pub fn parse(text: &str, shown: &str) -> Result<TicketKeys, String> {
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bytes = fulcrum_sample::unbase64(line.as_bytes())
            .ok_or_else(|| format!("'{shown}' line {}: not base64", n + 1))?;
        let (alg, aes) = match bytes.len() {
            48 => (&aead::AES_128_GCM, &bytes[32..48]),
            80 => (&aead::AES_256_GCM, &bytes[48..80]),
            other => {
                return Err(format!(
                    "'{shown}' line {}: a key is 48 or 80 bytes, this one is {other}",
                    n + 1
                ))
            }
        };
        let mut name = [0u8; NAME_LEN];
        name.copy_from_slice(&bytes[..NAME_LEN]);
        let key = UnboundKey::new(alg, aes).map_err(|_| format!("'{shown}': bad key"))?;
        keys.push(Key {
            name,
            aead: LessSafeKey::new(key),
        });
    }
    if keys.len() < IN_USE {
        return Err(format!(
            "'{shown}': please supply at least {IN_USE} keys in the tls-tickets-file"
        ));
    }
    let keys = keys.split_off(keys.len() - IN_USE);
    Ok(TicketKeys {
        keys,
        rng: SystemRandom::new(),
    })
}

/// The keys of file `path`.
pub fn load(path: &std::path::Path) -> Result<TicketKeys, String> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read tls-ticket-keys '{shown}': {e}"))?;
    parse(&text, &shown)
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
        let key = &self.keys[1];
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
        let key = self.keys.iter().find(|k| k.name == head[..NAME_LEN])?;
        let nonce = Nonce::try_assume_unique_for_key(&head[NAME_LEN..]).ok()?;
        let mut buf = sealed.to_vec();
        let plain = key
            .aead
            .open_in_place(nonce, Aad::from(head), &mut buf)
            .ok()?;
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
