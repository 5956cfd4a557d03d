//! The object store of a `cache NAME` section (sans-IO: fed with the current time in
//! seconds): objects by key (`https://` + Host + URI, as HAProxy 2.6's hash input), with
//! HAProxy's memory accounting in 1 kB blocks, eviction of the least recently used objects
//! when a new one needs room, expiry, and invalidation. The rules (`cache_policy`) decide
//! what is stored and served; the session (`session/exchange.rs`) feeds the bytes.
//!
//! Every `cache` section of the running configuration is in one process-wide registry (by
//! name) so that the runtime socket's `show cache` lists them; a reload with the same limits
//! keeps a cache's objects (HAProxy starts a new process, empty).

use super::message::Message;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// HAProxy's cache block size: memory is counted, and `show cache` reports, in blocks.
pub const BLOCK: u64 = 1024;
/// Bytes HAProxy's `struct cache_entry` takes in an object's first block, with the part of
/// its start line our head size does not count: `show cache` of haproxy 2.6.12 says 205 for
/// `200 OK`, `Cache-Control: max-age=60`, `Content-Length: 1` and one byte of body, each
/// field counting its name, value and 4, and the status line 15 and its reason.
pub const ENTRY_OVERHEAD: u64 = 141;

/// A cache section's limits (`fulcrum_config::model_cache::CacheSection`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub total: u64,
    pub max_object: u64,
    pub max_age: u32,
    /// `process-vary on`: responses with `Vary: accept-encoding|referer` are stored, several
    /// under one key (`cache_vary`), at most `max_secondary` of them.
    pub process_vary: bool,
    pub max_secondary: u32,
}

/// One stored response: its neutral head (status, reason, fields, without `Age` nor the
/// connection's fields), its body as it came on the wire (`Content-Length` bytes, or the
/// chunked encoding).
#[derive(Debug)]
pub struct Object {
    pub head: Message,
    /// The head's size written as HTTP/1 (status line and fields, no blank line): what the
    /// object counts against the sizes.
    pub head_len: usize,
    pub body: Vec<u8>,
    /// The `ETag` value, if any (for `If-None-Match`).
    pub etag: Option<Vec<u8>>,
    /// `Last-Modified` (or `Date`, or the storage time), seconds since the epoch.
    pub last_modified: i64,
    /// When it was stored (seconds since the epoch) and the `Age` it came with.
    pub stored: i64,
    pub age: i64,
    /// It is served while `now < expire`.
    pub expire: i64,
    /// `process-vary on`: the response's Vary signature (0: none) and its secondary key
    /// (`cache_vary`; zeros without Vary).
    pub signature: u32,
    pub secondary: [u8; 8],
}

impl Object {
    /// Blocks it takes (HAProxy: the entry, then the head and body, in 1 kB blocks).
    pub fn blocks(&self) -> u64 {
        (ENTRY_OVERHEAD + self.head_len as u64 + self.body.len() as u64).div_ceil(BLOCK)
    }

    /// Bytes counted against `max-object-size` (head and body).
    pub fn size(&self) -> u64 {
        (self.head_len + self.body.len()) as u64
    }

    /// The `Age` a client is told now.
    pub fn age_at(&self, now: i64) -> i64 {
        (now - self.stored).max(0) + self.age
    }
}

struct Slot {
    object: Arc<Object>,
    /// Position in the use order (higher: used more recently).
    used: u64,
    /// The object key it was stored under (the slot's own key adds a number to it when the
    /// object varies: several objects may share one object key).
    primary: Vec<u8>,
}

#[derive(Default)]
struct Store {
    objects: HashMap<Vec<u8>, Slot>,
    /// Use order: tick → slot key; the first is evicted first.
    order: BTreeMap<u64, Vec<u8>>,
    /// The slot keys of each object key, oldest first (HAProxy's duplicates).
    dups: HashMap<Vec<u8>, Vec<Vec<u8>>>,
    tick: u64,
    used_blocks: u64,
}

impl Store {
    fn touch(&mut self, key: &[u8]) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(slot) = self.objects.get_mut(key) {
            self.order.remove(&slot.used);
            slot.used = tick;
            self.order.insert(tick, key.to_vec());
        }
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        match self.objects.remove(key) {
            Some(slot) => {
                self.order.remove(&slot.used);
                self.used_blocks -= slot.object.blocks();
                if let Some(d) = self.dups.get_mut(&slot.primary) {
                    d.retain(|k| k != key);
                    if d.is_empty() {
                        self.dups.remove(&slot.primary);
                    }
                }
                true
            }
            None => false,
        }
    }

    /// The slot keys under `primary` once the expired objects are dropped, oldest first.
    fn alive(&mut self, primary: &[u8], now: i64) -> Vec<Vec<u8>> {
        let keys = self.dups.get(primary).cloned().unwrap_or_default();
        let (fresh, old): (Vec<_>, Vec<_>) = keys
            .into_iter()
            .partition(|k| self.objects.get(k).is_some_and(|s| s.object.expire > now));
        for k in old {
            self.remove(&k);
        }
        fresh
    }

    fn object(&self, key: &[u8]) -> Option<&Arc<Object>> {
        self.objects.get(key).map(|s| &s.object)
    }
}

/// One `cache NAME` section at run time.
pub struct Cache {
    pub name: String,
    pub limits: Limits,
    store: Mutex<Store>,
}

/// What `show cache` prints for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: Vec<u8>,
    /// Its secondary key (`vary:0x...`).
    pub vary: [u8; 8],
    /// The oldest object of its key (HAProxy's `show cache` lists only that one).
    pub first: bool,
    pub size: u64,
    pub blocks: u64,
    pub expire_in: i64,
}

impl Cache {
    pub fn new(name: &str, limits: Limits) -> Cache {
        Cache {
            name: name.to_string(),
            limits,
            store: Mutex::new(Store::default()),
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the store consistent (no partial updates).
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Total blocks (`total-max-size` / 1 kB).
    pub fn total_blocks(&self) -> u64 {
        self.limits.total / BLOCK
    }

    /// The object stored under `key`, if still fresh at `now` (an expired one is dropped);
    /// a hit makes it the most recently used. An object that varies is not served here (see
    /// [`Cache::get_varied`]).
    pub fn get(&self, key: &[u8], now: i64) -> Option<Arc<Object>> {
        self.get_varied(key, now, |_| None)
    }

    /// The object stored under `key` for a request: when the oldest one varies (`process-vary
    /// on`), `request_key` gives the request's secondary key for its signature and the first
    /// object whose own key answers it is served (HAProxy's `secondary_entry_exist`).
    pub fn get_varied(
        &self,
        key: &[u8],
        now: i64,
        request_key: impl FnOnce(u32) -> Option<[u8; 8]>,
    ) -> Option<Arc<Object>> {
        let mut s = self.store();
        let keys = s.alive(key, now);
        let first = s.object(keys.first()?)?;
        let chosen = if first.signature == 0 {
            keys[0].clone()
        } else {
            let want = request_key(first.signature)?;
            keys.iter()
                .find(|k| {
                    s.object(k)
                        .is_some_and(|o| super::cache_vary::same(&o.secondary, &want))
                })?
                .clone()
        };
        let object = s.object(&chosen)?.clone();
        s.touch(&chosen);
        Some(object)
    }

    /// Drops what is stored under `key` (a successful unsafe request on it: RFC 7234 4.4):
    /// the oldest object, as HAProxy.
    pub fn invalidate(&self, key: &[u8]) -> bool {
        let mut s = self.store();
        let first = s.dups.get(key).and_then(|d| d.first().cloned());
        first.is_some_and(|k| s.remove(&k))
    }

    /// `cache-store` replaces what a new response stands for: without Vary the oldest object
    /// under `key`; with Vary (`signature`), the first varying object whose key answers the
    /// request's (`request`), as HAProxy.
    pub fn replace(&self, key: &[u8], signature: u32, request: &[u8; 8], now: i64) {
        let mut s = self.store();
        let keys = s.alive(key, now);
        let Some(first) = keys.first() else { return };
        let gone = if signature == 0 {
            Some(first.clone())
        } else if s.object(first).is_some_and(|o| o.signature == 0) {
            None
        } else {
            keys.iter()
                .find(|k| {
                    s.object(k)
                        .is_some_and(|o| super::cache_vary::same(&o.secondary, request))
                })
                .cloned()
        };
        if let Some(k) = gone {
            s.remove(&k);
        }
    }

    /// Stores `object` under `key` (replacing an older one that does not vary), evicting the
    /// least recently used objects until it fits; false when it is larger than
    /// `max-object-size` or than the whole cache, or when it varies and `key` already has
    /// `max-secondary-entries` objects.
    pub fn insert(&self, key: Vec<u8>, object: Object) -> bool {
        let blocks = object.blocks();
        if object.size() > self.limits.max_object || blocks > self.total_blocks() {
            return false;
        }
        let mut s = self.store();
        let slot_key = if object.signature == 0 {
            s.remove(&key);
            key.clone()
        } else {
            let n = s.dups.get(&key).map_or(0, Vec::len);
            if n >= self.limits.max_secondary as usize {
                return false;
            }
            let mut k = key.clone();
            k.push(0xff);
            k.extend_from_slice(&(s.tick + 1).to_be_bytes());
            k
        };
        while s.used_blocks + blocks > self.total_blocks() {
            let Some((_, oldest)) = s.order.first_key_value().map(|(t, k)| (*t, k.clone())) else {
                break;
            };
            s.remove(&oldest);
        }
        s.tick += 1;
        let used = s.tick;
        s.order.insert(used, slot_key.clone());
        s.used_blocks += blocks;
        s.dups
            .entry(key.clone())
            .or_default()
            .push(slot_key.clone());
        s.objects.insert(
            slot_key,
            Slot {
                object: Arc::new(object),
                used,
                primary: key,
            },
        );
        true
    }

    /// Blocks not used by any object.
    pub fn available_blocks(&self) -> u64 {
        self.total_blocks() - self.store().used_blocks
    }

    /// The objects still fresh at `now`, least recently used first.
    pub fn list(&self, now: i64) -> Vec<Listed> {
        let s = self.store();
        s.order
            .values()
            .filter_map(|k| {
                let slot = s.objects.get(k)?;
                let o = &slot.object;
                let first = s.dups.get(&slot.primary).and_then(|d| d.first()) == Some(k);
                (o.expire > now).then(|| Listed {
                    key: slot.primary.clone(),
                    vary: o.secondary,
                    first,
                    size: ENTRY_OVERHEAD + o.size(),
                    blocks: o.blocks(),
                    expire_in: o.expire - now,
                })
            })
            .collect()
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cache {}", self.name)
    }
}

fn registry() -> &'static Mutex<Vec<Arc<Cache>>> {
    static R: OnceLock<Mutex<Vec<Arc<Cache>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// The running configuration's caches: one with the same name and limits as before keeps its
/// objects; the list becomes exactly `sections` (in order).
pub fn install(sections: &[(String, Limits)]) -> Vec<Arc<Cache>> {
    let mut r = registry().lock().unwrap_or_else(|e| e.into_inner());
    install_into(&mut r, sections)
}

fn install_into(r: &mut Vec<Arc<Cache>>, sections: &[(String, Limits)]) -> Vec<Arc<Cache>> {
    let kept: Vec<Arc<Cache>> = sections
        .iter()
        .map(|(name, limits)| {
            r.iter()
                .find(|c| &c.name == name && &c.limits == limits)
                .cloned()
                .unwrap_or_else(|| Arc::new(Cache::new(name, limits.clone())))
        })
        .collect();
    *r = kept.clone();
    kept
}

/// The running configuration's cache named `name`.
pub fn find(name: &str) -> Option<Arc<Cache>> {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|c| c.name == name)
        .cloned()
}

/// Every cache of the running configuration (`show cache`).
pub fn all() -> Vec<Arc<Cache>> {
    registry().lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// HAProxy's object hash as `show cache` prints it: the first four bytes of the key's SHA-1,
/// read as a native-endian number.
pub fn hash(key: &[u8]) -> u32 {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, key);
    let b = d.as_ref();
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

/// The runtime socket's `show cache`, in HAProxy 2.6's format: per cache a line with its
/// block count (an object is never locked by a transfer here: every block is available to
/// eviction, as HAProxy counts them), then its fresh objects by hash.
pub fn show(now: i64) -> String {
    let mut out = String::new();
    for c in all() {
        let at = Arc::as_ptr(&c) as usize;
        out.push_str(&format!(
            "{at:#x}: {} (shctx:{:#x}, available blocks:{})\n",
            c.name,
            at + 0x40,
            c.total_blocks()
        ));
        let mut objects: Vec<(u32, Listed)> = c
            .list(now)
            .into_iter()
            .filter(|l| l.first)
            .map(|l| (hash(&l.key), l))
            .collect();
        objects.sort_by_key(|(h, _)| *h);
        for (i, (h, l)) in objects.iter().enumerate() {
            let vary: String = l.vary.iter().map(|b| format!("{b:02x}")).collect();
            out.push_str(&format!(
                "{:#x} hash:{h} vary:0x{vary} size:{} ({} blocks), refcount:0, expire:{}\n",
                at + 0x1000 * (i + 1),
                l.size,
                l.blocks,
                l.expire_in
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
