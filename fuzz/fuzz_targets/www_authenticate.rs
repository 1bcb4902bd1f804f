//! `WWW-Authenticate` values as an API's 401 carries them: the Bearer challenge the
//! reqwest middleware reads to decide whether a new token is worth fetching.
#![no_main]

use http::HeaderMap;
use http::header::{HeaderValue, WWW_AUTHENTICATE};
use latchkey::BearerChallenge;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(challenge) = BearerChallenge::parse(text)
    {
        // Space-separated lists come out as non-empty words without spaces.
        for word in challenge.scope.iter().chain(&challenge.acr_values) {
            assert!(!word.is_empty() && !word.contains(|c: char| c.is_ascii_whitespace()));
        }
        let _ = challenge.new_token_may_help();
    }
    // Several header fields, split where the input has newlines, through the header path.
    let mut headers = HeaderMap::new();
    for field in data.split(|&b| b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(field) {
            headers.append(WWW_AUTHENTICATE, value);
        }
    }
    let _ = BearerChallenge::from_headers(&headers);
});
