use async_trait::async_trait;

use super::{Grant, GrantKind, scope_param};
use crate::client::{OAuthClient, Replay};
use crate::error::{Error, Result};
use crate::resource::{self, Resource};
use crate::token::TokenSet;

/// The client credentials grant (RFC 6749 §4.4): a machine client acting on its own behalf.
///
/// No refresh token is issued; when the access token nears expiry the manager simply asks
/// again, which this grant can always do unattended.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    scopes: Vec<String>,
    extra: Vec<(String, String)>,
    resources: Vec<Resource>,
}

impl ClientCredentials {
    /// A client credentials grant without scopes.
    pub fn new() -> Self {
        Self::default()
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

    /// Adds a non-secret request parameter (e.g. `audience`). A `resource` goes through
    /// [`resource`](Self::resource) instead, which validates it and keeps its tokens apart.
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
impl Grant for ClientCredentials {
    fn kind(&self) -> GrantKind {
        GrantKind::ClientCredentials
    }

    fn can_run_unattended(&self) -> bool {
        true
    }

    fn resources(&self) -> &[Resource] {
        &self.resources
    }

    fn for_resource(&self, resource: Resource) -> Option<std::sync::Arc<dyn Grant>> {
        let mut grant = self.clone();
        grant.resources = vec![resource];
        Some(std::sync::Arc::new(grant))
    }

    async fn obtain(&self, client: &OAuthClient) -> Result<TokenSet> {
        if self.extra.iter().any(|(name, _)| name == "resource") {
            return Err(Error::Config(
                "`resource` is not an extra parameter: set it with `ClientCredentials::resource`, \
                 which validates it and keeps each resource's tokens apart"
                    .into(),
            ));
        }
        let scope = scope_param(&self.scopes);
        let mut params: Vec<(&str, &str)> = self
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(scope) = &scope {
            params.push(("scope", scope));
        }
        params.extend(resource::token_param(&self.resources));
        let tokens = client
            .token_request("client_credentials", &params, Replay::Safe)
            .await?;
        // Providers often omit `scope` when it equals the request (RFC 6749 §5.1).
        Ok(if tokens.scopes().is_empty() {
            tokens.with_scopes(self.scopes.clone())
        } else {
            tokens
        })
    }
}
