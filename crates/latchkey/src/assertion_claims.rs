//! The claims of a client assertion latchkey signs (RFC 7523 §3), one shape for
//! `private_key_jwt` and `client_secret_jwt`.

use std::time::SystemTime;

use base64::Engine as _;
use rand::RngExt;
use serde::Serialize;

/// `iss` = `sub` = the client id, the audience, a random `jti` (providers refuse a replayed
/// one), `iat` and `exp`.
#[derive(Serialize)]
pub(crate) struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

impl<'a> AssertionClaims<'a> {
    pub(crate) fn new(client_id: &'a str, aud: &'a str, lifetime: std::time::Duration) -> Self {
        // Assertions are checked against the IdP's clock, so they use the real one.
        let iat = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let jti: [u8; 16] = rand::rng().random();
        AssertionClaims {
            iss: client_id,
            sub: client_id,
            aud,
            jti: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jti),
            iat,
            exp: iat + lifetime.as_secs(),
        }
    }
}
