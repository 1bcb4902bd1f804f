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

    /// [`apply`](Self::apply) for a request whose method is known: what HTTP integrations
    /// call. A DPoP-bound token (RFC 9449) needs it, since its per-request proof signs the
    /// method and URL. The default ignores the method.
    async fn apply_to(
        &self,
        method: &http::Method,
        headers: &mut HeaderMap,
        url: &mut Url,
    ) -> Result<()> {
        let _ = method;
        self.apply(headers, url).await
    }

    /// Reads a response to a request these credentials were applied to, for what is kept
    /// between requests (a DPoP server's nonce). Returns `true` when the server refused the
    /// request only for want of a fresh DPoP nonce (RFC 9449 §9: 401 with
    /// `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a new `DPoP-Nonce`): send it once
    /// more with credentials applied anew; the token was not rejected. Default: `false`.
    fn observe_response(&self, url: &Url, status: http::StatusCode, headers: &HeaderMap) -> bool {
        let _ = (url, status, headers);
        false
    }

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
