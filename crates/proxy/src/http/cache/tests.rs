//! The object store's unit tests (storage, expiry, eviction, Vary duplicates).

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
        signature: 0,
        secondary: [0; 8],
    }
}

fn cache(mb: u64, max_object: u64) -> Cache {
    Cache::new(
        "c",
        Limits {
            total: mb << 20,
            max_object,
            max_age: 60,
            process_vary: true,
            max_secondary: 2,
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
        process_vary: false,
        max_secondary: 10,
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

#[test]
fn varied_objects_share_a_key_up_to_max_secondary() {
    let c = cache(1, 4096);
    let key = |ae: u32| {
        let mut k = [0u8; 8];
        k[..4].copy_from_slice(&ae.to_le_bytes());
        k
    };
    let varied = |ae: u32, body: usize| Object {
        signature: super::super::cache_vary::ACCEPT_ENCODING,
        secondary: key(ae),
        ..obj(body, 0, 60)
    };
    const IDENTITY: u32 = 1 << 8;
    const GZIP: u32 = 1;
    assert!(c.insert(b"k".to_vec(), varied(IDENTITY, 10)));
    assert!(c.insert(b"k".to_vec(), varied(GZIP, 20)));
    assert!(
        !c.insert(b"k".to_vec(), varied(GZIP, 30)),
        "max-secondary-entries 2"
    );
    let got = |accepts: u32| {
        c.get_varied(b"k", 1, |sig| (sig == 1).then(|| key(accepts)))
            .map(|o| o.body.len())
    };
    assert_eq!(got(IDENTITY | GZIP), Some(10), "the first that answers");
    assert_eq!(got(GZIP), Some(20));
    assert_eq!(got(0), None);
    assert!(
        c.get(b"k", 1).is_none(),
        "a request without a key gets nothing"
    );
    // a new gzip answer replaces the gzip object only
    c.replace(b"k", 1, &key(GZIP), 1);
    assert_eq!(got(GZIP), None);
    assert_eq!(got(IDENTITY), Some(10));
    assert_eq!(c.list(1).len(), 1);
    assert!(c.invalidate(b"k"));
    assert_eq!(c.available_blocks(), 1024);
}
