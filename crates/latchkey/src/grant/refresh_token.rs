use std::time::SystemTime;

use async_trait::async_trait;
use secrecy::SecretString;

use super::{Grant, GrantKind};
use crate::client::OAuthClient;
use crate::error::{Error, Result};
use crate::resource::Resource;
use crate::token::TokenSet;

/// Only a refresh token obtained elsewhere. Its tokens live as long as refreshing works:
/// the original credentials are not held, so once the refresh token expires or is rejected
/// the session ends with `LoginRequired`.
#[derive(Debug, Clone)]
pub struct RefreshTokenOnly {
    refresh_token: SecretString,
    resources: Vec<Resource>,
}

impl RefreshTokenOnly {
    /// Starts from `refresh_token`.
    pub fn new(refresh_token: SecretString) -> Self {
        Self {
            refresh_token,
            resources: Vec::new(),
        }
    }

    /// Refreshes for this resource (RFC 8707 §2.2). Given more than once, the first is the
    /// token's: see [`Resource`].
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resources.push(resource);
        self
    }
}

#[async_trait]
impl Grant for RefreshTokenOnly {
    fn kind(&self) -> GrantKind {
        GrantKind::RefreshToken
    }

    fn can_run_unattended(&self) -> bool {
        false
    }

    fn resources(&self) -> &[Resource] {
        &self.resources
    }

    async fn obtain(&self, _client: &OAuthClient) -> Result<TokenSet> {
        Err(Error::LoginRequired {
            key: String::new(),
            reason: "the refresh token cannot be renewed without the original credentials".into(),
        })
    }

    fn seed(&self) -> Option<TokenSet> {
        // No access token yet: the manager sees it as expired and refreshes first.
        Some(
            TokenSet::new(SecretString::from(String::new()), SystemTime::UNIX_EPOCH)
                .with_refresh_token(Some(self.refresh_token.clone())),
        )
    }
}
