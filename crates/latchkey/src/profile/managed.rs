//! The grant factory: an OAuth profile resolved into a [`TokenManager`] with its client,
//! grant and store, and the options that shape interactive logins.

use std::sync::Arc;

use secrecy::SecretString;
use url::Url;

use super::login_options::{Env, LoginOptions};
use super::token_source::Linked;
use super::{AuthKind, LoginMode, Paths, ProfileError, Selected};
use crate::authorization::AuthorizationRequest;
use crate::client::OAuthClient;
use crate::error::{Error, Result};
use crate::grant::{
    AuthorizationCode, BrowserMode, ClientCredentials, DeviceCode, Grant, Password,
    RefreshTokenOnly,
};
use crate::loopback::LoopbackPage;
use crate::manager::{FirstCallLogin, TokenManager};
use crate::oidc::introspection::introspect;
use crate::oidc::{IdTokenClaims, Introspection, OidcError, OidcProvider, ProviderMetadata};
use crate::store::TokenStore;
use crate::token::TokenSet;

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
    /// The client the manager authenticates with (introspection needs the same one).
    client: OAuthClient,
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

    /// Asks the provider's introspection endpoint (RFC 7662) about `token`, authenticated as
    /// this profile's client; `hint` is `access_token` or `refresh_token`. The endpoint comes
    /// from discovery or the profile's explicit URLs; without one this is an error naming
    /// the missing `introspection_endpoint`.
    pub async fn introspect(
        &self,
        token: &SecretString,
        hint: Option<&str>,
    ) -> Result<Introspection> {
        let url = self
            .metadata
            .introspection_endpoint
            .as_ref()
            .ok_or_else(|| {
                Error::from(OidcError::MissingEndpoint {
                    issuer: self.metadata.issuer.clone(),
                    field: "introspection_endpoint",
                })
            })?;
        introspect(&self.client, url, token, hint).await
    }
}

impl Selected {
    /// Resolves an OAuth profile into a [`ManagedProfile`], opening its store.
    pub async fn managed(
        &self,
        paths: &Paths,
        env: Env<'_>,
        options: &LoginOptions,
    ) -> Result<ManagedProfile, ProfileError> {
        let store = self.open_store(paths, env).await?;
        self.managed_with_store_at(paths, store, env, options).await
    }

    /// As [`managed_with_store`](Self::managed_with_store), also resolving the profiles
    /// this one names as token sources (`subject_token = { profile = "…" }`) from the
    /// profiles files at `paths`.
    pub async fn managed_with_store_at(
        &self,
        paths: &Paths,
        store: Arc<dyn TokenStore>,
        env: Env<'_>,
        options: &LoginOptions,
    ) -> Result<ManagedProfile, ProfileError> {
        let linked = self.linked_profiles(paths, env).await?;
        self.managed_linked(store, env, options, &linked).await
    }

    /// Resolves an OAuth profile into a [`ManagedProfile`] that keeps tokens in `store`.
    pub async fn managed_with_store(
        &self,
        store: Arc<dyn TokenStore>,
        env: Env<'_>,
        options: &LoginOptions,
    ) -> Result<ManagedProfile, ProfileError> {
        self.managed_linked(store, env, options, &[]).await
    }

    /// As [`managed_with_store`](Self::managed_with_store), with the managers of the
    /// profiles this one names as token sources (`{ profile = "…" }`).
    pub(super) async fn managed_linked(
        &self,
        store: Arc<dyn TokenStore>,
        env: Env<'_>,
        options: &LoginOptions,
        linked: &Linked,
    ) -> Result<ManagedProfile, ProfileError> {
        let p = &self.profile;
        if p.auth.is_static() {
            return Err(Error::Config(format!(
                "profile `{}` uses `{}`: fixed credentials, no tokens to manage",
                self.name, p.auth
            ))
            .into());
        }
        if options.totp.is_some() && p.auth != AuthKind::Password {
            return Err(Error::Config(format!(
                "profile `{}` uses `{}`: a one-time code only applies to `password` profiles",
                self.name, p.auth
            ))
            .into());
        }
        if options.step_up.is_some() && (p.auth != AuthKind::AuthorizationCode || options.device) {
            return Err(Error::Config(format!(
                "profile `{}` uses `{}`: asking for a stronger sign-in (acr_values, max_age) \
                 needs a browser login (`authorization-code` without --device)",
                self.name, p.auth
            ))
            .into());
        }
        let resources = self.resources()?;
        let preset = self.preset()?;
        let client_id = p
            .client_id
            .clone()
            .or_else(|| preset.and_then(|p| p.public_client_id).map(Into::into))
            .ok_or_else(|| ProfileError::missing(&self.name, p.auth, "client_id"))?;
        let (metadata, provider) = self.endpoints().await?;
        let certificate = self.client_certificate()?;
        let mut client = metadata
            .client_builder(client_id.clone())
            .auth(self.client_auth(env, &metadata.issuer).await?);
        if let Some(certificate) = certificate {
            client = client.client_certificate(certificate);
        }
        if let Some(preset) = preset {
            client = preset.configure_client(client);
        }
        if p.dpop == Some(true) {
            client = client.dpop_algorithm(super::dpop::algorithm(&self.name, &metadata)?);
        }
        let client = client.build()?;
        // With a certificate, userinfo and the other provider calls go over it too, to the
        // aliased endpoints: a certificate-bound token is refused anywhere else.
        let provider = match (provider, client.client_certificate()) {
            (Some(found), Some(_)) => Some(OidcProvider::from_parts(
                metadata.clone(),
                found.jwks().cloned(),
                client.http().clone(),
            )),
            (provider, _) => provider,
        };
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
                .ok_or_else(|| ProfileError::missing(&self.name, kind, field))
        };
        let build = |grant: Arc<dyn Grant>| -> Result<TokenManager, ProfileError> {
            Ok(TokenManager::builder(client.clone(), grant)
                .first_call_login(first_call_login(p.login.unwrap_or_default(), env))
                .key(self.name.clone())
                .store(store.clone())
                .build()?)
        };
        let manager = match kind {
            AuthKind::ClientCredentials => {
                let mut grant = ClientCredentials::new().scopes(scopes);
                if let Some(audience) = &p.audience {
                    grant = grant.param("audience", audience);
                }
                for resource in &resources {
                    grant = grant.resource(resource.clone());
                }
                build(Arc::new(grant))?
            }
            AuthKind::Password => {
                let username = p
                    .username
                    .clone()
                    .ok_or_else(|| ProfileError::missing(&self.name, kind, "username"))?;
                let password = self.secret("password", p.password.as_ref(), env).await?;
                let mut grant = Password::new(username, password).scopes(scopes);
                if let Some(audience) = &p.audience {
                    grant = grant.param("audience", audience);
                }
                if let Some(code) = &options.totp {
                    grant = grant.totp(code.clone());
                }
                for resource in &resources {
                    grant = grant.resource(resource.clone());
                }
                build(Arc::new(grant))?
            }
            AuthKind::RefreshToken => {
                let token = self
                    .secret("refresh_token", p.refresh_token.as_ref(), env)
                    .await?;
                let mut grant = RefreshTokenOnly::new(token);
                for resource in &resources {
                    grant = grant.resource(resource.clone());
                }
                build(Arc::new(grant))?
            }
            AuthKind::DeviceCode => {
                let url = needs(
                    "device_authorization_url",
                    &metadata.device_authorization_endpoint,
                )?;
                let mut grant = DeviceCode::builder(url.as_str()).scopes(scopes);
                for resource in &resources {
                    grant = grant.resource(resource.clone());
                }
                if let Some(prompt) = options.on_device_prompt.clone() {
                    grant = grant.on_prompt(move |p| prompt(p));
                }
                build(Arc::new(grant.build()?))?
            }
            AuthKind::AuthorizationCode => {
                let url = needs("authorization_url", &metadata.authorization_endpoint)?;
                let wants_id_token = scopes.iter().any(|s| s == "openid");
                let mut request = AuthorizationRequest::builder(url.as_str()).scopes(scopes);
                for resource in &resources {
                    request = request.resource(resource.clone());
                }
                if let Some(step_up) = &options.step_up {
                    request = request.step_up(step_up.clone());
                }
                if let Some(preset) = preset {
                    request = preset.configure_authorization(request);
                }
                if let Some(audience) = &p.audience {
                    request = request.param("audience", audience);
                }
                if let Some(provider) = &provider {
                    // Issuer (RFC 9207), PAR endpoint and requirements, JWKS for JARM.
                    request = request.provider(provider);
                }
                request = request
                    .par(p.par.unwrap_or_default())
                    .request_object(p.request_object.unwrap_or(false));
                if let Some(mode) = p.response_mode {
                    request = request.response_mode(mode);
                }
                let mut grant =
                    AuthorizationCode::builder(request.build()?).browser(options.browser);
                // The page names the profile the person is logging in to; a name the page
                // cannot show (over its length limit) leaves the page unnamed, not the login
                // failed.
                if let Ok(page) = LoopbackPage::builder().profile(self.name.clone()).build() {
                    grant = grant.page(page);
                }
                if let Some(uri) = self.redirect_uri()? {
                    grant = grant.redirect_uri(uri);
                }
                if let Some(provider) = &provider
                    && wants_id_token
                    && provider.jwks().is_some()
                {
                    grant = grant
                        .id_token_check(provider.id_token_validator(client_id.clone())?.build()?);
                }
                if let Some(show) = options.on_authorization_url.clone() {
                    grant = grant.on_authorization_url(move |u| show(u));
                }
                build(Arc::new(grant.build()?))?
            }
            AuthKind::TokenExchange => build(self.token_exchange_grant(scopes, env, linked)?)?,
            AuthKind::JwtBearer => build(self.jwt_bearer_grant(scopes, env).await?)?,
            _ => return Err(Error::Internal(format!("unhandled auth kind {kind}")).into()),
        };
        // `--resource`: its tokens next to the profile's (a no-op when it is the first).
        let manager = match &options.resource {
            Some(resource) => manager.for_resource(resource.clone()),
            None => manager,
        };
        Ok(ManagedProfile {
            manager,
            store,
            metadata,
            provider,
            client_id,
            client,
        })
    }
}

/// The manager's policy for a profile's `login` mode. Whether a person can answer is decided
/// here, not in the core: a terminal on stdin and stderr, or a display for the browser.
fn first_call_login(mode: LoginMode, env: Env<'_>) -> FirstCallLogin {
    use std::io::IsTerminal;
    match mode {
        LoginMode::Manual => FirstCallLogin::Off,
        LoginMode::Auto => match nobody_to_answer(
            std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
            env,
        ) {
            None => FirstCallLogin::On,
            Some(reason) => FirstCallLogin::Unavailable { reason },
        },
    }
}

/// Why no person can answer a login here, or `None` when one can: a terminal, or a display
/// a browser can open on.
pub(crate) fn nobody_to_answer(
    terminal: bool,
    var: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    if terminal || BrowserMode::Auto.can_open(var) {
        return None;
    }
    Some("stdin or stderr is not a terminal and no browser can open (no DISPLAY or WAYLAND_DISPLAY, or over SSH; and no BROWSER)".into())
}

#[cfg(test)]
mod tests {
    use super::nobody_to_answer;

    #[test]
    fn a_terminal_or_a_display_means_someone_can_answer() {
        let none = |_: &str| None;
        assert_eq!(nobody_to_answer(true, none), None);
        if cfg!(all(unix, not(target_os = "macos"))) {
            let reason = nobody_to_answer(false, none).expect("nobody");
            assert!(reason.contains("not a terminal"), "{reason}");
            let display = |n: &str| (n == "DISPLAY").then(|| ":0".to_string());
            assert_eq!(nobody_to_answer(false, display), None);
        } else {
            // Windows and macOS always have a desktop a browser can open on.
            assert_eq!(nobody_to_answer(false, none), None);
        }
    }
}
