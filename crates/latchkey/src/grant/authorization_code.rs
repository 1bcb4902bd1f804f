//! The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636, RFC 8252).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use url::Url;

use super::browser::{BrowserMode, Callback, RedirectCapturer, UrlOpener, default_opener};
use super::{Grant, GrantKind};
use crate::authorization::{
    AuthorizationRequest, IdTokenCheck, OneTime, Verdict, exchange_code, judge,
};
use crate::client::OAuthClient;
use crate::error::{Error, LoginError, Result};
use crate::loopback::{
    CloseHook, DEFAULT_LOGIN_TIMEOUT, LoginOutcome, LoopbackPage, LoopbackReceiver,
};
use crate::token::TokenSet;

/// A browser login: authorization code with PKCE S256, `state` and `nonce`, and a loopback
/// redirect receiver (or a [`RedirectCapturer`]).
///
/// PKCE is used for confidential clients too (RFC 9700 §2.1.1). A login needs a person,
/// so [`Grant::can_run_unattended`] is false: the manager runs it only from
/// [`crate::TokenManager::login`].
#[derive(Clone)]
pub struct AuthorizationCode {
    request: AuthorizationRequest,
    redirect_uri: String,
    timeout: Duration,
    opener: UrlOpener,
    capturer: Option<Arc<dyn RedirectCapturer>>,
    id_token_check: Option<Arc<dyn IdTokenCheck>>,
    page: LoopbackPage,
    close_hook: Option<CloseHook>,
}

impl AuthorizationCode {
    /// Starts building a login that sends `request`.
    pub fn builder(request: AuthorizationRequest) -> AuthorizationCodeBuilder {
        AuthorizationCodeBuilder {
            request,
            redirect_uri: "http://127.0.0.1:0/callback".into(),
            timeout: DEFAULT_LOGIN_TIMEOUT,
            browser: BrowserMode::Auto,
            opener: None,
            capturer: None,
            id_token_check: None,
            page: LoopbackPage::default(),
            close_hook: None,
        }
    }

    /// Runs the browser part through the capturer and judges what it brings back.
    async fn capture(
        &self,
        capturer: &dyn RedirectCapturer,
        client: &OAuthClient,
        one: &OneTime,
    ) -> Result<(SecretString, Url)> {
        let redirect_uri = Url::parse(&self.redirect_uri)
            .map_err(|e| Error::Config(format!("`redirect_uri` is not a valid URL ({e})")))?;
        let request = self.request.start(client, &redirect_uri, one).await?;
        let returned = capturer.capture(request, redirect_uri.clone()).await?;
        let expected = self.request.expected(client.client_id(), &one.state);
        match judge(returned.query_pairs(), &expected) {
            Verdict::Code(code) => Ok((code, redirect_uri)),
            Verdict::Failed(err) => Err(err.into()),
            Verdict::Foreign => Err(LoginError::StateMismatch.into()),
            Verdict::Refused(reason) => Err(LoginError::InvalidRedirect(reason).into()),
        }
    }

    /// Binds the loopback receiver, shows the URL, and waits for the redirect.
    async fn receive(&self, client: &OAuthClient, one: &OneTime) -> Result<(SecretString, Url)> {
        // Bound before the browser opens, so the redirect cannot beat the listener.
        let mut receiver = LoopbackReceiver::bind(&self.redirect_uri)
            .await?
            .with_timeout(self.timeout)
            .with_page(self.page.clone());
        if let Some(hook) = &self.close_hook {
            receiver = receiver.with_close_hook(hook.clone());
        }
        let redirect_uri = receiver.redirect_uri().clone();
        // Pushed before the browser opens: the URL it gets names the pushed request.
        let request = self.request.start(client, &redirect_uri, one).await?;
        tracing::debug!(url = %crate::redact::DisplayUrl::new(&request), "authorization request");
        (self.opener)(&request);
        let code = receiver
            .wait(&self.request.expected(client.client_id(), &one.state))
            .await?;
        Ok((code, redirect_uri))
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

    fn resources(&self) -> &[crate::resource::Resource] {
        self.request.resources()
    }

    async fn obtain(&self, client: &OAuthClient) -> Result<TokenSet> {
        let one = OneTime::new();
        let (code, redirect_uri) = match &self.capturer {
            Some(capturer) => self.capture(capturer.as_ref(), client, &one).await?,
            None => self.receive(client, &one).await?,
        };
        // RFC 6749 §4.1.3: the same redirect_uri as in the request.
        let tokens = exchange_code(
            client,
            &self.request,
            &code,
            &redirect_uri,
            &one.pkce.verifier,
        )
        .await?;
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
            .field("request", &self.request)
            .field("redirect_uri", &self.redirect_uri)
            .field("timeout", &self.timeout)
            .field(
                "capturer",
                &self.capturer.as_ref().map(|_| Callback("RedirectCapturer")),
            )
            .field("page", &self.page)
            .field(
                "close_hook",
                &self.close_hook.as_ref().map(|_| Callback("CloseHook")),
            )
            .finish_non_exhaustive()
    }
}

/// Builds an [`AuthorizationCode`] grant; `build()` checks every field.
pub struct AuthorizationCodeBuilder {
    request: AuthorizationRequest,
    redirect_uri: String,
    timeout: Duration,
    browser: BrowserMode,
    opener: Option<UrlOpener>,
    capturer: Option<Arc<dyn RedirectCapturer>>,
    id_token_check: Option<Arc<dyn IdTokenCheck>>,
    page: LoopbackPage,
    close_hook: Option<CloseHook>,
}

impl AuthorizationCodeBuilder {
    /// The loopback redirect URI (default `http://127.0.0.1:0/callback`; port 0 picks a free
    /// port, which needs a client registered as native, RFC 8252 §7.3).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = uri.into();
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

    /// Brands the loopback receiver's pages and names the profile logging in (default:
    /// latchkey's branding, no profile). Not used with a redirect capturer, which serves
    /// no page.
    pub fn page(mut self, page: LoopbackPage) -> Self {
        self.page = page;
        self
    }

    /// Calls `hook` once per login when the browser part ends (pywry's `close_window`):
    /// after the loopback receiver answered this login's redirect, success or error, or
    /// when no redirect came in time. A desktop application closes the window or web view
    /// it opened for the login here. The hook runs before the code is exchanged, so
    /// [`LoginOutcome::CodeReceived`] does not yet mean tokens: the login's result says
    /// that. It must return quickly (send on a channel or spawn for slow work). Not called
    /// with a redirect capturer, which owns its window itself.
    #[doc(alias = "close_window")]
    pub fn close_hook(mut self, hook: impl Fn(LoginOutcome) + Send + Sync + 'static) -> Self {
        self.close_hook = Some(Arc::new(hook));
        self
    }

    /// Checks the configuration and builds the grant.
    pub fn build(self) -> Result<AuthorizationCode> {
        let redirect = Url::parse(&self.redirect_uri)
            .map_err(|e| Error::Config(format!("`redirect_uri` is not a valid URL ({e})")))?;
        if self.capturer.is_none() && !crate::http::is_loopback(&redirect) {
            return Err(Error::Config(format!(
                "`redirect_uri` {} must be a loopback URL unless a redirect capturer is set",
                self.redirect_uri
            )));
        }
        if self.timeout.is_zero() {
            return Err(Error::Config("`timeout` must be positive".into()));
        }
        Ok(AuthorizationCode {
            request: self.request,
            redirect_uri: self.redirect_uri,
            timeout: self.timeout,
            opener: self.opener.unwrap_or_else(|| default_opener(self.browser)),
            capturer: self.capturer,
            id_token_check: self.id_token_check,
            page: self.page,
            close_hook: self.close_hook,
        })
    }
}

impl fmt::Debug for AuthorizationCodeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCodeBuilder")
            .field("request", &self.request)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}
