//! Token introspection response bodies (RFC 7662 §2.2).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = latchkey::fuzz::introspection(data);
});
