//! a PROXY protocol v1/v2 header (accept-proxy): never a panic, a parsed header written again reads back the same.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fulcrum_proxy::fuzzing::proxy_header(data);
});
