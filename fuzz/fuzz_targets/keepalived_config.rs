//! keepalived.conf parser (lexer, blocks, keywords, validation): never a panic.
#![no_main]
use fulcrum_config::diagnostics::Diagnostics;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // `include` would read the file system: the fuzzer judges the parser, not /etc.
    if text.contains("include") {
        return;
    }
    let mut d = Diagnostics::new();
    let mut p = fulcrum_config::keepalived::Parser::with_config_id("fuzz");
    p.parse_file("fuzz.conf", &text, &mut d);
    let _ = p.finish(&mut d);
});
