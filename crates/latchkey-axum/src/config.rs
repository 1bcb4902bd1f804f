//! [`WebAuthBuilder`]: every setting of the login routes, checked in `build()`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey::authorization::{AuthorizationRequest, ParMode, ResponseMode};
use latchkey::{OAuthClient, OidcProvider, WebLogin};
use secrecy::{ExposeSecret, SecretSlice};
use url::Url;

use crate::error::WebAuthError;
use crate::guard::{RateLimiter, parse_origin};
use crate::protect::PublicPaths;
use crate::roles::RoleRules;
use crate::session::CookieConfig;
use crate::store::SessionStore;
use crate::{Inner, WebAuth};

/// Builds a [`WebAuth`]. Only [`cookie_key`](Self::cookie_key) is required.
pub struct WebAuthBuilder {
    provider: OidcProvider,
    client: OAuthClient,
    public_url: String,
    cookie_key: Option<SecretSlice<u8>>,
    cookie_name: String,
    store: SessionStore,
    scopes: Vec<String>,
    params: Vec<(String, String)>,
    par: ParMode,
    response_mode: ResponseMode,
    loopback_development: bool,
    login_limit: (u32, Duration),
    session_ttl: Duration,
    login_ttl: Duration,
    end_session: bool,
    refresh_margin: Duration,
    trust_forwarded_for: bool,
    max_pending_logins: usize,
    default_roles: Vec<String>,
    admin_users: Vec<String>,
    public_paths: Vec<String>,
    trusted_origins: Vec<String>,
    session_in_websocket_query: bool,
}

impl WebAuthBuilder {
    pub(crate) fn new(provider: OidcProvider, client: OAuthClient, public_url: String) -> Self {
        Self {
            provider,
            client,
            public_url,
            cookie_key: None,
            cookie_name: "latchkey_session".into(),
            store: SessionStore::memory(),
            scopes: ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            params: Vec::new(),
            par: ParMode::Auto,
            response_mode: ResponseMode::Query,
            loopback_development: false,
            login_limit: (10, Duration::from_secs(60)),
            session_ttl: Duration::from_secs(12 * 3600),
            login_ttl: Duration::from_secs(600),
            end_session: false,
            refresh_margin: Duration::from_secs(60),
            trust_forwarded_for: false,
            max_pending_logins: 10_000,
            default_roles: Vec::new(),
            admin_users: Vec::new(),
            public_paths: Vec::new(),
            trusted_origins: Vec::new(),
            session_in_websocket_query: false,
        }
    }

    /// The master key cookies are signed with (HMAC-SHA256 under a key derived by HKDF):
    /// at least 32 random bytes, the same on every instance that shares sessions.
    pub fn cookie_key(mut self, key: SecretSlice<u8>) -> Self {
        self.cookie_key = Some(key);
        self
    }

    /// The session cookie's name (default `latchkey_session`); the login cookie is the same
    /// name with `_login` appended. With `Secure` cookies (everywhere but
    /// [`loopback_development`](Self::loopback_development)) both get the `__Host-` prefix,
    /// so the name given here must not carry a prefix itself.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// Where sessions live (default [`SessionStore::memory`]).
    pub fn store(mut self, store: SessionStore) -> Self {
        self.store = store;
        self
    }

    /// The scopes asked for (default `openid profile email offline_access`; `openid` is
    /// required for the ID token).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an authorization request parameter, e.g. `prompt=consent`.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Whether the login route pushes its authorization request (RFC 9126; default
    /// [`ParMode::Auto`]: when the provider advertises a PAR endpoint, with the client's
    /// authentication).
    pub fn par(mut self, mode: ParMode) -> Self {
        self.par = mode;
        self
    }

    /// [`ResponseMode::Jwt`] asks for a signed authorization response (JARM), checked
    /// against the provider's keys before the code is used (default: plain query
    /// parameters, unless the provider offers only JWT response modes).
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.response_mode = mode;
        self
    }

    /// Drops the cookies' `Secure` flag so they work over plain `http://127.0.0.1`.
    /// Refused unless the public URL is loopback.
    pub fn loopback_development(mut self, enabled: bool) -> Self {
        self.loopback_development = enabled;
        self
    }

    /// At most `max` logins started per client per `window` (default 10 per minute). A
    /// client is an IPv4 address or an IPv6 /64, taken from the peer address (serve the app
    /// with `into_make_service_with_connect_info::<SocketAddr>()`) or, with
    /// [`trust_forwarded_for`](Self::trust_forwarded_for), from `X-Forwarded-For`. When the
    /// address is unknown the login is not limited (one shared bucket would let any client
    /// lock everyone out) and a warning is logged once.
    pub fn login_rate_limit(mut self, max: u32, window: Duration) -> Self {
        self.login_limit = (max, window);
        self
    }

    /// How long a session lasts without a new login (default 12 h).
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// How long a started login may take (default 10 min).
    pub fn login_ttl(mut self, ttl: Duration) -> Self {
        self.login_ttl = ttl;
        self
    }

    /// After logout, send the browser to the provider's end-session endpoint (RP-Initiated
    /// Logout), which comes back to `<public_url>/` (default off: the IdP session stays).
    pub fn end_session(mut self, enabled: bool) -> Self {
        self.end_session = enabled;
        self
    }

    /// Refresh access tokens this long before they expire (default 60 s).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Rate-limit by the last `X-Forwarded-For` address (the one the reverse proxy in front
    /// of the app appended) instead of the peer address. Only behind exactly one proxy that
    /// appends it; otherwise clients choose their own bucket. Addresses earlier in the header
    /// are the client's own claims and are ignored.
    pub fn trust_forwarded_for(mut self, trust: bool) -> Self {
        self.trust_forwarded_for = trust;
        self
    }

    /// At most `max` logins in progress at once, across every instance sharing the store
    /// (default 10,000). Each `/auth/login` keeps its `state`, nonce and PKCE verifier on
    /// the server until the callback or [`login_ttl`](Self::login_ttl); past the cap new
    /// logins get `503 Service Unavailable` with `Retry-After` until one ends.
    pub fn max_pending_logins(mut self, max: usize) -> Self {
        self.max_pending_logins = max;
        self
    }

    /// Roles every signed-in user gets (default none), e.g. `["viewer"]`. Roles are fixed
    /// at sign-in and kept in the session: a change here applies from the next sign-in.
    pub fn default_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.default_roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Users who also get the [`admin`](crate::ADMIN_ROLE) role: each entry is a subject
    /// (`sub`, the provider's stable user id) or an email address (compared without case,
    /// and only when the provider marks it `email_verified`).
    pub fn admin_users<I, S>(mut self, users: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.admin_users = users.into_iter().map(Into::into).collect();
        self
    }

    /// Paths that [`WebAuth::attach_protected`] (and [`crate::require_login`]) leave open
    /// to everyone: an entry ending in `/` is a prefix (`/static/` opens `/static/app.js`),
    /// any other entry one exact path (`/`, `/healthz`). The six login routes are always
    /// open. A path with a `.` or `..` segment or an encoded slash or backslash is never
    /// public.
    pub fn public_paths<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.public_paths = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Origins (`https://admin.example.org`) besides the app's own whose pages may send
    /// state-changing requests signed in by the session cookie: `POST /auth/logout`,
    /// `POST /auth/refresh`, and every non-`GET` route behind [`crate::require_login`].
    /// Any other `Origin` gets `403`. Only list sites you trust as much as your own: their
    /// pages act with the user's session.
    pub fn trusted_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.trusted_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Accept the session token in a `?session=` query parameter on WebSocket upgrades
    /// (`GET` with `Upgrade: websocket`), for browser clients that open a WebSocket to this
    /// app from another origin and cannot set headers on it (default off).
    ///
    /// URLs end up in access logs, proxy logs and monitoring: a token in one can be read
    /// there and replayed for as long as the session lives. Hence off by default, and only
    /// on upgrades even when on (a plain link carrying `?session=` never signs anyone in).
    /// Prefer the cookie (sent on same-origin WebSockets) or `Authorization: Bearer`.
    pub fn session_in_websocket_query(mut self, allowed: bool) -> Self {
        self.session_in_websocket_query = allowed;
        self
    }

    /// Checks the settings and builds the routes' state.
    pub fn build(self) -> Result<WebAuth, WebAuthError> {
        let public = Url::parse(&self.public_url).map_err(|e| {
            WebAuthError::Config(format!("public URL `{}` is invalid ({e})", self.public_url))
        })?;
        if !matches!(public.scheme(), "http" | "https") || public.host().is_none() {
            return Err(WebAuthError::Config(format!(
                "public URL `{public}` must be an http(s) URL with a host"
            )));
        }
        if public.path() != "/" || public.query().is_some() {
            return Err(WebAuthError::Config(format!(
                "public URL `{public}` must be an origin only (the routes live under /auth/)"
            )));
        }
        let loopback = latchkey::is_loopback(&public);
        if public.scheme() == "http" && !loopback {
            return Err(WebAuthError::Config(format!(
                "public URL `{public}` must use https (plain http only on loopback)"
            )));
        }
        if self.loopback_development && !loopback {
            return Err(WebAuthError::Config(
                "`loopback_development` (cookies without Secure) needs a loopback public URL"
                    .into(),
            ));
        }
        let key = self.cookie_key.ok_or_else(|| {
            WebAuthError::Config("a `cookie_key` is required (at least 32 random bytes)".into())
        })?;
        if key.expose_secret().len() < 32 {
            return Err(WebAuthError::Config(
                "the `cookie_key` must be at least 32 bytes".into(),
            ));
        }
        let name_ok = !self.cookie_name.is_empty()
            && self
                .cookie_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            && !self.cookie_name.starts_with("__");
        if !name_ok {
            return Err(WebAuthError::Config(format!(
                "the `cookie_name` `{}` must be letters, digits, `_`, `-` or `.` and must not \
                 start with `__` (the `__Host-` prefix is added for Secure cookies)",
                self.cookie_name.escape_debug()
            )));
        }
        if self.login_limit.0 == 0
            || self.max_pending_logins == 0
            || self.session_ttl.is_zero()
            || self.login_ttl.is_zero()
        {
            return Err(WebAuthError::Config(
                "the login rate limit, `max_pending_logins` and the TTLs must be positive".into(),
            ));
        }
        let roles = role_rules(self.default_roles, self.admin_users)?;
        let public_paths = PublicPaths::new(self.public_paths).map_err(|entry| {
            WebAuthError::Config(format!(
                "the public path `{}` must start with `/` and hold no `?`, `#`, `*`, `\\`, \
                 control character or `.`/`..` segment (end it with `/` for a prefix)",
                entry.escape_debug()
            ))
        })?;
        let trusted_origins = self
            .trusted_origins
            .iter()
            .map(|raw| {
                parse_origin(raw).ok_or_else(|| {
                    WebAuthError::Config(format!(
                        "the trusted origin `{}` must be an http(s) origin alone, like \
                         `https://admin.example.org` (no path, query or user)",
                        raw.escape_debug()
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metadata = self.provider.metadata();
        let authorization_endpoint = metadata.authorization_endpoint.clone().ok_or_else(|| {
            WebAuthError::Config(format!(
                "the provider {} has no authorization endpoint",
                metadata.issuer
            ))
        })?;
        let validator = self
            .provider
            .id_token_validator(self.client.client_id())?
            .build()?;
        let origin = public.origin().ascii_serialization();
        // The provider sets the issuer check (RFC 9207), the PAR endpoint and what it
        // requires (PAR, signed request objects), and the keys for a JARM response.
        let mut request = AuthorizationRequest::builder(authorization_endpoint.as_str())
            .scopes(self.scopes)
            .provider(&self.provider)
            .par(self.par);
        if self.response_mode == ResponseMode::Jwt {
            request = request.response_mode(ResponseMode::Jwt);
        }
        for (name, value) in self.params {
            request = request.param(name, value);
        }
        let login = WebLogin::builder(request.build()?, format!("{origin}/auth/callback"))
            .id_token_validator(validator);
        let secure = !self.loopback_development;
        // `__Host-` cookies are Secure, Path=/ and host-only, and browsers refuse to let a
        // sibling subdomain (or a plain-http page) set one: without the prefix a sibling could
        // plant its own signed session or login cookie (login CSRF, session fixation).
        // Browsers refuse the prefix without Secure, so plain names remain for loopback
        // development.
        let prefix = if secure { "__Host-" } else { "" };
        let cookies = CookieConfig {
            login_name: format!("{prefix}{}_login", self.cookie_name),
            session_name: format!("{prefix}{}", self.cookie_name),
            secure,
            master_key: key,
        };
        Ok(WebAuth {
            inner: Arc::new(Inner {
                login: login.build()?,
                client: self.client,
                provider: self.provider,
                cookies,
                store: self.store,
                origin,
                session_ttl: self.session_ttl,
                login_ttl: self.login_ttl,
                rate: RateLimiter::new(self.login_limit.0, self.login_limit.1),
                end_session: self.end_session,
                refresh_margin: self.refresh_margin,
                trust_forwarded_for: self.trust_forwarded_for,
                max_pending_logins: self.max_pending_logins,
                roles,
                public_paths,
                trusted_origins,
                session_in_websocket_query: self.session_in_websocket_query,
                managers: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl fmt::Debug for WebAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebAuthBuilder")
            .field("public_url", &self.public_url)
            .field(
                "cookie_key",
                &self.cookie_key.as_ref().map(|_| "[REDACTED]"),
            )
            .field("store", &self.store)
            .field("scopes", &self.scopes)
            .field("default_roles", &self.default_roles)
            .field("public_paths", &self.public_paths)
            .field("trusted_origins", &self.trusted_origins)
            .finish_non_exhaustive()
    }
}

/// The role settings, checked: role names and admin entries are non-empty printable text.
fn role_rules(
    default_roles: Vec<String>,
    admin_users: Vec<String>,
) -> Result<RoleRules, WebAuthError> {
    let bad = |what: &str, value: &str| {
        WebAuthError::Config(format!(
            "the {what} `{}` must be non-empty, without spaces or control characters",
            value.escape_debug()
        ))
    };
    let plain = |v: &str| !v.is_empty() && !v.chars().any(|c| c.is_whitespace() || c.is_control());
    if let Some(role) = default_roles.iter().find(|r| !plain(r)) {
        return Err(bad("role", role));
    }
    if let Some(user) = admin_users.iter().find(|u| !plain(u)) {
        return Err(bad("admin user", user));
    }
    Ok(RoleRules {
        default_roles,
        admin_users,
    })
}
