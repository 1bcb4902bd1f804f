//! AuthScheme JSON (the DHIS2 route `auth` union, one object or a list, or whole routes): parsing, the static
//! credential it builds, and the round trip through its own serialisation.
#![no_main]

use latchkey::AuthScheme;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(scheme) = AuthScheme::from_json(text) {
        let _ = scheme.type_name();
        // The static kinds resolve without I/O through the profile resolver; the OAuth kind
        // would build a token manager, which the profile tests cover.
        if scheme.type_name() != "oauth2-client-credentials" {
            let _ = futures::executor::block_on(scheme.authenticator());
        }
        let _ = format!("{scheme:?}");
        // What latchkey writes back (DHIS2 route payloads) must read back.
        let json = serde_json::to_string(&scheme).expect("serialises");
        let again = AuthScheme::from_json(&json).expect("round trip");
        assert_eq!(again.type_name(), scheme.type_name());
    }
    let _ = AuthScheme::list_from_json(text);
    // The same text as a DHIS2 route, or a document of schemes and routes.
    let _ = AuthScheme::from_route_json(text);
    let _ = AuthScheme::entries_from_json(text);
});
