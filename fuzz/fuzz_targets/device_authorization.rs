//! Device authorization response bodies (RFC 8628 §3.2), as the device grant reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = latchkey::fuzz::device_authorization(data);
});
