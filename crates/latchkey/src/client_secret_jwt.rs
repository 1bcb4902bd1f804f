//! `client_secret_jwt` (OIDC Core §9, RFC 7523 §2.2): the client proves it knows its secret
//! by signing a short-lived JWT with it (HS256), so the secret itself never travels.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};

/// What a client assertion names as its audience (`aud`).
///
/// RFC 7523 §3 asks for the token endpoint; OIDC Core §9 allows the token endpoint, and
/// several providers document the issuer instead (or as well), so both can be chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AssertionAudience {
    /// The URL the request goes to: the token endpoint for token and refresh requests, the
    /// revocation or introspection endpoint for those (the default).
    #[default]
    TokenEndpoint,
    /// The issuer identifier, for providers that document it as the audience.
    Issuer,
}

/// A client secret that signs client assertions (`client_secret_jwt`).
///
/// Each assertion has `iss` = `sub` = the client id, the audience chosen with
/// [`audience`](Self::audience), a random `jti` (providers refuse a replayed one), `iat` and
/// an `exp` a minute later.
#[derive(Clone)]
pub struct ClientSecretJwt {
    secret: SecretString,
    audience: AssertionAudience,
    issuer: Option<String>,
    lifetime: Duration,
}

impl ClientSecretJwt {
    /// Signs assertions with `secret` (HS256), aimed at the endpoint each request goes to.
    pub fn new(secret: SecretString) -> Self {
        Self {
            secret,
            audience: AssertionAudience::TokenEndpoint,
            issuer: None,
            lifetime: Duration::from_secs(60),
        }
    }

    /// Names the issuer as the audience instead of the endpoint (providers that document it).
    pub fn audience_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.audience = AssertionAudience::Issuer;
        self.issuer = Some(issuer.into());
        self
    }

    /// The audience the assertions name.
    pub fn audience(&self) -> &AssertionAudience {
        &self.audience
    }

    /// How long each assertion is valid (default 60 s).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// A fresh assertion for a request from `client_id` to `endpoint`.
    pub(crate) fn assertion(&self, client_id: &str, endpoint: &Url) -> Result<String> {
        if self.secret.expose_secret().is_empty() {
            return Err(Error::Config(
                "client_secret_jwt needs a client secret, and it is empty: set `client_secret`"
                    .into(),
            ));
        }
        let aud = match (&self.audience, &self.issuer) {
            (AssertionAudience::Issuer, Some(issuer)) => issuer.as_str(),
            (AssertionAudience::Issuer, None) => {
                return Err(Error::Config(
                    "client_secret_jwt with the issuer as audience needs the issuer: set \
                     `issuer` in the profile, or use `ClientSecretJwt::audience_issuer`"
                        .into(),
                ));
            }
            _ => endpoint.as_str(),
        };
        let claims = crate::assertion_claims::AssertionClaims::new(client_id, aud, self.lifetime);
        let key = EncodingKey::from_secret(self.secret.expose_secret().as_bytes());
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
            .map_err(|e| Error::Config(format!("cannot sign the client assertion ({e})")))
    }
}

impl fmt::Debug for ClientSecretJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecretJwt")
            .field("secret", &"[REDACTED]")
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    fn claims(jwt: &str, secret: &str, aud: &str) -> serde_json::Value {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[aud]);
        jsonwebtoken::decode::<serde_json::Value>(
            jwt,
            &DecodingKey::from_secret(secret.as_bytes()),
            &validation,
        )
        .unwrap()
        .claims
    }

    #[test]
    fn assertions_are_hs256_over_the_secret_with_a_fresh_jti() {
        let auth = ClientSecretJwt::new(SecretString::from("s3cret"));
        let endpoint = Url::parse("https://idp.example/token").unwrap();
        let first = auth.assertion("svc", &endpoint).unwrap();
        let second = auth.assertion("svc", &endpoint).unwrap();
        let a = claims(&first, "s3cret", "https://idp.example/token");
        let b = claims(&second, "s3cret", "https://idp.example/token");
        assert_eq!(a["iss"], "svc");
        assert_eq!(a["sub"], "svc");
        assert_ne!(a["jti"], b["jti"]);
        assert_eq!(a["exp"].as_u64().unwrap() - a["iat"].as_u64().unwrap(), 60);
        assert_eq!(
            jsonwebtoken::decode_header(&first).unwrap().alg,
            Algorithm::HS256
        );
    }

    #[test]
    fn the_issuer_can_be_the_audience() {
        let auth = ClientSecretJwt::new(SecretString::from("s3cret"))
            .audience_issuer("https://idp.example");
        let endpoint = Url::parse("https://idp.example/token").unwrap();
        let jwt = auth.assertion("svc", &endpoint).unwrap();
        assert_eq!(
            claims(&jwt, "s3cret", "https://idp.example")["aud"],
            "https://idp.example"
        );
    }

    #[test]
    fn an_empty_secret_is_refused_and_debug_hides_the_secret() {
        let endpoint = Url::parse("https://idp.example/token").unwrap();
        let err = ClientSecretJwt::new(SecretString::from(""))
            .assertion("svc", &endpoint)
            .unwrap_err();
        assert!(err.to_string().contains("client_secret"), "{err}");
        let shown = format!("{:?}", ClientSecretJwt::new(SecretString::from("hunter2")));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
