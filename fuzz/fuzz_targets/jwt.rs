//! Compact JWTs: the header as `jsonwebtoken::decode_header` reads it (the validator's first
//! step, before any key is chosen) and the payload as latchkey's `IdTokenClaims`.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey::IdTokenClaims;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        // Raw JSON claims too, so the fuzzer need not learn base64 first.
        let _ = serde_json::from_slice::<IdTokenClaims>(data);
        return;
    };
    let _ = jsonwebtoken::decode_header(token);
    let _ = serde_json::from_str::<IdTokenClaims>(token);
    let mut parts = token.split('.');
    if let (Some(_), Some(payload)) = (parts.next(), parts.next())
        && let Ok(json) = URL_SAFE_NO_PAD.decode(payload)
        && let Ok(claims) = serde_json::from_slice::<IdTokenClaims>(&json)
    {
        let _ = claims.aud.as_slice();
        let _ = serde_json::to_string(&claims);
    }
});
