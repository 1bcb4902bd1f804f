use async_trait::async_trait;

use super::{Grant, GrantKind, scope_param};
use crate::client::{OAuthClient, Replay};
use crate::error::Result;
use crate::token::TokenSet;

/// The client credentials grant (RFC 6749 §4.4): a machine client acting on its own behalf.
///
/// No refresh token is issued; when the access token nears expiry the manager simply asks
/// again, which this grant can always do unattended.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    scopes: Vec<String>,
    extra: Vec<(String, String)>,
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

    /// Adds a non-secret request parameter (e.g. `audience`, `resource`).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
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

    async fn obtain(&self, client: &OAuthClient) -> Result<TokenSet> {
        let scope = scope_param(&self.scopes);
        let mut params: Vec<(&str, &str)> = self
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(scope) = &scope {
            params.push(("scope", scope));
        }
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
