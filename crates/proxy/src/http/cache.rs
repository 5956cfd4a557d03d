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
/// Bytes HAProxy's `struct cache_entry` takes in an object's first block.
pub const ENTRY_OVERHEAD: u64 = 160;

/// A cache section's limits (`fulcrum_config::model_cache::CacheSection`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub total: u64,
    pub max_object: u64,
    pub max_age: u32,
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
}

#[derive(Default)]
struct Store {
    objects: HashMap<Vec<u8>, Slot>,
    /// Use order: tick → key; the first is evicted first.
    order: BTreeMap<u64, Vec<u8>>,
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
                true
            }
            None => false,
        }
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
    /// a hit makes it the most recently used.
    pub fn get(&self, key: &[u8], now: i64) -> Option<Arc<Object>> {
        let mut s = self.store();
        let object = s.objects.get(key)?.object.clone();
        if object.expire <= now {
            s.remove(key);
            return None;
        }
        s.touch(key);
        Some(object)
    }

    /// Drops what is stored under `key` (a successful unsafe request on it: RFC 7234 4.4).
    pub fn invalidate(&self, key: &[u8]) -> bool {
        self.store().remove(key)
    }

    /// Stores `object` under `key` (replacing an older one), evicting the least recently
    /// used objects until it fits; false when it is larger than `max-object-size` or than
    /// the whole cache.
    pub fn insert(&self, key: Vec<u8>, object: Object) -> bool {
        let blocks = object.blocks();
        if object.size() > self.limits.max_object || blocks > self.total_blocks() {
            return false;
        }
        let mut s = self.store();
        s.remove(&key);
        while s.used_blocks + blocks > self.total_blocks() {
            let Some((_, oldest)) = s.order.pop_first() else {
                break;
            };
            if let Some(slot) = s.objects.remove(&oldest) {
                s.used_blocks -= slot.object.blocks();
            }
        }
        s.tick += 1;
        let used = s.tick;
        s.order.insert(used, key.clone());
        s.used_blocks += blocks;
        s.objects.insert(
            key,
            Slot {
                object: Arc::new(object),
                used,
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
                let o = &s.objects.get(k)?.object;
                (o.expire > now).then(|| Listed {
                    key: k.clone(),
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
        let mut objects: Vec<(u32, Listed)> =
            c.list(now).into_iter().map(|l| (hash(&l.key), l)).collect();
        objects.sort_by_key(|(h, _)| *h);
        for (i, (h, l)) in objects.iter().enumerate() {
            out.push_str(&format!(
                "{:#x} hash:{h} vary:0x0000000000000000 size:{} ({} blocks), refcount:0, expire:{}\n",
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
mod tests {
    use super::*;

    fn obj(body: usize, now: i64, ttl: i64) -> Object {
        Object {
            head: Message::default(),
            head_len: b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n".len(),
            body: vec![b'x'; body],
            etag: None,
            last_modified: now,
            stored: now,
            age: 0,
            expire: now + ttl,
        }
    }

    fn cache(mb: u64, max_object: u64) -> Cache {
        Cache::new(
            "c",
            Limits {
                total: mb << 20,
                max_object,
                max_age: 60,
            },
        )
    }

    #[test]
    fn stores_serves_and_expires() {
        let c = cache(1, 4096);
        assert!(c.insert(b"k".to_vec(), obj(100, 1000, 60)));
        assert!(c.get(b"k", 1059).is_some());
        assert!(c.get(b"k", 1060).is_none(), "expired at its expiry second");
        assert!(c.get(b"k", 1000).is_none(), "and dropped");
        assert_eq!(c.available_blocks(), 1024);
    }

    #[test]
    fn refuses_objects_over_max_object_size() {
        let c = cache(1, 4096);
        assert!(!c.insert(b"big".to_vec(), obj(5000, 0, 60)));
        assert!(c.get(b"big", 1).is_none());
        assert_eq!(c.available_blocks(), 1024);
    }

    #[test]
    fn evicts_least_recently_used_first() {
        // 1 MB: three 300 kB objects fit, a fourth evicts the least recently used
        let c = cache(1, 512 * 1024);
        for k in [b"a", b"b", b"c"] {
            assert!(c.insert(k.to_vec(), obj(300 * 1024, 0, 60)));
        }
        assert_eq!(c.available_blocks(), 1024 - 3 * 301);
        assert!(c.get(b"a", 1).is_some()); // a is now the most recent: b goes first
        assert!(c.insert(b"d".to_vec(), obj(300 * 1024, 0, 60)));
        assert!(c.get(b"b", 1).is_none());
        for k in [b"a", b"c", b"d"] {
            assert!(c.get(k, 1).is_some());
        }
        let listed: Vec<_> = c.list(1).into_iter().map(|l| l.key).collect();
        assert_eq!(listed, [b"a".to_vec(), b"c".to_vec(), b"d".to_vec()]);
    }

    #[test]
    fn replaces_and_invalidates() {
        let c = cache(1, 4096);
        assert!(c.insert(b"k".to_vec(), obj(100, 0, 60)));
        assert!(c.insert(b"k".to_vec(), obj(200, 0, 60)));
        assert_eq!(c.get(b"k", 1).map(|o| o.body.len()), Some(200));
        assert_eq!(c.available_blocks(), 1023);
        assert!(c.invalidate(b"k"));
        assert!(!c.invalidate(b"k"));
        assert_eq!(c.available_blocks(), 1024);
    }

    #[test]
    fn age_counts_from_storage_plus_the_age_it_came_with() {
        let mut o = obj(1, 100, 60);
        o.age = 10;
        assert_eq!(o.age_at(100), 10);
        assert_eq!(o.age_at(105), 15);
    }

    #[test]
    fn hash_is_haproxys() {
        // `show cache` of haproxy 2.6 for GET /maxage with Host: t (little-endian machine)
        if cfg!(target_endian = "little") {
            assert_eq!(hash(b"https://t/maxage"), 3721363623);
            assert_eq!(hash(b"https://t/etag"), 3109857266);
        }
    }

    #[test]
    fn install_keeps_unchanged_caches() {
        let l = Limits {
            total: 1 << 20,
            max_object: 4096,
            max_age: 60,
        };
        let mut r = Vec::new();
        let first = install_into(&mut r, &[("unit-keep".into(), l.clone())]);
        first[0].insert(b"k".to_vec(), obj(1, 0, 60));
        let again = install_into(&mut r, &[("unit-keep".into(), l.clone())]);
        assert!(Arc::ptr_eq(&first[0], &again[0]));
        let other = install_into(&mut r, &[("unit-keep".into(), Limits { max_age: 5, ..l })]);
        assert!(!Arc::ptr_eq(&first[0], &other[0]));
        assert_eq!(r.len(), 1);
    }
}
