//! Runs a blocking backend call (SQLite, the platform keyring) off the async runtime.

use std::time::Duration;

use super::StoreError;

/// Runs `f` on tokio's blocking pool and gives up waiting after `timeout`.
///
/// A call that times out keeps running on its thread (a blocking call cannot be
/// cancelled); the caller gets [`StoreError::Unavailable`] instead of hanging, which is
/// what a wedged D-Bus daemon or a locked database on a network share would otherwise do.
pub(crate) async fn run<T: Send + 'static>(
    backend: &str,
    timeout: Duration,
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(StoreError::Unavailable {
            backend: backend.to_owned(),
            reason: format!("the store task failed: {join}"),
        }),
        Err(_) => Err(StoreError::Unavailable {
            backend: backend.to_owned(),
            reason: format!("the operation did not finish within {timeout:?}"),
        }),
    }
}
