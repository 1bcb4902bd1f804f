//! Step-up authentication ([RFC 9470](https://www.rfc-editor.org/rfc/rfc9470)): a resource
//! refuses a token because the sign-in behind it was too weak or too old, and says what it
//! needs (`acr_values`, `max_age`). A new token from the refresh token cannot help (it
//! carries the same sign-in): only a new login that asks for them can.
//!
//! [`StepUp`] is what the resource asked for; [`Error::StepUpRequired`] carries it to the
//! caller; [`crate::authorization::AuthorizationRequestBuilder::step_up`] sends it with the
//! next login, whose ID token is then checked against it (`acr`, `auth_time`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::HeaderMap;
use secrecy::ExposeSecret;

use crate::challenge::{BearerChallenge, BearerError};
use crate::token::TokenSet;

/// What a resource asked of the sign-in (RFC 9470 §3): an authentication context class out
/// of `acr_values`, and a sign-in no older than `max_age`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StepUp {
    /// Acceptable authentication context classes, most preferred first; empty: any.
    pub acr_values: Vec<String>,
    /// The longest time since the user last signed in; `None`: any.
    pub max_age: Option<Duration>,
}

impl StepUp {
    /// A step-up asking for these classes and this age.
    pub fn new<I, S>(acr_values: I, max_age: Option<Duration>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            acr_values: acr_values.into_iter().map(Into::into).collect(),
            max_age,
        }
    }

    /// The step-up a challenge asks for, when its error is `insufficient_user_authentication`.
    pub fn from_challenge(challenge: &BearerChallenge) -> Option<Self> {
        (challenge.error == Some(BearerError::InsufficientUserAuthentication)).then(|| Self {
            acr_values: challenge.acr_values.clone(),
            max_age: challenge.max_age.map(Duration::from_secs),
        })
    }

    /// The step-up a refusal's `WWW-Authenticate` headers ask for, if any.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
    /// use latchkey::{Error, StepUp};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(
    ///     r#"Bearer error="insufficient_user_authentication", acr_values="urn:mfa", max_age=300"#,
    /// ));
    /// let step_up = StepUp::from_headers(&headers).expect("a step-up challenge");
    /// assert_eq!(step_up.acr_values, ["urn:mfa"]);
    /// let err = Error::StepUpRequired(step_up);
    /// assert!(err.to_string().contains("urn:mfa"));
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        Self::from_challenge(&BearerChallenge::from_headers(headers)?)
    }

    /// Whether it asks for anything at all.
    pub fn is_empty(&self) -> bool {
        self.acr_values.is_empty() && self.max_age.is_none()
    }

    /// The authorization request parameters (OIDC Core §3.1.2.1) that ask for it.
    pub(crate) fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = Vec::new();
        if !self.acr_values.is_empty() {
            params.push(("acr_values", self.acr_values.join(" ")));
        }
        if let Some(max_age) = self.max_age {
            params.push(("max_age", max_age.as_secs().to_string()));
        }
        params
    }

    /// Checks a fresh login's ID token: its `acr` is one of `acr_values` and its `auth_time`
    /// is no older than `max_age` (RFC 9470 §4, OIDC Core §2). The ID token's signature is
    /// the [`crate::grant::IdTokenCheck`]'s business; this reads only the two claims. The
    /// error is the reason the sign-in falls short (the caller makes it a
    /// `LoginError::StepUpNotMet`).
    pub(crate) fn check(&self, tokens: &TokenSet, now: SystemTime) -> Result<(), String> {
        if self.is_empty() {
            return Ok(());
        }
        let claims = id_token_claims(tokens).ok_or_else(|| {
            "the token response has no readable ID token to show the sign-in; ask for the `openid` scope".to_owned()
        })?;
        if !self.acr_values.is_empty() {
            match claims.get("acr").and_then(|v| v.as_str()) {
                Some(acr) if self.acr_values.iter().any(|a| a == acr) => {}
                Some(acr) => return Err(format!("the sign-in's `acr` is `{acr}`")),
                None => return Err("the ID token has no `acr`".into()),
            }
        }
        if let Some(max_age) = self.max_age {
            let Some(auth_time) = claims.get("auth_time").and_then(|v| v.as_u64()) else {
                return Err("the ID token has no `auth_time`".into());
            };
            let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
            // A minute of clock skew between the provider and this machine is tolerated.
            const SKEW: u64 = 60;
            let age = now.saturating_sub(auth_time);
            if age > max_age.as_secs() + SKEW {
                return Err(format!("the sign-in is {age} s old"));
            }
        }
        Ok(())
    }
}

impl fmt::Display for StepUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.acr_values.is_empty() {
            parts.push(format!("acr_values `{}`", self.acr_values.join(" ")));
        }
        if let Some(max_age) = self.max_age {
            parts.push(format!("a sign-in within {} s", max_age.as_secs()));
        }
        if parts.is_empty() {
            f.write_str("a new sign-in")
        } else {
            f.write_str(&parts.join(" and "))
        }
    }
}

/// The claims of the ID token in `tokens`, unverified.
fn id_token_claims(tokens: &TokenSet) -> Option<serde_json::Map<String, serde_json::Value>> {
    let jwt = tokens.id_token()?;
    let payload = jwt.expose_secret().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn with_id_token(claims: serde_json::Value) -> TokenSet {
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let jwt = format!(
            "{}.{}.sig",
            b64(br#"{"alg":"none"}"#),
            b64(claims.to_string().as_bytes())
        );
        TokenSet::new(SecretString::from("at"), SystemTime::now())
            .with_id_token(Some(SecretString::from(jwt)))
    }

    #[test]
    fn only_insufficient_user_authentication_is_a_step_up() {
        let c = BearerChallenge::parse(
            r#"Bearer error="insufficient_user_authentication", acr_values="a b", max_age=5"#,
        )
        .unwrap();
        let s = StepUp::from_challenge(&c).unwrap();
        assert_eq!(s.acr_values, ["a", "b"]);
        assert_eq!(s.max_age, Some(Duration::from_secs(5)));
        assert_eq!(
            s.params(),
            [("acr_values", "a b".to_string()), ("max_age", "5".into())]
        );
        let c = BearerChallenge::parse(r#"Bearer error="invalid_token""#).unwrap();
        assert_eq!(StepUp::from_challenge(&c), None);
    }

    #[test]
    fn the_id_token_must_show_the_asked_sign_in() {
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        let s = StepUp::new(["urn:mfa"], Some(Duration::from_secs(300)));
        s.check(
            &with_id_token(serde_json::json!({"acr": "urn:mfa", "auth_time": secs - 10})),
            now,
        )
        .unwrap();
        let weak = s
            .check(
                &with_id_token(serde_json::json!({"acr": "urn:pwd", "auth_time": secs})),
                now,
            )
            .unwrap_err();
        assert!(weak.to_string().contains("`urn:pwd`"), "{weak}");
        let old = s
            .check(
                &with_id_token(serde_json::json!({"acr": "urn:mfa", "auth_time": secs - 3600})),
                now,
            )
            .unwrap_err();
        assert!(old.to_string().contains("3600 s old"), "{old}");
        let none = s
            .check(&TokenSet::new(SecretString::from("at"), now), now)
            .unwrap_err();
        assert!(none.to_string().contains("ID token"), "{none}");
        StepUp::default()
            .check(&TokenSet::new(SecretString::from("at"), now), now)
            .unwrap();
    }
}
