//! An OAuth client: its identity, its endpoints, and the token requests it makes.

use std::sync::Arc;
use std::time::Duration;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use url::Url;

use crate::client_auth::ClientAuth;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, ProviderError, Result};
use crate::oidc::OidcError;
use crate::redact::DisplayUrl;
use crate::response::{ResponseError, parse_error_body, parse_token_response};
use crate::retry::{RetryPolicy, parse_retry_after};
use crate::revocation::RevocationMethod;
use crate::token::TokenSet;

/// A registered OAuth client at one identity provider: cheap to clone, `Send + Sync`.
///
/// It sends every token, refresh and revocation request: client authentication, the
/// `Accept: application/json` header, tolerant response parsing and retries live here once.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
struct ClientInner {
    client_id: String,
    auth: ClientAuth,
    token_url: Url,
    revocation_url: Option<Url>,
    revocation_method: RevocationMethod,
    http: reqwest::Client,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    follow_trailing_slash: bool,
}

/// Whether a failed token request may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Sending it twice is harmless (client credentials, password).
    Safe,
    /// Sending it twice may burn a one-time value (a rotated refresh token, a code): retry
    /// only when the request surely did not take effect (connect error, 5xx/429 answer).
    OnlyIfNotProcessed,
}

impl OAuthClient {
    /// Starts building a client with this `client_id`.
    pub fn builder(client_id: impl Into<String>) -> OAuthClientBuilder {
        OAuthClientBuilder {
            client_id: client_id.into(),
            auth: ClientAuth::None,
            token_url: None,
            revocation_url: None,
            revocation_method: RevocationMethod::default(),
            http: None,
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            allow_insecure_http: false,
            follow_trailing_slash: false,
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The client authentication method.
    pub fn auth(&self) -> &ClientAuth {
        &self.inner.auth
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &Url {
        &self.inner.token_url
    }

    /// The revocation endpoint (RFC 7009, or the provider's own API), when known.
    pub fn revocation_url(&self) -> Option<&Url> {
        self.inner.revocation_url.as_ref()
    }

    /// How tokens are revoked at [`revocation_url`](Self::revocation_url).
    pub fn revocation_method(&self) -> RevocationMethod {
        self.inner.revocation_method
    }

    /// The clock used for expiry arithmetic.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Sends a token request with `grant_type` and `params`, authenticating the client.
    pub(crate) async fn token_request(
        &self,
        grant_type: &str,
        params: &[(&str, &str)],
        replay: Replay,
    ) -> Result<TokenSet> {
        let url = &self.inner.token_url;
        let mut retry = 0;
        loop {
            let result = self.token_attempt(grant_type, params).await;
            let err = match result {
                Ok(tokens) => return Ok(tokens),
                Err(err) => err,
            };
            let replayable = match replay {
                Replay::Safe => err.is_retryable(),
                Replay::OnlyIfNotProcessed => match &err {
                    Error::Network { connect, .. } => *connect,
                    other => other.is_retryable(),
                },
            };
            retry += 1;
            let delay = if replayable {
                self.inner.retry.delay(retry, err.retry_after())
            } else {
                None
            };
            match delay {
                Some(delay) => {
                    tracing::warn!(grant_type, url = %DisplayUrl::new(url), retry, delay_ms = delay.as_millis() as u64, error = %err, "token request failed, retrying");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(err),
            }
        }
    }

    async fn token_attempt(&self, grant_type: &str, params: &[(&str, &str)]) -> Result<TokenSet> {
        let url = &self.inner.token_url;
        let mut form: Vec<(String, String)> = Vec::with_capacity(params.len() + 4);
        form.push(("grant_type".into(), grant_type.into()));
        form.extend(
            params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let basic = self
            .inner
            .auth
            .apply(&self.inner.client_id, url, &mut form)
            .await?;
        tracing::debug!(grant_type, url = %DisplayUrl::new(url), client_id = %self.inner.client_id, auth = self.inner.auth.method_name(), "token request");
        let response = self.post_form(url, &form, basic).await?;
        let now = self.inner.clock.now();
        let status = response.status;
        match parse_token_response(&response.body, response.content_type.as_deref(), now) {
            Ok(tokens) if status.is_success() => {
                tracing::debug!(grant_type, expires_at = ?tokens.expires_at(), has_refresh_token = tokens.refresh_token().is_some(), "token response");
                Ok(tokens)
            }
            Ok(_) => Err(Error::HttpStatus {
                url: DisplayUrl::new(url),
                status: status.as_u16(),
                retry_after: response.retry_after,
            }),
            Err(ResponseError::OAuth {
                error,
                description,
                uri,
            }) => Err(Error::from(ProviderError {
                endpoint: DisplayUrl::new(url),
                status: status.as_u16(),
                error,
                description,
                uri,
                retry_after: response.retry_after,
            })),
            Err(ResponseError::Malformed(_)) if response.no_authorization_server().is_some() => {
                Err(response.error(url))
            }
            Err(ResponseError::Malformed(_))
                if !status.is_success() && response.body.trim_ascii().is_empty() =>
            {
                let causes = crate::refusal::likely_causes(
                    grant_type,
                    status.as_u16(),
                    params,
                    &self.inner.auth,
                );
                if causes.is_empty() {
                    return Err(Error::HttpStatus {
                        url: DisplayUrl::new(url),
                        status: status.as_u16(),
                        retry_after: response.retry_after,
                    });
                }
                tracing::debug!(
                    grant_type,
                    status = status.as_u16(),
                    "token endpoint refused with an empty body"
                );
                Err(Error::TokenRefused {
                    url: DisplayUrl::new(url),
                    status: status.as_u16(),
                    grant_type: grant_type.to_owned(),
                    causes,
                })
            }
            Err(ResponseError::Malformed(_)) if !status.is_success() => Err(Error::HttpStatus {
                url: DisplayUrl::new(url),
                status: status.as_u16(),
                retry_after: response.retry_after,
            }),
            Err(ResponseError::Malformed(reason)) => Err(Error::InvalidResponse {
                url: DisplayUrl::new(url),
                reason,
            }),
        }
    }

    /// Exchanges a refresh token for new tokens (RFC 6749 §6). The result still needs
    /// [`TokenSet::succeeding`] to inherit what the provider may omit.
    pub(crate) async fn refresh(&self, refresh_token: &secrecy::SecretString) -> Result<TokenSet> {
        use secrecy::ExposeSecret;
        self.token_request(
            "refresh_token",
            &[("refresh_token", refresh_token.expose_secret())],
            Replay::OnlyIfNotProcessed,
        )
        .await
    }

    /// Revokes `token` at the revocation endpoint, by its
    /// [`revocation_method`](Self::revocation_method) (RFC 7009 unless configured
    /// otherwise). `hint` is `refresh_token` or `access_token`.
    pub async fn revoke(&self, token: &secrecy::SecretString, hint: &str) -> Result<()> {
        let Some(url) = &self.inner.revocation_url else {
            return Err(Error::Config(
                "the provider has no revocation endpoint configured".into(),
            ));
        };
        crate::revocation::revoke(self, url, token, hint).await
    }

    /// Checks that an authorization server answers at the token endpoint, without asking it
    /// for anything it could grant: an `authorization_code` request without a code, from
    /// this client's id alone (no secret, nothing to burn). Any OAuth error answer (RFC 6749
    /// §5.2: `invalid_request`, `invalid_client`, …) means one does; a web page, a 404 or a
    /// 405 means none does ([`crate::oidc::OidcError::NotAnAuthorizationServer`]).
    #[cfg(feature = "profiles")]
    pub(crate) async fn probe_token_endpoint(&self) -> Result<()> {
        let url = &self.inner.token_url;
        let form = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("client_id".to_owned(), self.inner.client_id.clone()),
        ];
        let response = self.post_form(url, &form, None).await?;
        if parse_error_body(&response.body, response.content_type.as_deref()).is_some() {
            return Ok(());
        }
        if response.status.is_success() {
            return Err(Error::InvalidResponse {
                url: DisplayUrl::new(url),
                reason: format!(
                    "it answered HTTP {} to a token request without a code, and no OAuth error",
                    response.status.as_u16()
                ),
            });
        }
        Err(response.error(url))
    }

    /// POSTs a form to an identity provider through [`send`](Self::send).
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        form: &[(String, String)],
        basic: Option<http::HeaderValue>,
    ) -> Result<RawResponse> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send(
            http::Method::POST,
            url,
            "application/x-www-form-urlencoded",
            body,
            basic,
        )
        .await
    }

    /// The one way latchkey sends a request with credentials in it to an identity provider
    /// (a form POST, GitHub's JSON `DELETE`): JSON asked for, the client's Basic header when
    /// its authentication uses one, `Retry-After` read, the body read with a size cap, and
    /// no redirect followed but one.
    ///
    /// The body carries the client secret, a refresh token, a code or a token to revoke, and
    /// reqwest re-sends a replayable body to wherever a 307 or 308 points. A caller-supplied
    /// client may follow redirects (reqwest has no per-request policy), so the body goes as a
    /// one-shot body that reqwest cannot replay: it then hands back the 307/308 itself, and
    /// on 301/302/303 it follows with a bodiless GET. Either way the answer is refused here:
    /// any 3xx, and any answer from another URL than the one asked.
    ///
    /// The one exception is opt-in ([`OAuthClientBuilder::follow_trailing_slash_redirect`],
    /// DHIS2): a 301, 302, 307 or 308 to the same URL with a `/` appended to its path, on the
    /// same origin, is answered by sending the same body there once. The body stays with the
    /// server it was meant for; a second redirect is refused like any other.
    pub(crate) async fn send(
        &self,
        method: http::Method,
        url: &Url,
        content_type: &'static str,
        body: String,
        basic: Option<http::HeaderValue>,
    ) -> Result<RawResponse> {
        let response = self
            .send_once(method.clone(), url, content_type, &body, basic.clone())
            .await?;
        if let Some(slashed) = self.trailing_slash_target(url, &response) {
            tracing::debug!(from = %DisplayUrl::new(url), to = %DisplayUrl::new(&slashed), status = response.status().as_u16(), "following the token endpoint's trailing-slash redirect");
            let response = self
                .send_once(method, &slashed, content_type, &body, basic)
                .await?;
            return self.read_response(&slashed, response).await;
        }
        self.read_response(url, response).await
    }

    async fn send_once(
        &self,
        method: http::Method,
        url: &Url,
        content_type: &'static str,
        body: &str,
        basic: Option<http::HeaderValue>,
    ) -> Result<reqwest::Response> {
        // `Body::wrap` makes a streaming body (not replayable); its exact size still gives
        // the request a Content-Length rather than chunked encoding.
        let method_shown = method.clone();
        let mut request = self
            .inner
            .http
            .request(method, url.clone())
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, content_type)
            .body(reqwest::Body::wrap(body.to_owned()));
        let mut traced = vec![
            ("accept", "application/json"),
            ("content-type", content_type),
        ];
        if let Some(basic) = &basic {
            request = request.header(AUTHORIZATION, basic.clone());
            traced.push(("authorization", basic.to_str().unwrap_or("Basic")));
        }
        crate::http_trace::request(
            &method_shown,
            url,
            &traced,
            Some(content_type),
            body.as_bytes(),
        );
        request.send().await.map_err(|e| Error::network(url, e))
    }

    /// The trailing-slash variant of `url` when the client follows that redirect and
    /// `response` is one to it: a 301/302/307/308 whose `Location` is exactly `url` with `/`
    /// appended to its path (same scheme, host, port and query), or the answer of a
    /// caller's client that already followed such a 301/302 with a bodiless GET.
    fn trailing_slash_target(&self, url: &Url, response: &reqwest::Response) -> Option<Url> {
        if !self.inner.follow_trailing_slash || url.path().ends_with('/') {
            return None;
        }
        let mut slashed = url.clone();
        slashed.set_path(&format!("{}/", url.path()));
        let status = response.status().as_u16();
        let followed = response.url() == &slashed && matches!(status, 200..=599);
        let redirect = matches!(status, 301 | 302 | 307 | 308)
            && response.url() == url
            && response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| url.join(v).ok())
                .is_some_and(|to| to == slashed);
        (followed || redirect).then_some(slashed)
    }

    async fn read_response(&self, url: &Url, response: reqwest::Response) -> Result<RawResponse> {
        let status = response.status();
        if status.is_redirection() || response.url() != url {
            crate::http_trace::response(response.url(), status, response.headers(), None);
            return Err(redirected(url, &response));
        }
        let headers = response.headers().clone();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, self.inner.clock.now()));
        let body = crate::http::read_body(response, url).await?;
        crate::http_trace::response(url, status, &headers, Some(&body));
        Ok(RawResponse {
            status,
            content_type,
            retry_after,
            body,
        })
    }
}

/// The error for an answer that redirects, or that came from elsewhere after a redirect the
/// HTTP client followed.
fn redirected(url: &Url, response: &reqwest::Response) -> Error {
    let status = response.status();
    let reason = if status.is_redirection() {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| url.join(v).ok())
            .map_or_else(
                || "no usable Location".to_owned(),
                |to| DisplayUrl::new(&to).to_string(),
            );
        format!(
            "it answered with a redirect (HTTP {}) to {location}",
            status.as_u16()
        )
    } else {
        format!(
            "the request was redirected to {}, which answered HTTP {}",
            DisplayUrl::new(response.url()),
            status.as_u16()
        )
    };
    Error::InvalidResponse {
        url: DisplayUrl::new(url),
        reason: format!(
            "{reason}; latchkey never follows redirects with credentials in the request: \
             configure the endpoint's final URL"
        ),
    }
}

pub(crate) struct RawResponse {
    pub(crate) status: reqwest::StatusCode,
    pub(crate) content_type: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Vec<u8>,
}

impl RawResponse {
    /// The error for a non-success answer: the OAuth error in the body when there is one
    /// (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 7662 §2.3), else the bare HTTP status.
    pub(crate) fn error(&self, url: &Url) -> Error {
        match parse_error_body(&self.body, self.content_type.as_deref()) {
            Some(ResponseError::OAuth {
                error,
                description,
                uri,
            }) => Error::from(ProviderError {
                endpoint: DisplayUrl::new(url),
                status: self.status.as_u16(),
                error,
                description,
                uri,
                retry_after: self.retry_after,
            }),
            _ => match self.no_authorization_server() {
                Some(reason) => Error::Oidc(OidcError::NotAnAuthorizationServer {
                    url: DisplayUrl::new(url),
                    reason,
                    server_setup: &[],
                }),
                None => Error::HttpStatus {
                    url: DisplayUrl::new(url),
                    status: self.status.as_u16(),
                    retry_after: self.retry_after,
                },
            },
        }
    }

    /// Why no authorization server seems to be behind the URL, when the answer (which has no
    /// OAuth error) says so: an HTML page with 401 (DHIS2's login filter when its
    /// authorization server is off: the request never reached one), or a 404/405 (nothing
    /// takes POSTs there). A real token endpoint refuses a client or a grant with an OAuth
    /// error body (RFC 6749 §5.2), so a bad secret never looks like this; a bare 401 without
    /// a page still may be one, and stays an HTTP status error.
    pub(crate) fn no_authorization_server(&self) -> Option<String> {
        let html = self.content_type.as_deref().is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/html")
        });
        let status = self.status.as_u16();
        match status {
            401 if html => {}
            404 | 405 => {}
            _ => return None,
        }
        let what = if html {
            "with a web page, not an OAuth error"
        } else {
            "without an OAuth error"
        };
        Some(format!(
            "no authorization server behind this URL: it answered HTTP {status} {what}"
        ))
    }
}

/// Builds an [`OAuthClient`]; `build()` checks every field.
#[derive(Debug)]
pub struct OAuthClientBuilder {
    client_id: String,
    auth: ClientAuth,
    token_url: Option<String>,
    revocation_url: Option<String>,
    revocation_method: RevocationMethod,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    allow_insecure_http: bool,
    follow_trailing_slash: bool,
}

impl OAuthClientBuilder {
    /// How the client authenticates (default: [`ClientAuth::None`], a public client).
    pub fn auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// The token endpoint (required).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// The revocation endpoint (RFC 7009), used by logout.
    pub fn revocation_url(mut self, url: impl Into<String>) -> Self {
        self.revocation_url = Some(url.into());
        self
    }

    /// How tokens are revoked at the revocation URL (default RFC 7009;
    /// [`RevocationMethod::GitHubAppToken`] for GitHub, which the `github` preset selects).
    pub fn revocation_method(mut self, method: RevocationMethod) -> Self {
        self.revocation_method = method;
        self
    }

    /// Uses this HTTP client instead of [`crate::http_client`] (the default, which is
    /// what to start from).
    ///
    /// Build it with `redirect(reqwest::redirect::Policy::none())`. Whatever its policy,
    /// latchkey never replays a token, refresh or revocation request at a redirect target: the
    /// form is sent as a body reqwest cannot re-send, so a 307/308 comes back unfollowed, a
    /// 301/302/303 is followed only as a bodiless `GET`, and every such answer fails with
    /// [`Error::InvalidResponse`] naming the redirect. A following client may still make
    /// that bodiless `GET` (without an `Authorization` header when it leaves the origin),
    /// which `Policy::none()` avoids.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// How transient failures are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The clock for expiry arithmetic (tests use [`crate::ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Follows the token endpoint's redirect to its own trailing-slash variant (DHIS2 answers
    /// `POST /oauth2/token` with a 301 to `/oauth2/token/`), sending the same form there
    /// once. Only a 301, 302, 307 or 308 whose `Location` is the same URL with `/` appended
    /// to its path, on the same origin, is followed; every other redirect is still refused
    /// (default: off, set by the `dhis2` preset).
    pub fn follow_trailing_slash_redirect(mut self, follow: bool) -> Self {
        self.follow_trailing_slash = follow;
        self
    }

    /// Allows plain-HTTP endpoints that are not loopback. Only for testing.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<OAuthClient> {
        if self.client_id.trim().is_empty() {
            return Err(Error::Config("`client_id` is empty".into()));
        }
        let raw = self.token_url.ok_or_else(|| {
            Error::Config("`token_url` is required (or an issuer to discover it)".into())
        })?;
        let token_url = crate::http::endpoint("token_url", &raw, self.allow_insecure_http)?;
        let revocation_url = self
            .revocation_url
            .map(|raw| crate::http::endpoint("revocation_url", &raw, self.allow_insecure_http))
            .transpose()?;
        if self.retry.max_attempts == 0 {
            return Err(Error::Config(
                "`retry.max_attempts` must be at least 1".into(),
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => crate::http::http_client()?,
        };
        Ok(OAuthClient {
            inner: Arc::new(ClientInner {
                client_id: self.client_id,
                auth: self.auth,
                token_url,
                revocation_url,
                revocation_method: self.revocation_method,
                http,
                retry: self.retry,
                clock: self.clock,
                follow_trailing_slash: self.follow_trailing_slash,
            }),
        })
    }
}
