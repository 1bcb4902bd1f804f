//! The stored form of a [`TokenSet`]: versioned JSON shared by every backend.

use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::token::TokenSet;

/// The schema version written by this release. Readers refuse newer versions instead of
/// guessing, so an old latchkey never mangles a newer record.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    version: u32,
    access_token: String,
    token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    /// Milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_expires_at_ms: Option<u64>,
    obtained_at_ms: u64,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    extra: serde_json::Map<String, serde_json::Value>,
    /// The DPoP key the tokens are bound to; absent in records written before DPoP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dpop_key: Option<StoredDpopKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredDpopKey {
    alg: String,
    /// PKCS#8 DER, base64url.
    pkcs8: String,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis().min(u64::MAX as u128) as u64)
        .unwrap_or(0)
}

fn from_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Serializes `tokens` for storage. The result holds secrets: write it only to protected places.
pub fn encode(tokens: &TokenSet) -> Vec<u8> {
    let record = Record {
        version: SCHEMA_VERSION,
        access_token: tokens.access_token.expose_secret().to_owned(),
        token_type: tokens.token_type.clone(),
        refresh_token: tokens
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        id_token: tokens
            .id_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        scopes: tokens.scopes.clone(),
        expires_at_ms: tokens.expires_at.map(to_ms),
        refresh_expires_at_ms: tokens.refresh_expires_at.map(to_ms),
        obtained_at_ms: to_ms(tokens.obtained_at),
        extra: tokens.extra.clone(),
        dpop_key: tokens.dpop_key.as_ref().map(|key| {
            let (alg, pkcs8) = key.to_stored();
            StoredDpopKey { alg, pkcs8 }
        }),
    };
    // A struct of strings, numbers and a JSON map always serializes.
    serde_json::to_vec_pretty(&record).unwrap_or_default()
}

/// Reads a stored token set. The error says what is wrong without quoting the content.
pub fn decode(bytes: &[u8]) -> Result<TokenSet, String> {
    let version = serde_json::from_slice::<VersionOnly>(bytes)
        .map_err(|e| {
            format!(
                "not a latchkey token record ({})",
                crate::redact::scrub_serde_error(&e)
            )
        })?
        .version;
    if version != SCHEMA_VERSION {
        return Err(if version > SCHEMA_VERSION {
            format!(
                "schema version {version} is newer than this latchkey understands ({SCHEMA_VERSION}): upgrade latchkey"
            )
        } else {
            format!("unknown schema version {version}")
        });
    }
    let record: Record = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "invalid token record ({})",
            crate::redact::scrub_serde_error(&e)
        )
    })?;
    let mut tokens = TokenSet::new(
        SecretString::from(record.access_token),
        from_ms(record.obtained_at_ms),
    )
    .with_token_type(record.token_type)
    .with_refresh_token(record.refresh_token.map(SecretString::from))
    .with_id_token(record.id_token.map(SecretString::from))
    .with_scopes(record.scopes)
    .with_expires_at(record.expires_at_ms.map(from_ms))
    .with_refresh_expires_at(record.refresh_expires_at_ms.map(from_ms));
    tokens.extra = record.extra;
    if let Some(stored) = record.dpop_key {
        let key = crate::dpop::DpopKey::from_stored(&stored.alg, &stored.pkcs8)
            .map_err(|e| format!("invalid DPoP key in the token record ({e})"))?;
        tokens.dpop_key = Some(key);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_everything() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let mut tokens = TokenSet::new("at".to_string().into(), now)
            .with_refresh_token(Some("rt".to_string().into()))
            .with_id_token(Some("it".to_string().into()))
            .with_scopes(vec!["a".into(), "b".into()])
            .with_expires_at(Some(now + Duration::from_secs(60)))
            .with_refresh_expires_at(Some(now + Duration::from_secs(600)))
            .with_token_type("DPoP");
        tokens.extra.insert("session_state".into(), "xyz".into());
        let back = decode(&encode(&tokens)).unwrap();
        assert!(back.same_access_token(&tokens) && back.same_refresh_token(&tokens));
        assert_eq!(back.id_token().unwrap().expose_secret(), "it");
        assert_eq!(back.scopes(), tokens.scopes());
        assert_eq!(back.expires_at(), tokens.expires_at());
        assert_eq!(back.refresh_expires_at(), tokens.refresh_expires_at());
        assert_eq!(back.obtained_at(), now);
        assert_eq!(back.token_type(), "DPoP");
        assert_eq!(back.extra().get("session_state").unwrap(), "xyz");
    }

    #[test]
    fn dpop_key_round_trips_and_old_records_still_load() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let key = crate::dpop::DpopKey::generate(crate::dpop::DpopAlgorithm::Es256).unwrap();
        let tokens = TokenSet::new("at".to_string().into(), now)
            .with_token_type("DPoP")
            .with_dpop_key(Some(key.clone()));
        let back = decode(&encode(&tokens)).unwrap();
        assert!(back.dpop_key().unwrap().same_key(&key));
        let old = br#"{"version":1,"access_token":"at","token_type":"Bearer","obtained_at_ms":1}"#;
        assert!(decode(old).unwrap().dpop_key().is_none());
        let broken = br#"{"version":1,"access_token":"at","token_type":"DPoP","obtained_at_ms":1,"dpop_key":{"alg":"ES256","pkcs8":"c2Vrcml0"}}"#;
        let err = decode(broken).unwrap_err();
        assert!(
            err.contains("DPoP key") && !err.contains("c2Vrcml0"),
            "{err}"
        );
    }

    #[test]
    fn newer_versions_and_garbage_are_refused_without_quoting() {
        let err = decode(br#"{"version":2,"access_token":"sekrit"}"#).unwrap_err();
        assert!(err.contains("upgrade latchkey"), "{err}");
        let err = decode(br#"{"version":1,"access_token":42,"token_type":"sekrit"}"#).unwrap_err();
        assert!(!err.contains("sekrit"), "{err}");
        assert!(decode(b"\x00\x01garbage").is_err());
    }

    #[test]
    fn finding_14_numbers_in_extra_fields_survive_every_save() {
        // Without serde_json's exact float parsing this value read back one unit in the last
        // place off, so each save of the record changed it.
        let stored = br#"{"version":1,"access_token":"at","token_type":"Bearer","obtained_at_ms":1763999000000,"extra":{"n":3.5211111111111106e+54}}"#;
        let first = encode(&decode(stored).unwrap());
        let second = encode(&decode(&first).unwrap());
        assert_eq!(first, second);
        let text = String::from_utf8(first).unwrap();
        assert!(text.contains("3.5211111111111106e+54"), "{text}");
    }
}
