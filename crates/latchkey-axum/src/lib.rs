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
//! | `POST /auth/refresh` | refreshes the session's access token now (same-origin or trusted origin, unless signed in by a bearer session token) |
//! | `POST /auth/logout` | revokes the refresh token, ends the session, optionally ends the IdP session (same-origin or trusted origin, unless signed in by a bearer session token) |
//! | `GET /auth/userinfo` | the IdP's userinfo for the signed-in user, plus the app's `roles` |
//! | `GET /auth/status` | `{"authenticated": …, "sub", "name", "email", "roles", "expires_at"}` |
//!
//! Handlers get the user with the [`AuthenticatedUser`] extractor, which hands out a fresh
//! access token: the session's tokens are kept by a [`latchkey::TokenManager`] (one refresh
//! per session at a time, across instances when the store is shared).
//!
//! - **Roles**: [`WebAuthBuilder::default_roles`] go to every user at sign-in,
//!   [`ADMIN_ROLE`] also to [`WebAuthBuilder::admin_users`]; they are kept in the session.
//!   [`RequireRole<R>`] (and [`RequireAdmin`]) or [`AuthenticatedUser::require_role`] let a
//!   handler run only for holders: `403` JSON otherwise, `401` JSON signed out
//!   ([`AuthRejection`]).
//! - **Protect everything**: [`WebAuth::attach_protected`] puts [`require_login`] in front
//!   of every route but [`WebAuthBuilder::public_paths`] and the login routes: browsers are
//!   sent to sign in and come back to the page they asked for, API clients get `401` JSON.
//! - **Without cookies**: the session also answers to `Authorization: Bearer <session
//!   token>` and, when [`WebAuthBuilder::session_in_websocket_query`] allows it, to
//!   `?session=<session token>` on WebSocket upgrades. The app hands the token out with
//!   [`AuthenticatedUser::session_token`]; logout through any of them ends the session.
//! - **Cross-site request forgery**: state-changing requests that ride on the cookie must
//!   come from the app's origin or one of [`WebAuthBuilder::trusted_origins`].
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
mod protect;
mod roles;
mod routes;
mod session;
mod session_token;
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
pub use error::{AuthRejection, WebAuthError};
pub use extract::AuthenticatedUser;
pub use guard::safe_return_to;
pub use protect::require_login;
pub use roles::{ADMIN_ROLE, Admin, RequireAdmin, RequireRole, Role};
#[cfg(feature = "redis")]
pub use store::RedisSessions;
pub use store::{MemorySessions, SessionStore};

use session::{CookieConfig, SessionRecord};
use session_token::{Presented, RequestView, Source};

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
    pub(crate) roles: roles::RoleRules,
    pub(crate) public_paths: protect::PublicPaths,
    /// Origins besides `origin` whose pages may send state-changing requests.
    pub(crate) trusted_origins: Vec<String>,
    /// Whether a WebSocket upgrade may name its session in `?session=`.
    pub(crate) session_in_websocket_query: bool,
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

    /// [`attach`](Self::attach), with every route of `app` behind [`require_login`]
    /// except the [public paths](WebAuthBuilder::public_paths): browsers are sent to sign
    /// in and come back, API clients get `401` JSON. Give `app` its fallback before this
    /// call, so that paths without a route are behind the layer too.
    pub fn attach_protected(&self, app: Router) -> Router {
        let guarded = app.layer(axum::middleware::from_fn_with_state(
            self.clone(),
            require_login,
        ));
        self.attach(guarded)
    }

    /// The application's origin (`scheme://host[:port]`).
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The identity provider.
    pub fn provider(&self) -> &OidcProvider {
        &self.inner.provider
    }

    /// The signed-in user of a request with these headers (the session cookie or an
    /// `Authorization: Bearer` session token).
    pub async fn user(&self, headers: &HeaderMap) -> Result<AuthenticatedUser, WebAuthError> {
        self.user_of(RequestView::headers(headers))
            .await
            .map(|(user, _)| user)
    }

    /// The signed-in user of a request, and how it named its session.
    pub(crate) async fn user_of(
        &self,
        view: RequestView<'_>,
    ) -> Result<(AuthenticatedUser, Source), WebAuthError> {
        let (presented, record) = self.session(view).await?;
        let manager = self.manager(&presented.id).await?;
        let tokens = manager.tokens().await?;
        let user = AuthenticatedUser::new(
            record.claims,
            record.roles,
            tokens,
            self.clone(),
            presented.id,
        );
        Ok((user, presented.source))
    }

    /// The session a request presents (see [`session_token::find`]).
    pub(crate) fn presented(&self, view: RequestView<'_>) -> Option<Presented> {
        session_token::find(
            &self.inner.cookies,
            self.inner.session_in_websocket_query,
            view,
        )
    }

    /// The session a request presents and its record; [`WebAuthError::NotSignedIn`] when
    /// either is missing (including a cookie or token whose signature fails).
    pub(crate) async fn session(
        &self,
        view: RequestView<'_>,
    ) -> Result<(Presented, SessionRecord), WebAuthError> {
        let presented = self.presented(view).ok_or(WebAuthError::NotSignedIn)?;
        match self.inner.store.get(&session_key(&presented.id)).await? {
            Some(raw) => Ok((presented, session::open(&raw)?)),
            None => {
                // Ended elsewhere (logout on another instance, or expired).
                self.forget_manager(&presented.id);
                Err(WebAuthError::NotSignedIn)
            }
        }
    }

    /// The session token of session `id` (see [`AuthenticatedUser::session_token`]).
    pub(crate) fn session_token(&self, id: &str) -> Result<SecretString, WebAuthError> {
        self.inner
            .cookies
            .session_token(id)
            .ok_or_else(|| WebAuthError::Config("signing the session token failed".into()))
    }

    /// The cross-site request forgery check of state-changing requests signed in by the
    /// cookie: the request must come from this site or a trusted origin.
    pub(crate) fn check_origin(&self, headers: &HeaderMap) -> Result<(), WebAuthError> {
        guard::same_origin(headers, &self.inner.origin, &self.inner.trusted_origins)
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
