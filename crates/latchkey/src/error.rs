//! The one error type of the library, and the questions callers ask of it.

use std::sync::Arc;
use std::time::Duration;

use crate::redact::DisplayUrl;
use crate::store::StoreError;

/// Everything that can go wrong while authenticating a request.
///
/// Errors are `Clone` because one refresh may fail for a thousand waiting tasks at once.
/// Messages name the object involved (a redacted URL, a store path, a profile key) and keep the
/// identity provider's `error` / `error_description`; [`Error::hint`] says what to do next.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The identity provider answered with an OAuth error (RFC 6749 §5.2).
    #[error(transparent)]
    Provider(#[from] ProviderError),

    /// The identity provider could not be reached, or the connection broke.
    #[error("could not reach {url}: {detail}")]
    Network {
        /// The endpoint, redacted.
        url: DisplayUrl,
        /// What happened, without the URL.
        detail: String,
        /// Whether the request timed out.
        timed_out: bool,
        /// Whether the connection was never established (so the request surely did not arrive).
        connect: bool,
        /// The underlying transport error.
        #[source]
        source: Option<Arc<reqwest::Error>>,
    },

    /// An HTTP error status without an OAuth error body (for example a 502 from a proxy).
    #[error("{url} answered HTTP {status}{}", retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    HttpStatus {
        /// The endpoint, redacted.
        url: DisplayUrl,
        /// The HTTP status code.
        status: u16,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },

    /// The response could not be understood (malformed JSON, no `access_token`, …).
    #[error("{url} sent a response latchkey cannot use: {reason}")]
    InvalidResponse {
        /// The endpoint, redacted.
        url: DisplayUrl,
        /// What is wrong with it (never the body itself: it may hold secrets).
        reason: String,
    },

    /// No token can be obtained without a person: the refresh token is gone or rejected and
    /// the grant cannot run unattended.
    #[error("login required for `{key}`: {reason}")]
    LoginRequired {
        /// The token key (usually the profile name).
        key: String,
        /// Why the existing session cannot continue.
        reason: String,
    },

    /// The token store failed.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// OpenID Connect / OAuth metadata problems: discovery, JWKS, userinfo, introspection.
    #[error(transparent)]
    Oidc(#[from] crate::oidc::OidcError),

    /// An ID token failed validation (OIDC Core §3.1.3.7).
    #[error(transparent)]
    IdToken(#[from] crate::oidc::IdTokenError),

    /// The configuration is invalid; the message names the bad field.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A bug or a runtime failure inside latchkey (for example a panicked refresh task).
    #[error("internal error: {0}")]
    Internal(String),
}

/// An OAuth error response from the identity provider (RFC 6749 §5.2).
#[derive(Debug, Clone, thiserror::Error)]
#[error("identity provider refused the request to {endpoint}: {error}{} (HTTP {status})", description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct ProviderError {
    /// The endpoint that answered, redacted.
    pub endpoint: DisplayUrl,
    /// The HTTP status (GitHub sends errors with 200).
    pub status: u16,
    /// The `error` code, e.g. `invalid_grant`.
    pub error: String,
    /// The `error_description`, when sent.
    pub description: Option<String>,
    /// The `error_uri`, when sent.
    pub uri: Option<String>,
}

impl ProviderError {
    /// Whether the grant or refresh token was rejected (`invalid_grant`).
    pub fn is_invalid_grant(&self) -> bool {
        self.error == "invalid_grant"
    }
}

impl Error {
    /// Whether trying the same request again later may succeed (connect errors, timeouts,
    /// 5xx, 429, `temporarily_unavailable`).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Network { .. } => true,
            Error::HttpStatus { status, .. } => *status == 429 || *status >= 500,
            Error::Provider(p) => {
                p.status == 429
                    || p.status >= 500
                    || p.error == "temporarily_unavailable"
                    || p.error == "server_error"
                    || p.error == "slow_down"
            }
            _ => false,
        }
    }

    /// Whether a person has to log in again before a token can be had.
    pub fn needs_login(&self) -> bool {
        matches!(self, Error::LoginRequired { .. })
    }

    /// Whether the provider rejected a grant or refresh token (`invalid_grant`).
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, Error::Provider(p) if p.is_invalid_grant())
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Error::Network {
                timed_out: true,
                ..
            }
        )
    }

    /// The server's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::HttpStatus { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// What the user should try next, in one sentence.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            Error::Provider(p) => match p.error.as_str() {
                "invalid_client" => "check the client id and secret, and that `client_auth` matches the method the client is registered with",
                "invalid_grant" => "the credentials, code or refresh token were rejected: check username, password and TOTP code, or log in again",
                "unauthorized_client" => "the client is not allowed to use this grant type: enable it for the client at the identity provider",
                "invalid_scope" => "ask only for scopes the client is allowed to request",
                "unsupported_grant_type" => "the identity provider does not support this grant: pick another `auth` kind",
                _ if self.is_retryable() => "the identity provider is having trouble: try again shortly",
                _ => return None,
            }
            .to_string(),
            Error::Network { .. } => "check the URL, your network and that the identity provider is running".to_string(),
            Error::HttpStatus { .. } => "check that the URL points at the identity provider's token endpoint".to_string(),
            Error::InvalidResponse { .. } => {
                "the endpoint may not be an OAuth 2 token endpoint: check the URL or the provider preset".to_string()
            }
            Error::LoginRequired { key, .. } => format!("run `latchkey login {key}`"),
            Error::Store(e) => return e.hint(),
            Error::Oidc(e) => return e.hint(),
            Error::IdToken(e) => return e.hint(),
            Error::Config(_) | Error::Internal(_) => return None,
        };
        Some(hint)
    }

    pub(crate) fn network(url: &url::Url, err: reqwest::Error) -> Self {
        // reqwest puts the full URL in its message; strip it, we show a redacted one.
        let err = err.without_url();
        let timed_out = err.is_timeout();
        let connect = err.is_connect();
        let mut detail = err.to_string();
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&err);
        while let Some(cause) = source {
            detail.push_str(": ");
            detail.push_str(&cause.to_string());
            source = cause.source();
        }
        Error::Network {
            url: DisplayUrl::new(url),
            detail,
            timed_out,
            connect,
            source: Some(Arc::new(err)),
        }
    }
}

/// A shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
