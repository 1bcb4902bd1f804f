//! From a selected profile to credentials: its secrets, the fixed credential of a static
//! profile, and the one call that returns whichever authenticator the profile describes.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::SecretString;

use super::login_options::{Env, LoginOptions};
use super::managed::ManagedProfile;
use super::{AuthKind, Paths, ProfileError, SecretRef, Selected};
use crate::authenticator::Authenticator;
use crate::credential::StaticAuth;
use crate::store::TokenStore;

/// An environment with no variables set: for profiles built by code, whose secrets are
/// values, not references.
pub(super) fn no_env(_: &str) -> Option<String> {
    None
}

/// What a profile authenticates with: fixed credentials, or tokens kept by a manager.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ProfileAuth {
    /// `basic`, `api-token`, `bearer`, `headers`, `query`.
    Static(StaticAuth),
    /// Every OAuth kind.
    Managed(Box<ManagedProfile>),
}

impl ProfileAuth {
    /// The authenticator to apply to requests.
    pub fn authenticator(&self) -> Arc<dyn Authenticator> {
        match self {
            ProfileAuth::Static(auth) => Arc::new(auth.clone()),
            ProfileAuth::Managed(managed) => Arc::new(managed.manager.clone()),
        }
    }

    /// The managed profile, when this is an OAuth one.
    pub fn managed(&self) -> Option<&ManagedProfile> {
        match self {
            ProfileAuth::Managed(managed) => Some(managed),
            ProfileAuth::Static(_) => None,
        }
    }
}

impl Selected {
    /// A selection of `profile` under `name` made by code (a DHIS2 route, a test), not by
    /// the command line.
    pub fn new(name: impl Into<String>, profile: super::Profile) -> Self {
        Self {
            name: name.into(),
            profile,
            source: super::SelectionSource::Flag,
            origin: super::Origin::User,
        }
    }

    /// Resolves the profile into its authenticator, opening the profile's store for OAuth
    /// kinds.
    pub async fn authenticate(
        &self,
        paths: &Paths,
        env: Env<'_>,
        options: &LoginOptions,
    ) -> Result<ProfileAuth, ProfileError> {
        if self.profile.auth.is_static() {
            return Ok(ProfileAuth::Static(self.static_auth(env).await?));
        }
        let managed = self.managed(paths, env, options).await?;
        Ok(ProfileAuth::Managed(Box::new(managed)))
    }

    /// Like [`authenticate`](Self::authenticate), keeping OAuth tokens in `store`.
    pub async fn authenticate_with_store(
        &self,
        store: Arc<dyn TokenStore>,
        env: Env<'_>,
        options: &LoginOptions,
    ) -> Result<ProfileAuth, ProfileError> {
        if self.profile.auth.is_static() {
            return Ok(ProfileAuth::Static(self.static_auth(env).await?));
        }
        let managed = self.managed_with_store(store, env, options).await?;
        Ok(ProfileAuth::Managed(Box::new(managed)))
    }

    /// The fixed credential of a static profile (`basic`, `api-token`, `bearer`, `headers`,
    /// `query`); an error for OAuth profiles.
    pub async fn static_auth(&self, env: Env<'_>) -> Result<StaticAuth, ProfileError> {
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
                return Err(crate::error::Error::Config(format!(
                    "profile `{}` uses `{other}`, which obtains tokens from an identity provider",
                    self.name
                ))
                .into());
            }
        })
    }

    /// Reads the secret in `field`, which the profile's kind needs.
    pub(super) async fn secret(
        &self,
        field: &str,
        value: Option<&SecretRef>,
        env: Env<'_>,
    ) -> Result<SecretString, ProfileError> {
        let value =
            value.ok_or_else(|| ProfileError::missing(&self.name, self.profile.auth, field))?;
        value.resolve(&self.name, field, env).await
    }

    async fn secret_map(
        &self,
        field: &str,
        map: &BTreeMap<String, SecretRef>,
        env: Env<'_>,
    ) -> Result<Vec<(String, SecretString)>, ProfileError> {
        if map.is_empty() {
            return Err(ProfileError::missing(&self.name, self.profile.auth, field));
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
}
