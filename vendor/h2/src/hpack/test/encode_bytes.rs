//! fulcrum: the encoder's output, byte for byte, against upstream 0.4.21's.
//!
//! `same_bytes_as_upstream` encodes a fixed pseudo-random series of header blocks (pseudo and
//! regular headers, repeated and new values, names with several values, sensitive values,
//! values too large to index, table size updates, evictions) and compares a digest of every
//! byte written with the digest upstream's encoder gave on the same series (recorded by
//! running this test on commit a978ac6f, whose encoder, table and Huffman code are
//! upstream's unchanged). The fork's encoder patches must
//! not change a byte. `frames_encode_as_the_by_value_path` checks that the path frames take
//! (`Encoder::encode_block`, headers borrowed) writes what the by-value `Encoder::encode`
//! writes for the same block.

use crate::hpack::{BytesStr, Encoder, Header};

use bytes::BytesMut;
use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One header block: its pseudo-headers (in the frames' order) and its fields in
/// `HeaderMap::into_iter` order (a name's later values have no name).
struct Block {
    size_update: Option<usize>,
    method: Option<Method>,
    scheme: Option<BytesStr>,
    authority: Option<BytesStr>,
    path: Option<BytesStr>,
    status: Option<StatusCode>,
    fields: Vec<(HeaderName, Vec<HeaderValue>)>,
}

const NAMES: &[&str] = &[
    "content-type",
    "date",
    "server",
    "set-cookie",
    "cookie",
    "authorization",
    "content-length",
    "accept-encoding",
    "user-agent",
    "cache-control",
    "etag",
    "x-request-id",
    "x-forwarded-for",
    "via",
    "x-a",
];

fn value(rng: &mut StdRng) -> String {
    match rng.gen_range(0..10) {
        // A few values that repeat often
        0..=4 => ["gzip, deflate", "text/plain", "nginx", "17", "no-cache", ""]
            [rng.gen_range(0..6)]
        .to_string(),
        // Large enough not to be indexed (or to evict everything)
        5 => "v".repeat(rng.gen_range(1000..3500)),
        _ => {
            let len = rng.gen_range(0..40);
            (0..len)
                .map(|_| rng.gen_range(0x20u8..0x7f) as char)
                .collect()
        }
    }
}

fn blocks(seed: u64, n: usize) -> Vec<Block> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let request = rng.gen_bool(0.5);
            let mut fields: Vec<(HeaderName, Vec<HeaderValue>)> = Vec::new();
            for _ in 0..rng.gen_range(0..8) {
                let name = HeaderName::from_static(NAMES[rng.gen_range(0..NAMES.len())]);
                let mut v = HeaderValue::from_str(&value(&mut rng)).unwrap();
                v.set_sensitive(rng.gen_ratio(1, 8));
                match fields.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, values)) => values.push(v),
                    None => fields.push((name, vec![v])),
                }
            }
            let pick = |rng: &mut StdRng, xs: &[&'static str]| {
                BytesStr::from(xs[rng.gen_range(0..xs.len())])
            };
            Block {
                size_update: if rng.gen_ratio(1, 40) {
                    Some([0, 64, 256, 4096][rng.gen_range(0..4)])
                } else {
                    None
                },
                method: request.then(|| {
                    Method::from_bytes([&b"GET"[..], b"POST", b"PATCH"][rng.gen_range(0..3)])
                        .unwrap()
                }),
                scheme: request.then(|| pick(&mut rng, &["http", "https", "foo"])),
                authority: request
                    .then(|| pick(&mut rng, &["example.com", "127.0.0.1:8080", "a.test"])),
                path: request.then(|| pick(&mut rng, &["/", "/index.html", "/small", "/a?b"])),
                status: (!request).then(|| {
                    StatusCode::from_u16([200, 204, 302, 404, 500, 503][rng.gen_range(0..6)])
                        .unwrap()
                }),
                fields,
            }
        })
        .collect()
}

fn by_value(block: &Block) -> Vec<Header<Option<HeaderName>>> {
    let mut out = Vec::new();
    if let Some(ref m) = block.method {
        out.push(Header::Method(m.clone()));
    }
    if let Some(ref s) = block.scheme {
        out.push(Header::Scheme(s.clone()));
    }
    if let Some(ref a) = block.authority {
        out.push(Header::Authority(a.clone()));
    }
    if let Some(ref p) = block.path {
        out.push(Header::Path(p.clone()));
    }
    if let Some(s) = block.status {
        out.push(Header::Status(s));
    }
    for (name, values) in &block.fields {
        for (i, v) in values.iter().enumerate() {
            out.push(Header::Field {
                name: (i == 0).then(|| name.clone()),
                value: v.clone(),
            });
        }
    }
    out
}

/// FNV-1a over every block's bytes, each block's length mixed in.
fn digest(encoded: &[BytesMut]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for block in encoded {
        for &b in (block.len() as u32)
            .to_le_bytes()
            .iter()
            .chain(block.iter())
        {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

fn encode_by_value(blocks: &[Block]) -> Vec<BytesMut> {
    let mut encoder = Encoder::default();
    blocks
        .iter()
        .map(|block| {
            if let Some(size) = block.size_update {
                encoder.update_max_size(size);
            }
            let mut dst = BytesMut::new();
            encoder.encode(by_value(block), &mut dst);
            dst
        })
        .collect()
}

#[test]
fn same_bytes_as_upstream() {
    // (seed, blocks, digest of upstream 0.4.21's output)
    const RUNS: &[(u64, usize, u64)] = &[
        (1, 3000, 0xb286_2c36_4213_e650),
        (2, 3000, 0x5f9c_3aa7_7c03_ce02),
        (3, 500, 0xc2fc_fa27_6201_5533),
    ];
    let got: Vec<u64> = RUNS
        .iter()
        .map(|&(seed, n, _)| digest(&encode_by_value(&blocks(seed, n))))
        .collect();
    println!("digests {got:#x?}");
    let upstream: Vec<u64> = RUNS.iter().map(|r| r.2).collect();
    assert_eq!(got, upstream);
}

#[test]
fn frames_encode_as_the_by_value_path() {
    for seed in 10..14 {
        let blocks = blocks(seed, 1500);
        let expected = encode_by_value(&blocks);
        let mut encoder = Encoder::default();
        for (i, block) in blocks.iter().enumerate() {
            if let Some(size) = block.size_update {
                encoder.update_max_size(size);
            }
            let pseudo = crate::frame::Pseudo {
                method: block.method.clone(),
                scheme: block.scheme.clone(),
                authority: block.authority.clone(),
                path: block.path.clone(),
                protocol: None,
                status: block.status,
            };
            let mut fields = http::HeaderMap::new();
            for (name, values) in &block.fields {
                for v in values {
                    fields.append(name.clone(), v.clone());
                }
            }
            let mut dst = BytesMut::new();
            encoder.encode_block(&pseudo, &fields, &mut dst);
            assert_eq!(dst, expected[i], "seed {seed}, block {i}");
        }
    }
}
