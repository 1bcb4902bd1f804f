//! Property tests: expiry arithmetic, response parsing and store round trips never panic and
//! keep their invariants for any input.

use std::time::{Duration, SystemTime};

use latchkey::response::parse_token_response;
use latchkey::store::record;
use latchkey::{ExposeSecret, SecretString, TokenSet};
use proptest::prelude::*;

fn instant(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

proptest! {
    #[test]
    fn validity_is_monotonic_in_time_and_skew(obtained in 0u64..4_000_000_000_000, lifetime in 0u64..100_000_000, probe in 0u64..200_000_000, skew in 0u64..10_000_000) {
        let t0 = instant(obtained);
        let tokens = TokenSet::new(SecretString::from("a"), t0).with_expires_at(Some(t0 + Duration::from_millis(lifetime)));
        let now = t0 + Duration::from_millis(probe);
        let skew = Duration::from_millis(skew);
        // Valid with skew implies valid without; valid later implies valid earlier.
        if tokens.access_valid(now, skew) {
            prop_assert!(tokens.access_valid(now, Duration::ZERO));
            prop_assert!(tokens.access_valid(t0, skew));
            prop_assert!(now + skew < t0 + Duration::from_millis(lifetime));
        }
        prop_assert_eq!(tokens.access_valid(now, Duration::ZERO), probe < lifetime);
    }

    #[test]
    fn token_responses_never_panic_and_expiry_follows_expires_in(expires_in in proptest::option::of(0u64..3_153_600_000), as_string in any::<bool>(), scope in "[a-z:, ]{0,40}") {
        let now = instant(1_700_000_000_000);
        let mut body = serde_json::json!({"access_token": "at", "token_type": "BeArEr", "scope": scope});
        if let Some(secs) = expires_in {
            body["expires_in"] = if as_string { serde_json::json!(secs.to_string()) } else { serde_json::json!(secs) };
        }
        let tokens = parse_token_response(body.to_string().as_bytes(), Some("application/json"), now).unwrap();
        prop_assert_eq!(tokens.token_type(), "Bearer");
        prop_assert_eq!(tokens.expires_at(), expires_in.map(|s| now + Duration::from_secs(s)));
        prop_assert!(tokens.scopes().iter().all(|s| !s.is_empty() && !s.contains([' ', ','])));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parsers(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_token_response(&bytes, None, instant(0));
        let _ = parse_token_response(&bytes, Some("application/x-www-form-urlencoded"), instant(0));
        let _ = record::decode(&bytes);
    }

    #[test]
    fn store_records_round_trip(access in "[ -~]{1,64}", refresh in proptest::option::of("[ -~]{1,64}"), scopes in proptest::collection::vec("[a-z:]{1,12}", 0..5), obtained in 0u64..4_000_000_000_000, lifetime in proptest::option::of(0u64..1_000_000_000)) {
        let t0 = instant(obtained);
        let tokens = TokenSet::new(SecretString::from(access.clone()), t0)
            .with_refresh_token(refresh.clone().map(SecretString::from))
            .with_scopes(scopes.clone())
            .with_expires_at(lifetime.map(|ms| t0 + Duration::from_millis(ms)));
        let back = record::decode(&record::encode(&tokens)).unwrap();
        prop_assert_eq!(back.access_token().expose_secret(), access.as_str());
        prop_assert_eq!(back.refresh_token().map(|t| t.expose_secret().to_owned()), refresh);
        prop_assert_eq!(back.scopes(), scopes.as_slice());
        prop_assert_eq!(back.expires_at(), tokens.expires_at());
        prop_assert_eq!(back.obtained_at(), t0);
    }
}
