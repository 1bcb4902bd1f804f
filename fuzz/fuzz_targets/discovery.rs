//! OIDC discovery / RFC 8414 metadata documents, parsed and checked (issuer match, endpoint
//! URLs) as after a fetch. The first line of the input is the requested issuer.
#![no_main]

use latchkey::oidc::ProviderMetadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (issuer, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"https://idp.example.org"[..], data),
    };
    let issuer = String::from_utf8_lossy(issuer);
    let _ = ProviderMetadata::fuzz_parse(body, &issuer);
});
