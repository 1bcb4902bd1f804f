//! Token endpoint bodies (`latchkey::response::parse_token_response`): the first byte picks
//! the `Content-Type`, the rest is the body. Nothing may panic; a parsed token set must
//! still build its `Authorization` header without panicking.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("text/plain"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    // Near the end of `SystemTime`'s range too: lifetimes must not overflow it.
    let now = if selector & 0x80 == 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    } else {
        SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 2_000)
    };
    if let Ok(tokens) = latchkey::response::parse_token_response(body, content_type, now) {
        let _ = tokens.authorization_header();
        let _ = tokens.access_valid(now, Duration::from_secs(60));
        let _ = format!("{tokens:?}");
    }
});
