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
    /// A state-changing request came from another origin (or named none). The origin it
    /// named is not kept: the error page would hand it back to whoever chose it.
    #[error(
        "cross-origin request refused: only pages of {expected} (or a trusted origin) may send it"
    )]
    OriginMismatch {
        /// This application's origin.
        expected: String,
    },
    /// The signed-in user lacks a role the route requires.
    #[error("this needs the `{role}` role, which the signed-in user does not have")]
    MissingRole {
        /// The role required.
        role: String,
    },
    /// Too many logins started from one address.
    #[error("too many login attempts from this address; retry in {} s", ceil_secs(*retry_after))]
    RateLimited {
        /// When the window reopens.
        retry_after: Duration,
    },
    /// As many logins are in progress as the site allows
    /// ([`crate::WebAuthBuilder::max_pending_logins`]); answered with `503` and
    /// `Retry-After`.
    #[error("too many logins in progress on this site; retry in {} s", ceil_secs(*retry_after))]
    TooManyPendingLogins {
        /// When the earliest pending login expires (one may finish sooner).
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
            WebAuthError::MissingRole { .. } => {
                "ask the site's operator for the role (roles are given at sign-in: sign out and in again after a change)".into()
            }
            WebAuthError::RateLimited { .. } => "wait a minute before trying again".into(),
            WebAuthError::TooManyPendingLogins { .. } => {
                "start the login again after the time given; operators: see `max_pending_logins` and `login_rate_limit`".into()
            }
            WebAuthError::Store { .. } => "check that the session store is reachable".into(),
            WebAuthError::Config(_) => "fix the WebAuth builder settings".into(),
            WebAuthError::Latchkey(err) => return latchkey_hint(err),
        })
    }

    /// How long to wait before retrying, for the errors that say (sent as `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            WebAuthError::RateLimited { retry_after }
            | WebAuthError::TooManyPendingLogins { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// The HTTP status the error answers with.
    pub fn status(&self) -> StatusCode {
        use latchkey::{Error, LoginError};
        match self {
            WebAuthError::NotSignedIn => StatusCode::UNAUTHORIZED,
            WebAuthError::LoginCookie
            | WebAuthError::LoginExpired
            | WebAuthError::UnsafeReturnTo => StatusCode::BAD_REQUEST,
            WebAuthError::OriginMismatch { .. } | WebAuthError::MissingRole { .. } => {
                StatusCode::FORBIDDEN
            }
            WebAuthError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            WebAuthError::TooManyPendingLogins { .. } => StatusCode::SERVICE_UNAVAILABLE,
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

/// Whole seconds to wait, rounded up and at least 1 (what `Retry-After` carries).
fn ceil_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// Longest `error_description` an error page shows.
const MAX_DESCRIPTION: usize = 200;
/// Longest error line an error page shows (other messages can quote what the redirect sent,
/// such as its `iss`).
const MAX_LINE: usize = 1000;

/// `text` as printable ASCII (anything else becomes `?`), at most `max` characters. Pages
/// and logs then carry nothing that a terminal, a log viewer or a sniffing browser reads as
/// markup, escapes or extra lines.
fn printable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .take(max + 1)
        .collect();
    if out.len() > max {
        out.truncate(max.saturating_sub(3));
        out.push_str("...");
    }
    out
}

impl WebAuthError {
    /// The error line of the page: the provider's `error_description` (text the redirect
    /// brought, so whoever built the redirect chose it) is capped on its own.
    fn page_line(&self) -> String {
        use latchkey::{Error, LoginError};
        let description = |d: &Option<String>| {
            d.as_deref()
                .map(|d| format!(": {}", printable(d, MAX_DESCRIPTION)))
                .unwrap_or_default()
        };
        let line = match self {
            WebAuthError::Latchkey(Error::Login(LoginError::AccessDenied { description: d })) => {
                format!("the login was denied{}", description(d))
            }
            WebAuthError::Latchkey(Error::Login(LoginError::Authorization {
                error,
                description: d,
            })) => format!(
                "the identity provider refused the login: {}{}",
                printable(error, 64),
                description(d)
            ),
            other => other.to_string(),
        };
        printable(&line, MAX_LINE)
    }
}

impl IntoResponse for WebAuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        let line = self.page_line();
        if status.is_server_error() {
            tracing::warn!(error = %line, "web login failed");
        } else {
            tracing::debug!(error = %line, "web login refused");
        }
        let body = match self.hint() {
            Some(hint) => format!("{line}\nhint: {hint}\n"),
            None => format!("{line}\n"),
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        // A plain-text page must stay plain text (no sniffing it into HTML), and an error
        // about one browser's login must not be served from a cache to another.
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(retry_after) = self.retry_after()
            && let Ok(value) = HeaderValue::from_str(&ceil_secs(retry_after).to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// The JSON answer of [`crate::RequireRole`], [`crate::AuthenticatedUser::require_role`] and
/// [`crate::require_login`] (API clients want a body they can parse, not a page):
///
/// ```json
/// {"error": "missing_role", "message": "this needs the `admin` role, …", "hint": "…", "role": "admin"}
/// ```
///
/// `error` is `not_signed_in` (401), `missing_role` (403, with `role`), `origin_refused`
/// (403) or, for anything else, `server_error`. Sent `no-store`.
#[derive(Debug)]
pub struct AuthRejection(WebAuthError);

impl AuthRejection {
    /// The error behind the answer.
    pub fn error(&self) -> &WebAuthError {
        &self.0
    }

    /// The HTTP status it answers with.
    pub fn status(&self) -> StatusCode {
        self.0.status()
    }

    fn code(&self) -> &'static str {
        match &self.0 {
            WebAuthError::NotSignedIn
            | WebAuthError::Latchkey(latchkey::Error::LoginRequired { .. }) => "not_signed_in",
            WebAuthError::MissingRole { .. } => "missing_role",
            WebAuthError::OriginMismatch { .. } => "origin_refused",
            _ => "server_error",
        }
    }
}

impl From<WebAuthError> for AuthRejection {
    fn from(error: WebAuthError) -> Self {
        Self(error)
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for AuthRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let status = self.status();
        let line = self.0.page_line();
        if status.is_server_error() {
            tracing::warn!(error = %line, "request refused");
        } else {
            tracing::debug!(error = %line, "request refused");
        }
        let mut body = serde_json::json!({
            "error": self.code(),
            "message": line,
            "hint": self.0.hint(),
        });
        if let WebAuthError::MissingRole { role } = &self.0 {
            body["role"] = serde_json::Value::from(printable(role, 64));
        }
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_replaces_and_caps() {
        assert_eq!(printable("a\u{1b}[1mb\né", 10), "a?[1mb??");
        let long = printable(&"x".repeat(300), MAX_DESCRIPTION);
        assert_eq!(long.len(), MAX_DESCRIPTION);
        assert!(long.ends_with("..."));
        assert_eq!(printable(&"x".repeat(200), 200), "x".repeat(200));
    }

    #[tokio::test]
    async fn rejections_are_json_with_a_code_and_the_missing_role() {
        let cases = [
            (WebAuthError::NotSignedIn, 401, "not_signed_in"),
            (
                WebAuthError::MissingRole {
                    role: "editor".into(),
                },
                403,
                "missing_role",
            ),
            (
                WebAuthError::OriginMismatch {
                    expected: "https://app.example".into(),
                },
                403,
                "origin_refused",
            ),
        ];
        for (error, status, code) in cases {
            let response = AuthRejection::from(error).into_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body["error"], code, "{body}");
            assert!(body["hint"].is_string(), "{body}");
            if code == "missing_role" {
                assert_eq!(body["role"], "editor");
            }
        }
    }
}
