//! HTTP/1 request head as the session reads it: parse, normalize, HAProxy's checks, framing; never a panic, a forwarded head parses again.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fulcrum_proxy::fuzzing::http_request(data);
});
