//! The test key the fakes sign ID tokens and JWT access tokens with (the fixture's public
//! test key `svc-jwt`, RS256), and the JWKS that publishes it.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// The `kid` of the fakes' signing key.
pub const KEY_ID: &str = "fake-provider-rsa-1";

fn key() -> EncodingKey {
    EncodingKey::from_rsa_pem(crate::clients::svc_jwt_rsa_pem().as_bytes())
        .expect("the fixture's RSA test key")
}

/// The JWKS document holding the public half of the signing key.
pub(crate) fn jwks() -> serde_json::Value {
    let mut jwk = Jwk::from_encoding_key(&key(), Algorithm::RS256).expect("a JWK");
    jwk.common.key_id = Some(KEY_ID.into());
    serde_json::to_value(JwkSet { keys: vec![jwk] }).expect("JWKS as JSON")
}

/// `claims` signed with RS256, with `iat` and `exp` (an hour) added.
pub(crate) fn sign(mut claims: serde_json::Map<String, serde_json::Value>) -> String {
    let now = now();
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + 3600).into());
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.into());
    jsonwebtoken::encode(&header, &serde_json::Value::Object(claims), &key()).expect("signing")
}

/// Seconds since the epoch.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A fresh token-like string with `prefix`, unique in the process.
pub(crate) fn opaque(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{prefix}{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A signed ID token for `audience` from `issuer` about `subject`, with the authorization
/// request's `nonce` when it had one and each provider's own claims from `extra` (a JSON
/// object).
pub(crate) fn id_token(
    issuer: &str,
    audience: &str,
    subject: &str,
    nonce: Option<&str>,
    extra: serde_json::Value,
) -> String {
    let mut claims = match extra {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    claims.insert("iss".into(), issuer.into());
    claims.insert("aud".into(), audience.into());
    claims.insert("sub".into(), subject.into());
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    sign(claims)
}
