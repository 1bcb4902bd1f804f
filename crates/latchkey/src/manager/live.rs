//! The token set currently handed out, with everything the fast path needs precomputed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderValue;

use crate::error::Result;
use crate::token::TokenSet;

/// What the fast path reads: one atomic load, one time comparison, one refcount.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) tokens: Arc<TokenSet>,
    pub(crate) header: HeaderValue,
    /// When to start refreshing; `None` when the expiry is unknown.
    pub(crate) refresh_at: Option<SystemTime>,
    /// The server rejected this token (HTTP 401): never hand it out again.
    pub(crate) rejected: bool,
}

impl Live {
    pub(crate) fn new(tokens: TokenSet, margin: Duration) -> Result<Self> {
        let header = tokens.authorization_header()?;
        let refresh_at = refresh_at(&tokens, margin);
        Ok(Self {
            tokens: Arc::new(tokens),
            header,
            refresh_at,
            rejected: false,
        })
    }

    #[inline]
    pub(crate) fn fresh_at(&self, now: SystemTime) -> bool {
        !self.rejected && self.refresh_at.is_none_or(|at| now < at)
    }

    /// A copy marked as rejected by the server.
    pub(crate) fn rejected(&self) -> Self {
        Self {
            tokens: self.tokens.clone(),
            header: self.header.clone(),
            refresh_at: self.refresh_at,
            rejected: true,
        }
    }

    /// A copy the fast path serves until `until` (after a failed refresh).
    pub(crate) fn deferred(&self, until: SystemTime) -> Self {
        Self {
            tokens: self.tokens.clone(),
            header: self.header.clone(),
            refresh_at: Some(until),
            rejected: false,
        }
    }
}

/// The instant to refresh at: `margin` before expiry, but never before half the token's
/// lifetime (a 5-second token with a 60-second margin would otherwise refresh on every call).
pub(crate) fn refresh_at(tokens: &TokenSet, margin: Duration) -> Option<SystemTime> {
    let expires_at = tokens.expires_at()?;
    let lifetime = expires_at
        .duration_since(tokens.obtained_at())
        .unwrap_or_default();
    let margin = margin.min(lifetime / 2);
    Some(expires_at.checked_sub(margin).unwrap_or(expires_at))
}

/// Whether `tokens` can be handed out at `now` without refreshing.
pub(crate) fn is_fresh(tokens: &TokenSet, now: SystemTime, margin: Duration) -> bool {
    tokens.access_valid(now, Duration::ZERO) && refresh_at(tokens, margin).is_none_or(|at| now < at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(lifetime: u64) -> TokenSet {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        TokenSet::new("a".to_string().into(), t0)
            .with_expires_at(Some(t0 + Duration::from_secs(lifetime)))
    }

    #[test]
    fn margin_is_capped_at_half_the_lifetime() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(
            refresh_at(&tokens(3600), Duration::from_secs(60)),
            Some(t0 + Duration::from_secs(3540))
        );
        assert_eq!(
            refresh_at(&tokens(6), Duration::from_secs(60)),
            Some(t0 + Duration::from_secs(3))
        );
        assert!(is_fresh(
            &tokens(6),
            t0 + Duration::from_secs(2),
            Duration::from_secs(60)
        ));
        assert!(!is_fresh(
            &tokens(6),
            t0 + Duration::from_secs(3),
            Duration::from_secs(60)
        ));
    }
}
