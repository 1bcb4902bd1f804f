//! The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636, RFC 8252).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::browser::{BrowserMode, Callback, RedirectCapturer, UrlOpener, default_opener};
use super::pkce::{Pkce, random_token};
use super::{Grant, GrantKind, scope_param};
use crate::client::{OAuthClient, Replay};
use crate::error::{Error, LoginError, Result};
use crate::loopback::{DEFAULT_LOGIN_TIMEOUT, ExpectedResponse, LoopbackReceiver, Verdict, judge};
use crate::token::TokenSet;

/// Parameters the grant sets itself; extra parameters may not override them.
const RESERVED: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// Checks the ID token of a fresh login against the `nonce` that was sent (OIDC Core
/// §3.1.3.7), before the tokens are handed out.
///
/// latchkey's OIDC module provides the real validator (signature, `iss`, `aud`, `exp`,
/// `nonce`); plug it in with [`AuthorizationCodeBuilder::id_token_check`]. Closures
/// `Fn(&TokenSet, &SecretString) -> Result<()>` implement this trait.
#[async_trait]
pub trait IdTokenCheck: Send + Sync {
    /// Fails when the ID token in `tokens` is invalid or does not carry `nonce`.
    async fn check(&self, tokens: &TokenSet, nonce: &SecretString) -> Result<()>;
}

#[async_trait]
impl<F> IdTokenCheck for F
where
    F: Fn(&TokenSet, &SecretString) -> Result<()> + Send + Sync,
{
    async fn check(&self, tokens: &TokenSet, nonce: &SecretString) -> Result<()> {
        self(tokens, nonce)
    }
}

/// A browser login: authorization code with PKCE S256, `state` and `nonce`, and a loopback
/// redirect receiver (or a [`RedirectCapturer`]).
///
/// PKCE is used for confidential clients too (RFC 9700 §2.1.1). A login needs a person,
/// so [`Grant::can_run_unattended`] is false: the manager runs it only from
/// [`crate::TokenManager::login`].
#[derive(Clone)]
pub struct AuthorizationCode {
    authorization_url: Url,
    redirect_uri: String,
    scopes: Vec<String>,
    params: Vec<(String, String)>,
    issuer: Option<(String, bool)>,
    timeout: Duration,
    opener: UrlOpener,
    capturer: Option<Arc<dyn RedirectCapturer>>,
    id_token_check: Option<Arc<dyn IdTokenCheck>>,
}

impl AuthorizationCode {
    /// Starts building a login against this authorization endpoint.
    pub fn builder(authorization_url: impl Into<String>) -> AuthorizationCodeBuilder {
        AuthorizationCodeBuilder {
            authorization_url: authorization_url.into(),
            redirect_uri: "http://127.0.0.1:0/callback".into(),
            scopes: Vec::new(),
            params: Vec::new(),
            issuer: None,
            timeout: DEFAULT_LOGIN_TIMEOUT,
            browser: BrowserMode::Auto,
            opener: None,
            capturer: None,
            id_token_check: None,
            allow_insecure_http: false,
        }
    }

    /// The authorization URL for one attempt (RFC 6749 §4.1.1, RFC 7636 §4.3).
    fn authorization_request(&self, client_id: &str, redirect_uri: &Url, one: &OneTime) -> Url {
        authorization_request(
            &self.authorization_url,
            client_id,
            redirect_uri,
            &self.scopes,
            &self.params,
            one,
        )
    }

    fn expected(&self, one: &OneTime) -> ExpectedResponse {
        let expected = ExpectedResponse::new(one.state.clone());
        match &self.issuer {
            Some((issuer, required)) => expected.issuer(issuer.clone(), *required),
            None => expected,
        }
    }

    /// Runs the browser part through the capturer and judges what it brings back.
    async fn capture(
        &self,
        capturer: &dyn RedirectCapturer,
        client_id: &str,
        one: &OneTime,
    ) -> Result<(SecretString, Url)> {
        let redirect_uri = Url::parse(&self.redirect_uri)
            .map_err(|e| Error::Config(format!("`redirect_uri` is not a valid URL ({e})")))?;
        let request = self.authorization_request(client_id, &redirect_uri, one);
        let returned = capturer.capture(request, redirect_uri.clone()).await?;
        match judge(returned.query_pairs(), &self.expected(one)) {
            Verdict::Code(code) => Ok((code, redirect_uri)),
            Verdict::Failed(err) => Err(err.into()),
            Verdict::Foreign => Err(LoginError::StateMismatch.into()),
        }
    }

    /// Binds the loopback receiver, shows the URL, and waits for the redirect.
    async fn receive(&self, client_id: &str, one: &OneTime) -> Result<(SecretString, Url)> {
        // Bound before the browser opens, so the redirect cannot beat the listener.
        let receiver = LoopbackReceiver::bind(&self.redirect_uri)
            .await?
            .with_timeout(self.timeout);
        let redirect_uri = receiver.redirect_uri().clone();
        let request = self.authorization_request(client_id, &redirect_uri, one);
        tracing::debug!(url = %crate::redact::DisplayUrl::new(&request), "authorization request");
        (self.opener)(&request);
        let code = receiver.wait(&self.expected(one)).await?;
        Ok((code, redirect_uri))
    }
}

/// The values that live for one login attempt.
pub(crate) struct OneTime {
    pub(crate) state: SecretString,
    pub(crate) nonce: SecretString,
    pub(crate) pkce: Pkce,
}

impl OneTime {
    pub(crate) fn new() -> Self {
        Self {
            state: random_token(),
            nonce: random_token(),
            pkce: Pkce::new(),
        }
    }
}

/// The authorization URL for one attempt (RFC 6749 §4.1.1, RFC 7636 §4.3); shared by the
/// interactive grant and the server-side [`super::WebLogin`].
pub(crate) fn authorization_request(
    base: &Url,
    client_id: &str,
    redirect_uri: &Url,
    scopes: &[String],
    params: &[(String, String)],
    one: &OneTime,
) -> Url {
    let mut url = base.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri.as_str());
        if let Some(scope) = scope_param(scopes) {
            query.append_pair("scope", &scope);
        }
        query
            .append_pair("state", one.state.expose_secret())
            .append_pair("nonce", one.nonce.expose_secret())
            .append_pair("code_challenge", &one.pkce.challenge)
            .append_pair("code_challenge_method", "S256");
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    url
}

/// Exchanges an authorization code (RFC 6749 §4.1.3) with the PKCE verifier. The code is
/// single-use, so the request is never replayed once the server may have seen it.
pub(crate) async fn exchange_code(
    client: &OAuthClient,
    code: &SecretString,
    redirect_uri: &Url,
    verifier: &SecretString,
) -> Result<TokenSet> {
    client
        .token_request(
            "authorization_code",
            &[
                ("code", code.expose_secret()),
                ("redirect_uri", redirect_uri.as_str()),
                ("code_verifier", verifier.expose_secret()),
            ],
            Replay::OnlyIfNotProcessed,
        )
        .await
}

/// Refuses extra authorization parameters that would override the grant's own.
pub(crate) fn check_params(params: &[(String, String)]) -> Result<()> {
    match params
        .iter()
        .find(|(name, _)| RESERVED.contains(&name.as_str()))
    {
        Some((name, _)) => Err(Error::Config(format!(
            "`params`: `{name}` is set by the grant itself and cannot be overridden"
        ))),
        None => Ok(()),
    }
}

#[async_trait]
impl Grant for AuthorizationCode {
    fn kind(&self) -> GrantKind {
        GrantKind::AuthorizationCode
    }

    fn can_run_unattended(&self) -> bool {
        false
    }

    async fn obtain(&self, client: &OAuthClient) -> Result<TokenSet> {
        let one = OneTime::new();
        let (code, redirect_uri) = match &self.capturer {
            Some(capturer) => {
                self.capture(capturer.as_ref(), client.client_id(), &one)
                    .await?
            }
            None => self.receive(client.client_id(), &one).await?,
        };
        // RFC 6749 §4.1.3: the same redirect_uri as in the request.
        let tokens = exchange_code(client, &code, &redirect_uri, &one.pkce.verifier).await?;
        match &self.id_token_check {
            Some(check) => check.check(&tokens, &one.nonce).await?,
            None if tokens.id_token().is_some() => {
                tracing::debug!("ID token received but no ID token check is configured");
            }
            None => {}
        }
        Ok(tokens)
    }
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCode")
            .field(
                "authorization_url",
                &crate::redact::DisplayUrl::new(&self.authorization_url),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field(
                "params",
                &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("issuer", &self.issuer)
            .field("timeout", &self.timeout)
            .field(
                "capturer",
                &self.capturer.as_ref().map(|_| Callback("RedirectCapturer")),
            )
            .finish_non_exhaustive()
    }
}

/// Builds an [`AuthorizationCode`] grant; `build()` checks every field.
pub struct AuthorizationCodeBuilder {
    authorization_url: String,
    redirect_uri: String,
    scopes: Vec<String>,
    params: Vec<(String, String)>,
    issuer: Option<(String, bool)>,
    timeout: Duration,
    browser: BrowserMode,
    opener: Option<UrlOpener>,
    capturer: Option<Arc<dyn RedirectCapturer>>,
    id_token_check: Option<Arc<dyn IdTokenCheck>>,
    allow_insecure_http: bool,
}

impl AuthorizationCodeBuilder {
    /// The loopback redirect URI (default `http://127.0.0.1:0/callback`; port 0 picks a free
    /// port, which needs a client registered as native, RFC 8252 §7.3).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = uri.into();
        self
    }

    /// Asks for these scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an authorization request parameter, e.g. Google's `access_type=offline` and
    /// `prompt=consent`.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The issuer the login is sent to. With `iss_parameter_supported` (the provider's
    /// `authorization_response_iss_parameter_supported`) the redirect must carry a matching
    /// `iss` (RFC 9207); without it, an `iss` that is present must still match.
    pub fn issuer(mut self, issuer: impl Into<String>, iss_parameter_supported: bool) -> Self {
        self.issuer = Some((issuer.into(), iss_parameter_supported));
        self
    }

    /// How long to wait for the redirect (default 300 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether to open a browser (default [`BrowserMode::Auto`]); the URL is always shown.
    pub fn browser(mut self, mode: BrowserMode) -> Self {
        self.browser = mode;
        self
    }

    /// Replaces the default "open a browser and print the URL to stderr" step.
    pub fn on_authorization_url(mut self, opener: impl Fn(&Url) + Send + Sync + 'static) -> Self {
        self.opener = Some(Arc::new(opener));
        self
    }

    /// Uses this capturer instead of the loopback receiver and the browser.
    pub fn redirect_capturer(mut self, capturer: impl RedirectCapturer + 'static) -> Self {
        self.capturer = Some(Arc::new(capturer));
        self
    }

    /// Validates the ID token against the login's `nonce` before tokens are handed out.
    pub fn id_token_check(mut self, check: impl IdTokenCheck + 'static) -> Self {
        self.id_token_check = Some(Arc::new(check));
        self
    }

    /// Allows a plain-HTTP authorization endpoint that is not loopback. Only for testing.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Checks the configuration and builds the grant.
    pub fn build(self) -> Result<AuthorizationCode> {
        let authorization_url = crate::http::endpoint(
            "authorization_url",
            &self.authorization_url,
            self.allow_insecure_http,
        )?;
        let redirect = Url::parse(&self.redirect_uri)
            .map_err(|e| Error::Config(format!("`redirect_uri` is not a valid URL ({e})")))?;
        if self.capturer.is_none() && !crate::http::is_loopback(&redirect) {
            return Err(Error::Config(format!(
                "`redirect_uri` {} must be a loopback URL unless a redirect capturer is set",
                self.redirect_uri
            )));
        }
        check_params(&self.params)?;
        if self.timeout.is_zero() {
            return Err(Error::Config("`timeout` must be positive".into()));
        }
        Ok(AuthorizationCode {
            authorization_url,
            redirect_uri: self.redirect_uri,
            scopes: self.scopes,
            params: self.params,
            issuer: self.issuer,
            timeout: self.timeout,
            opener: self.opener.unwrap_or_else(|| default_opener(self.browser)),
            capturer: self.capturer,
            id_token_check: self.id_token_check,
        })
    }
}

impl fmt::Debug for AuthorizationCodeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCodeBuilder")
            .field("authorization_url", &self.authorization_url)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}
