//! One-time values of an authorization request: PKCE (RFC 7636), `state` and `nonce`.

use base64::Engine as _;
use rand::RngExt;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// A random URL-safe token with 256 bits of entropy (43 characters), for `state`, `nonce`
/// and the PKCE verifier (RFC 7636 §4.1 asks for 43–128 characters of this alphabet).
pub(crate) fn random_token() -> SecretString {
    let bytes: [u8; 32] = rand::rng().random();
    SecretString::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A PKCE verifier and its S256 challenge (RFC 7636 §4.2). `plain` is never used: S256 is
/// mandatory to implement and protects even if the authorization request leaks.
pub(crate) struct Pkce {
    pub(crate) verifier: SecretString,
    pub(crate) challenge: String,
}

impl Pkce {
    pub(crate) fn new() -> Self {
        Self::from_verifier(random_token())
    }

    fn from_verifier(verifier: SecretString) -> Self {
        let digest = Sha256::digest(verifier.expose_secret().as_bytes());
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        Self {
            verifier,
            challenge,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc7636_appendix_b() {
        let pkce = Pkce::from_verifier(SecretString::from(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ));
        assert_eq!(
            pkce.challenge,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.expose_secret().len(), 43);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
