//! # latchkey-axum
//!
//! Deploy-mode login for [axum](https://docs.rs/axum) web applications, on top of latchkey's
//! server-side [`latchkey::WebLogin`] (authorization code + PKCE S256 + `state` + `nonce`,
//! ID token validated by [`latchkey::IdTokenValidator`]).
//!
//! | route | does |
//! |---|---|
//! | `GET /auth/login?return_to=/path` | starts a login (rate-limited per client; `503` past [`WebAuthBuilder::max_pending_logins`]) |
//! | `GET /auth/callback` | finishes it, sets the session cookie, goes to `return_to` |
//! | `POST /auth/refresh` | refreshes the session's access token now (same-origin only) |
//! | `POST /auth/logout` | revokes the refresh token, ends the session, optionally ends the IdP session (same-origin only) |
//! | `GET /auth/userinfo` | the IdP's userinfo for the signed-in user |
//! | `GET /auth/status` | `{"authenticated": …, "sub", "name", "email", "expires_at"}` |
//!
//! Handlers get the user with the [`AuthenticatedUser`] extractor, which hands out a fresh
//! access token: the session's tokens are kept by a [`latchkey::TokenManager`] (one refresh
//! per session at a time, across instances when the store is shared).
//!
//! - The session cookie is HttpOnly, SameSite=Lax, Secure (unless
//!   [`WebAuthBuilder::loopback_development`]), and signed with HMAC-SHA256 under the
//!   configured key: instances sharing the key and the [`SessionStore`] share sessions.
//! - Secure cookies are named with the `__Host-` prefix (`__Host-latchkey_session`), which no
//!   sibling subdomain can set: nobody plants a session of their own in a user's browser.
//! - Cookies hold only random ids; tokens stay on the server.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use latchkey::{ClientAuth, OidcProvider};
//! use latchkey_axum::{AuthenticatedUser, SessionStore, WebAuth};
//!
//! async fn hello(user: AuthenticatedUser) -> String {
//!     format!("hello {}", user.name().unwrap_or(user.sub()))
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let provider = OidcProvider::discover("https://idp.example.org").await?;
//! let client = provider
//!     .client_builder("web-app")
//!     .auth(ClientAuth::SecretBasic(std::env::var("CLIENT_SECRET")?.into()))
//!     .build()?;
//! let key = std::env::var("COOKIE_KEY")?.into_bytes(); // ≥ 32 random bytes, same on every instance
//! let auth = WebAuth::builder(provider, client, "https://app.example.org")
//!     .cookie_key(key.into())
//!     .store(SessionStore::memory())
//!     .build()?;
//! let app = auth.attach(Router::new().route("/hello", get(hello)));
//! # let _ = app; Ok(()) }
//! ```

// A library writes nothing to the terminal itself: the application owns stderr.
#![warn(clippy::print_stderr)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod error;
mod extract;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
mod guard;
mod page;
mod routes;
mod session;
mod store;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::http::HeaderMap;
use latchkey::{OAuthClient, OidcProvider, RefreshTokenOnly, TokenManager, WebLogin};
use secrecy::SecretString;

pub use config::WebAuthBuilder;
pub use error::WebAuthError;
pub use extract::AuthenticatedUser;
pub use guard::safe_return_to;
#[cfg(feature = "redis")]
pub use store::RedisSessions;
pub use store::{MemorySessions, SessionStore};

use session::{CookieConfig, SessionRecord};

/// The login routes and the session state behind them. Cheap to clone.
#[derive(Clone)]
pub struct WebAuth {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) client: OAuthClient,
    pub(crate) provider: OidcProvider,
    pub(crate) login: WebLogin,
    pub(crate) cookies: CookieConfig,
    pub(crate) store: SessionStore,
    pub(crate) origin: String,
    pub(crate) session_ttl: Duration,
    pub(crate) login_ttl: Duration,
    pub(crate) rate: guard::RateLimiter,
    pub(crate) end_session: bool,
    pub(crate) refresh_margin: Duration,
    pub(crate) trust_forwarded_for: bool,
    pub(crate) max_pending_logins: usize,
    /// One manager per session seen by this instance: the single-flight point for its refreshes.
    managers: Mutex<HashMap<String, TokenManager>>,
}

/// Most sessions an instance keeps a manager for; past it the cache restarts (managers are
/// rebuilt from the store on the next request, so this only costs a store read).
const MAX_MANAGERS: usize = 10_000;

impl WebAuth {
    /// Starts building the login routes for the application served at `public_url`
    /// (`https://app.example.org`; the callback is `<public_url>/auth/callback`), signing in
    /// through `provider` as `client`.
    pub fn builder(
        provider: OidcProvider,
        client: OAuthClient,
        public_url: impl Into<String>,
    ) -> WebAuthBuilder {
        WebAuthBuilder::new(provider, client, public_url.into())
    }

    /// The `/auth/*` routes alone. Handlers elsewhere that use [`AuthenticatedUser`] also need
    /// [`WebAuth::layer`]; [`WebAuth::attach`] does both.
    pub fn router(&self) -> Router {
        routes::router(self.clone())
    }

    /// The layer that makes this `WebAuth` available to the [`AuthenticatedUser`] extractor.
    pub fn layer(&self) -> Extension<WebAuth> {
        Extension(self.clone())
    }

    /// `app` with the `/auth/*` routes merged in and the extractor enabled on every route.
    pub fn attach(&self, app: Router) -> Router {
        app.merge(self.router()).layer(self.layer())
    }

    /// The application's origin (`scheme://host[:port]`).
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The identity provider.
    pub fn provider(&self) -> &OidcProvider {
        &self.inner.provider
    }

    /// The signed-in user of a request with these headers.
    pub async fn user(&self, headers: &HeaderMap) -> Result<AuthenticatedUser, WebAuthError> {
        let (id, record) = self.session(headers).await?;
        let manager = self.manager(&id).await?;
        let tokens = manager.tokens().await?;
        Ok(AuthenticatedUser::new(record.claims, tokens))
    }

    /// The session id from the cookie and its record; [`WebAuthError::NotSignedIn`] when
    /// either is missing (including a cookie whose signature fails).
    pub(crate) async fn session(
        &self,
        headers: &HeaderMap,
    ) -> Result<(String, SessionRecord), WebAuthError> {
        let cookies = &self.inner.cookies;
        let id = cookies
            .read(headers, &cookies.session_name)
            .ok_or(WebAuthError::NotSignedIn)?;
        match self.inner.store.get(&session_key(&id)).await? {
            Some(raw) => Ok((id, session::open(&raw)?)),
            None => {
                // Ended elsewhere (logout on another instance, or expired).
                self.forget_manager(&id);
                Err(WebAuthError::NotSignedIn)
            }
        }
    }

    /// The token manager of session `id`, built from the token store when this instance
    /// has not seen the session yet.
    pub(crate) async fn manager(&self, id: &str) -> Result<TokenManager, WebAuthError> {
        if let Some(manager) = self.managers().get(id) {
            return Ok(manager.clone());
        }
        let key = token_key(id);
        let stored = self
            .inner
            .store
            .tokens()
            .load(&key)
            .await
            .map_err(latchkey::Error::from)?
            .ok_or(WebAuthError::NotSignedIn)?;
        let refresh_token = stored
            .refresh_token()
            .cloned()
            .unwrap_or_else(|| SecretString::from(String::new()));
        let manager = TokenManager::builder(
            self.inner.client.clone(),
            RefreshTokenOnly::new(refresh_token),
        )
        .key(key)
        .store(self.inner.store.tokens())
        .refresh_margin(self.inner.refresh_margin)
        .build()?;
        let mut managers = self.managers();
        // Freed after the lock is released: dropping thousands of managers is not work to
        // make every other request wait for.
        let dropped = (managers.len() >= MAX_MANAGERS).then(|| std::mem::take(&mut *managers));
        let manager = managers.entry(id.to_owned()).or_insert(manager).clone();
        drop(managers);
        drop(dropped);
        Ok(manager)
    }

    pub(crate) fn forget_manager(&self, id: &str) {
        self.managers().remove(id);
    }

    fn managers(&self) -> std::sync::MutexGuard<'_, HashMap<String, TokenManager>> {
        self.inner
            .managers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for WebAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebAuth")
            .field("origin", &self.inner.origin)
            .field("login", &self.inner.login)
            .field("store", &self.inner.store)
            .field("secure_cookies", &self.inner.cookies.secure)
            .finish_non_exhaustive()
    }
}

/// The session store key of a login in progress.
pub(crate) fn login_key(id: &str) -> String {
    format!("login:{id}")
}

/// The session store key of a session record.
pub(crate) fn session_key(id: &str) -> String {
    format!("session:{id}")
}

/// The token store key of a session's tokens (letters, digits, `.`, `_`, `-` only).
pub(crate) fn token_key(id: &str) -> String {
    format!("web-session.{id}")
}
