//! ID token validation (OIDC Core §3.1.3.7), with `jsonwebtoken` doing the JWS work.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, Validation, decode, decode_header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use subtle::ConstantTimeEq;

use super::error::IdTokenError;
use super::jwks::JwksCache;
use crate::error::{Error, Result};
use crate::redact::{UNTRUSTED_SHOWN_CHARS, scrub_serde_error, untrusted};

/// The placeholder in Microsoft's multi-tenant issuer (`…/{tenantid}/v2.0`).
pub(crate) const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// The issuer a token from tenant `tid` must carry, given an issuer that may be a
/// Microsoft-style `{tenantid}` template (the template itself never matches a token).
pub fn issuer_from_template(template: &str, tid: &str) -> String {
    template.replace(TENANT_PLACEHOLDER, tid)
}

/// `aud`: one string or an array (OIDC Core §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// The audiences.
    pub fn as_slice(&self) -> &[String] {
        match self {
            Audience::One(a) => std::slice::from_ref(a),
            Audience::Many(v) => v,
        }
    }
}

/// The claims of a validated ID token: the standard ones typed, everything else in `extra`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user's stable id at this issuer.
    pub sub: String,
    /// Audience(s).
    pub aud: Audience,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<u64>,
    /// When the user authenticated.
    #[serde(default)]
    pub auth_time: Option<u64>,
    /// The nonce of the authorization request.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Authorized party.
    #[serde(default)]
    pub azp: Option<String>,
    /// Session id.
    #[serde(default)]
    pub sid: Option<String>,
    /// Microsoft tenant id.
    #[serde(default)]
    pub tid: Option<String>,
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Preferred username.
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the email is verified (some providers send `"true"` as a string).
    #[serde(default, deserialize_with = "bool_or_string")]
    pub email_verified: Option<bool>,
    /// Picture URL.
    #[serde(default)]
    pub picture: Option<String>,
    /// Locale.
    #[serde(default)]
    pub locale: Option<String>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Bool(b)) => Some(b),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    })
}

/// Validates ID tokens of one client at one provider. Cheap to clone, `Send + Sync`.
#[derive(Debug, Clone)]
pub struct IdTokenValidator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client_id: String,
    issuer: String,
    algorithms: Vec<Algorithm>,
    leeway: u64,
    jwks: JwksCache,
    /// One per allowed algorithm: jsonwebtoken wants every algorithm of a `Validation` to
    /// be of the verifying key's family.
    validations: Vec<(Algorithm, Validation)>,
}

impl IdTokenValidator {
    /// Starts building a validator for tokens from `issuer` (may be a `{tenantid}` template)
    /// to `client_id`, verified with keys from `jwks`.
    pub fn builder(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        jwks: JwksCache,
    ) -> IdTokenValidatorBuilder {
        IdTokenValidatorBuilder {
            issuer: issuer.into(),
            client_id: client_id.into(),
            jwks,
            algorithms: vec![Algorithm::RS256],
            leeway: Duration::from_secs(60),
        }
    }

    /// The `jsonwebtoken` validation applied for `alg` to the signature and registered
    /// claims (the issuer, `iat`, `azp` and `nonce` checks come on top); `None` when `alg`
    /// is not allowed.
    pub fn validation(&self, alg: Algorithm) -> Option<&Validation> {
        self.inner
            .validations
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, v)| v)
    }

    /// Validates `token`; `nonce` is the value sent in the authorization request, if any
    /// (the password grant has none).
    pub async fn validate(
        &self,
        token: &SecretString,
        nonce: Option<&str>,
    ) -> Result<IdTokenClaims> {
        let inner = &*self.inner;
        let token = token.expose_secret();
        // `alg: none` and unknown algorithms fail here: jsonwebtoken has no such variant.
        let header = decode_header(token).map_err(|e| match unknown_algorithm(token) {
            Some(alg) => IdTokenError::Malformed(format!(
                "header: the algorithm `{alg}` is not a signature algorithm latchkey accepts"
            )),
            None => IdTokenError::Malformed(format!("header: {}", describe(e.kind()))),
        })?;
        let Some(validation) = self.validation(header.alg) else {
            return Err(IdTokenError::AlgorithmNotAllowed {
                alg: format!("{:?}", header.alg),
                allowed: alg_list(&inner.algorithms),
            }
            .into());
        };
        let key = inner.jwks.key(header.kid.as_deref(), header.alg).await?;
        key.check(header.alg)?;
        let claims = decode::<IdTokenClaims>(token, &key.decoding, validation)
            .map_err(|e| map_jwt_error(e.kind(), header.alg, &inner.client_id))?
            .claims;
        self.check_claims(&claims, nonce)?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &IdTokenClaims, nonce: Option<&str>) -> Result<()> {
        let inner = &*self.inner;
        // Microsoft's multi-tenant issuer: the token's own `tid` completes the template.
        let expected = if inner.issuer.contains(TENANT_PLACEHOLDER) {
            let tid = claims
                .tid
                .as_deref()
                .ok_or_else(|| IdTokenError::Claim("tid".into()))?;
            issuer_from_template(&inner.issuer, tid)
        } else {
            inner.issuer.clone()
        };
        if claims.iss != expected {
            return Err(IdTokenError::WrongIssuer {
                expected,
                found: untrusted(&claims.iss, UNTRUSTED_SHOWN_CHARS),
            }
            .into());
        }
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if claims.iat > now.saturating_add(inner.leeway) {
            return Err(IdTokenError::IssuedInFuture.into());
        }
        // OIDC Core §3.1.3.7 items 4 and 5.
        let audiences = claims.aud.as_slice();
        match &claims.azp {
            None if audiences.len() > 1 => {
                return Err(IdTokenError::AuthorizedParty(
                    "missing although the token has several audiences".into(),
                )
                .into());
            }
            Some(azp) if *azp != inner.client_id => {
                return Err(IdTokenError::AuthorizedParty(format!(
                    "`{}` is not this client",
                    untrusted(azp, UNTRUSTED_SHOWN_CHARS)
                ))
                .into());
            }
            _ => {}
        }
        if let Some(expected) = nonce {
            let got = claims
                .nonce
                .as_deref()
                .ok_or(IdTokenError::Nonce("is missing"))?;
            // Constant time: the comparison must not tell an attacker how much of a guess matched.
            if !bool::from(got.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(IdTokenError::Nonce("does not match the login request").into());
            }
        }
        Ok(())
    }
}

fn alg_list(algs: &[Algorithm]) -> String {
    algs.iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn map_jwt_error(kind: &ErrorKind, alg: Algorithm, client_id: &str) -> Error {
    let e = match kind {
        ErrorKind::InvalidSignature => IdTokenError::InvalidSignature,
        ErrorKind::ExpiredSignature => IdTokenError::Expired,
        ErrorKind::ImmatureSignature => IdTokenError::NotYetValid,
        ErrorKind::InvalidAudience => IdTokenError::WrongAudience {
            client_id: client_id.into(),
        },
        ErrorKind::MissingRequiredClaim(c) => IdTokenError::Claim(c.clone()),
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey => IdTokenError::KeyMismatch {
            alg: format!("{alg:?}"),
            reason: format!("{kind:?}"),
        },
        ErrorKind::Json(_) => IdTokenError::Malformed(format!("claims: {}", describe(kind))),
        other => IdTokenError::Malformed(describe(other)),
    };
    e.into()
}

/// The header's `alg` when it is a string jsonwebtoken has no algorithm for (`none`, a typo),
/// cut and escaped: the scrubbed serde message no longer names it, and it is what the user
/// needs to see.
fn unknown_algorithm(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let header: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let alg = header.get("alg")?.as_str()?;
    alg.parse::<Algorithm>()
        .is_err()
        .then(|| untrusted(alg, UNTRUSTED_SHOWN_CHARS))
}

/// What is wrong with a token part, without its content: serde's own message quotes the
/// claim value (`invalid type: string "jane@…"`), personal data that must not reach logs or
/// an error page, and the `Debug` of a UTF-8 error lists every byte of the part.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::Json(e) => scrub_serde_error(e),
        ErrorKind::Utf8(e) => format!("not UTF-8 ({})", e.utf8_error()),
        ErrorKind::Base64(e) => format!("not base64url ({e})"),
        other => format!("{other:?}"),
    }
}

/// Builds an [`IdTokenValidator`].
#[derive(Debug)]
pub struct IdTokenValidatorBuilder {
    issuer: String,
    client_id: String,
    jwks: JwksCache,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
}

impl IdTokenValidatorBuilder {
    /// The accepted signing algorithms (default RS256; from discovery, the provider's
    /// `id_token_signing_alg_values_supported`). HMAC algorithms are refused at `build()`.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Clock skew tolerated for `exp`, `nbf` and `iat` (default 60 s). Separate from the
    /// token manager's refresh margin.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Checks the settings and builds the validator.
    pub fn build(self) -> Result<IdTokenValidator> {
        if self.client_id.is_empty() {
            return Err(Error::Config("`client_id` is empty".into()));
        }
        if self.issuer.is_empty() {
            return Err(Error::Config("`issuer` is empty".into()));
        }
        if self.algorithms.is_empty() {
            return Err(Error::Config("`algorithms` is empty".into()));
        }
        if self
            .algorithms
            .iter()
            .any(|a| a.family() == AlgorithmFamily::Hmac)
        {
            // HS* ID tokens are keyed with the client secret, not the JWKS; accepting them
            // next to public keys is how RS/HS confusion forgeries work.
            return Err(Error::Config(
                "`algorithms`: HMAC (HS256/384/512) ID tokens are not supported".into(),
            ));
        }
        let validations = self
            .algorithms
            .iter()
            .map(|&alg| {
                let mut validation = Validation::new(alg);
                validation.leeway = self.leeway.as_secs();
                validation.validate_nbf = true;
                validation.set_audience(&[&self.client_id]);
                // The issuer is compared after decoding (it may be a template); it must be present.
                validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
                (alg, validation)
            })
            .collect();
        Ok(IdTokenValidator {
            inner: Arc::new(Inner {
                client_id: self.client_id,
                issuer: self.issuer,
                algorithms: self.algorithms,
                leeway: self.leeway.as_secs(),
                jwks: self.jwks,
                validations,
            }),
        })
    }
}

/// Algorithms from `id_token_signing_alg_values_supported`, minus `none`, HMAC and names
/// jsonwebtoken does not know; RS256 when nothing usable is left (OIDC Discovery §3).
pub(crate) fn algorithms_from_metadata(names: &[String]) -> Vec<Algorithm> {
    let algs: Vec<Algorithm> = names
        .iter()
        .filter_map(|n| n.parse::<Algorithm>().ok())
        .filter(|a| a.family() != AlgorithmFamily::Hmac)
        .collect();
    if algs.is_empty() {
        vec![Algorithm::RS256]
    } else {
        algs
    }
}

/// Plugs the validator into a browser login: the ID token of the code exchange is checked
/// (signature, `iss`, `aud`, `exp`, `nonce`…) before the tokens are handed out. A response
/// without an ID token passes only when `openid` was not granted.
#[async_trait::async_trait]
impl crate::authorization::IdTokenCheck for IdTokenValidator {
    async fn check(&self, tokens: &crate::token::TokenSet, nonce: &SecretString) -> Result<()> {
        match tokens.id_token() {
            Some(id_token) => self
                .validate(id_token, Some(nonce.expose_secret()))
                .await
                .map(drop),
            // Asked for and granted `openid` but no ID token: refuse rather than silently
            // skip the check (a downgrade would bypass the nonce).
            None if tokens.scopes().iter().any(|s| s == "openid") => Err(IdTokenError::Malformed(
                "the provider granted `openid` but sent no ID token".into(),
            )
            .into()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_algorithms_drop_none_and_hmac() {
        let names = ["none", "HS256", "RS256", "ES256", "XX1"].map(String::from);
        assert_eq!(
            algorithms_from_metadata(&names),
            [Algorithm::RS256, Algorithm::ES256]
        );
        assert_eq!(algorithms_from_metadata(&[]), [Algorithm::RS256]);
    }

    #[test]
    fn tenant_template() {
        assert_eq!(
            issuer_from_template("https://login.microsoftonline.com/{tenantid}/v2.0", "t1"),
            "https://login.microsoftonline.com/t1/v2.0"
        );
    }

    #[test]
    fn audience_shapes_and_tolerant_email_verified() {
        let c: IdTokenClaims = serde_json::from_str(
            r#"{"iss":"i","sub":"s","aud":["a","b"],"exp":1,"iat":1,"email_verified":"true","x":1}"#,
        )
        .unwrap();
        assert_eq!(c.aud.as_slice(), ["a", "b"]);
        assert_eq!(c.email_verified, Some(true));
        assert!(c.extra.contains_key("x"));
    }
}
