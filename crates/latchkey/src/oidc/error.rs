//! The OIDC error kinds, nested in [`crate::Error::Oidc`] and [`crate::Error::IdToken`].
//!
//! Messages name the issuer or a redacted URL and never quote a token or a response body;
//! a value taken from a token (a `kid`, an `iss`, an `azp`) is cut and escaped first, and
//! claim values never appear.

use crate::redact::DisplayUrl;

/// Discovery, JWKS, userinfo and introspection problems.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// No authorization server answers there: neither discovery document exists (404, an
    /// HTML login page, not JSON), or the token endpoint answers like a web page rather than
    /// with an OAuth error (DHIS2 without its authorization server sends an HTML 401).
    #[error(
        "{url} does not expose OAuth2/OIDC endpoints ({reason}) — {}",
        server_setup.first().copied().unwrap_or("enable the provider's OAuth2 server")
    )]
    NotAnAuthorizationServer {
        /// The issuer, discovery or token endpoint URL that was tried, redacted.
        url: DisplayUrl,
        /// What came back instead (e.g. `HTTP 404`, `an HTML page`).
        reason: String,
        /// What the server needs to expose them, from the provider preset
        /// ([`crate::Preset::server_setup`]); empty when latchkey does not know the server.
        server_setup: &'static [&'static str],
    },

    /// The metadata names another issuer than the one asked for (OIDC Discovery §4.3): a
    /// mix-up or a proxy rewriting URLs.
    #[error("discovery for `{requested}` returned issuer `{advertised}`")]
    IssuerMismatch {
        /// The issuer the caller configured.
        requested: String,
        /// The `issuer` in the metadata.
        advertised: String,
    },

    /// A required endpoint is missing from the metadata.
    #[error("the metadata of `{issuer}` has no `{field}`")]
    MissingEndpoint {
        /// The issuer.
        issuer: String,
        /// The missing metadata field, e.g. `token_endpoint`.
        field: &'static str,
    },

    /// The metadata, JWKS or another OIDC document is malformed.
    #[error("{url} sent an unusable document: {reason}")]
    InvalidDocument {
        /// The endpoint, redacted.
        url: DisplayUrl,
        /// What is wrong (never the body itself).
        reason: String,
    },

    /// `Preset::by_name` was given an unknown name.
    #[error("unknown preset `{name}`; valid presets: {valid}")]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The valid names, comma-separated.
        valid: String,
    },
}

impl OidcError {
    /// What the user should try next.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            OidcError::NotAnAuthorizationServer { server_setup, .. }
                if !server_setup.is_empty() =>
            {
                let steps: Vec<String> = server_setup.iter().map(|s| format!("\n  - {s}")).collect();
                format!(
                    "the server has no authorization server running; it needs all of these{}",
                    steps.concat()
                )
            }
            OidcError::NotAnAuthorizationServer { .. } => {
                "check the issuer or token URL (Keycloak: https://host/realms/<realm>; Microsoft: https://login.microsoftonline.com/<tenant>/v2.0), or configure `token_url` explicitly / use a preset".into()
            }
            OidcError::IssuerMismatch { advertised, .. } => format!(
                "set the issuer to exactly `{advertised}` if you trust it; a reverse proxy may be rewriting the host"
            ),
            OidcError::MissingEndpoint { field, .. } => format!(
                "the provider does not announce `{field}`: configure that URL explicitly"
            ),
            OidcError::InvalidDocument { .. } => {
                "the URL may not belong to an OAuth 2 / OIDC provider: check it, or the provider preset".into()
            }
            OidcError::UnknownPreset { valid, .. } => format!("use one of: {valid}"),
        })
    }
}

/// Why an ID token was rejected (OIDC Core §3.1.3.7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// The token is not a well-formed JWS, or its header cannot be read (this is also where
    /// `alg: none` ends: it is not a signature algorithm latchkey knows).
    #[error("the id token is malformed: {0}")]
    Malformed(String),

    /// The header's `alg` is not in the allow-list.
    #[error("the id token is signed with {alg}, which is not allowed (allowed: {allowed})")]
    AlgorithmNotAllowed {
        /// The header's `alg`.
        alg: String,
        /// The allowed algorithms.
        allowed: String,
    },

    /// No key in the provider's JWKS has the token's `kid`, even after a refetch.
    #[error("no signing key `{}` in the provider's JWKS", kid.as_deref().unwrap_or("<none>"))]
    UnknownKey {
        /// The header's `kid`: its first 64 characters, escaped (the token is untrusted).
        kid: Option<String>,
    },

    /// The key the `kid` names cannot verify this `alg` (e.g. HS256 with an RSA key).
    #[error("the id token's algorithm {alg} does not match its key: {reason}")]
    KeyMismatch {
        /// The header's `alg`.
        alg: String,
        /// Why they do not match.
        reason: String,
    },

    /// The signature does not verify.
    #[error("the id token's signature is invalid")]
    InvalidSignature,

    /// `exp` is in the past (beyond the leeway).
    #[error("the id token has expired")]
    Expired,

    /// `nbf` is in the future (beyond the leeway).
    #[error("the id token is not valid yet (nbf)")]
    NotYetValid,

    /// `iat` is in the future (beyond the leeway).
    #[error("the id token was issued in the future (iat): check the clocks")]
    IssuedInFuture,

    /// `iss` is not the provider's issuer.
    #[error("the id token's issuer `{found}` is not `{expected}`")]
    WrongIssuer {
        /// The expected issuer.
        expected: String,
        /// The token's `iss`: its first 64 characters, escaped (the token is untrusted).
        found: String,
    },

    /// `aud` does not contain the client id.
    #[error("the id token's audience does not include client `{client_id}`")]
    WrongAudience {
        /// The client id.
        client_id: String,
    },

    /// `azp` is missing with several audiences, or is not the client id.
    #[error("the id token's authorized party (azp) is wrong: {0}")]
    AuthorizedParty(String),

    /// The `nonce` is missing or is not the one sent in the authorization request.
    #[error("the id token's nonce {0}")]
    Nonce(&'static str),

    /// A required claim is missing or has the wrong type.
    #[error("the id token's claim `{0}` is missing or invalid")]
    Claim(String),
}

impl IdTokenError {
    /// What the user should try next.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            IdTokenError::Expired | IdTokenError::NotYetValid | IdTokenError::IssuedInFuture => {
                "check that this machine's clock is right, then log in again"
            }
            IdTokenError::UnknownKey { .. } => {
                "the provider may have rotated its keys: try again in a minute, or log in again"
            }
            IdTokenError::WrongIssuer { .. } => {
                "check the configured issuer against the provider's discovery document"
            }
            IdTokenError::WrongAudience { .. } | IdTokenError::AuthorizedParty(_) => {
                "check the client id: the token was issued to another client"
            }
            IdTokenError::Nonce(_) => {
                "start the login again: the response does not belong to this login attempt"
            }
            _ => "the id token cannot be trusted: log in again, and report it if it persists",
        };
        Some(hint.into())
    }
}
