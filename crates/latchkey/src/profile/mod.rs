//! Profiles: named, declarative auth configurations in one TOML file.
//!
//! The file lives at `$LATCHKEY_CONFIG` or `<XDG config dir>/latchkey/profiles.toml`; token
//! state lives under `$LATCHKEY_STATE_DIR` or `<XDG state dir>/latchkey` ([`Paths`]).
//!
//! ```toml
//! default = "svc"
//! [profiles.svc]
//! auth = "client-credentials"
//! issuer = "https://idp.example.org/realms/x"
//! client_id = "svc-client"
//! client_secret = { env = "SVC_SECRET" }   # or { keyring = "name" }, or a literal (warned)
//! scopes = ["api:read"]
//! ```
//!
//! - [`ProfilesFile::load`] parses the file; a syntax or field error names `path:line:column`.
//!   [`ProfilesFile::load_all`] adds the project's `.latchkey/profiles.toml` on top
//!   ([`project`]), unless `$LATCHKEY_CONFIG` names the one file to read.
//! - [`select`] picks the profile: `--profile`, then `LATCHKEY_PROFILE`, then the env-only
//!   profile (`LATCHKEY_URL` + `LATCHKEY_TOKEN` or `LATCHKEY_USERNAME` + `LATCHKEY_PASSWORD`),
//!   then the file's `default`.
//! - [`Selected`] turns the chosen profile into credentials: a [`crate::StaticAuth`], or a
//!   [`crate::TokenManager`] with endpoints from a preset, discovery or explicit URLs.
//! - [`edit`] changes the file with `toml_edit`, so comments and layout survive.

mod advice;
mod check;
mod client_auth;
mod client_cert;
mod credentials;
mod dpop;
pub mod edit;
mod endpoints;
pub mod env;
mod error;
mod exchange;
mod file;
mod login_options;
mod managed;
mod preflight;
pub mod project;
mod rename;
mod resource;
mod route;
mod scheme;
mod secret;
mod select;
mod store_spec;
mod token_source;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

pub use advice::{cli_hint, refusal_hint};
pub use credentials::ProfileAuth;
pub use error::ProfileError;
pub use file::{Paths, ProfilesFile, UntrustedProject};
pub use login_options::LoginOptions;
pub use managed::ManagedProfile;
pub use preflight::Preflight;
pub use project::Origin;
pub use rename::{TokensMoved, rename};
pub use route::SchemeEntry;
pub use scheme::{AuthScheme, SCHEME_TYPES, SchemeError, UnknownFields};
pub use secret::{KEYRING_SERVICE, SecretRef};
pub use select::{Selected, SelectionSource, select};
pub use store_spec::{RedisSpec, StoreSpec};
pub use token_source::TokenSourceSpec;

use crate::authorization::{ParMode, ResponseMode};
use crate::client_auth::{BasicCredentials, ClientAuthMethod};
use crate::client_secret_jwt::AssertionAudience;

/// How a profile authenticates (`auth = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AuthKind {
    /// HTTP Basic with `username` and `password`.
    Basic,
    /// `Authorization: ApiToken <token>` (DHIS2 personal access tokens).
    ApiToken,
    /// `Authorization: Bearer <token>` with a fixed token.
    Bearer,
    /// Fixed headers from the `headers` table.
    Headers,
    /// Fixed query parameters from the `query` table.
    Query,
    /// OAuth 2 client credentials grant.
    ClientCredentials,
    /// OAuth 2 resource owner password grant (Keycloak direct grant).
    Password,
    /// A refresh token obtained elsewhere (`refresh_token`).
    RefreshToken,
    /// Browser login: authorization code + PKCE through a loopback redirect.
    AuthorizationCode,
    /// Device login (RFC 8628).
    DeviceCode,
    /// Token exchange (RFC 8693): `subject_token` traded for a token for `audience`.
    TokenExchange,
    /// JWT bearer assertion grant (RFC 7523 §2.1): a service account key or an assertion.
    JwtBearer,
}

impl AuthKind {
    /// Every kind, in the order of [`AuthKind::NAMES`] (the declaration order).
    pub const ALL: [AuthKind; 12] = [
        AuthKind::Basic,
        AuthKind::ApiToken,
        AuthKind::Bearer,
        AuthKind::Headers,
        AuthKind::Query,
        AuthKind::ClientCredentials,
        AuthKind::Password,
        AuthKind::RefreshToken,
        AuthKind::AuthorizationCode,
        AuthKind::DeviceCode,
        AuthKind::TokenExchange,
        AuthKind::JwtBearer,
    ];

    /// Every kind's name, as written in the file (serde's kebab-case of the variant).
    pub const NAMES: [&'static str; 12] = [
        "basic",
        "api-token",
        "bearer",
        "headers",
        "query",
        "client-credentials",
        "password",
        "refresh-token",
        "authorization-code",
        "device-code",
        "token-exchange",
        "jwt-bearer",
    ];

    /// The name as written in the file.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Whether this kind sends fixed credentials (no token endpoint involved).
    pub fn is_static(self) -> bool {
        matches!(
            self,
            AuthKind::Basic
                | AuthKind::ApiToken
                | AuthKind::Bearer
                | AuthKind::Headers
                | AuthKind::Query
        )
    }

    /// Parses a name as written in the file.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for AuthKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `[profiles.NAME]` table. The field names are the documented contract.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Profile {
    /// How to authenticate.
    pub auth: AuthKind,
    /// A provider preset (`latchkey::preset`) that fills endpoints, scopes and client auth.
    pub preset: Option<String>,
    /// The issuer, for OIDC discovery (and ID token validation). With a preset that
    /// discovers, it replaces the preset's issuer (an Entra national cloud, a test server).
    pub issuer: Option<String>,
    /// The token endpoint, when not discovered.
    pub token_url: Option<String>,
    /// The authorization endpoint, when not discovered.
    pub authorization_url: Option<String>,
    /// The device authorization endpoint, when not discovered.
    pub device_authorization_url: Option<String>,
    /// The revocation endpoint, when not discovered.
    pub revocation_url: Option<String>,
    /// The OAuth client id.
    pub client_id: Option<String>,
    /// The client secret.
    pub client_secret: Option<SecretRef>,
    /// `client_secret_basic` (default with a secret) | `client_secret_post` |
    /// `client_secret_jwt` | `private_key_jwt` | `tls_client_auth` (default with a
    /// `client_cert` and no secret or key) | `self_signed_tls_client_auth` | `none` (default
    /// without any credential).
    pub client_auth: Option<ClientAuthMethod>,
    /// How `client_secret_basic` sends the id and secret: `encoded` (default, RFC 6749
    /// §2.3.1) | `raw`, for providers that do not decode them (glewlwyd; `docs/interop.md`).
    pub basic_credentials: Option<BasicCredentials>,
    /// The PEM private key for `private_key_jwt`.
    pub private_key: Option<SecretRef>,
    /// The key id (`kid`) for `private_key_jwt`.
    pub key_id: Option<String>,
    /// The audience of the assertions latchkey signs, for `client_secret_jwt` and jwt-bearer:
    /// `token_endpoint` (default) | `issuer`.
    pub assertion_audience: Option<AssertionAudience>,
    /// A PEM client certificate (chain) for mutual TLS (RFC 8705), an absolute path: for
    /// `tls_client_auth` / `self_signed_tls_client_auth` and certificate-bound tokens.
    pub client_cert: Option<PathBuf>,
    /// The PEM private key of `client_cert`, an absolute path (read when used, kept secret).
    pub client_key: Option<PathBuf>,
    /// Scopes to request.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The loopback redirect URI for browser logins (port 0: ephemeral); unset: the preset's
    /// default (`dhis2`: `http://localhost:8765`), else an ephemeral port.
    pub redirect_uri: Option<String>,
    /// The user name (password grant, basic).
    pub username: Option<String>,
    /// The password (password grant, basic).
    pub password: Option<SecretRef>,
    /// The token (api-token, bearer).
    pub token: Option<SecretRef>,
    /// The refresh token (refresh-token).
    pub refresh_token: Option<SecretRef>,
    /// Header name → value (headers).
    #[serde(default)]
    pub headers: BTreeMap<String, SecretRef>,
    /// Query parameter name → value (query).
    #[serde(default)]
    pub query: BTreeMap<String, SecretRef>,
    /// `memory` | `file` (default) | `sqlite` | `keyring` | `redis://host:port/db`, or a
    /// table for Redis with TLS files and a password reference ([`RedisSpec`]).
    pub store: Option<StoreSpec>,
    /// The API this profile talks to (for `latchkey request` and presets' `{base_url}`).
    pub base_url: Option<String>,
    /// The Keycloak realm, for the `keycloak` preset.
    pub realm: Option<String>,
    /// The Microsoft tenant, for the `microsoft` preset (default `common`).
    pub tenant: Option<String>,
    /// `manual` (default): a person runs `latchkey login` first. `auto`: the first call
    /// with nothing stored runs the login, when a person can answer here.
    pub login: Option<LoginMode>,
    /// The API the access tokens are for, sent as `audience`: with the client credentials
    /// and password grants and the authorization request (Auth0: without it, an opaque
    /// token; docs/interop.md), and by token exchange (RFC 8693).
    pub audience: Option<String>,
    /// `true`: DPoP (RFC 9449) sender-constrained tokens: a key made at login and stored
    /// with the tokens, a proof on every request. Default `false`: providers do not publish
    /// whether a client must use it, so it is asked for here.
    pub dpop: Option<bool>,
    /// The API the tokens are for (RFC 8707 resource indicator): one absolute URI or a
    /// list. A login asks for them all; each token is for the first, or for `--resource`;
    /// token exchange names them all.
    #[serde(default, deserialize_with = "resource::one_or_many")]
    pub resource: Vec<String>,
    /// Where the subject token comes from (token-exchange): `{ file = "…" }`,
    /// `{ env = "…" }` or `{ github_actions = "audience" }`.
    pub subject_token: Option<TokenSourceSpec>,
    /// The subject token's type URI (default `urn:ietf:params:oauth:token-type:jwt`).
    pub subject_token_type: Option<String>,
    /// Where the actor token comes from (token-exchange, optional).
    pub actor_token: Option<TokenSourceSpec>,
    /// The actor token's type URI (default `urn:ietf:params:oauth:token-type:jwt`).
    pub actor_token_type: Option<String>,
    /// The type of token to ask for (token-exchange; default: the provider's choice).
    pub requested_token_type: Option<String>,
    /// A Google-style service account key file (jwt-bearer). It holds a private key: keep
    /// it owner-only.
    pub service_account_key: Option<std::path::PathBuf>,
    /// The assertion's `iss` (jwt-bearer with `private_key`).
    pub assertion_issuer: Option<String>,
    /// The assertion's `sub` (jwt-bearer; default the issuer).
    pub assertion_subject: Option<String>,
    /// An assertion someone else signs, as a source (jwt-bearer).
    pub assertion: Option<TokenSourceSpec>,
    /// A JWT someone else signs, sent as the `client_assertion` (workload identity
    /// federation; any OAuth kind), as a source.
    pub client_assertion: Option<TokenSourceSpec>,
    /// Browser logins: push the authorization request (RFC 9126): `auto` (default: when
    /// the provider advertises a PAR endpoint) | `always` | `never`.
    pub par: Option<ParMode>,
    /// Browser logins: send the request as an object signed with `private_key` (RFC 9101),
    /// also when the provider does not require it.
    pub request_object: Option<bool>,
    /// Browser logins: `jwt` asks for a signed authorization response (JARM), checked
    /// against the provider's keys; `query` (default) for plain parameters.
    pub response_mode: Option<ResponseMode>,
}

/// The `login` field of a profile: when the interactive login runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LoginMode {
    /// Only when asked (`latchkey login`, `TokenManager::login`).
    #[default]
    Manual,
    /// Also on the first call with nothing stored (dhis2w's behaviour), when a terminal or
    /// a display says a person can answer.
    Auto,
}

impl Profile {
    /// A profile of `auth` kind with every other field unset.
    pub fn new(auth: AuthKind) -> Self {
        Self {
            auth,
            preset: None,
            issuer: None,
            token_url: None,
            authorization_url: None,
            device_authorization_url: None,
            revocation_url: None,
            client_id: None,
            client_secret: None,
            client_auth: None,
            basic_credentials: None,
            private_key: None,
            key_id: None,
            assertion_audience: None,
            client_cert: None,
            client_key: None,
            scopes: Vec::new(),
            redirect_uri: None,
            username: None,
            password: None,
            token: None,
            refresh_token: None,
            headers: BTreeMap::new(),
            query: BTreeMap::new(),
            store: None,
            base_url: None,
            realm: None,
            tenant: None,
            login: None,
            audience: None,
            dpop: None,
            resource: Vec::new(),
            subject_token: None,
            subject_token_type: None,
            actor_token: None,
            actor_token_type: None,
            requested_token_type: None,
            service_account_key: None,
            assertion_issuer: None,
            assertion_subject: None,
            assertion: None,
            client_assertion: None,
            par: None,
            request_object: None,
            response_mode: None,
        }
    }

    /// The store spec, `file` when unset.
    pub fn store_spec(&self) -> &StoreSpec {
        static DEFAULT: StoreSpec = StoreSpec::File;
        self.store.as_ref().unwrap_or(&DEFAULT)
    }
}
