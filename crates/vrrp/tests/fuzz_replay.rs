//! The fuzz corpus of fuzz/ (vrrp_packet), replayed on stable: every saved input, seed and
//! crash goes through the decoder and the state machine (`fulcrum_vrrp::fuzzing::one_input`),
//! which must not panic. A crash the fuzzer finds is saved under fuzz/artifacts/vrrp_packet/
//! and stays here as a regression test. Plus proptest: random and mutated adverts.
#![allow(clippy::unwrap_used)]

use fulcrum_vrrp::fuzzing::one_input;
use fulcrum_vrrp::packet::{decode, MULTICAST_V4};
use proptest::prelude::*;
use std::path::PathBuf;

fn files(kind: &str) -> Vec<PathBuf> {
    fulcrum_testlab::fuzz_inputs(kind)
}

fn seeds() -> Vec<Vec<u8>> {
    files("vrrp_packet")
        .iter()
        .filter(|p| p.to_string_lossy().contains("/seeds/"))
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

#[test]
fn corpus_and_crashes_replay_without_panic() {
    let all = files("vrrp_packet");
    assert!(all.len() >= 5, "the seeds at least: {all:?}");
    for f in &all {
        one_input(&std::fs::read(f).unwrap());
    }
    // The seeds are real adverts, so the replay reaches the state machine, not only the
    // decoder's first checks.
    for s in seeds() {
        let src = [10, 99, 0, 1].into();
        assert!(decode(&s[1..], src, MULTICAST_V4.into()).is_ok(), "{s:?}");
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        one_input(&data);
    }

    #[test]
    fn mutated_adverts_never_panic(pick in any::<usize>(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let seeds = seeds();
        let mut s = seeds[pick % seeds.len()].clone();
        for (i, b) in edits {
            let n = s.len();
            s[i % n] = b;
        }
        one_input(&s);
    }
}
