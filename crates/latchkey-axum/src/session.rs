//! Signed cookies and the records they point to.
//!
//! Cookies carry only random ids, signed with HMAC-SHA256 (the `cookie` crate's signed jar)
//! under a key derived from the configured master key, so every instance that shares the key
//! accepts them. Tokens never leave the server.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cookie::{Cookie, CookieJar, Key, SameSite};
use latchkey::IdTokenClaims;
use rand::RngExt;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::WebAuthError;

/// A random id with 256 bits of entropy, URL-safe (43 characters).
pub(crate) fn random_id() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How cookies are named, signed and flagged.
#[derive(Clone)]
pub(crate) struct CookieConfig {
    pub(crate) session_name: String,
    pub(crate) login_name: String,
    pub(crate) secure: bool,
    pub(crate) master_key: secrecy::SecretSlice<u8>,
}

impl CookieConfig {
    /// The signing key. Derived per use (HKDF, microseconds) so that the only long-lived
    /// copy of the key material stays in a `secrecy` box.
    fn key(&self) -> Key {
        Key::derive_from(self.master_key.expose_secret())
    }

    /// The verified value of cookie `name`; `None` when absent or when its signature fails.
    pub(crate) fn read(&self, headers: &HeaderMap, name: &str) -> Option<String> {
        let mut jar = CookieJar::new();
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for cookie in Cookie::split_parse(value.to_owned()).flatten() {
                if cookie.name() == name {
                    jar.add_original(cookie);
                }
            }
        }
        jar.signed(&self.key())
            .get(name)
            .map(|c| c.value().to_owned())
    }

    /// The session token of session `id`: the session cookie's signed value with its
    /// signature in URL-safe base64, so it fits a URL and an RFC 6750 `b64token` unencoded.
    pub(crate) fn session_token(&self, id: &str) -> Option<SecretString> {
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.key())
            .add(Cookie::new(self.session_name.clone(), id.to_owned()));
        let signed = jar.get(&self.session_name)?.value().to_owned();
        let (digest, value) = split_at_checked(&signed, STANDARD_DIGEST_LEN)?;
        let digest = STANDARD.decode(digest).ok()?;
        Some(SecretString::from(format!(
            "{}{value}",
            URL_SAFE_NO_PAD.encode(digest)
        )))
    }

    /// The session id a session token was made for; `None` when its signature fails.
    pub(crate) fn verify_session_token(&self, token: &str) -> Option<String> {
        let (digest, value) = split_at_checked(token, URL_SAFE_DIGEST_LEN)?;
        let digest = URL_SAFE_NO_PAD.decode(digest).ok()?;
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new(
            self.session_name.clone(),
            format!("{}{value}", STANDARD.encode(digest)),
        ));
        jar.signed(&self.key())
            .get(&self.session_name)
            .map(|c| c.value().to_owned())
    }

    /// A `Set-Cookie` value for `name=value`, signed, HttpOnly, SameSite=Lax, Path=/.
    pub(crate) fn set(
        &self,
        name: &str,
        value: &str,
        max_age: Duration,
    ) -> Result<HeaderValue, WebAuthError> {
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.key())
            .add(self.flags(Cookie::new(name.to_owned(), value.to_owned()), max_age));
        let cookie = jar
            .get(name)
            .ok_or_else(|| WebAuthError::Config("cookie signing failed".into()))?;
        header_value(cookie)
    }

    /// A `Set-Cookie` value that removes `name`.
    pub(crate) fn clear(&self, name: &str) -> Result<HeaderValue, WebAuthError> {
        header_value(&self.flags(Cookie::new(name.to_owned(), ""), Duration::ZERO))
    }

    fn flags(&self, mut cookie: Cookie<'static>, max_age: Duration) -> Cookie<'static> {
        cookie.set_http_only(true);
        cookie.set_secure(self.secure);
        // Lax: sent on the top-level GET back from the identity provider, never on
        // cross-site POSTs.
        cookie.set_same_site(SameSite::Lax);
        cookie.set_path("/");
        let seconds = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        cookie.set_max_age(cookie::time::Duration::seconds(seconds));
        cookie
    }
}

/// Length of the cookie crate's signature (HMAC-SHA256, standard base64 with padding) and of
/// the same 32 bytes in URL-safe base64 without padding.
const STANDARD_DIGEST_LEN: usize = 44;
const URL_SAFE_DIGEST_LEN: usize = 43;

fn split_at_checked(text: &str, at: usize) -> Option<(&str, &str)> {
    text.is_char_boundary(at).then(|| text.split_at(at))
}

fn header_value(cookie: &Cookie<'_>) -> Result<HeaderValue, WebAuthError> {
    HeaderValue::from_str(&cookie.to_string())
        .map_err(|e| WebAuthError::Config(format!("cookie is not a valid header ({e})")))
}

/// A login in progress, kept server-side under its id until the callback takes it.
#[derive(Serialize, Deserialize)]
pub(crate) struct PendingRecord {
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) verifier: String,
    pub(crate) return_to: String,
}

/// A signed-in session: who the user is. Its tokens are in the token store.
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    pub(crate) claims: IdTokenClaims,
    /// The raw ID token, kept as the end-session `id_token_hint`.
    pub(crate) id_token: Option<String>,
    /// The roles given at sign-in (`default_roles`, and `admin` for `admin_users`). Absent
    /// in records written before roles existed: those sessions have none.
    #[serde(default)]
    pub(crate) roles: Vec<String>,
}

/// Serializes a record that holds secrets straight into a secret box.
pub(crate) fn seal<T: Serialize>(record: &T) -> Result<SecretString, WebAuthError> {
    serde_json::to_string(record)
        .map(SecretString::from)
        .map_err(|e| WebAuthError::Store {
            backend: "serde",
            reason: format!("cannot encode a record ({e})"),
        })
}

/// Reads back a record written by [`seal`].
pub(crate) fn open<T: for<'de> Deserialize<'de>>(raw: &SecretString) -> Result<T, WebAuthError> {
    serde_json::from_str(raw.expose_secret()).map_err(|e| WebAuthError::Store {
        backend: "serde",
        // serde's own message can quote values (an ID token, claims).
        reason: format!(
            "a stored record is corrupt ({})",
            latchkey::scrub_serde_error(&e)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(key: u8) -> CookieConfig {
        CookieConfig {
            session_name: "s".into(),
            login_name: "s_login".into(),
            secure: true,
            master_key: vec![key; 64].into(),
        }
    }

    fn request_with(set_cookie: &HeaderValue) -> HeaderMap {
        let pair = set_cookie.to_str().unwrap().split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(pair).unwrap());
        headers
    }

    #[test]
    fn a_corrupt_record_error_names_the_position_not_the_claims() {
        let raw = SecretString::from(
            r#"{"claims":{"iss":"i","sub":"s","aud":"a","exp":"jane@example.com","iat":1}}"#,
        );
        let err = open::<SessionRecord>(&raw).map(|_| ()).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("jane"), "{text}");
        assert!(text.contains("expected u64 at line 1 column"), "{text}");
    }

    #[test]
    fn session_tokens_are_url_safe_and_verify_only_under_their_key() {
        let id = random_id();
        let token = config(1).session_token(&id).unwrap();
        let token = token.expose_secret();
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')),
            "{token}"
        );
        assert_eq!(
            config(1).verify_session_token(token).as_deref(),
            Some(id.as_str())
        );
        assert_eq!(config(2).verify_session_token(token), None);
        // Another id under the same signature, a cut token, non-ASCII and nothing at all.
        let forged = format!("{}{}", &token[..URL_SAFE_DIGEST_LEN], random_id());
        for bad in [forged.as_str(), &token[..40], "é".repeat(30).as_str(), ""] {
            assert_eq!(config(1).verify_session_token(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn signed_cookies_round_trip_and_reject_other_keys_and_edits() {
        let set = config(1).set("s", "abc", Duration::from_secs(60)).unwrap();
        let text = set.to_str().unwrap();
        for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(text.contains(flag), "{text}");
        }
        let headers = request_with(&set);
        assert_eq!(config(1).read(&headers, "s").as_deref(), Some("abc"));
        assert_eq!(config(2).read(&headers, "s"), None);
        let tampered = text.split(';').next().unwrap().replace("abc", "abd");
        let mut edited = HeaderMap::new();
        edited.insert(header::COOKIE, HeaderValue::from_str(&tampered).unwrap());
        assert_eq!(config(1).read(&edited, "s"), None);
    }
}
