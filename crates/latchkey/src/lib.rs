//! # latchkey
//!
//! Pluggable, production-grade authentication for HTTP API clients.
//!
//! - [`StaticAuth`]: Basic, DHIS2 `ApiToken`, Bearer, custom headers, query parameters.
//! - [`Grant`]s: [`ClientCredentials`] (client_secret_basic, client_secret_post,
//!   client_secret_jwt, private_key_jwt, and mutual TLS with a [`ClientCertificate`]),
//!   [`Password`] (with an optional TOTP code), [`RefreshTokenOnly`],
//!   and the interactive [`AuthorizationCode`] (PKCE, [`loopback`] receiver or a
//!   [`RedirectCapturer`]) and [`DeviceCode`] (RFC 8628); [`grant::TokenExchange`] (RFC 8693)
//!   and [`grant::JwtBearer`] (RFC 7523 §2.1, Google-style service account keys).
//! - [`token_source`]: tokens another system rotates (Kubernetes, SPIFFE, GitHub Actions),
//!   read again at every use, as token-exchange subjects, jwt-bearer assertions or
//!   [`ClientAuth::Assertion`] (workload identity federation).
//! - [`TokenManager`]: a lock-free fast path, one refresh per key across tasks *and*
//!   processes, rotation-safe persistence, bounded jittered retries and serve-while-valid.
//! - [`TokenStore`]s: [`MemoryStore`] (default, never touches disk) and [`FileStore`]
//!   (0600 files written atomically, one `flock` per key); with features, `SqliteStore`
//!   (`sqlite`), `RedisStore` (`redis`) and `KeyringStore` (`keyring`).
//!
//! ## Contents
//!
//! From the bottom up (each layer imports only the ones above it in this list):
//!
//! 1. Data and seams: [`TokenSet`], [`StaticAuth`], [`Authenticator`], [`ClientAuth`],
//!    [`Clock`], [`DisplayUrl`], [`BearerChallenge`].
//! 2. [`store`]: where token sets live ([`TokenStore`] and its backends); [`response`]:
//!    tolerant parsing of token endpoint answers.
//! 3. [`OAuthClient`]: the one form-POST path to an identity provider, with one capped body
//!    reader; [`loopback`]: the redirect receiver.
//! 4. [`oidc`]: discovery, JWKS, ID tokens, userinfo, introspection, end-session.
//! 5. [`grant`]: how a first token set is obtained; [`preset`]: providers as data.
//! 6. [`TokenManager`]: keeps tokens fresh, once per key across tasks and processes.
//! 7. `profile` (feature `profiles`): the composition from configuration — TOML profiles,
//!    DHIS2 route schemes, store specs, the CLI's wording of hints.
//!
//! ## Features
//!
//! | feature   | adds |
//! |-----------|------|
//! | `sqlite`  | `SqliteStore`: one WAL database, 0600, lease locks shared by processes |
//! | `redis`   | `RedisStore`: shared by machines; TTL follows the refresh token; `SET NX PX` locks |
//! | `keyring` | `KeyringStore`: the OS secret store, with an explicit fallback policy |
//! | `profiles` | `profile`: TOML profiles, `AuthScheme` (DHIS2 routes), store specs |
//! | `fuzzing` | entry points for the fuzz targets; not an API |
//! - [`oidc`]: discovery, a JWKS cache, ID token validation, userinfo, introspection,
//!   end-session URLs; [`preset`]: provider presets (Google, GitHub, Microsoft, Keycloak,
//!   DHIS2, CDSE) as data.
//!
//! Every type that holds a secret keeps it in a [`secrecy::SecretString`] and prints
//! `[REDACTED]` in `Debug`.
//!
//! ## Quick start
//!
//! ```no_run
//! use std::sync::Arc;
//! use latchkey::{ClientAuth, ClientCredentials, FileStore, OAuthClient, TokenManager};
//!
//! # async fn demo() -> Result<(), latchkey::Error> {
//! let client = OAuthClient::builder("svc-client")
//!     .auth(ClientAuth::SecretBasic(std::env::var("SVC_SECRET").unwrap_or_default().into()))
//!     .token_url("https://idp.example.org/oauth2/token")
//!     .build()?;
//! let manager = TokenManager::builder(client, ClientCredentials::new().scopes(["api:read"]))
//!     .key("svc")
//!     .store(Arc::new(FileStore::new("/var/lib/myapp/tokens")))
//!     .build()?;
//! let header = manager.authorization_header().await?; // `Bearer …`, refreshed as needed
//! # let _ = header; Ok(()) }
//! ```
//!
//! ## Security
//!
//! Secrets are exposed only where bytes meet the wire or the disk. Token requests never
//! follow redirects; plain HTTP is refused except for loopback. Errors and logs show URLs
//! through [`DisplayUrl`] (no userinfo, no `code`/token query values) and never quote a
//! token endpoint body.

// A library writes nothing to the terminal itself: callers own stderr.
#![warn(clippy::print_stderr)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod assertion_claims;
mod authenticator;
pub mod authorization;
mod challenge;
mod client;
mod client_auth;
mod client_cert;
mod client_secret_jwt;
mod clock;
mod credential;
pub mod dpop;
mod error;
mod fs;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
pub mod grant;
pub mod html;
mod http;
mod http_trace;
pub mod loopback;
mod manager;
pub mod oidc;
pub mod preset;
#[cfg(feature = "profiles")]
#[cfg_attr(docsrs, doc(cfg(feature = "profiles")))]
pub mod profile;
mod redact;
mod refusal;
mod resource;
pub mod response;
mod retry;
mod revocation;
mod step_up;
pub mod store;
mod token;
pub mod token_source;

pub use authenticator::Authenticator;
pub use challenge::{BearerChallenge, BearerError};
pub use client::{OAuthClient, OAuthClientBuilder, RevocationMethod};
pub use client_auth::{BasicCredentials, ClientAuth, ClientAuthMethod, PrivateKeyJwt};
pub use client_cert::ClientCertificate;
pub use client_secret_jwt::{AssertionAudience, ClientSecretJwt};
pub use clock::{Clock, ManualClock, SystemClock};
pub use credential::StaticAuth;
pub use dpop::{DpopAlgorithm, DpopKey};
pub use error::{Error, LoginError, ProviderError, Result};
pub use grant::{
    AuthorizationCode, BrowserMode, ClientCredentials, DeviceCode, DevicePrompt, Grant, GrantKind,
    IdTokenCheck, Password, RedirectCapturer, RefreshTokenOnly,
};
pub use grant::{PendingLogin, WebLogin, WebLoginOutcome};
pub use http::{http_client, http_client_builder, is_loopback};
pub use http_trace::HTTP_TRACE_TARGET;
pub use jsonwebtoken::Algorithm;
pub use oidc::{IdTokenClaims, IdTokenValidator, JwksCache, OidcProvider, ProviderMetadata};
pub use preset::Preset;
#[cfg(feature = "profiles")]
#[cfg_attr(docsrs, doc(cfg(feature = "profiles")))]
pub use profile::{AuthScheme, Profile, ProfileError, SchemeEntry, SchemeError};

pub use manager::{
    FirstCallLogin, TokenManager, TokenManagerBuilder, TokenStatus, default_store_key,
};
pub use redact::{DisplayUrl, scrub_serde_error};
pub use refusal::RefusalCause;
pub use resource::Resource;
pub use retry::RetryPolicy;
pub use secrecy::{ExposeSecret, SecretString};
pub use step_up::StepUp;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::SqliteStore;
pub use store::{FileStore, MemoryStore, StoreError, StoreLock, TokenStore};
#[cfg(feature = "keyring")]
#[cfg_attr(docsrs, doc(cfg(feature = "keyring")))]
pub use store::{KeyringFallback, KeyringStore};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use store::{RedisConfig, RedisConnection, RedisStore};
pub use token::{InvalidTokenHeader, TokenSet};
