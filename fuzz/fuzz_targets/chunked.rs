//! the chunked-body decoder, whole and split in two: same verdict, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fulcrum_proxy::fuzzing::chunked(data);
});
