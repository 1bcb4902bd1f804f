//! The per-identity DPoP key: generated once, stored with the token set it is bound to.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use secrecy::{ExposeSecret, SecretBox};

use crate::error::{Error, Result};

/// The signature algorithm of a DPoP key (RFC 9449 §4.2: an asymmetric JWS algorithm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DpopAlgorithm {
    /// ECDSA with P-256 and SHA-256: what every DPoP server accepts, so the default.
    #[default]
    Es256,
    /// Ed25519 (JWS `alg` `EdDSA`), for providers that list it and not ES256.
    Ed25519,
}

impl DpopAlgorithm {
    /// The algorithm for a provider's `dpop_signing_alg_values_supported`: ES256 when it is
    /// listed or the list is empty (the metadata is optional), Ed25519 when only that (or
    /// `EdDSA`) is; `None` when the provider lists neither.
    pub fn for_provider(supported: &[String]) -> Option<Self> {
        let lists = |alg: &str| supported.iter().any(|s| s == alg);
        if supported.is_empty() || lists("ES256") {
            Some(Self::Es256)
        } else if lists("Ed25519") || lists("EdDSA") {
            Some(Self::Ed25519)
        } else {
            None
        }
    }

    /// The name stored in a token record and shown to people (`ES256`, `Ed25519`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Ed25519 => "Ed25519",
        }
    }

    /// The inverse of [`as_str`](Self::as_str) (case-insensitive; `EdDSA` reads Ed25519).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "es256" => Some(Self::Es256),
            "ed25519" | "eddsa" => Some(Self::Ed25519),
            _ => None,
        }
    }

    pub(crate) fn jws(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::Ed25519 => Algorithm::EdDSA,
        }
    }
}

/// A DPoP private key and its public JWK. Cheap to clone; the private half is a secret
/// (wiped on drop, `[REDACTED]` in `Debug`) and is stored like a refresh token.
#[derive(Clone)]
pub struct DpopKey {
    inner: Arc<KeyInner>,
}

struct KeyInner {
    algorithm: DpopAlgorithm,
    pkcs8: SecretBox<Vec<u8>>,
    signing: EncodingKey,
    jwk: Jwk,
    thumbprint: String,
}

impl DpopKey {
    /// A new random key.
    pub fn generate(algorithm: DpopAlgorithm) -> Result<Self> {
        let rng = SystemRandom::new();
        let document = match algorithm {
            DpopAlgorithm::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            }
            // PKCS#8 v1 (no public key inside): the form jsonwebtoken derives a JWK from.
            DpopAlgorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8v1(&rng),
        }
        .map_err(|_| Error::Internal("the system could not generate a DPoP key".into()))?;
        Self::from_pkcs8(algorithm, document.as_ref().to_vec())
    }

    /// A key from its PKCS#8 DER form (what a token record stores).
    pub fn from_pkcs8(algorithm: DpopAlgorithm, der: Vec<u8>) -> Result<Self> {
        let signing = match algorithm {
            DpopAlgorithm::Es256 => EncodingKey::from_ec_der(&der),
            DpopAlgorithm::Ed25519 => EncodingKey::from_ed_der(&der),
        };
        let unusable = |e: jsonwebtoken::errors::Error| {
            Error::Config(format!(
                "the stored DPoP key ({}) is not usable ({e}): log in again to get a new one",
                algorithm.as_str()
            ))
        };
        let jwk = Jwk::from_encoding_key(&signing, algorithm.jws()).map_err(unusable)?;
        let thumbprint = jwk.thumbprint(ThumbprintHash::SHA256).map_err(unusable)?;
        let key = Self {
            inner: Arc::new(KeyInner {
                algorithm,
                pkcs8: SecretBox::new(Box::new(der)),
                signing,
                jwk,
                thumbprint,
            }),
        };
        // Sign once now, so a damaged key fails here and not on the first request.
        key.sign(b"check").map_err(unusable)?;
        Ok(key)
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> DpopAlgorithm {
        self.inner.algorithm
    }

    /// The public key as a JWK (RFC 7517), as sent in every proof's `jwk` header.
    pub fn public_jwk(&self) -> &Jwk {
        &self.inner.jwk
    }

    /// The JWK SHA-256 thumbprint (RFC 7638, base64url): the `cnf.jkt` a bound token carries.
    pub fn thumbprint(&self) -> &str {
        &self.inner.thumbprint
    }

    /// The private key, PKCS#8 DER. Secret: only for writing to a protected store.
    pub(crate) fn pkcs8(&self) -> &[u8] {
        self.inner.pkcs8.expose_secret()
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.inner.signing
    }

    /// The base64url signature of `message` (the JWS signing input).
    pub(crate) fn sign(&self, message: &[u8]) -> jsonwebtoken::errors::Result<String> {
        jsonwebtoken::crypto::sign(message, &self.inner.signing, self.inner.algorithm.jws())
    }

    /// The key as stored: `(algorithm name, base64url PKCS#8)`. Secret.
    pub(crate) fn to_stored(&self) -> (String, String) {
        (
            self.inner.algorithm.as_str().to_owned(),
            URL_SAFE_NO_PAD.encode(self.pkcs8()),
        )
    }

    /// The inverse of [`to_stored`](Self::to_stored); the error never quotes the key.
    pub(crate) fn from_stored(algorithm: &str, pkcs8: &str) -> std::result::Result<Self, String> {
        let algorithm = DpopAlgorithm::parse(algorithm)
            .ok_or_else(|| format!("unknown DPoP key algorithm {algorithm:?}"))?;
        let der = URL_SAFE_NO_PAD
            .decode(pkcs8)
            .map_err(|_| "the DPoP key is not base64url".to_owned())?;
        Self::from_pkcs8(algorithm, der).map_err(|e| e.to_string())
    }

    /// Whether both are the same key.
    pub fn same_key(&self, other: &DpopKey) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.thumbprint() == other.thumbprint()
    }
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("algorithm", &self.inner.algorithm)
            .field("private_key", &"[REDACTED]")
            .field("thumbprint", &self.inner.thumbprint)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_algorithms_round_trip_through_the_stored_form() {
        for alg in [DpopAlgorithm::Es256, DpopAlgorithm::Ed25519] {
            let key = DpopKey::generate(alg).unwrap();
            let (name, der) = key.to_stored();
            let back = DpopKey::from_stored(&name, &der).unwrap();
            assert!(back.same_key(&key));
            assert_eq!(back.algorithm(), alg);
        }
    }

    #[test]
    fn provider_lists_choose_the_algorithm() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(DpopAlgorithm::for_provider(&[]), Some(DpopAlgorithm::Es256));
        assert_eq!(
            DpopAlgorithm::for_provider(&list(&["ES256", "Ed25519"])),
            Some(DpopAlgorithm::Es256)
        );
        assert_eq!(
            DpopAlgorithm::for_provider(&list(&["Ed25519", "EdDSA"])),
            Some(DpopAlgorithm::Ed25519)
        );
        assert_eq!(DpopAlgorithm::for_provider(&list(&["RS256"])), None);
    }

    #[test]
    fn debug_and_errors_hide_the_private_key() {
        let key = DpopKey::generate(DpopAlgorithm::Es256).unwrap();
        let (_, der) = key.to_stored();
        assert!(!format!("{key:?}").contains(&der));
        let err = DpopKey::from_stored("ES256", "bm90LWEta2V5").unwrap_err();
        assert!(!err.contains("bm90LWEta2V5"), "{err}");
    }
}
