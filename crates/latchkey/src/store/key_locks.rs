//! Locks per key that hold within one process: the memory store's refresh lock, the queue in
//! front of a lease, and the lock of any store whose backend has none of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

use super::StoreError;

/// One first-come-first-served async mutex per key.
#[derive(Debug, Default)]
pub struct KeyLocks {
    keys: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyLocks {
    /// No key locked yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits at most `wait` for `key`'s turn and holds it until the guard is dropped. The
    /// timeout error names `store` (the store's description).
    pub async fn lock(
        &self,
        key: &str,
        wait: Duration,
        store: &str,
    ) -> Result<OwnedMutexGuard<()>, StoreError> {
        let mutex = self
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone();
        tokio::time::timeout(wait, mutex.lock_owned())
            .await
            .map_err(|_| StoreError::LockTimeout {
                key: key.to_owned(),
                store: store.to_owned(),
                waited: wait,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_held_until_its_guard_is_dropped_and_other_keys_are_free() {
        let locks = KeyLocks::new();
        let held = locks.lock("a", Duration::ZERO, "test").await.unwrap();
        let err = locks
            .lock("a", Duration::from_millis(20), "test")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::LockTimeout { key, store, .. } if key == "a" && store == "test"),
            "{err:?}"
        );
        locks.lock("b", Duration::ZERO, "test").await.unwrap();
        drop(held);
        locks.lock("a", Duration::ZERO, "test").await.unwrap();
    }
}
