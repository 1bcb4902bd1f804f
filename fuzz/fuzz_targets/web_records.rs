//! Session and login records as latchkey-axum reads them back from its store (memory or
//! Redis): never a panic, and no error quotes a value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = std::str::from_utf8(data) {
        let _ = latchkey_axum::fuzz::records(raw);
    }
});
