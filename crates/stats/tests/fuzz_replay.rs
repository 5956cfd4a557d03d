//! The stats admin form / Basic-auth fuzz corpus (fuzz/seeds, corpus, artifacts of
//! `stats_admin_form`) replayed on stable through the fuzz target's entry, plus random and
//! mutated inputs from proptest.

use proptest::prelude::*;

#[test]
fn stats_admin_form_corpus_replays_without_panic() {
    let all = fulcrum_testlab::fuzz_inputs("stats_admin_form");
    assert!(all.len() >= 3, "the seeds at least: {all:?}");
    for f in &all {
        let data = std::fs::read(f).expect("read corpus file");
        fulcrum_stats::fuzzing::one_input(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn random_forms_never_panic(
        parts in prop::collection::vec(
            prop_oneof![
                Just(b"s=".to_vec()), Just(b"action=".to_vec()), Just(b"b=".to_vec()),
                Just(b"&".to_vec()), Just(b"%".to_vec()), Just(b"%4".to_vec()), Just(b"+".to_vec()),
                Just(b"=".to_vec()), Just(b"==".to_vec()),
                prop::collection::vec(any::<u8>(), 0..6),
            ],
            0..20,
        )
    ) {
        fulcrum_stats::fuzzing::one_input(&parts.concat());
    }
}
