//! The seam between credentials and HTTP clients.

use std::fmt;

use async_trait::async_trait;
use http::HeaderMap;
use url::Url;

use crate::error::Result;

/// Applies credentials to an outgoing request.
///
/// Implemented by the static kinds ([`crate::StaticAuth`]) and by [`crate::TokenManager`];
/// HTTP integrations (`latchkey-reqwest`, your own client) depend only on this trait.
#[async_trait]
pub trait Authenticator: Send + Sync + fmt::Debug {
    /// Adds credentials to a request about to be sent: headers and/or query parameters.
    async fn apply(&self, headers: &mut HeaderMap, url: &mut Url) -> Result<()>;

    /// Renews credentials that are close to expiry; a no-op for static credentials.
    async fn refresh_if_needed(&self) -> Result<()> {
        Ok(())
    }

    /// Tells the authenticator the server rejected the credentials in `sent` (the headers of
    /// the request that got HTTP 401), so the next [`Authenticator::apply`] uses new ones.
    ///
    /// Passing what was sent lets a burst of 401s for the same old token trigger one renewal,
    /// and a late 401 for a token that was already replaced trigger none. A no-op for static
    /// credentials.
    async fn invalidate(&self, sent: &HeaderMap) -> Result<()> {
        let _ = sent;
        Ok(())
    }
}
