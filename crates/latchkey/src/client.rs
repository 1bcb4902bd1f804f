//! An OAuth client: its identity, its endpoints, and the token requests it makes.

use std::sync::Arc;
use std::time::Duration;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use url::Url;

use crate::client_auth::ClientAuth;
use crate::client_cert::ClientCertificate;
use crate::clock::{Clock, SystemClock};
use crate::dpop::{DpopAlgorithm, DpopKey, DpopSettings};
use crate::error::{Error, ProviderError, Result};
use crate::oidc::OidcError;
use crate::redact::DisplayUrl;
use crate::response::{ResponseError, parse_error_body, parse_token_response};
use crate::retry::{RetryPolicy, parse_retry_after};
use crate::token::TokenSet;

/// A registered OAuth client at one identity provider: cheap to clone, `Send + Sync`.
///
/// It sends every token, refresh and revocation request: client authentication, the
/// `Accept: application/json` header, tolerant response parsing and retries live here once.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    inner: Arc<ClientInner>,
    /// The DPoP key requests from this handle are signed with (see [`Self::with_dpop_key`]).
    dpop_key: Option<DpopKey>,
}

#[derive(Debug)]
struct ClientInner {
    client_id: String,
    auth: ClientAuth,
    token_url: Url,
    revocation_url: Option<Url>,
    revocation_method: RevocationMethod,
    http: reqwest::Client,
    client_certificate: Option<ClientCertificate>,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    follow_trailing_slash: bool,
    dpop: Option<DpopSettings>,
}

/// How an [`OAuthClient`] revokes tokens at its revocation URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RevocationMethod {
    /// RFC 7009: a form `POST` of `token` and `token_type_hint`, with the client's
    /// authentication. Success is any 2xx.
    #[default]
    Rfc7009,
    /// GitHub's "Delete an app token"
    /// (<https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token>):
    /// `DELETE https://api.github.com/applications/{client_id}/token` with HTTP Basic
    /// `client_id:client_secret` and the JSON body `{"access_token": "…"}`; success is 204
    /// only. The API takes access tokens: revoking a refresh token is a no-op here.
    GitHubAppToken,
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
            client_certificate: None,
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            allow_insecure_http: false,
            follow_trailing_slash: false,
            dpop: None,
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

    /// Whether requests carry DPoP proofs (RFC 9449; [`OAuthClientBuilder::dpop`]).
    pub fn dpop_enabled(&self) -> bool {
        self.inner.dpop.is_some()
    }

    /// The DPoP settings and the nonces servers gave, when DPoP is on.
    pub(crate) fn dpop(&self) -> Option<&DpopSettings> {
        self.inner.dpop.as_ref()
    }

    /// This client, signing its requests with `key` (the one stored with the token set a
    /// refresh or revocation is about). Without a key, a token request makes a new one.
    pub(crate) fn with_dpop_key(&self, key: Option<DpopKey>) -> OAuthClient {
        OAuthClient {
            inner: self.inner.clone(),
            dpop_key: key,
        }
    }

    /// The HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The client certificate presented for mutual TLS, when one was given to the builder.
    pub fn client_certificate(&self) -> Option<&ClientCertificate> {
        self.inner.client_certificate.as_ref()
    }

    /// Sends a token request with `grant_type` and `params`, authenticating the client.
    pub(crate) async fn token_request(
        &self,
        grant_type: &str,
        params: &[(&str, &str)],
        replay: Replay,
    ) -> Result<TokenSet> {
        // The key is made once per token set, before the first attempt: retries and the
        // nonce retry must prove possession of the same key the tokens get bound to.
        let keyed;
        let this = match (&self.inner.dpop, &self.dpop_key) {
            (Some(dpop), None) => {
                keyed = self.with_dpop_key(Some(DpopKey::generate(dpop.algorithm)?));
                &keyed
            }
            _ => self,
        };
        let url = &self.inner.token_url;
        let mut retry = 0;
        loop {
            let result = this.token_attempt(grant_type, params).await;
            let err = match result {
                Ok(tokens) => return Ok(tokens.with_dpop_key(this.dpop_key.clone())),
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
                    self.inner.auth.basic_encoding_changes_secret(),
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
    /// With `resource`, the new access token is for that resource (RFC 8707 §2.2).
    pub(crate) async fn refresh(
        &self,
        refresh_token: &secrecy::SecretString,
        resource: Option<&crate::resource::Resource>,
    ) -> Result<TokenSet> {
        use secrecy::ExposeSecret;
        self.learn_dpop_nonce().await;
        let mut params = vec![("refresh_token", refresh_token.expose_secret())];
        params.extend(resource.map(|r| ("resource", r.as_str())));
        self.token_request("refresh_token", &params, Replay::OnlyIfNotProcessed)
            .await
    }

    /// Makes sure a DPoP nonce is known before a refresh token is spent, when the token
    /// endpoint's origin has not been heard from in this process.
    ///
    /// A server that requires nonces answers a proof without one with `use_dpop_nonce`,
    /// and some (ATProto, bluesky-social/atproto#3859) have consumed the refresh token by
    /// then, so the retry with the nonce fails and the login is lost. This asks first with
    /// a request that cannot consume anything: a refresh grant for a token that cannot
    /// exist. The answer is an error either way; only its `DPoP-Nonce` header matters, and
    /// [`send`](Self::send) remembers it. When none comes, the origin is noted as not
    /// needing nonces, so this costs one request per process at most.
    async fn learn_dpop_nonce(&self) {
        let (Some(dpop), Some(_)) = (&self.inner.dpop, &self.dpop_key) else {
            return;
        };
        let url = &self.inner.token_url;
        if dpop.nonces.known(url) {
            return;
        }
        let mut form = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            (
                "refresh_token".to_owned(),
                "latchkey-dpop-nonce-probe".to_owned(),
            ),
        ];
        let basic = match self
            .inner
            .auth
            .apply(&self.inner.client_id, url, &mut form)
            .await
        {
            Ok(basic) => basic,
            Err(_) => return,
        };
        tracing::debug!(url = %DisplayUrl::new(url), "asking the token endpoint for a DPoP nonce before spending the refresh token");
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        // Not `post_form`: its nonce retry would send this probe twice for nothing.
        let answer = self
            .send_followed(
                http::Method::POST,
                url,
                "application/x-www-form-urlencoded",
                &body,
                basic,
            )
            .await;
        if let Err(err) = answer {
            tracing::debug!(error = %err, "the DPoP nonce request failed; refreshing without a nonce");
        }
        if !dpop.nonces.known(url) {
            dpop.nonces.none_needed(url);
        }
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
        let first = self
            .send_followed(method.clone(), url, content_type, &body, basic.clone())
            .await?;
        // RFC 9449 §8: a server that wants a (new) nonce refuses the proof before it looks at
        // the request, so the same request is sent once more with the nonce it gave.
        if first.new_dpop_nonce && first.asks_for_dpop_nonce() {
            tracing::debug!(url = %DisplayUrl::new(url), "the server asked for a DPoP nonce; sending again with it");
            return self
                .send_followed(method, url, content_type, &body, basic)
                .await;
        }
        Ok(first)
    }

    /// [`send_once`](Self::send_once), following the one redirect latchkey may follow.
    async fn send_followed(
        &self,
        method: http::Method,
        url: &Url,
        content_type: &'static str,
        body: &str,
        basic: Option<http::HeaderValue>,
    ) -> Result<RawResponse> {
        let response = self
            .send_once(method.clone(), url, content_type, body, basic.clone())
            .await?;
        if let Some(slashed) = self.trailing_slash_target(url, &response) {
            tracing::debug!(from = %DisplayUrl::new(url), to = %DisplayUrl::new(&slashed), status = response.status().as_u16(), "following the token endpoint's trailing-slash redirect");
            let response = self
                .send_once(method, &slashed, content_type, body, basic)
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
        if let (Some(dpop), Some(key)) = (&self.inner.dpop, &self.dpop_key) {
            let nonce = dpop.nonces.get(url);
            let proof = key.proof_header(&method_shown, url, None, nonce.as_deref())?;
            request = request.header(crate::dpop::DPOP, proof);
            traced.push(("dpop", "[proof]"));
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
        let new_dpop_nonce = match &self.inner.dpop {
            Some(dpop) => dpop.nonces.observe(url, &headers).is_some(),
            None => false,
        };
        let body = crate::http::read_body(response, url).await?;
        crate::http_trace::response(url, status, &headers, Some(&body));
        Ok(RawResponse {
            status,
            content_type,
            retry_after,
            body,
            new_dpop_nonce,
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
    /// The answer carried a `DPoP-Nonce` this client had not seen.
    pub(crate) new_dpop_nonce: bool,
}

impl RawResponse {
    /// Whether the server refused the DPoP proof for want of a (fresh) nonce: the OAuth
    /// error `use_dpop_nonce` (RFC 9449 §8), or a `DPoP` challenge saying so (§9).
    fn asks_for_dpop_nonce(&self) -> bool {
        matches!(
            parse_error_body(&self.body, self.content_type.as_deref()),
            Some(ResponseError::OAuth { error, .. }) if error == "use_dpop_nonce"
        )
    }

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
    client_certificate: Option<ClientCertificate>,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    allow_insecure_http: bool,
    follow_trailing_slash: bool,
    dpop: Option<DpopAlgorithm>,
}

impl OAuthClientBuilder {
    /// Presents `cert` on every TLS connection to the identity provider (mutual TLS, RFC
    /// 8705): for [`ClientAuth::TlsClientAuth`] and [`ClientAuth::SelfSignedTlsClientAuth`],
    /// and for certificate-bound tokens with any method. latchkey builds its HTTP client
    /// with it; with [`http_client`](Self::http_client) instead, build that client from
    /// [`ClientCertificate::http_client_builder`] and leave this unset.
    pub fn client_certificate(mut self, cert: ClientCertificate) -> Self {
        self.client_certificate = Some(cert);
        self
    }

    /// Sends DPoP proofs (RFC 9449) with every token, refresh and revocation request, so
    /// the provider binds the tokens to a key of this identity (default: off). The key is
    /// made with the first token set and stored with it; resource requests then need a
    /// proof each ([`crate::TokenManager::dpop_proof`]). ES256 unless
    /// [`dpop_algorithm`](Self::dpop_algorithm) says otherwise.
    pub fn dpop(mut self, enabled: bool) -> Self {
        self.dpop = enabled.then(|| self.dpop.unwrap_or_default());
        self
    }

    /// Turns DPoP on with this key algorithm (pick it from the provider's
    /// `dpop_signing_alg_values_supported` with [`DpopAlgorithm::for_provider`]).
    pub fn dpop_algorithm(mut self, algorithm: DpopAlgorithm) -> Self {
        self.dpop = Some(algorithm);
        self
    }

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
        let http = match (self.http, &self.client_certificate) {
            (Some(_), Some(_)) => {
                return Err(Error::Config(
                    "both an HTTP client and a client certificate were given: build the HTTP \
                     client from `ClientCertificate::http_client_builder` and leave \
                     `client_certificate` unset, or let latchkey build the client"
                        .into(),
                ));
            }
            (Some(http), None) => http,
            (None, Some(cert)) => cert.http_client()?,
            (None, None) if self.auth.method().uses_certificate() => {
                return Err(Error::Config(format!(
                    "`{}` authenticates with a client certificate (RFC 8705), and none was \
                     given: set `client_cert` and `client_key` in the profile, or \
                     `OAuthClientBuilder::client_certificate`",
                    self.auth.method_name()
                )));
            }
            (None, None) => crate::http::http_client()?,
        };
        Ok(OAuthClient {
            inner: Arc::new(ClientInner {
                client_id: self.client_id,
                auth: self.auth,
                token_url,
                revocation_url,
                revocation_method: self.revocation_method,
                http,
                client_certificate: self.client_certificate,
                retry: self.retry,
                clock: self.clock,
                follow_trailing_slash: self.follow_trailing_slash,
                dpop: self.dpop.map(|algorithm| DpopSettings {
                    algorithm,
                    nonces: Default::default(),
                }),
            }),
            dpop_key: None,
        })
    }
}
