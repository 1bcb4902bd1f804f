use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::{Grant, GrantKind, scope_param};
use crate::client::{OAuthClient, Replay};
use crate::error::Result;
use crate::resource::{self, Resource};
use crate::token::TokenSet;

/// The resource owner password grant (RFC 6749 §4.3), as Keycloak and CDSE use it, with an
/// optional one-time `totp` code.
///
/// Without a TOTP code the manager can re-authenticate unattended when the refresh token
/// ends. A TOTP code is good once, so a grant with one cannot: the session then ends with
/// `LoginRequired` when the refresh token does.
#[derive(Debug, Clone)]
pub struct Password {
    username: String,
    password: SecretString,
    totp: Option<SecretString>,
    scopes: Vec<String>,
    extra: Vec<(String, String)>,
    resources: Vec<Resource>,
}

impl Password {
    /// A password grant for `username`.
    pub fn new(username: impl Into<String>, password: SecretString) -> Self {
        Self {
            username: username.into(),
            password,
            totp: None,
            scopes: Vec::new(),
            extra: Vec::new(),
            resources: Vec::new(),
        }
    }

    /// Sends this one-time code as the `totp` parameter.
    pub fn totp(mut self, code: SecretString) -> Self {
        self.totp = Some(code);
        self
    }

    /// Asks for these scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a non-secret request parameter (e.g. Auth0's `audience`).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// Asks for a token for this resource (RFC 8707). Given more than once, the first is the
    /// token's: see [`Resource`].
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resources.push(resource);
        self
    }
}

#[async_trait]
impl Grant for Password {
    fn kind(&self) -> GrantKind {
        GrantKind::Password
    }

    fn can_run_unattended(&self) -> bool {
        self.totp.is_none()
    }

    fn resources(&self) -> &[Resource] {
        &self.resources
    }

    fn for_resource(&self, resource: Resource) -> Option<std::sync::Arc<dyn Grant>> {
        // A one-time code cannot be sent again for a second resource.
        self.can_run_unattended().then(|| {
            let mut grant = self.clone();
            grant.resources = vec![resource];
            std::sync::Arc::new(grant) as std::sync::Arc<dyn Grant>
        })
    }

    async fn obtain(&self, client: &OAuthClient) -> Result<TokenSet> {
        let scope = scope_param(&self.scopes);
        let mut params = vec![
            ("username", self.username.as_str()),
            ("password", self.password.expose_secret()),
        ];
        if let Some(totp) = &self.totp {
            params.push(("totp", totp.expose_secret()));
        }
        if let Some(scope) = &scope {
            params.push(("scope", scope));
        }
        params.extend(self.extra.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        params.extend(resource::token_param(&self.resources));
        // The TOTP code is single-use: a replay after a lost response would be refused.
        let replay = if self.totp.is_some() {
            Replay::OnlyIfNotProcessed
        } else {
            Replay::Safe
        };
        client.token_request("password", &params, replay).await
    }
}
