//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): the parsers that read
//! untrusted bytes but are not reachable through the public API. Not an API.
//!
//! Each returns whether the input was accepted and panics when a property the parser
//! promises is broken, so libFuzzer reports it as a crash.

use std::time::{Duration, SystemTime};

/// A marker the seed corpora put into values: no error message may repeat it, since errors
/// reach logs and error pages while the values are tokens and personal data.
pub const MARKER: &str = "s3cret";

fn assert_unquoted(error: &str) {
    assert!(
        !without_unknown_key(error).contains(MARKER),
        "an error message quotes a value: {error}"
    );
}

/// `error` without the key of an `unknown field` clause: a misspelt key is shown on purpose
/// (cut and escaped), values never are.
fn without_unknown_key(error: &str) -> String {
    const CLAUSE: &str = "unknown field `";
    let Some(start) = error.find(CLAUSE).map(|i| i + CLAUSE.len()) else {
        return error.to_owned();
    };
    let rest = &error[start..];
    let end = ["`, expected", "`, there are no fields"]
        .iter()
        .filter_map(|end| rest.rfind(end))
        .max()
        .map_or(error.len(), |e| start + e);
    format!("{}{}", &error[..start], &error[end..])
}

/// A stored token record (file, SQLite row, Redis value). An accepted record must encode
/// to a record that decodes to the same encoding.
pub fn token_record(bytes: &[u8]) -> bool {
    match crate::store::record::decode(bytes) {
        Ok(tokens) => {
            let encoded = crate::store::record::encode(&tokens);
            let again =
                crate::store::record::decode(&encoded).expect("an encoded record must decode");
            assert_eq!(crate::store::record::encode(&again), encoded);
            true
        }
        Err(error) => {
            assert_unquoted(&error);
            false
        }
    }
}

/// A device authorization response body (RFC 8628 §3.2).
pub fn device_authorization(body: &[u8]) -> bool {
    match crate::grant::device::parse_device_authorization(body) {
        Ok((_, prompt, interval)) => {
            assert!(!prompt.user_code.is_empty() && !prompt.verification_uri.is_empty());
            // Capped so the deadline arithmetic cannot overflow.
            assert!(prompt.expires_in <= Duration::from_secs(24 * 3600));
            let _ = interval;
            true
        }
        Err(error) => {
            assert_unquoted(&error);
            false
        }
    }
}

/// An introspection response body (RFC 7662 §2.2).
pub fn introspection(body: &[u8]) -> bool {
    crate::oidc::introspection::parse_introspection(body)
        .map_err(|error| assert_unquoted(&error))
        .is_ok()
}

/// A userinfo response body with its `Content-Type`, for a login whose ID token named
/// `expected_sub`. An accepted response is about that subject.
pub fn userinfo(body: &[u8], content_type: Option<&str>, expected_sub: Option<&str>) -> bool {
    match crate::oidc::userinfo::parse_userinfo(body, content_type, expected_sub) {
        Ok(info) => {
            if let Some(expected) = expected_sub {
                assert_eq!(info.sub, expected);
            }
            true
        }
        Err(error) => {
            assert_unquoted(&error);
            false
        }
    }
}

/// A `Retry-After` value (RFC 9110 §10.2.3) read at `now`.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    crate::retry::parse_retry_after(value, now)
}

/// serde_json parsing `json` into ID token claims, with the error scrubbed as every
/// error message shows it.
pub fn id_token_claims(json: &[u8]) -> bool {
    match serde_json::from_slice::<crate::oidc::IdTokenClaims>(json) {
        Ok(_) => true,
        Err(e) => {
            assert_unquoted(&crate::redact::scrub_serde_error(&e));
            false
        }
    }
}
