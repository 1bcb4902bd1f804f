//! `return_to` values for latchkey-axum's login route. Property: an accepted value, resolved
//! the way a browser resolves a `Location` header (WHATWG, the `url` crate), stays on the
//! site's origin from any page of the site, and the normalised form it returns goes to the
//! same place and is itself accepted unchanged (when it fits the length limit).
#![no_main]

use latchkey_axum::safe_return_to;
use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(normalised) = safe_return_to(raw) else {
        return;
    };
    assert!(normalised.starts_with('/') && !normalised.starts_with("//"));
    for base in [
        "https://app.example/",
        "https://app.example:8443/deep/page?q=1#f",
        "http://127.0.0.1:3000/login/callback",
    ] {
        let base = Url::parse(base).expect("a constant, valid URL");
        let resolved = base.join(raw).expect("an accepted value resolves");
        assert_eq!(
            resolved.origin(),
            base.origin(),
            "{raw:?} leaves the origin"
        );
        let again = base
            .join(&normalised)
            .expect("the normalised value resolves");
        assert_eq!(
            again, resolved,
            "{raw:?} and {normalised:?} go to different places"
        );
    }
    // Percent-encoding can make the normalised form longer than the 2048 bytes accepted.
    if normalised.len() <= 2048 {
        assert_eq!(
            safe_return_to(&normalised).ok().as_deref(),
            Some(normalised.as_str())
        );
    }
});
