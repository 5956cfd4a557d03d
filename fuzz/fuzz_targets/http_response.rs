//! HTTP/1 response head from a server and its framing: never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fulcrum_proxy::fuzzing::http_response(data);
});
