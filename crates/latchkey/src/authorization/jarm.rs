//! JWT-secured authorization responses (JARM, OpenID FAPI JARM §4): the redirect carries a
//! single `response` parameter, a JWT signed by the provider whose claims are the response
//! (`code`, `state`, `error`…). It is validated like an ID token (signature against the
//! provider's JWKS, `iss`, `aud` = this client, `exp`) before any claim is believed.

use std::borrow::Cow;
use std::fmt;

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde::Deserialize;

use crate::oidc::JwksCache;
use crate::redact::{UNTRUSTED_SHOWN_CHARS, untrusted};

/// How the authorization response comes back (a profile's `response_mode = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ResponseMode {
    /// Plain query parameters (`code`, `state`, `iss`), the default unless the provider
    /// offers only JWT response modes.
    #[default]
    Query,
    /// A JWT signed by the provider (JARM), sent as `response_mode=query.jwt`.
    Jwt,
}

/// The `response_mode` a loopback or web callback asks for: the JWT in the query.
pub(crate) const RESPONSE_MODE: &str = "query.jwt";

/// Signature algorithms a JARM response may use: asymmetric only, so the public JWKS
/// cannot be turned into an HMAC key.
const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;

/// What a JARM response must match: the provider's keys, its issuer and this client.
#[derive(Clone)]
pub(crate) struct JarmCheck {
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) jwks: JwksCache,
}

impl fmt::Debug for JarmCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JarmCheck")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Query pairs, as `url` yields them.
type Pairs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

#[derive(Deserialize)]
struct Claims {
    iss: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

impl JarmCheck {
    /// Opens the `response` JWT among `pairs` and returns its claims as the pairs of a
    /// plain response (`iss` included, for the RFC 9207 check that follows). The error says
    /// why the response cannot be believed; it never quotes the token.
    pub(crate) fn open<'a, I>(&self, pairs: I) -> Result<Pairs<'a>, String>
    where
        I: IntoIterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
    {
        let mut responses = pairs.into_iter().filter(|(name, _)| name == "response");
        let jwt = match (responses.next(), responses.next()) {
            (Some((_, jwt)), None) => jwt,
            (None, _) => {
                return Err(
                    "it carries no `response` JWT although `response_mode=jwt` was asked".into(),
                );
            }
            (Some(_), Some(_)) => return Err("the parameter `response` appears twice".into()),
        };
        let claims = self.verify(&jwt)?;
        let mut out = vec![(Cow::Borrowed("iss"), Cow::Owned(claims.iss))];
        for (name, value) in [
            ("state", claims.state),
            ("code", claims.code),
            ("error", claims.error),
            ("error_description", claims.error_description),
        ] {
            if let Some(value) = value {
                out.push((Cow::Borrowed(name), Cow::Owned(value)));
            }
        }
        Ok(out)
    }

    fn verify(&self, jwt: &str) -> Result<Claims, String> {
        // Parse errors can quote the token's bytes: only the kind of failure is told.
        let header = decode_header(jwt)
            .map_err(|_| String::from("the `response` JWT has no readable JWS header"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(format!(
                "the `response` JWT is signed with {:?}, which latchkey does not accept",
                header.alg
            ));
        }
        let key = self
            .jwks
            .cached(header.kid.as_deref(), header.alg)
            .ok_or_else(|| {
                format!(
                    "the `response` JWT names a key the provider does not publish (kid {})",
                    header
                        .kid
                        .as_deref()
                        .map_or_else(|| "none".into(), |k| untrusted(k, UNTRUSTED_SHOWN_CHARS))
                )
            })?;
        key.check(header.alg).map_err(|e| e.to_string())?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        decode::<Claims>(jwt, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::InvalidSignature => {
                        "the `response` JWT's signature does not verify against the provider's keys"
                            .into()
                    }
                    ErrorKind::InvalidAudience => format!(
                        "the `response` JWT is addressed to another client, not `{}`",
                        self.client_id
                    ),
                    ErrorKind::InvalidIssuer => format!(
                        "the `response` JWT was issued by another issuer, not `{}`",
                        self.issuer
                    ),
                    ErrorKind::ExpiredSignature => "the `response` JWT has expired".into(),
                    ErrorKind::ImmatureSignature => "the `response` JWT is not valid yet".into(),
                    ErrorKind::MissingRequiredClaim(claim) => {
                        format!("the `response` JWT has no `{claim}` claim")
                    }
                    _ => "the `response` JWT cannot be decoded or its claims are invalid".into(),
                }
            })
    }
}
