//! The stats page's admin form (`application/x-www-form-urlencoded` body) and the Basic-auth
//! decoder of `stats auth`: never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fulcrum_stats::fuzzing::one_input(data);
});
