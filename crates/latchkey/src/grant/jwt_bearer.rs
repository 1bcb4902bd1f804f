//! The JWT bearer authorization grant (RFC 7523 §2.1): a signed assertion *is* the grant.
//! Google service accounts use it, as do providers that trust a workload's own tokens.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use rand::RngExt;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{Grant, GrantKind, scope_param};
use crate::client::{OAuthClient, Replay};
use crate::client_auth::PrivateKeyJwt;
use crate::error::{Error, Result};
use crate::token::TokenSet;
use crate::token_source::TokenSource;

/// The `grant_type` of RFC 7523 §2.1.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Where the assertion comes from.
#[derive(Clone)]
enum Assertion {
    /// latchkey signs one per request with this key and these claims.
    Signed(Box<SignedAssertion>),
    /// Someone else signs it (a workload token): passed on as it is.
    External(Arc<dyn TokenSource>),
}

#[derive(Clone)]
struct SignedAssertion {
    key: PrivateKeyJwt,
    issuer: String,
    subject: Option<String>,
    audience: Option<String>,
    lifetime: Duration,
    scope_claim: bool,
}

impl fmt::Debug for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Assertion::Signed(s) => f
                .debug_struct("Signed")
                .field("key", &s.key)
                .field("issuer", &s.issuer)
                .field("subject", &s.subject)
                .field("audience", &s.audience)
                .field("lifetime", &s.lifetime)
                .field("scope_claim", &s.scope_claim)
                .finish(),
            Assertion::External(source) => f.debug_tuple("External").field(source).finish(),
        }
    }
}

/// The JWT bearer grant (RFC 7523 §2.1): each token request carries a fresh assertion,
/// signed here with a private key (RS256, ES256…) or read from a [`TokenSource`].
///
/// The assertion's claims: `iss` the issuer (a service account's `client_email`), `sub` the
/// subject (RFC 7523 §3 requires it; it defaults to the issuer, except for a Google service
/// account key, where Google reads `sub` as the user to impersonate), `aud` the token
/// endpoint unless set, `iat`, `exp` (default lifetime 5 minutes), a random `jti`, and, when
/// asked (Google does), `scope`.
///
/// No person is needed to renew: when the token ends, the manager signs a new assertion.
#[derive(Debug, Clone)]
pub struct JwtBearer {
    assertion: Assertion,
    scopes: Vec<String>,
}

impl JwtBearer {
    /// An assertion latchkey signs with `key`, issued by `issuer`.
    pub fn builder(key: PrivateKeyJwt, issuer: impl Into<String>) -> JwtBearerBuilder {
        JwtBearerBuilder {
            signed: SignedAssertion {
                key,
                issuer: issuer.into(),
                subject: None,
                audience: None,
                lifetime: Duration::from_secs(300),
                scope_claim: false,
            },
            subject_defaults_to_issuer: true,
            scopes: Vec::new(),
        }
    }

    /// An assertion someone else signed (a Kubernetes service-account token, a SPIFFE
    /// JWT-SVID, a CI runner's token), read from `source` for every request.
    pub fn from_source(source: impl TokenSource + 'static) -> Self {
        Self {
            assertion: Assertion::External(Arc::new(source)),
            scopes: Vec::new(),
        }
    }

    /// A Google-style service account key file (`"type": "service_account"`, with
    /// `client_email`, `private_key`, `private_key_id`, `token_uri`): `iss` the account's
    /// email, `aud` its `token_uri`, RS256 with `kid` the key id, scopes also in the
    /// assertion as Google reads them there. The key stays secret.
    pub fn service_account(json: &SecretString) -> Result<JwtBearerBuilder> {
        let key = ServiceAccountKey::parse(json)?;
        let signer = PrivateKeyJwt::from_pem(
            &key.private_key,
            Algorithm::RS256,
            key.private_key_id.clone(),
        )?;
        let mut builder = Self::builder(signer, key.client_email);
        builder.subject_defaults_to_issuer = false;
        builder.signed.scope_claim = true;
        if let Some(token_uri) = key.token_uri {
            builder.signed.audience = Some(token_uri);
        }
        Ok(builder)
    }

    /// Asks for these scopes (the `scope` request parameter).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    async fn assertion(&self, client: &OAuthClient) -> Result<SecretString> {
        let signed = match &self.assertion {
            Assertion::External(source) => return source.token().await,
            Assertion::Signed(signed) => signed,
        };
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            sub: Option<&'a str>,
            aud: &'a str,
            iat: u64,
            exp: u64,
            jti: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            scope: Option<String>,
        }
        // Checked against the provider's clock, so the real one, not the client's test clock.
        let iat = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let jti: [u8; 16] = rand::rng().random();
        let claims = Claims {
            iss: &signed.issuer,
            sub: signed.subject.as_deref(),
            aud: signed
                .audience
                .as_deref()
                .unwrap_or(client.token_url().as_str()),
            iat,
            exp: iat + signed.lifetime.as_secs(),
            jti: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jti),
            scope: if signed.scope_claim {
                scope_param(&self.scopes)
            } else {
                None
            },
        };
        signed.key.sign(None, &claims).map(SecretString::from)
    }
}

/// Builds a [`JwtBearer`] whose assertion latchkey signs.
#[derive(Debug)]
#[must_use]
pub struct JwtBearerBuilder {
    signed: SignedAssertion,
    subject_defaults_to_issuer: bool,
    scopes: Vec<String>,
}

impl fmt::Debug for SignedAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedAssertion")
            .field("key", &self.key)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl JwtBearerBuilder {
    /// The `sub` claim: whom the token is for (a user to impersonate with Google's
    /// domain-wide delegation).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.signed.subject = Some(subject.into());
        self
    }

    /// The `aud` claim (default: the token endpoint URL, or a key file's `token_uri`).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.signed.audience = Some(audience.into());
        self
    }

    /// How long each assertion is valid (default 5 minutes; Google allows at most an hour).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.signed.lifetime = lifetime;
        self
    }

    /// Whether the scopes also go into the assertion as a `scope` claim (Google's way;
    /// default: only for service account key files).
    pub fn scope_claim(mut self, on: bool) -> Self {
        self.signed.scope_claim = on;
        self
    }

    /// Asks for these scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The grant.
    pub fn build(mut self) -> JwtBearer {
        if self.signed.subject.is_none() && self.subject_defaults_to_issuer {
            self.signed.subject = Some(self.signed.issuer.clone());
        }
        JwtBearer {
            assertion: Assertion::Signed(Box::new(self.signed)),
            scopes: self.scopes,
        }
    }
}

#[async_trait]
impl Grant for JwtBearer {
    fn kind(&self) -> GrantKind {
        GrantKind::JwtBearer
    }

    fn can_run_unattended(&self) -> bool {
        true
    }

    async fn obtain(&self, client: &OAuthClient) -> Result<TokenSet> {
        let assertion = self.assertion(client).await?;
        let scope = scope_param(&self.scopes);
        let mut params = vec![("assertion", assertion.expose_secret())];
        if let Some(scope) = &scope {
            params.push(("scope", scope));
        }
        // The assertion's `jti` may be remembered once it arrives: resend it only when it
        // surely did not.
        let tokens = client
            .token_request(GRANT_TYPE, &params, Replay::OnlyIfNotProcessed)
            .await?;
        Ok(if tokens.scopes().is_empty() {
            tokens.with_scopes(self.scopes.clone())
        } else {
            tokens
        })
    }
}

/// The fields of a Google-style service account key file latchkey reads.
#[derive(Deserialize)]
struct ServiceAccountKey {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: String,
    private_key: SecretString,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

impl ServiceAccountKey {
    fn parse(json: &SecretString) -> Result<Self> {
        // serde's message can quote the input; it is a secret, so only the position is kept.
        let key: Self = serde_json::from_str(json.expose_secret()).map_err(|e| {
            Error::Config(format!(
                "the service account key is not a key file with `client_email` and `private_key` (line {}, column {}); download a JSON key for the service account again",
                e.line(),
                e.column()
            ))
        })?;
        match key.kind.as_deref() {
            None | Some("service_account") => Ok(key),
            Some(other) => Err(Error::Config(format!(
                "the key file is of type `{other}`, not `service_account`; an `external_account` or `authorized_user` file configures another kind of login"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_of_another_type_is_refused_by_name_and_a_broken_one_without_its_text() {
        let other = SecretString::from(
            r#"{"type":"authorized_user","client_email":"x","private_key":"y"}"#,
        );
        let err = JwtBearer::service_account(&other).unwrap_err().to_string();
        assert!(err.contains("authorized_user"), "{err}");
        let broken = SecretString::from(r#"{"private_key":"-----BEGIN hunter2"#);
        let err = JwtBearer::service_account(&broken).unwrap_err().to_string();
        assert!(
            !err.contains("hunter2") && err.contains("client_email"),
            "{err}"
        );
    }
}
