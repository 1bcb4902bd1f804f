//! Refreshing ahead of expiry, so requests never wait for the identity provider.

use std::sync::Weak;
use std::time::{Duration, SystemTime};

use rand::RngExt;

use super::{Inner, TokenManager};

/// Refreshes shortly before each token's refresh time, so callers never find it stale and
/// never wait. Holds only a weak reference, so it ends when the last manager handle is
/// dropped.
pub(super) async fn run(inner: Weak<Inner>) {
    // The refresh time this wake-up aims at; `None` until there is a token.
    let mut target: Option<SystemTime> = None;
    loop {
        let wait = {
            let Some(inner) = inner.upgrade() else { return };
            let manager = TokenManager { inner };
            let now = manager.inner.clock.now();
            // Woken a little early on purpose: refresh as if the target had been reached.
            let ahead = target
                .and_then(|at| at.duration_since(now).ok())
                .unwrap_or_default();
            if let Err(err) = manager.ensure_ahead(ahead).await {
                tracing::warn!(key = %manager.inner.key, error = %err, "background refresh failed");
            }
            let now = manager.inner.clock.now();
            target = manager
                .inner
                .current
                .load()
                .as_ref()
                .and_then(|live| live.refresh_at);
            let until = target
                .and_then(|at| at.duration_since(now).ok())
                .unwrap_or(manager.inner.failure_cooldown);
            // Start this long before callers would need a refresh, so a slow identity
            // provider is absorbed here; jitter spreads a fleet's refreshes.
            let lead = (until / 5).clamp(Duration::from_millis(100), Duration::from_secs(10));
            let jitter =
                Duration::from_millis(rand::rng().random_range(0..=lead.as_millis() as u64 / 2));
            until
                .saturating_sub(lead + jitter)
                .max(Duration::from_millis(50))
        };
        tokio::time::sleep(wait).await;
    }
}
