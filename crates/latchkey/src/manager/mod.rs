//! The token manager: obtains tokens, keeps them fresh, stores them, shares them.

mod background;
mod current;
mod first_call;
mod for_resource;
mod live;
mod refresh;
mod store_key;

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use url::Url;

use crate::authenticator::Authenticator;
use crate::client::OAuthClient;
use crate::clock::{Clock, SystemClock, unix_nanos};
use crate::error::{Error, Result};
use crate::grant::{Grant, GrantKind};
use crate::store::{MemoryStore, TokenStore, validate_key};
use crate::token::TokenSet;
use current::Current;
pub use first_call::FirstCallLogin;
use live::Live;
pub use store_key::default_store_key;

type Flight = Shared<BoxFuture<'static, Result<Arc<Live>>>>;
type ReauthCallback = Arc<dyn Fn(&Error) + Send + Sync>;

/// Obtains an access token, keeps it fresh and shares it correctly.
///
/// - **Fast path**: a token that is valid beyond the refresh margin is returned with one
///   atomic load and a refcount; no lock, no I/O.
/// - **Single flight**: at most one refresh per key runs at a time in this process; every
///   other caller awaits it. The refresh runs in its own task, so a caller that is
///   cancelled does not strand the others.
/// - **Across processes**: the refresh takes the store's lock, re-reads the store (a peer
///   may have refreshed already) and persists the new tokens before handing them out.
/// - **Order**: refresh token while valid → the grant again if it runs unattended →
///   [`Error::LoginRequired`].
/// - **Serve-while-valid**: when the identity provider fails, a token that has not actually
///   expired keeps being served and the failure is logged.
///
/// `TokenManager` is a cheap, `Clone`, `Send + Sync` handle.
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    key: String,
    client: OAuthClient,
    grant: Arc<dyn Grant>,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    /// `clock` is the system clock: the fast path reads it without a dynamic call.
    system_clock: bool,
    margin: Duration,
    lock_wait: Duration,
    failure_cooldown: Duration,
    current: Current,
    flight: Mutex<Option<Flight>>,
    on_reauth_required: Option<ReauthCallback>,
    first_call_login: FirstCallLogin,
    background: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Inner {
    fn notify_reauth_required(&self, err: &Error) {
        if let Some(callback) = &self.on_reauth_required {
            callback(err);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self
            .background
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

/// What [`TokenManager::authorization_header`] returns. It holds only the manager until a
/// refresh is needed: a fresh header is written straight into the poll's result, and the
/// refresh, boxed, never bloats the fast path's stack frame.
struct HeaderFuture<'a> {
    manager: &'a TokenManager,
    refresh: Option<BoxFuture<'a, Result<Arc<Live>>>>,
}

impl Future for HeaderFuture<'_> {
    type Output = Result<HeaderValue>;

    // Inlined into the caller, fast path and all: across a call boundary the header and
    // the `Result` around it were written to the stack by one function and read back, in
    // other widths, by the next, and each such hand-over stalled on store forwarding
    // (docs/design-notes.md). Only the ways off the fast path
    // (the shared header, starting a refresh) are out of line.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let refresh = match &mut this.refresh {
            Some(refresh) => refresh,
            None => {
                if let Some(header) = this.manager.cached_header() {
                    return Poll::Ready(Ok(header));
                }
                this.refresh.insert(this.manager.start_refresh())
            }
        };
        refresh
            .as_mut()
            .poll(cx)
            .map(|live| Ok(live?.header.clone()))
    }
}

/// A snapshot of a manager's state, for `status` output.
#[derive(Debug, Clone)]
pub struct TokenStatus {
    /// The token key.
    pub key: String,
    /// The grant that obtains first tokens.
    pub grant: GrantKind,
    /// The store, as described by the backend.
    pub store: String,
    /// Whether an access token is held and has not expired.
    pub valid: bool,
    /// When the access token expires, if known.
    pub expires_at: Option<SystemTime>,
    /// Whether a refresh token is held.
    pub has_refresh_token: bool,
    /// The granted scopes.
    pub scopes: Vec<String>,
}

impl TokenManager {
    /// How long before expiry a token is refreshed unless
    /// [`refresh_margin`](TokenManagerBuilder::refresh_margin) says otherwise (capped at
    /// half the token's lifetime, see [`TokenSet::refresh_at`]).
    pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

    /// Starts building a manager that obtains tokens with `grant` through `client`.
    pub fn builder(client: OAuthClient, grant: impl Grant + 'static) -> TokenManagerBuilder {
        TokenManagerBuilder {
            client,
            grant: Arc::new(grant),
            store: None,
            key: None,
            margin: Self::DEFAULT_REFRESH_MARGIN,
            lock_wait: Duration::from_secs(30),
            failure_cooldown: Duration::from_secs(5),
            background_refresh: false,
            on_reauth_required: None,
            first_call_login: FirstCallLogin::Off,
        }
    }

    /// The key tokens are stored under.
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// The `Authorization` header value for a valid access token, refreshing if needed.
    ///
    /// The cached token is checked when this is called; when it is fresh, the returned
    /// future is ready at once and costs no more than [`cached_header`](Self::cached_header).
    #[inline(always)]
    pub fn authorization_header(&self) -> impl Future<Output = Result<HeaderValue>> + Send + '_ {
        HeaderFuture {
            manager: self,
            refresh: None,
        }
    }

    /// The `Authorization` header of the current token if it needs no refresh, without
    /// awaiting anything: the fast path on its own.
    #[inline(always)]
    pub fn cached_header(&self) -> Option<HeaderValue> {
        let inner = &*self.inner;
        let now = if inner.system_clock {
            SystemClock::coarse_unix_nanos()
        } else {
            unix_nanos(inner.clock.now_coarse())
        };
        inner.current.fresh_header(now)
    }

    /// [`cached_header`](Self::cached_header) together with the moment that header stops
    /// being fresh (when its refresh becomes due; `None` when the token's expiry is unknown).
    /// For a caller that keeps its own copy of the header where this manager cannot reach it
    /// (the Python package's `aheader` reads one without calling into Rust) and must drop
    /// that copy on time.
    pub fn cached_header_until(&self) -> Option<(HeaderValue, Option<SystemTime>)> {
        let now = unix_nanos(self.inner.clock.now_coarse());
        let guard = self.inner.current.load();
        let live = guard.as_deref().filter(|live| live.fresh_at_nanos(now))?;
        Some((live.header.clone(), live.refresh_at))
    }

    /// The current, valid token set, refreshing if needed.
    pub async fn tokens(&self) -> Result<Arc<TokenSet>> {
        {
            let guard = self.inner.current.load();
            if let Some(live) = guard.as_deref()
                && live.fresh_at(self.inner.clock.now_coarse())
            {
                return Ok(live.tokens.clone());
            }
        }
        Ok(Box::pin(self.ensure()).await?.tokens.clone())
    }

    /// Refreshes now if the token is missing or within the refresh margin.
    pub async fn refresh_if_needed(&self) -> Result<()> {
        self.tokens().await.map(drop)
    }

    /// Marks the current access token as rejected by the server and obtains a new one.
    /// Concurrent calls share one refresh. Prefer [`TokenManager::invalidate_header`] when
    /// the rejected header is known: it ignores late 401s for already-replaced tokens.
    pub async fn invalidate(&self) -> Result<()> {
        self.reject_current(|_| true);
        self.ensure().await.map(drop)
    }

    /// Marks the token behind `rejected` (the `Authorization` value a server answered 401
    /// to) as rejected, unless it was already replaced, and returns once a fresh token is
    /// held. A burst of 401s for one token therefore causes exactly one refresh.
    pub async fn invalidate_header(&self, rejected: &HeaderValue) -> Result<()> {
        if self.inner.current.load().is_none() {
            // A manager that holds nothing yet (a new process, a rebuilt manager) would
            // otherwise load the rejected token from the store below and hand it out again.
            self.ensure().await?;
        }
        self.reject_current(|live| live.header.as_bytes() == rejected.as_bytes());
        self.ensure().await.map(drop)
    }

    fn reject_current(&self, matches: impl Fn(&Live) -> bool) {
        let current = self.inner.current.load_full();
        if let Some(live) = current.as_ref().filter(|l| !l.rejected && matches(l)) {
            // Compare-and-swap: if another task already replaced the token, keep its result.
            self.inner
                .current
                .replace_if(&current, Arc::new(live.rejected()));
        }
    }

    /// Runs the grant now, even one that needs a person (a browser login, a device code),
    /// and stores the result.
    pub async fn login(&self) -> Result<Arc<TokenSet>> {
        let inner = &self.inner;
        let tokens = inner.grant.obtain(&inner.client).await?;
        let _lock = inner.store.lock(&inner.key, inner.lock_wait).await?;
        inner.store.save(&inner.key, &tokens).await?;
        let live = Arc::new(Live::new(tokens, inner.margin)?);
        inner.current.replace(Some(live.clone()));
        Ok(live.tokens.clone())
    }

    /// Makes `tokens`, obtained elsewhere, this manager's tokens: stores them under its key
    /// and hands them out from now on (PyWry's `SessionManager.save_tokens`). For tokens
    /// from another manager, a web login or an import; later refreshes spend their refresh
    /// token.
    ///
    /// The save is the refresh path's: a refresh already running here finishes first, then
    /// the store's lock is taken and the tokens are written with
    /// [`save_locked`](TokenStore::save_locked), so the adopted tokens never interleave with
    /// a peer's refresh, nor does a refresh that lost its lease overwrite them. Tokens that
    /// cannot be sent in a header are refused before anything is stored.
    #[doc(alias = "save_tokens")]
    pub async fn adopt_tokens(&self, tokens: TokenSet) -> Result<Arc<TokenSet>> {
        let inner = &self.inner;
        let live = Arc::new(Live::new(tokens, inner.margin)?);
        // A refresh that is under way would install its own result after ours.
        let running = inner
            .flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(running) = running {
            let _ = running.await;
        }
        let lock = inner.store.lock(&inner.key, inner.lock_wait).await?;
        inner
            .store
            .save_locked(&inner.key, &live.tokens, &lock)
            .await?;
        inner.current.replace(Some(live.clone()));
        drop(lock);
        Ok(live.tokens.clone())
    }

    /// Forgets the tokens here and in the store, then revokes them at the identity provider
    /// (RFC 7009) when it has a revocation endpoint. Local removal happens even when
    /// revocation fails; the error then says so.
    pub async fn logout(&self) -> Result<()> {
        let inner = &self.inner;
        if let Some(task) = inner
            .background
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
        let lock = inner.store.lock(&inner.key, inner.lock_wait).await?;
        // A corrupt entry is still removed: logging out is how users recover from it.
        let stored = inner.store.load(&inner.key).await.ok().flatten();
        let held = inner
            .current
            .replace(None)
            .map(|live| TokenSet::clone(&live.tokens));
        inner.store.delete(&inner.key).await?;
        drop(lock);
        if inner.client.revocation_url().is_none() {
            return Ok(());
        }
        let mut first_error = None;
        for tokens in stored.iter().chain(held.iter()) {
            // The refresh token first: revoking it ends the whole grant at most providers.
            let pairs = [
                (tokens.refresh_token(), "refresh_token"),
                (Some(tokens.access_token()), "access_token"),
            ];
            for (token, hint) in pairs {
                if let Some(token) =
                    token.filter(|t| !secrecy::ExposeSecret::expose_secret(*t).is_empty())
                    && let Err(err) = inner
                        .client
                        .with_dpop_key(tokens.dpop_key().cloned())
                        .revoke(token, hint)
                        .await
                {
                    tracing::warn!(key = %inner.key, hint, error = %err, "revocation failed (local tokens were removed)");
                    first_error.get_or_insert(err);
                }
            }
            if held.as_ref().is_some_and(|h| {
                stored
                    .as_ref()
                    .is_some_and(|s| s.same_access_token(h) && s.same_refresh_token(h))
            }) {
                break;
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The state of the tokens without refreshing them (loads the store when nothing is held).
    pub async fn status(&self) -> Result<TokenStatus> {
        let inner = &self.inner;
        let held = inner.current.load_full().map(|live| live.tokens.clone());
        let tokens = match held {
            Some(tokens) => Some(tokens),
            None => inner.store.load(&inner.key).await?.map(Arc::new),
        };
        let now = inner.clock.now();
        Ok(TokenStatus {
            key: inner.key.clone(),
            grant: inner.grant.kind(),
            store: inner.store.describe(),
            valid: tokens
                .as_ref()
                .is_some_and(|t| t.access_valid(now, Duration::ZERO)),
            expires_at: tokens.as_ref().and_then(|t| t.expires_at()),
            has_refresh_token: tokens.as_ref().is_some_and(|t| t.refresh_token().is_some()),
            scopes: tokens.map(|t| t.scopes().to_vec()).unwrap_or_default(),
        })
    }

    /// [`ensure`](Self::ensure), boxed: what a [`HeaderFuture`] polls when the cached token
    /// will not do. Out of line, so the inlined fast path stays small.
    #[cold]
    #[inline(never)]
    fn start_refresh(&self) -> BoxFuture<'_, Result<Arc<Live>>> {
        self.ensure().boxed()
    }

    /// Joins the running refresh for this key, or starts one.
    async fn ensure(&self) -> Result<Arc<Live>> {
        self.ensure_ahead(Duration::ZERO).await
    }

    /// Like [`ensure`](Self::ensure), but treats the token as if `ahead` had already
    /// passed: the background task refreshes a little before callers would have to wait.
    async fn ensure_ahead(&self, ahead: Duration) -> Result<Arc<Live>> {
        let flight = {
            let mut slot = self.inner.flight.lock().unwrap_or_else(|p| p.into_inner());
            // Checked under the slot lock: a refresh that just finished installed its
            // result before clearing the slot, so nobody starts a second one.
            if let Some(live) = self
                .inner
                .current
                .load_full()
                .filter(|l| l.fresh_at(self.inner.clock.now() + ahead))
            {
                return Ok(live);
            }
            match slot.as_ref() {
                Some(flight) => flight.clone(),
                None => {
                    let inner = self.inner.clone();
                    let task = tokio::spawn(async move {
                        let result = refresh::run(&inner, ahead).await;
                        *inner.flight.lock().unwrap_or_else(|p| p.into_inner()) = None;
                        result
                    });
                    let flight = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(Error::Internal(format!("the refresh task failed: {e}")))
                        })
                    }
                    .boxed()
                    .shared();
                    *slot = Some(flight.clone());
                    flight
                }
            }
        };
        flight.await
    }
}

/// Why [`Authenticator::apply`] cannot authenticate a DPoP-bound token.
const DPOP_NEEDS_METHOD: &str = "the access token is DPoP-bound (token_type DPoP): every request \
     needs its own proof for its method and URL, so a bare Authorization header is not enough; \
     use `Authenticator::apply_to` or `TokenManager::dpop_headers`";

/// Whether an `Authorization` value is for a DPoP-bound token (`DPoP <token>`).
fn dpop_header(header: &HeaderValue) -> bool {
    header
        .as_bytes()
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"dpop "))
}

impl TokenManager {
    /// The `Authorization` and `DPoP` headers for one request with a DPoP-bound token
    /// (RFC 9449 §7): `DPoP <token>` and a fresh proof for `method` and `url`, with the
    /// token's hash (`ath`) and the latest nonce `url`'s origin gave. Fails for a token
    /// that is not DPoP-bound (use [`authorization_header`](Self::authorization_header)).
    pub async fn dpop_headers(
        &self,
        method: &http::Method,
        url: &Url,
    ) -> Result<(HeaderValue, HeaderValue)> {
        let tokens = self.tokens().await?;
        let proof = self.dpop_proof_for(&tokens, method, url)?.ok_or_else(|| {
            Error::Config(format!(
                "the access token is not DPoP-bound (token_type {}): send it as it is, without a proof",
                tokens.token_type()
            ))
        })?;
        let authorization = tokens
            .authorization_header()
            .map_err(|e| Error::InvalidResponse {
                url: crate::redact::DisplayUrl::new(self.inner.client.token_url()),
                reason: e.to_string(),
            })?;
        Ok((authorization, proof))
    }

    /// A DPoP proof for one request with the current token, or `None` when the token is not
    /// DPoP-bound (see [`dpop_headers`](Self::dpop_headers)).
    pub async fn dpop_proof(
        &self,
        method: &http::Method,
        url: &Url,
    ) -> Result<Option<HeaderValue>> {
        let tokens = self.tokens().await?;
        self.dpop_proof_for(&tokens, method, url)
    }

    fn dpop_proof_for(
        &self,
        tokens: &TokenSet,
        method: &http::Method,
        url: &Url,
    ) -> Result<Option<HeaderValue>> {
        if !tokens.is_dpop() {
            return Ok(None);
        }
        let key = tokens.dpop_key().ok_or_else(|| {
            Error::Config(
                "the access token is DPoP-bound (token_type DPoP) but no DPoP key is stored \
                 with it: turn DPoP on for this client (`dpop = true`) and log in again"
                    .into(),
            )
        })?;
        let nonce = self.inner.client.dpop().and_then(|d| d.nonces.get(url));
        let token = secrecy::ExposeSecret::expose_secret(tokens.access_token());
        key.proof_header(method, url, Some(token), nonce.as_deref())
            .map(Some)
    }
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("key", &self.inner.key)
            .field("client", &self.inner.client)
            .field("grant", &self.inner.grant)
            .field("store", &self.inner.store)
            .field("margin", &self.inner.margin)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Authenticator for TokenManager {
    async fn apply(&self, headers: &mut HeaderMap, _url: &mut Url) -> Result<()> {
        let header = self.authorization_header().await?;
        if dpop_header(&header) {
            return Err(Error::Config(DPOP_NEEDS_METHOD.into()));
        }
        headers.insert(AUTHORIZATION, header);
        Ok(())
    }

    async fn apply_to(
        &self,
        method: &http::Method,
        headers: &mut HeaderMap,
        url: &mut Url,
    ) -> Result<()> {
        let header = self.authorization_header().await?;
        if !dpop_header(&header) {
            headers.insert(AUTHORIZATION, header);
            return Ok(());
        }
        let (authorization, proof) = self.dpop_headers(method, url).await?;
        headers.insert(AUTHORIZATION, authorization);
        headers.insert(crate::dpop::DPOP, proof);
        Ok(())
    }

    fn observe_response(&self, url: &Url, status: http::StatusCode, headers: &HeaderMap) -> bool {
        let Some(dpop) = self.inner.client.dpop() else {
            return false;
        };
        let new_nonce = dpop.nonces.observe(url, headers).is_some();
        status == http::StatusCode::UNAUTHORIZED
            && new_nonce
            && crate::dpop::resource_wants_nonce(headers)
    }

    async fn refresh_if_needed(&self) -> Result<()> {
        TokenManager::refresh_if_needed(self).await
    }

    async fn invalidate(&self, sent: &HeaderMap) -> Result<()> {
        match sent.get(AUTHORIZATION) {
            Some(rejected) => self.invalidate_header(rejected).await,
            None => TokenManager::invalidate(self).await,
        }
    }
}

/// Builds a [`TokenManager`]; `build()` checks every field.
pub struct TokenManagerBuilder {
    client: OAuthClient,
    grant: Arc<dyn Grant>,
    store: Option<Arc<dyn TokenStore>>,
    key: Option<String>,
    margin: Duration,
    lock_wait: Duration,
    failure_cooldown: Duration,
    background_refresh: bool,
    on_reauth_required: Option<ReauthCallback>,
    first_call_login: FirstCallLogin,
}

impl TokenManagerBuilder {
    /// Where tokens are kept (default: a fresh [`MemoryStore`], which never touches disk).
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The key tokens are stored under, usually the profile name. Unset, it is derived from
    /// the client's token endpoint and client id ([`default_store_key`]), so managers for
    /// different servers or clients that share one store never read each other's tokens,
    /// and from the grant's first resource (RFC 8707), if any, so neither do managers for
    /// different resources.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Refresh this long before expiry (default 60 s; capped at half a token's lifetime).
    #[doc(alias = "expiry_skew")]
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// CDSE's name for [`refresh_margin`](Self::refresh_margin) (its `TokenManager`'s
    /// `expiry_skew`): a token is treated as expired this long early. The same setting; the
    /// last call wins.
    pub fn expiry_skew(self, skew: Duration) -> Self {
        self.refresh_margin(skew)
    }

    /// How long to wait for another task or process that is refreshing (default 30 s).
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// After a failed refresh, serve the still-valid token this long before trying again
    /// (default 5 s).
    pub fn failure_cooldown(mut self, cooldown: Duration) -> Self {
        self.failure_cooldown = cooldown;
        self
    }

    /// Refresh in a background task ahead of expiry, so requests never wait (default off).
    /// Needs a tokio runtime at `build()`; the task stops when the last handle is dropped.
    pub fn background_refresh(mut self, enabled: bool) -> Self {
        self.background_refresh = enabled;
        self
    }

    /// Called when no token can be had without a person logging in.
    pub fn on_reauth_required(mut self, callback: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.on_reauth_required = Some(Arc::new(callback));
        self
    }

    /// Whether the first call with no usable token stored runs the grant's interactive
    /// login (default [`FirstCallLogin::Off`]: it fails with
    /// [`Error::LoginRequired`]). Concurrent first callers share one login. Pass
    /// [`FirstCallLogin::Unavailable`] when the opt-in is set but nobody can answer here,
    /// so the error says why it did not apply. Grants that run unattended are unaffected.
    #[doc(alias = "login_auto")]
    pub fn first_call_login(mut self, policy: FirstCallLogin) -> Self {
        self.first_call_login = policy;
        self
    }

    /// Checks the configuration and builds the manager.
    pub fn build(self) -> Result<TokenManager> {
        let key = match self.key {
            Some(key) => key,
            None => {
                let key = default_store_key(self.client.token_url(), self.client.client_id());
                // Tokens for another resource are other tokens (RFC 8707): another key.
                match self.grant.resources().first() {
                    Some(resource) => crate::resource::resource_store_key(&key, resource),
                    None => key,
                }
            }
        };
        validate_key(&key).map_err(|e| Error::Config(format!("`key`: {e}")))?;
        if self.lock_wait.is_zero() {
            return Err(Error::Config("`lock_wait` must be positive".into()));
        }
        let inner = Arc::new(Inner {
            key,
            clock: self.client.clock().clone(),
            system_clock: self.client.clock().is_system_clock(),
            client: self.client,
            grant: self.grant,
            store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
            margin: self.margin,
            lock_wait: self.lock_wait,
            failure_cooldown: self.failure_cooldown,
            current: Current::new(),
            flight: Mutex::new(None),
            on_reauth_required: self.on_reauth_required,
            first_call_login: self.first_call_login,
            background: Mutex::new(None),
        });
        if self.background_refresh {
            let handle = tokio::runtime::Handle::try_current().map_err(|_| {
                Error::Config("`background_refresh` needs a running tokio runtime".into())
            })?;
            let task = handle.spawn(background::run(Arc::downgrade(&inner)));
            *inner.background.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
        }
        Ok(TokenManager { inner })
    }
}

impl fmt::Debug for TokenManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManagerBuilder")
            .field("key", &self.key)
            .field("grant", &self.grant)
            .finish_non_exhaustive()
    }
}
