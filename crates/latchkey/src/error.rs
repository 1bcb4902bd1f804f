//! The one error type of the library, and the questions callers ask of it.

use std::sync::Arc;
use std::time::Duration;

use crate::redact::DisplayUrl;
use crate::refusal::RefusalCause;
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
    ///
    /// Boxed so `Result<HeaderValue>` stays small: the fast path returns one, and every
    /// byte of it is copied on every call.
    #[error(transparent)]
    Provider(Box<ProviderError>),

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

    /// A token endpoint refused the request with HTTP 400, 401 or 403 and an empty body: no
    /// OAuth error, against RFC 6749 §5.2 (glewlwyd answers this way). The URL was right;
    /// `causes` are the likely reasons, most likely first.
    #[error(
        "{url} refused the `{grant_type}` request with an empty HTTP {status} (no OAuth error); likely causes, most likely first: {}",
        crate::refusal::numbered(causes)
    )]
    TokenRefused {
        /// The token endpoint, redacted.
        url: DisplayUrl,
        /// The HTTP status code.
        status: u16,
        /// The `grant_type` that was sent.
        grant_type: String,
        /// The likely reasons, most likely first.
        causes: Vec<RefusalCause>,
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

    /// A resource refused the token because the sign-in behind it is too weak or too old
    /// (RFC 9470 `insufficient_user_authentication`): a new login that asks for what it
    /// carries is needed; renewing the token cannot help.
    #[error("the resource asks for a stronger or more recent sign-in: {0}")]
    StepUpRequired(crate::step_up::StepUp),

    /// The token store failed.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// An interactive login (browser or device code) did not complete.
    #[error(transparent)]
    Login(#[from] LoginError),
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

    /// A token another system provides (a workload token file, the CI runner's ID token, an
    /// environment variable) could not be had.
    #[error("cannot get a token from {from}: {reason}")]
    TokenSource {
        /// Where the token was asked for (a path, a variable name, a URL without its query).
        from: String,
        /// What went wrong and what to do.
        reason: String,
    },
}

impl From<crate::token::InvalidTokenHeader> for Error {
    fn from(err: crate::token::InvalidTokenHeader) -> Self {
        Error::Config(err.to_string())
    }
}

impl From<ProviderError> for Error {
    fn from(err: ProviderError) -> Self {
        Error::Provider(Box::new(err))
    }
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
    /// The server's `Retry-After` (with 429 / 503), when it sent one.
    pub retry_after: Option<Duration>,
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
    ///
    /// `slow_down` is not: it is a device-flow polling signal that asks for a *longer*
    /// interval (RFC 8628 §3.5), which only the poller can honour; a generic quick retry
    /// would defeat it.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Network { .. } => true,
            Error::HttpStatus { status, .. } => *status == 429 || *status >= 500,
            Error::Provider(p) => {
                p.status == 429
                    || p.status >= 500
                    || p.error == "temporarily_unavailable"
                    || p.error == "server_error"
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

    /// Whether a refresh was refused because of its refresh token: `invalid_grant`, or an
    /// empty 400 to a `refresh_token` request whose likeliest cause is the token (glewlwyd's
    /// way of saying `invalid_grant`). The session then re-authenticates or needs a login.
    pub(crate) fn rejects_refresh_token(&self) -> bool {
        self.is_invalid_grant()
            // GitHub's name for it, sent with HTTP 200 (docs.github.com, "Refreshing user
            // access tokens").
            || matches!(self, Error::Provider(p) if p.error == "bad_refresh_token")
            || matches!(
                self,
                Error::TokenRefused { status: 400, grant_type, causes, .. }
                    if grant_type == "refresh_token"
                        && causes.first() == Some(&RefusalCause::RefreshToken)
            )
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
            Error::Provider(p) => p.retry_after,
            _ => None,
        }
    }

    /// What the user should try next, in one sentence.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            Error::Provider(p) => match p.error.as_str() {
                // `incorrect_client_credentials`, `bad_verification_code`, `bad_refresh_token`:
                // GitHub's names for `invalid_client` and `invalid_grant` (docs.github.com,
                // "Troubleshooting OAuth app access token request errors").
                "invalid_client" | "incorrect_client_credentials" => "check the client id and secret (for mutual TLS: that the client certificate is the registered one and is presented, `client_cert` and `client_key`), and that `client_auth` matches the method the client is registered with",
                "bad_verification_code" | "bad_refresh_token" => "the code or refresh token is wrong, expired or already used: log in again",
                "invalid_grant" => "the credentials, code or refresh token were rejected: check username, password and TOTP code, or log in again",
                "unauthorized_client" => "the client is not allowed to use this grant type: enable it for the client at the identity provider",
                "invalid_scope" => "ask only for scopes the client is allowed to request",
                "invalid_target" => "the provider issues no token for the `audience` or `resource` asked for (RFC 8693 §2.2.2): check them, and that this client may ask for them",
                "unsupported_grant_type" => "the identity provider does not support this grant: pick another `auth` kind",
                _ if self.is_retryable() => "the identity provider is having trouble: try again shortly",
                _ => return None,
            }
            .to_string(),
            Error::Network { .. } => "check the URL, your network and that the identity provider is running".to_string(),
            // One status error serves every endpoint (token, revocation, userinfo, JWKS,
            // discovery), so the hint follows the status, not a guess at the endpoint.
            Error::HttpStatus { status, .. } => match status {
                401 | 403 => "the server refused this client or token: check the client id, secret and `client_auth`, and that the client may use this endpoint (some providers let only confidential clients revoke or introspect)",
                404 | 405 => "check that the URL points at the right endpoint of the identity provider (with `issuer` set, discovery finds them)",
                429 | 500.. => "the identity provider is busy or failing: try again later",
                _ => "check that the URL points at the right endpoint of the identity provider",
            }
            .to_string(),
            Error::TokenRefused { causes, .. } => match causes.as_slice() {
                [] => return None,
                [only] => only.hint().to_string(),
                [first, second, ..] => format!("{}; if that is not it: {}", first.hint(), second.hint()),
            },
            Error::InvalidResponse { .. } => {
                "the endpoint may not be an OAuth 2 token endpoint: check the URL or the provider preset".to_string()
            }
            Error::LoginRequired { key, .. } => format!(
                "log in interactively for `{key}` (`TokenManager::login`), or give the manager a grant that can run unattended"
            ),
            Error::StepUpRequired(_) => "log in again asking for it: `AuthorizationRequestBuilder::step_up` (CLI: `latchkey login --acr-values … --max-age …`)".to_string(),
            Error::Store(e) => return e.hint(),
            Error::Login(e) => e.hint(),
            Error::Oidc(e) => return e.hint(),
            Error::IdToken(e) => return e.hint(),
            Error::Config(_) | Error::Internal(_) | Error::TokenSource { .. } => return None,
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

/// Why an interactive login (authorization code or device flow) did not complete.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The user (or the identity provider on their behalf) refused the authorization
    /// (`access_denied`, RFC 6749 §4.1.2.1 / RFC 8628 §3.5).
    #[error("the login was denied{}", description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    AccessDenied {
        /// The provider's `error_description`, when sent.
        description: Option<String>,
    },

    /// The authorization redirect carried another OAuth error (RFC 6749 §4.1.2.1).
    #[error("the identity provider refused the login: {error}{}", description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Authorization {
        /// The `error` code, e.g. `invalid_scope`.
        error: String,
        /// The `error_description`, when sent.
        description: Option<String>,
    },

    /// No authorization redirect arrived in time.
    #[error("no login response arrived at {redirect_uri} within {} s", waited.as_secs())]
    Timeout {
        /// The redirect URI the receiver listened on.
        redirect_uri: String,
        /// How long it waited.
        waited: Duration,
    },

    /// The redirect's `state` is missing or not the one sent (RFC 6749 §10.12: possible CSRF).
    #[error("the login response does not belong to this login (`state` mismatch)")]
    StateMismatch,

    /// The redirect's `iss` is missing or names another issuer (RFC 9207 §2.4: possible mix-up).
    #[error("the login response came from issuer {got:?}, expected `{expected}`")]
    IssuerMismatch {
        /// The issuer the login was sent to.
        expected: String,
        /// The `iss` in the redirect, if any.
        got: Option<String>,
    },

    /// The redirect could not be used (no `code`, malformed URL, …).
    #[error("the login response cannot be used: {0}")]
    InvalidRedirect(String),

    /// The loopback receiver's port is taken by another program.
    #[error("cannot listen for the login redirect: port {port} is already in use")]
    PortInUse {
        /// The port from the redirect URI.
        port: u16,
    },

    /// The loopback receiver could not listen for another reason.
    #[error("cannot listen for the login redirect on {addr}: {detail}")]
    Bind {
        /// The socket address.
        addr: String,
        /// The operating system's reason.
        detail: String,
    },

    /// The device code expired before the user approved it (`expired_token`, RFC 8628 §3.5).
    #[error("the device code expired before the login was approved")]
    DeviceCodeExpired,

    /// A login that asked for a step-up (RFC 9470) came back without it.
    #[error("the login did not give the sign-in asked for ({asked}): {reason}")]
    StepUpNotMet {
        /// What the login asked for.
        asked: crate::step_up::StepUp,
        /// What the ID token showed instead.
        reason: String,
    },
}

impl LoginError {
    /// What the user should try next.
    pub fn hint(&self) -> String {
        match self {
            LoginError::AccessDenied { .. } => {
                "approve the request in the browser, or check that the account may use this client"
                    .into()
            }
            LoginError::Authorization { .. } => {
                "check the client id, scopes and redirect URI registered at the identity provider"
                    .into()
            }
            LoginError::Timeout { .. } => {
                "run the login again and finish it in the browser; without a browser on this machine print the URL instead (`BrowserMode::Never`) or use the device grant".into()
            }
            LoginError::StateMismatch => {
                "start the login again and use only the newest browser tab".into()
            }
            LoginError::IssuerMismatch { .. } => {
                "the response came from another identity provider: check the issuer and do not reuse browser tabs across providers".into()
            }
            LoginError::InvalidRedirect(_) => {
                "start the login again; if it repeats, check the redirect URI".into()
            }
            LoginError::PortInUse { port } => format!(
                "stop the program using port {port}, or use a redirect URI with port 0 when the client allows any loopback port"
            ),
            LoginError::Bind { .. } => {
                "check that the redirect URI's host is 127.0.0.1, [::1] or localhost".into()
            }
            LoginError::DeviceCodeExpired => {
                "run the login again and enter the code before it expires".into()
            }
            LoginError::StepUpNotMet { .. } => {
                "sign in with the method the resource asks for (a second factor, say); if the identity provider does not offer it, ask its administrators".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> Error {
        let url = url::Url::parse("https://idp.example.org/revoke").expect("a valid URL");
        Error::HttpStatus {
            url: DisplayUrl::new(&url),
            status,
            retry_after: None,
        }
    }

    /// The status error serves every endpoint: a refused revocation (glewlwyd answers a
    /// public client's revocation with a bare 401) must not be blamed on the token URL.
    #[test]
    fn a_status_hint_follows_the_status_not_the_token_endpoint() {
        let refused = status(401).hint().unwrap_or_default();
        assert!(refused.contains("refused this client"), "{refused}");
        assert!(!refused.contains("token endpoint"), "{refused}");
        let missing = status(404).hint().unwrap_or_default();
        assert!(missing.contains("right endpoint"), "{missing}");
        let failing = status(503).hint().unwrap_or_default();
        assert!(failing.contains("try again later"), "{failing}");
    }
}
