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
        let refresh_at = tokens.refresh_at(margin);
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
