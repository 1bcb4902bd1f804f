use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::{KeyLocks, StoreError, StoreLock, TokenStore, validate_key};
use crate::token::TokenSet;

/// Keeps token sets in this process only: the library default, it never touches disk.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    inner: Arc<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    tokens: Mutex<HashMap<String, TokenSet>>,
    locks: KeyLocks,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    fn describe(&self) -> String {
        "memory".into()
    }

    async fn load(&self, key: &str) -> Result<Option<TokenSet>, StoreError> {
        validate_key(key)?;
        Ok(self
            .inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned())
    }

    async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError> {
        validate_key(key)?;
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), tokens.clone());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Ok(())
    }

    async fn list_keys(&self) -> Result<Vec<String>, StoreError> {
        let mut keys: Vec<String> = self
            .inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        keys.sort();
        Ok(keys)
    }

    async fn lock(&self, key: &str, wait: Duration) -> Result<StoreLock, StoreError> {
        validate_key(key)?;
        let guard = self.inner.locks.lock(key, wait, &self.describe()).await?;
        Ok(StoreLock::new(guard))
    }
}
