//! # latchkey-reqwest
//!
//! A [`reqwest_middleware::Middleware`] that authenticates every request with any
//! [`latchkey::Authenticator`]: static credentials (headers or query parameters) or a
//! [`latchkey::TokenManager`] that keeps an OAuth token fresh.
//!
//! When the server answers `401 Unauthorized`, the middleware tells the authenticator which
//! credentials were rejected ([`latchkey::Authenticator::invalidate`]), and retries the request
//! **exactly once** with the new credentials, provided the request body can be cloned (a
//! streaming body cannot be replayed, so that response is returned as it is). Static
//! credentials that come out unchanged are not retried. Neither is a 401 whose
//! `WWW-Authenticate` Bearer challenge ([`latchkey::BearerChallenge`]) says the token lacks a
//! scope (`insufficient_scope`) or a stronger sign-in (`insufficient_user_authentication`),
//! or that the request is malformed (`invalid_request`): a renewed token would be refused
//! too, so no token is spent on it. The response is returned for the caller to read, unless
//! [`AuthMiddleware::step_up_as_error`] asks for a step-up challenge (RFC 9470) as
//! [`latchkey::Error::StepUpRequired`], carrying the `acr_values` and `max_age` to log in with.
//!
//! ```no_run
//! # async fn demo(manager: latchkey::TokenManager) -> Result<(), reqwest_middleware::Error> {
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(latchkey_reqwest::AuthMiddleware::new(manager))
//!     .build();
//! let body = client.get("https://api.example.org/me").send().await?.text().await?;
//! # let _ = body; Ok(()) }
//! ```
//!
//! A DPoP-bound token (RFC 9449, `token_type: DPoP`) is sent as `Authorization: DPoP …` with
//! a fresh `DPoP` proof for each request's method and URL; a resource server's
//! `use_dpop_nonce` answer is retried once with the nonce it gave.
//!
//! Headers set by the middleware are marked sensitive, so HTTP stacks never log them.
//!
//! ## Certificate-bound tokens (mutual TLS, RFC 8705)
//!
//! A provider may bind an access token to the client certificate it was issued to
//! (`cnf.x5t#S256`); the API then accepts it only over a connection that presents the same
//! certificate. A middleware cannot change the TLS identity of the client it wraps, so build
//! that client with the certificate yourself: from the
//! [`latchkey::ClientCertificate`] the `OAuthClient` uses
//! ([`latchkey::ClientCertificate::http_client_builder`]), or for a profile from
//! `Selected::http_client_builder` (feature `profiles`), which `latchkey request` uses.
//!
//! ```no_run
//! # async fn demo(manager: latchkey::TokenManager) -> Result<(), Box<dyn std::error::Error>> {
//! let cert = latchkey::ClientCertificate::from_files("/etc/app/client.pem", "/etc/app/client.key")?;
//! let client = reqwest_middleware::ClientBuilder::new(cert.http_client_builder()?.build()?)
//!     .with(latchkey_reqwest::AuthMiddleware::new(manager))
//!     .build();
//! let body = client.get("https://api.example.org/me").send().await?.text().await?;
//! # let _ = body; Ok(()) }
//! ```

// A library writes nothing to the terminal itself: callers own stderr.
#![warn(clippy::print_stderr)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::sync::Arc;

use async_trait::async_trait;
use http::{Extensions, HeaderMap, StatusCode};
use latchkey::{Authenticator, BearerChallenge, BearerError};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

/// Applies an [`Authenticator`] to every request and retries once after a 401.
#[derive(Debug, Clone)]
pub struct AuthMiddleware {
    auth: Arc<dyn Authenticator>,
    step_up_as_error: bool,
}

impl AuthMiddleware {
    /// Authenticates with `auth`.
    pub fn new(auth: impl Authenticator + 'static) -> Self {
        Self::from_arc(Arc::new(auth))
    }

    /// Authenticates with a shared authenticator.
    pub fn from_arc(auth: Arc<dyn Authenticator>) -> Self {
        Self {
            auth,
            step_up_as_error: false,
        }
    }

    /// Turns a 401 `insufficient_user_authentication` (RFC 9470) into the error
    /// [`latchkey::Error::StepUpRequired`] (reached through
    /// `reqwest_middleware::Error::Middleware`), which carries what to log in with; default
    /// off: the response is returned as it came.
    pub fn step_up_as_error(mut self, enabled: bool) -> Self {
        self.step_up_as_error = enabled;
        self
    }
}

/// Applies the credentials; returns the headers it set, so a 401 can name what was rejected.
async fn authenticate(
    auth: &dyn Authenticator,
    request: &mut Request,
) -> Result<HeaderMap, latchkey::Error> {
    let mut headers = HeaderMap::new();
    let mut url = request.url().clone();
    let method = request.method().clone();
    auth.apply_to(&method, &mut headers, &mut url).await?;
    for (name, value) in &headers {
        let mut value = value.clone();
        value.set_sensitive(true);
        request.headers_mut().insert(name, value);
    }
    *request.url_mut() = url;
    Ok(headers)
}

#[async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        // Cloned before credentials are applied; `None` when the body is a stream.
        let replay = request.try_clone();
        let original_url = request.url().clone();
        let sent = authenticate(&*self.auth, &mut request)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let sent_url = request.url().clone();
        let response = next
            .clone()
            .run(request, extensions)
            .await
            .map_err(|err| scrub(err, &original_url, &sent_url))?;
        if self
            .auth
            .observe_response(&sent_url, response.status(), response.headers())
        {
            // A DPoP resource server wants a (new) nonce: the token is fine, the proof is not.
            return match replay {
                Some(mut retry) => {
                    authenticate(&*self.auth, &mut retry)
                        .await
                        .map_err(reqwest_middleware::Error::middleware)?;
                    tracing::debug!("401 use_dpop_nonce: retrying once with the server's nonce");
                    let retry_url = retry.url().clone();
                    next.run(retry, extensions)
                        .await
                        .map_err(|err| scrub(err, &original_url, &retry_url))
                }
                None => Ok(response),
            };
        }
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        if let Some(challenge) = BearerChallenge::from_headers(response.headers())
            && !challenge.new_token_may_help()
        {
            if self.step_up_as_error
                && let Some(step_up) = latchkey::StepUp::from_challenge(&challenge)
            {
                return Err(reqwest_middleware::Error::middleware(
                    latchkey::Error::StepUpRequired(step_up),
                ));
            }
            // A renewed token has the same scopes and sign-in level: the answer would not change.
            tracing::debug!(
                error = challenge.error.as_ref().map(BearerError::as_str),
                "401 that a new token cannot meet; not retrying"
            );
            return Ok(response);
        }
        let Some(mut retry) = replay else {
            tracing::debug!("401 for a request whose body cannot be replayed; not retrying");
            return Ok(response);
        };
        self.auth
            .invalidate(&sent)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let renewed = authenticate(&*self.auth, &mut retry)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        if renewed == sent && retry.url() == &sent_url {
            // Static credentials: the same request would get the same answer.
            return Ok(response);
        }
        tracing::debug!("401: credentials renewed, retrying once");
        let retry_url = retry.url().clone();
        next.run(retry, extensions)
            .await
            .map_err(|err| scrub(err, &original_url, &retry_url))
    }
}

/// A transport error names the URL it failed on; with query-parameter credentials that URL
/// holds the secret, so the error shows the URL as the caller wrote it instead.
fn scrub(
    err: reqwest_middleware::Error,
    original_url: &reqwest::Url,
    sent_url: &reqwest::Url,
) -> reqwest_middleware::Error {
    match err {
        reqwest_middleware::Error::Reqwest(err) if sent_url != original_url => {
            reqwest_middleware::Error::Reqwest(err.with_url(original_url.clone()))
        }
        other => other,
    }
}
