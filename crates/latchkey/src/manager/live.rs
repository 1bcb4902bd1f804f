//! The token set currently handed out, with everything the fast path needs precomputed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use zeroize::Zeroizing;

use crate::clock::unix_nanos;
use crate::error::Result;
use crate::token::{TokenSet, secret_header};

/// A token set as handed out, with its header and refresh time worked out once.
#[derive(Debug)]
pub(crate) struct Live {
    /// Unique for the life of the process: tells a thread's copy of the header whether it
    /// is still current (see `current.rs`). Never 0.
    pub(crate) id: u64,
    pub(crate) tokens: Arc<TokenSet>,
    pub(crate) header: HeaderValue,
    /// When to start refreshing; `None` when the expiry is unknown.
    pub(crate) refresh_at: Option<SystemTime>,
    /// `refresh_at` in nanoseconds since the Unix epoch (`u64::MAX` when unknown), for
    /// the fast path's comparison.
    pub(crate) refresh_at_nanos: u64,
    /// The server rejected this token (HTTP 401): never hand it out again.
    pub(crate) rejected: bool,
}

impl Live {
    pub(crate) fn new(tokens: TokenSet, margin: Duration) -> Result<Self> {
        let header =
            cache_line_header(tokens.header_bytes()).ok_or(crate::token::InvalidTokenHeader)?;
        let refresh_at = tokens.refresh_at(margin);
        Ok(Self {
            id: next_id(),
            tokens: Arc::new(tokens),
            header,
            refresh_at,
            refresh_at_nanos: nanos(refresh_at),
            rejected: false,
        })
    }

    #[inline]
    pub(crate) fn fresh_at(&self, now: SystemTime) -> bool {
        !self.rejected && self.refresh_at.is_none_or(|at| now < at)
    }

    /// [`fresh_at`](Self::fresh_at) with the time in nanoseconds since the Unix epoch.
    #[inline]
    pub(crate) fn fresh_at_nanos(&self, now: u64) -> bool {
        !self.rejected && now < self.refresh_at_nanos
    }

    /// A copy marked as rejected by the server.
    pub(crate) fn rejected(&self) -> Self {
        Self {
            id: next_id(),
            tokens: self.tokens.clone(),
            header: self.header.clone(),
            refresh_at: self.refresh_at,
            refresh_at_nanos: self.refresh_at_nanos,
            rejected: true,
        }
    }

    /// A copy the fast path serves until `until` (after a failed refresh).
    pub(crate) fn deferred(&self, until: SystemTime) -> Self {
        Self {
            id: next_id(),
            tokens: self.tokens.clone(),
            header: self.header.clone(),
            refresh_at: Some(until),
            refresh_at_nanos: nanos(Some(until)),
            rejected: false,
        }
    }
}

fn nanos(at: Option<SystemTime>) -> u64 {
    at.map_or(u64::MAX, unix_nanos)
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A sensitive header that wipes its bytes when dropped (as [`secret_header`] builds) and
/// whose allocation owns its cache lines.
pub(super) fn cache_line_header(bytes: Zeroizing<Vec<u8>>) -> Option<HeaderValue> {
    secret_header(OwnCacheLines(bytes))
}

/// Aligning the owner aligns the whole allocation `Bytes::from_owner` makes, reference count
/// included, to 128 bytes, and pads it to a multiple of that: no other allocation shares
/// its cache lines (or their prefetched pair). Two threads' copies of a header, allocated
/// side by side, otherwise bounced one cache line between cores on every clone and drop.
#[repr(align(128))]
struct OwnCacheLines(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for OwnCacheLines {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
