//! From a selected profile to credentials: a `StaticAuth`, or a `TokenManager` with its
//! endpoints (preset, discovery or explicit URLs), client authentication, grant and store.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{AuthKind, Paths, ProfileError, SecretRef, Selected};
use crate::error::{Error, Result};
use crate::grant::{
    AuthorizationCode, BrowserMode, ClientCredentials, DeviceCode, DevicePrompt, Grant, Password,
    RefreshTokenOnly,
};
use crate::oidc::{IdTokenClaims, OidcProvider, ProviderMetadata};
use crate::preset::{Preset, PresetVars, Resolved};
use crate::store::{FileStore, MemoryStore, TokenStore};
use crate::{
    Algorithm, ClientAuth, OAuthClient, PrivateKeyJwt, StaticAuth, TokenManager, TokenSet,
};

type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);
type PromptFn = Arc<dyn Fn(&DevicePrompt) + Send + Sync>;
type UrlFn = Arc<dyn Fn(&Url) + Send + Sync>;

/// How interactive grants should behave; the defaults suit unattended use.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct LoginOptions {
    /// Whether to open a browser for authorization-code logins.
    pub browser: BrowserMode,
    /// Use the device flow even for an `authorization-code` profile (`login --device`).
    pub device: bool,
    /// Shows the device flow's URL and code (default: the library's stderr prompt).
    pub on_device_prompt: Option<PromptFn>,
    /// Shows the browser login URL (default: open a browser and print it to stderr).
    pub on_authorization_url: Option<UrlFn>,
    /// A one-time code for a `password` profile whose account has two-factor login (sent as
    /// `totp`, Keycloak style). Other profiles refuse it.
    pub totp: Option<SecretString>,
}

impl fmt::Debug for LoginOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginOptions")
            .field("browser", &self.browser)
            .field("device", &self.device)
            .field("totp", &self.totp.as_ref().map(|_| "[REDACTED]"))
            .finish_non_exhaustive()
    }
}

/// An OAuth profile, resolved: its manager, store and provider.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ManagedProfile {
    /// Obtains, refreshes, stores and revokes the tokens.
    pub manager: TokenManager,
    /// Where the tokens are kept.
    pub store: Arc<dyn TokenStore>,
    /// The endpoints in use.
    pub metadata: Arc<ProviderMetadata>,
    /// The discovered OpenID provider (JWKS, introspection), when the profile has an issuer.
    pub provider: Option<OidcProvider>,
    /// The OAuth client id.
    pub client_id: String,
}

impl ManagedProfile {
    /// Validates the ID token in `tokens` against the provider's keys (no nonce: used after
    /// device logins, which have none). `None` when there is no ID token or no provider.
    pub async fn validate_id_token(&self, tokens: &TokenSet) -> Result<Option<IdTokenClaims>> {
        let (Some(provider), Some(id_token)) = (&self.provider, tokens.id_token()) else {
            return Ok(None);
        };
        let validator = provider
            .id_token_validator(self.client_id.clone())?
            .build()?;
        validator.validate(id_token, None).await.map(Some)
    }
}

impl Selected {
    fn preset(&self) -> Result<Option<&'static Preset>> {
        self.profile
            .preset
            .as_deref()
            .map(Preset::by_name)
            .transpose()
    }

    async fn secret(
        &self,
        field: &str,
        value: Option<&SecretRef>,
        env: Env<'_>,
    ) -> Result<SecretString> {
        let value =
            value.ok_or_else(|| ProfileError::missing(&self.name, self.profile.auth, field))?;
        Ok(value.resolve(&self.name, field, env).await?)
    }

    async fn secret_map(
        &self,
        field: &str,
        map: &BTreeMap<String, SecretRef>,
        env: Env<'_>,
    ) -> Result<Vec<(String, SecretString)>> {
        if map.is_empty() {
            return Err(ProfileError::missing(&self.name, self.profile.auth, field).into());
        }
        let mut out = Vec::with_capacity(map.len());
        for (name, value) in map {
            let secret = value
                .resolve(&self.name, &format!("{field}.{name}"), env)
                .await?;
            out.push((name.clone(), secret));
        }
        Ok(out)
    }

    /// The fixed credential of a static profile (`basic`, `api-token`, `bearer`, `headers`,
    /// `query`); an error for OAuth profiles.
    pub async fn static_auth(&self, env: Env<'_>) -> Result<StaticAuth> {
        let p = &self.profile;
        Ok(match p.auth {
            AuthKind::Basic => {
                let username = p
                    .username
                    .clone()
                    .ok_or_else(|| ProfileError::missing(&self.name, p.auth, "username"))?;
                StaticAuth::basic(
                    username,
                    self.secret("password", p.password.as_ref(), env).await?,
                )
            }
            AuthKind::ApiToken => {
                StaticAuth::ApiToken(self.secret("token", p.token.as_ref(), env).await?)
            }
            AuthKind::Bearer => {
                StaticAuth::Bearer(self.secret("token", p.token.as_ref(), env).await?)
            }
            AuthKind::Headers => {
                StaticAuth::headers(self.secret_map("headers", &p.headers, env).await?)?
            }
            AuthKind::Query => {
                StaticAuth::query_params(self.secret_map("query", &p.query, env).await?)
            }
            other => {
                return Err(Error::Config(format!(
                    "profile `{}` uses `{other}`, which obtains tokens from an identity provider",
                    self.name
                )));
            }
        })
    }

    /// Opens the profile's token store (`store = …`, default `file` under the state dir).
    pub async fn open_store(&self, paths: &Paths) -> Result<Arc<dyn TokenStore>> {
        open_store(&self.name, self.profile.store_spec(), paths).await
    }

    /// The stored token set, read on the calling thread, when the profile keeps its tokens
    /// in the file store; `None` for other stores, when nothing is stored or when the file
    /// cannot be read. For commands that answer from the store before they start an async
    /// runtime: on `None`, take the usual path through [`open_store`](Self::open_store),
    /// which reports any error.
    pub fn stored_tokens_now(&self, paths: &Paths) -> Option<TokenSet> {
        (self.profile.store_spec() == "file")
            .then(|| file_store(paths).load_now(&self.name).ok().flatten())
            .flatten()
    }

    /// The endpoints: from the preset, from discovery of `issuer`, then explicit URLs on top.
    pub async fn endpoints(&self) -> Result<(Arc<ProviderMetadata>, Option<OidcProvider>)> {
        let p = &self.profile;
        let mut discover = None;
        let mut metadata = None;
        if let Some(preset) = self.preset()? {
            let mut vars = PresetVars::default();
            if let Some(v) = &p.issuer {
                vars = vars.issuer(v);
            }
            if let Some(v) = &p.base_url {
                vars = vars.base_url(v);
            }
            if let Some(v) = &p.realm {
                vars = vars.realm(v);
            }
            if let Some(v) = &p.tenant {
                vars = vars.tenant(v);
            }
            match preset.resolve(&vars)? {
                Resolved::Discover { issuer } => discover = Some(issuer),
                Resolved::Static(m) => metadata = Some(*m),
                #[allow(unreachable_patterns, reason = "Resolved is non_exhaustive")]
                _ => return Err(Error::Internal("unknown preset resolution".into())),
            }
        } else if let Some(issuer) = &p.issuer {
            discover = Some(issuer.clone());
        }
        let mut provider = None;
        if let Some(issuer) = discover {
            let found = OidcProvider::discover(&issuer).await?;
            metadata = Some(found.metadata().clone());
            provider = Some(found);
        }
        let mut metadata = match metadata {
            Some(m) => m,
            None => {
                let raw = p.token_url.as_deref().ok_or_else(|| {
                    ProfileError::missing(&self.name, p.auth, "issuer` or `token_url")
                })?;
                ProviderMetadata::new(raw, crate::http::endpoint("token_url", raw, false)?)
            }
        };
        let field = |name: &str, raw: &Option<String>| -> Result<Option<Url>> {
            raw.as_deref()
                .map(|r| crate::http::endpoint(name, r, false))
                .transpose()
        };
        if let Some(u) = field("token_url", &p.token_url)? {
            metadata.token_endpoint = u;
        }
        if let Some(u) = field("authorization_url", &p.authorization_url)? {
            metadata.authorization_endpoint = Some(u);
        }
        if let Some(u) = field("device_authorization_url", &p.device_authorization_url)? {
            metadata.device_authorization_endpoint = Some(u);
        }
        if let Some(u) = field("revocation_url", &p.revocation_url)? {
            metadata.revocation_endpoint = Some(u);
        }
        Ok((Arc::new(metadata), provider))
    }

    async fn client_auth(&self, env: Env<'_>) -> Result<ClientAuth> {
        let p = &self.profile;
        let method = match (&p.client_auth, &p.client_secret, &p.private_key) {
            (Some(m), _, _) => m.clone(),
            (None, Some(_), _) => match self.preset()? {
                Some(preset) if preset.client_auth.starts_with("client_secret") => {
                    preset.client_auth.into()
                }
                _ => "client_secret_basic".into(),
            },
            (None, None, Some(_)) => "private_key_jwt".into(),
            (None, None, None) => "none".into(),
        };
        Ok(match method.as_str() {
            "none" => ClientAuth::None,
            "client_secret_basic" => ClientAuth::SecretBasic(
                self.secret("client_secret", p.client_secret.as_ref(), env)
                    .await?,
            ),
            "client_secret_post" => ClientAuth::SecretPost(
                self.secret("client_secret", p.client_secret.as_ref(), env)
                    .await?,
            ),
            "private_key_jwt" => {
                let pem = self
                    .secret("private_key", p.private_key.as_ref(), env)
                    .await?;
                let alg = if pem.expose_secret().contains("EC PRIVATE KEY") {
                    Algorithm::ES256
                } else {
                    Algorithm::RS256
                };
                let key = PrivateKeyJwt::from_pem(&pem, alg, p.key_id.clone()).or_else(|_| {
                    PrivateKeyJwt::from_pem(&pem, Algorithm::ES256, p.key_id.clone())
                })?;
                ClientAuth::PrivateKeyJwt(key)
            }
            other => {
                return Err(ProfileError::invalid(
                    &self.name,
                    "client_auth",
                    format!("is `{other}`; valid: client_secret_basic, client_secret_post, private_key_jwt, none"),
                )
                .into());
            }
        })
    }

    /// Resolves an OAuth profile into a [`ManagedProfile`], opening its store.
    pub async fn managed(
        &self,
        paths: &Paths,
        env: Env<'_>,
        options: &LoginOptions,
    ) -> Result<ManagedProfile> {
        let store = self.open_store(paths).await?;
        self.managed_with_store(store, env, options).await
    }

    /// Resolves an OAuth profile into a [`ManagedProfile`] that keeps tokens in `store`.
    pub async fn managed_with_store(
        &self,
        store: Arc<dyn TokenStore>,
        env: Env<'_>,
        options: &LoginOptions,
    ) -> Result<ManagedProfile> {
        let p = &self.profile;
        if p.auth.is_static() {
            return Err(Error::Config(format!(
                "profile `{}` uses `{}`: fixed credentials, no tokens to manage",
                self.name, p.auth
            )));
        }
        if options.totp.is_some() && p.auth != AuthKind::Password {
            return Err(Error::Config(format!(
                "profile `{}` uses `{}`: a one-time code only applies to `password` profiles",
                self.name, p.auth
            )));
        }
        let preset = self.preset()?;
        let client_id = p
            .client_id
            .clone()
            .or_else(|| preset.and_then(|p| p.public_client_id).map(Into::into))
            .ok_or_else(|| ProfileError::missing(&self.name, p.auth, "client_id"))?;
        let (metadata, provider) = self.endpoints().await?;
        let client = metadata
            .client_builder(client_id.clone())
            .auth(self.client_auth(env).await?)
            .build()?;
        let scopes: Vec<String> = match (p.scopes.is_empty(), preset) {
            (true, Some(preset)) => preset
                .default_scopes
                .iter()
                .map(|s| s.to_string())
                .collect(),
            _ => p.scopes.clone(),
        };
        let kind = match p.auth {
            AuthKind::AuthorizationCode | AuthKind::DeviceCode if options.device => {
                AuthKind::DeviceCode
            }
            other => other,
        };
        let needs = |field: &str, url: &Option<Url>| {
            url.clone()
                .ok_or_else(|| Error::from(ProfileError::missing(&self.name, kind, field)))
        };
        let build = |grant: Arc<dyn Grant>| -> Result<TokenManager> {
            TokenManager::builder(client.clone(), SharedGrant(grant))
                .key(self.name.clone())
                .store(store.clone())
                .build()
        };
        let manager = match kind {
            AuthKind::ClientCredentials => {
                build(Arc::new(ClientCredentials::new().scopes(scopes)))?
            }
            AuthKind::Password => {
                let username = p
                    .username
                    .clone()
                    .ok_or_else(|| ProfileError::missing(&self.name, kind, "username"))?;
                let password = self.secret("password", p.password.as_ref(), env).await?;
                let mut grant = Password::new(username, password).scopes(scopes);
                if let Some(code) = &options.totp {
                    grant = grant.totp(code.clone());
                }
                build(Arc::new(grant))?
            }
            AuthKind::RefreshToken => {
                let token = self
                    .secret("refresh_token", p.refresh_token.as_ref(), env)
                    .await?;
                build(Arc::new(RefreshTokenOnly::new(token)))?
            }
            AuthKind::DeviceCode => {
                let url = needs(
                    "device_authorization_url",
                    &metadata.device_authorization_endpoint,
                )?;
                let mut grant = DeviceCode::builder(url.as_str()).scopes(scopes);
                if let Some(prompt) = options.on_device_prompt.clone() {
                    grant = grant.on_prompt(move |p| prompt(p));
                }
                build(Arc::new(grant.build()?))?
            }
            AuthKind::AuthorizationCode => {
                let url = needs("authorization_url", &metadata.authorization_endpoint)?;
                let wants_id_token = scopes.iter().any(|s| s == "openid");
                let mut grant = AuthorizationCode::builder(url.as_str())
                    .scopes(scopes)
                    .browser(options.browser);
                if let Some(uri) = &p.redirect_uri {
                    grant = grant.redirect_uri(uri.clone());
                }
                for (name, value) in preset.map(|p| p.extra_auth_params).unwrap_or_default() {
                    grant = grant.param(*name, *value);
                }
                if let Some(provider) = &provider {
                    let m = provider.metadata();
                    grant = grant.issuer(
                        m.issuer.clone(),
                        m.authorization_response_iss_parameter_supported,
                    );
                    if wants_id_token && provider.jwks().is_some() {
                        grant = grant.id_token_check(
                            provider.id_token_validator(client_id.clone())?.build()?,
                        );
                    }
                }
                if let Some(show) = options.on_authorization_url.clone() {
                    grant = grant.on_authorization_url(move |u| show(u));
                }
                build(Arc::new(grant.build()?))?
            }
            _ => return Err(Error::Internal(format!("unhandled auth kind {kind}"))),
        };
        Ok(ManagedProfile {
            manager,
            store,
            metadata,
            provider,
            client_id,
        })
    }
}

/// Lets the manager builder take a grant chosen at run time.
#[derive(Debug)]
struct SharedGrant(Arc<dyn Grant>);

#[async_trait::async_trait]
impl Grant for SharedGrant {
    fn kind(&self) -> crate::GrantKind {
        self.0.kind()
    }
    fn can_run_unattended(&self) -> bool {
        self.0.can_run_unattended()
    }
    async fn obtain(&self, client: &OAuthClient) -> Result<TokenSet> {
        self.0.obtain(client).await
    }
    fn seed(&self) -> Option<TokenSet> {
        self.0.seed()
    }
}

/// Opens a store from its spec: `memory`, `file`, `sqlite`, `keyring` or a `redis://` URL.
fn file_store(paths: &Paths) -> FileStore {
    FileStore::new(paths.state_dir.join("tokens"))
}

pub(crate) async fn open_store(
    profile: &str,
    spec: &str,
    paths: &Paths,
) -> Result<Arc<dyn TokenStore>> {
    let missing_feature = |feature: &str| {
        Error::from(ProfileError::invalid(
            profile,
            "store",
            format!("is `{spec}`, but this build of latchkey lacks the `{feature}` feature"),
        ))
    };
    Ok(match spec {
        "memory" => Arc::new(MemoryStore::new()),
        "file" => Arc::new(file_store(paths)),
        "sqlite" => {
            #[cfg(feature = "sqlite")]
            {
                // `open` creates the state directory private (0700, owner-only on Windows).
                Arc::new(crate::SqliteStore::open(
                    paths.state_dir.join("tokens.sqlite"),
                )?)
            }
            #[cfg(not(feature = "sqlite"))]
            return Err(missing_feature("sqlite"));
        }
        "keyring" => {
            #[cfg(feature = "keyring")]
            {
                Arc::new(
                    crate::KeyringStore::open(
                        super::secret::KEYRING_SERVICE,
                        paths.state_dir.clone(),
                        crate::KeyringFallback::Fail,
                    )
                    .await?,
                )
            }
            #[cfg(not(feature = "keyring"))]
            return Err(missing_feature("keyring"));
        }
        redis if redis.starts_with("redis://") || redis.starts_with("rediss://") => {
            #[cfg(feature = "redis")]
            {
                Arc::new(crate::RedisStore::connect(redis).await?)
            }
            #[cfg(not(feature = "redis"))]
            return Err(missing_feature("redis"));
        }
        other => {
            let _ = missing_feature;
            return Err(ProfileError::invalid(
                profile,
                "store",
                format!("is `{other}`; valid: memory, file, sqlite, keyring, redis://host:port/db"),
            )
            .into());
        }
    })
}
