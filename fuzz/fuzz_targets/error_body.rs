//! OAuth error bodies from any endpoint (`latchkey::response::parse_error_body`), JSON or
//! form encoded, and scope strings.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for content_type in [
        None,
        Some("application/json; charset=utf-8"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let _ = latchkey::response::parse_error_body(data, content_type);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = latchkey::response::split_scopes(text);
    }
});
