//! Refreshing ahead of expiry, so requests never wait for the identity provider.

use std::sync::Weak;
use std::time::Duration;

use rand::RngExt;

use super::{Inner, TokenManager};

/// Refreshes shortly before each token's refresh time. Holds only a weak reference, so it
/// ends when the last manager handle is dropped.
pub(super) async fn run(inner: Weak<Inner>) {
    loop {
        let wait = {
            let Some(inner) = inner.upgrade() else { return };
            let manager = TokenManager { inner };
            if let Err(err) = manager.refresh_if_needed().await {
                tracing::warn!(key = %manager.inner.key, error = %err, "background refresh failed");
            }
            let now = manager.inner.clock.now();
            let next = manager
                .inner
                .current
                .load()
                .as_ref()
                .and_then(|live| live.refresh_at);
            let until = next
                .and_then(|at| at.duration_since(now).ok())
                .unwrap_or(manager.inner.failure_cooldown);
            // Jitter spreads a fleet's refreshes instead of synchronising them.
            let jitter = Duration::from_millis(
                rand::rng().random_range(0..=until.as_millis().min(5_000) as u64 / 10),
            );
            until.saturating_sub(jitter).max(Duration::from_millis(100))
        };
        tokio::time::sleep(wait).await;
    }
}
