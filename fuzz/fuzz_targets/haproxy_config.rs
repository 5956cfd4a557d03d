//! haproxy.cfg parser: any text gives a model and diagnostics, never a panic.
#![no_main]
use fulcrum_config::diagnostics::Diagnostics;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut d = Diagnostics::new();
    let mut p = fulcrum_config::haproxy::Parser::new();
    p.parse_file("fuzz.cfg", &text, &mut d);
    let _ = p.finish(&mut d);
});
