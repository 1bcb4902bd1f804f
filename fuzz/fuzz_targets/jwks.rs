//! JWK Set documents and `Cache-Control` values, as the JWKS cache parses them after a
//! fetch: `<cache-control>\0<body>`. Every usable key is checked against several algorithms.
#![no_main]

use latchkey::oidc::JwksCache;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cache_control, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"max-age=600"[..], data),
    };
    let _ = JwksCache::fuzz_parse(body, &String::from_utf8_lossy(cache_control));
});
