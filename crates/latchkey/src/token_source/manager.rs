use async_trait::async_trait;
use secrecy::SecretString;

use super::TokenSource;
use crate::error::Result;
use crate::manager::TokenManager;

/// Another manager's access token (a person's login, exchanged for a token another service
/// accepts): fresh, refreshed by that manager as usual.
#[async_trait]
impl TokenSource for TokenManager {
    async fn token(&self) -> Result<SecretString> {
        Ok(self.tokens().await?.access_token().clone())
    }

    fn describe(&self) -> String {
        format!("the access token of `{}`", self.key())
    }
}
