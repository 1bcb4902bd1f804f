//! `Retry-After` values (RFC 9110 §10.2.3), read at a few instants including the ends of
//! `SystemTime`'s range.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    for now in [
        SystemTime::UNIX_EPOCH,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_000_000),
        SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799),
    ] {
        let _ = latchkey::fuzz::retry_after(value, now);
    }
});
