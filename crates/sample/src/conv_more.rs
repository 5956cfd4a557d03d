//! Converters HAProxy 2.4+ added and the reg-tests use: the digests `sha1 sha2 digest crc32c
//! xxh3 xxh32 xxh64` (same results as HAProxy's for the same bytes, from the field's crates)
//! and `iif`. [`crate::conv::lookup`] finds them after its own table; [`check_args`] refuses
//! at compile time what HAProxy refuses at startup.

use crate::conv::{Conv, ConvKw};
use crate::env::Env;
use crate::fetch::ArgKind;
use crate::value::{Type, Value};

const S: ArgKind = ArgKind::Str;
const I: ArgKind = ArgKind::Int;

pub(crate) static MORE_CONVERTERS: &[ConvKw] = &[
    // `sha1`: the 20-byte SHA-1 digest of the input (binary).
    ConvKw {
        name: "sha1",
        input: Type::Bin,
        args: &[],
        min: 0,
        out: Type::Bin,
        run: |v, _, _| {
            let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &bytes(&v));
            Some(Value::Bin(d.as_ref().to_vec()))
        },
    },
    // `sha2([bits])`: SHA-2 of 224, 256 (the default), 384 or 512 bits (binary).
    ConvKw {
        name: "sha2",
        input: Type::Bin,
        args: &[I],
        min: 0,
        out: Type::Bin,
        run: |v, c, _| {
            let bits = c.args.first().map_or(256, |a| a.as_int());
            sha(&format!("sha{bits}"), &bytes(&v)).map(Value::Bin)
        },
    },
    // `digest(NAME)`: the digest OpenSSL names NAME (the SHA family here: `sha1 sha224
    // sha256 sha384 sha512`; another name is refused at compile time).
    ConvKw {
        name: "digest",
        input: Type::Bin,
        args: &[S],
        min: 1,
        out: Type::Bin,
        run: |v, c, _| {
            let name = String::from_utf8_lossy(c.args[0].as_bytes()).to_ascii_lowercase();
            sha(&name, &bytes(&v)).map(Value::Bin)
        },
    },
    // `crc32c([avalanche])`: CRC-32C (Castagnoli), as `crc32` with its optional full avalanche.
    ConvKw {
        name: "crc32c",
        input: Type::Bin,
        args: &[I],
        min: 0,
        out: Type::Sint,
        run: |v, c, _| {
            let h = crc32c::crc32c(&bytes(&v));
            let avalanche = c.args.first().is_some_and(|a| a.as_int() != 0);
            let h = if avalanche {
                crate::hash::full_hash(h)
            } else {
                h
            };
            Some(Value::Sint(i64::from(h)))
        },
    },
    // `xxh32([seed])`: a 32-bit unsigned hash; HAProxy keeps the seed's low 32 bits.
    ConvKw {
        name: "xxh32",
        input: Type::Bin,
        args: &[I],
        min: 0,
        out: Type::Sint,
        run: |v, c, _| {
            let seed = seed(c) as u32;
            Some(Value::Sint(i64::from(xxhash_rust::xxh32::xxh32(
                &bytes(&v),
                seed,
            ))))
        },
    },
    // `xxh64([seed])`, `xxh3([seed])`: 64-bit unsigned hashes, stored as HAProxy stores them
    // (cast to a signed integer: half of them are negative).
    ConvKw {
        name: "xxh64",
        input: Type::Bin,
        args: &[I],
        min: 0,
        out: Type::Sint,
        run: |v, c, _| {
            let h = xxhash_rust::xxh64::xxh64(&bytes(&v), seed(c));
            Some(Value::Sint(h as i64))
        },
    },
    ConvKw {
        name: "xxh3",
        input: Type::Bin,
        args: &[I],
        min: 0,
        out: Type::Sint,
        run: |v, c, _| {
            let h = xxhash_rust::xxh3::xxh3_64_with_seed(&bytes(&v), seed(c));
            Some(Value::Sint(h as i64))
        },
    },
    // `iif(TRUE,FALSE)`: the first string for a true input, the second for a false one.
    ConvKw {
        name: "iif",
        input: Type::Bool,
        args: &[S, S],
        min: 2,
        out: Type::Str,
        run: iif,
    },
];

/// The digests `sha2` and `digest` compute.
const DIGESTS: &[&str] = &["sha1", "sha224", "sha256", "sha384", "sha512"];

fn sha(name: &str, data: &[u8]) -> Option<Vec<u8>> {
    use sha2::Digest;
    Some(match name {
        "sha1" => ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
            .as_ref()
            .to_vec(),
        "sha224" => sha2::Sha224::digest(data).to_vec(),
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha384" => sha2::Sha384::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

/// HAProxy's startup checks of these converters' arguments.
pub(crate) fn check_args(name: &str, args: &[crate::fetch::Arg]) -> Result<(), String> {
    match name {
        "sha2" => match args.first().map_or(256, |a| a.as_int()) {
            224 | 256 | 384 | 512 => Ok(()),
            n => Err(format!("Unsupported number of bits: '{n}'.")),
        },
        "digest" => {
            let n = String::from_utf8_lossy(args.first().map_or(&b""[..], |a| a.as_bytes()))
                .to_ascii_lowercase();
            if DIGESTS.contains(&n.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "unknown digest '{n}' (fulcrum computes {})",
                    DIGESTS.join(", ")
                ))
            }
        }
        "json_query" | "json" => crate::conv_json::check_args(name, args),
        _ => crate::conv_codec::check_args(name, args),
    }
}

fn iif(v: Value, c: &Conv, _: &dyn Env) -> Option<Value> {
    let truth = match crate::cast::cast(v, Type::Bool)? {
        Value::Bool(b) => b,
        _ => return None,
    };
    let pick = if truth { &c.args[0] } else { &c.args[1] };
    Some(Value::Str(pick.as_bytes().to_vec()))
}

fn seed(c: &Conv) -> u64 {
    c.args.first().map_or(0, |a| a.as_int() as u64)
}

fn bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Str(s) | Value::Bin(s) | Value::Meth(s) => s.clone(),
        other => other.to_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use crate::fetch::Arg;

    use crate::NoEnv;

    fn run(name: &str, input: &[u8], args: Vec<Arg>) -> crate::Value {
        let kw = crate::conv::lookup(name).expect("known converter");
        let c = crate::conv::Conv {
            kw,
            args,
            regex: None,
            map: None,
        };
        let env = NoEnv;
        (kw.run)(crate::Value::Bin(input.to_vec()), &c, &env).expect("a value")
    }

    /// HAProxy's reg-test `sample_fetches/hashes.vtc`: the bytes 0x00..=0xFF.
    #[test]
    fn hashes_as_haproxy_reg_test() {
        let key: Vec<u8> = (0..=255u8).collect();
        let sint = |name: &str, seed: Option<i64>| match run(
            name,
            &key,
            seed.map(Arg::Int).into_iter().collect(),
        ) {
            crate::Value::Sint(n) => n,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(sint("crc32c", None), 2_621_708_363);
        assert_eq!(sint("crc32c", Some(1)), 2_242_979_626);
        assert_eq!(sint("xxh3", None), -7_779_787_747_613_135_503);
        assert_eq!(sint("xxh3", Some(1)), 5_930_632_130_106_562_027);
        assert_eq!(sint("xxh32", None), 1_497_633_363);
        assert_eq!(sint("xxh32", Some(1)), 1_070_421_674);
        assert_eq!(sint("xxh64", None), 2_282_408_585_429_094_475);
        assert_eq!(sint("xxh64", Some(1)), -4_689_339_368_900_765_961);
        // the reg-test's older hashes, through the same path
        assert_eq!(sint("crc32", None), 688_229_491);
        assert_eq!(sint("crc32", Some(1)), 4_230_317_029);
        assert_eq!(sint("wt6", Some(1)), 1_192_658_767);
        let crate::Value::Bin(d) = run("sha1", &key, vec![]) else {
            panic!("sha1 gives binary")
        };
        let hex: String = d.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex, "4916D6BDB7F78E6803698CAB32D1586EA457DFC8");
    }

    /// HAProxy's reg-tests `converter/sha2.vtc` and `digest.vtc` (the input "1").
    #[test]
    fn sha2_and_digest_as_haproxy_reg_tests() {
        let hex = |name: &str, args: Vec<Arg>| match run(name, b"1", args) {
            crate::Value::Bin(d) => d.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            other => panic!("{name}: {other:?}"),
        };
        let sha256 = "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b";
        assert_eq!(hex("sha2", vec![]), sha256);
        assert_eq!(hex("sha2", vec![Arg::Int(256)]), sha256);
        assert_eq!(
            hex("sha2", vec![Arg::Int(224)]),
            "e25388fde8290dc286a6164fa2d97e551b53498dcbf7bc378eb1f178"
        );
        assert_eq!(
            hex("digest", vec![Arg::Str(b"sha1".to_vec())]),
            "356a192b7913b04c54574d18c28d46e6395428ab"
        );
        assert_eq!(hex("digest", vec![Arg::Str(b"sha256".to_vec())]), sha256);
        assert_eq!(
            hex("digest", vec![Arg::Str(b"sha384".to_vec())]),
            "47f05d367b0c32e438fb63e6cf4a5f35c2aa2f90dc7543f8a41a0f95ce8a40a313ab5cf36134a2068c4c969cb50db776"
        );
        assert!(super::check_args("sha2", &[Arg::Int(128)]).is_err());
        assert!(super::check_args("digest", &[Arg::Str(b"md5".to_vec())]).is_err());
    }

    #[test]
    fn iif_picks_by_truth() {
        let kw = crate::conv::lookup("iif").expect("iif");
        let c = crate::conv::Conv {
            kw,
            args: vec![Arg::Str(b"ok".to_vec()), Arg::Str(b"ko".to_vec())],
            regex: None,
            map: None,
        };
        let env = NoEnv;
        for (v, want) in [
            (crate::Value::Bool(true), &b"ok"[..]),
            (crate::Value::Sint(0), b"ko"),
            (crate::Value::Sint(3), b"ok"),
        ] {
            assert_eq!(
                (kw.run)(v, &c, &env),
                Some(crate::Value::Str(want.to_vec()))
            );
        }
    }
}
