//! What can go wrong in the login routes, and what the browser is told.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error of the login routes or the [`crate::AuthenticatedUser`] extractor.
///
/// It answers with a short plain-text page (the message and the hint); messages never hold
/// tokens, codes or cookie values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebAuthError {
    /// No valid session cookie, or the session has ended.
    #[error("not signed in")]
    NotSignedIn,
    /// The callback arrived without the login cookie, or with one whose signature is wrong.
    #[error("the login cookie is missing or its signature is invalid")]
    LoginCookie,
    /// The login state is gone: it expired, or this callback was already used.
    #[error("this login has expired or was already completed")]
    LoginExpired,
    /// `return_to` is not a relative path on this site.
    #[error("`return_to` must be a relative path on this site (like `/reports?id=7`)")]
    UnsafeReturnTo,
    /// A state-changing request came from another origin (or named none).
    #[error("cross-origin request refused: origin {got} is not {expected}")]
    OriginMismatch {
        /// The `Origin` (or `Referer` origin) sent, or `none`.
        got: String,
        /// This application's origin.
        expected: String,
    },
    /// Too many logins started from one address.
    #[error("too many login attempts from this address; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited {
        /// When the window reopens.
        retry_after: Duration,
    },
    /// The session store failed.
    #[error("session store {backend} failed: {reason}")]
    Store {
        /// `memory` or `redis`.
        backend: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The builder was given something unusable.
    #[error("invalid web login configuration: {0}")]
    Config(String),
    /// latchkey failed: the login was denied, the code exchange or the ID token check failed,
    /// the identity provider is unreachable…
    #[error(transparent)]
    Latchkey(#[from] latchkey::Error),
}

impl WebAuthError {
    /// What the user (or operator) should do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            WebAuthError::NotSignedIn => "sign in at /auth/login".into(),
            WebAuthError::LoginCookie => {
                "start the login again at /auth/login in the same browser; cookies must be enabled"
                    .into()
            }
            WebAuthError::LoginExpired => "start the login again at /auth/login".into(),
            WebAuthError::UnsafeReturnTo => {
                "pass a path starting with a single `/`, without a scheme, host, backslash or encoded slash, whose `.` and `..` segments do not lead to `//`".into()
            }
            WebAuthError::OriginMismatch { .. } => {
                "send state-changing requests from this site's own pages (POST with an Origin header)"
                    .into()
            }
            WebAuthError::RateLimited { .. } => "wait a minute before trying again".into(),
            WebAuthError::Store { .. } => "check that the session store is reachable".into(),
            WebAuthError::Config(_) => "fix the WebAuth builder settings".into(),
            WebAuthError::Latchkey(err) => return latchkey_hint(err),
        })
    }

    /// The HTTP status the error answers with.
    pub fn status(&self) -> StatusCode {
        use latchkey::{Error, LoginError};
        match self {
            WebAuthError::NotSignedIn => StatusCode::UNAUTHORIZED,
            WebAuthError::LoginCookie
            | WebAuthError::LoginExpired
            | WebAuthError::UnsafeReturnTo => StatusCode::BAD_REQUEST,
            WebAuthError::OriginMismatch { .. } => StatusCode::FORBIDDEN,
            WebAuthError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            WebAuthError::Store { .. } | WebAuthError::Config(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            WebAuthError::Latchkey(Error::LoginRequired { .. }) => StatusCode::UNAUTHORIZED,
            WebAuthError::Latchkey(Error::Login(LoginError::AccessDenied { .. })) => {
                StatusCode::FORBIDDEN
            }
            WebAuthError::Latchkey(Error::Login(_) | Error::IdToken(_)) => StatusCode::BAD_REQUEST,
            WebAuthError::Latchkey(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

fn latchkey_hint(err: &latchkey::Error) -> Option<String> {
    match err {
        latchkey::Error::Login(_) | latchkey::Error::LoginRequired { .. } => {
            Some("start the login again at /auth/login".into())
        }
        other => other.hint(),
    }
}

impl IntoResponse for WebAuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "web login failed");
        } else {
            tracing::debug!(error = %self, "web login refused");
        }
        let body = match self.hint() {
            Some(hint) => format!("{self}\nhint: {hint}\n"),
            None => format!("{self}\n"),
        };
        let mut response = (status, body).into_response();
        if let WebAuthError::RateLimited { retry_after } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
