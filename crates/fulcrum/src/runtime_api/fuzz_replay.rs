//! The runtime socket's command-line fuzz corpus (fuzz/seeds, corpus and artifacts of
//! `runtime_command`) replayed through the sans-IO session at each level: lines split, parsed
//! and answered without a panic, and the session always ends. (This parser lives in the binary
//! crate, which a libFuzzer target cannot link: it is exercised here and by the session's
//! random-bytes test, not by fuzz/run.sh.)

use super::session::Session;
use super::Level;
use std::time::Duration;

fn one_input(data: &[u8], level: Level) {
    let mut s = Session::new(level, Duration::from_secs(10));
    s.receive(data);
    s.end_of_input();
    let mut steps = 0;
    while let Some(step) = s.next_step() {
        let answers: Vec<String> = step.commands().iter().map(|c| format!("{c:?}")).collect();
        let _ = step.render(&answers);
        steps += 1;
        assert!(steps <= data.len() + 1, "bounded by the input's lines");
    }
    assert!(s.should_close());
}

#[test]
fn runtime_command_corpus_replays_without_panic() {
    let all = fulcrum_testlab::fuzz_inputs("runtime_command");
    assert!(all.len() >= 5, "the seeds at least: {all:?}");
    for f in &all {
        let data = std::fs::read(f).expect("read corpus file");
        for level in [Level::User, Level::Operator, Level::Admin] {
            one_input(&data, level);
        }
    }
}
