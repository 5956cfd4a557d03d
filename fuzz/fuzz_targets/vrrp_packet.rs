//! VRRP advert decoder and the state machine fed with what it accepts: never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fulcrum_vrrp::fuzzing::one_input(data);
});
