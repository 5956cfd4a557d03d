//! Cookie request headers through the persistence cookie (insert indirect maxidle maxlife): never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fulcrum_proxy::fuzzing::cookie(data);
});
