//! Where sessions and logins in progress are kept: in this process, or in Redis so that every
//! instance of the application sees them.
//!
//! Two kinds of data live here: short records (pending logins, sessions) with a TTL, and the
//! session's tokens, which go through a latchkey [`TokenStore`] so that the
//! [`latchkey::TokenManager`] can refresh them with its cross-instance lock.

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use latchkey::TokenStore;
use secrecy::SecretString;

use crate::error::WebAuthError;

pub use memory::MemorySessions;
#[cfg(feature = "redis")]
pub use redis::RedisSessions;

/// The session store: memory (one instance) or Redis (feature `redis`, shared).
///
/// Cheap to clone; clones share the data.
#[derive(Clone)]
#[non_exhaustive]
pub enum SessionStore {
    /// Kept in this process; lost on restart and not shared between instances.
    Memory(MemorySessions),
    /// Kept in Redis under the `latchkey-axum:` prefix.
    #[cfg(feature = "redis")]
    Redis(RedisSessions),
}

impl SessionStore {
    /// An in-process store.
    pub fn memory() -> Self {
        SessionStore::Memory(MemorySessions::default())
    }

    /// Connects to Redis at `url` (`redis://[user:password@]host:port/db`, or `rediss://`
    /// for TLS against the platform's roots).
    #[cfg(feature = "redis")]
    pub async fn redis(url: &str) -> Result<Self, WebAuthError> {
        let config =
            latchkey::RedisConfig::new(url).map_err(|e| WebAuthError::Latchkey(e.into()))?;
        Self::redis_with(config).await
    }

    /// Connects to Redis as `config` says (a private CA, a client certificate, a password
    /// kept out of the URL). Sessions and their tokens live under the `latchkey-axum:`
    /// prefix whatever prefix `config` names.
    #[cfg(feature = "redis")]
    pub async fn redis_with(config: latchkey::RedisConfig) -> Result<Self, WebAuthError> {
        let config = config
            .key_prefix("latchkey-axum:")
            .lock_lease(Duration::from_secs(30));
        let conn = config
            .connect()
            .await
            .map_err(|e| WebAuthError::Latchkey(e.into()))?;
        let tokens = latchkey::RedisStore::connect_config(config)
            .await
            .map_err(|e| WebAuthError::Latchkey(e.into()))?;
        Ok(SessionStore::Redis(RedisSessions {
            conn,
            tokens: Arc::new(tokens),
        }))
    }

    /// Where the sessions' tokens are kept.
    pub(crate) fn tokens(&self) -> Arc<dyn TokenStore> {
        match self {
            SessionStore::Memory(m) => m.tokens.clone(),
            #[cfg(feature = "redis")]
            SessionStore::Redis(r) => r.tokens.clone(),
        }
    }

    /// Stores `value` under `key` for `ttl`, replacing what was there.
    pub(crate) async fn put(
        &self,
        key: &str,
        value: &SecretString,
        ttl: Duration,
    ) -> Result<(), WebAuthError> {
        match self {
            SessionStore::Memory(m) => {
                m.sessions.put(key, value.clone(), ttl);
                Ok(())
            }
            #[cfg(feature = "redis")]
            SessionStore::Redis(r) => r.put(key, value, ttl).await,
        }
    }

    /// The value under `key`, if present and not expired.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<SecretString>, WebAuthError> {
        match self {
            SessionStore::Memory(m) => Ok(m.sessions.get(key)),
            #[cfg(feature = "redis")]
            SessionStore::Redis(r) => r.get(key).await,
        }
    }

    /// Removes and returns the value under `key` atomically: of two concurrent takers, one
    /// gets it.
    pub(crate) async fn take(&self, key: &str) -> Result<Option<SecretString>, WebAuthError> {
        match self {
            SessionStore::Memory(m) => Ok(m.sessions.take(key)),
            #[cfg(feature = "redis")]
            SessionStore::Redis(r) => r.take(key).await,
        }
    }

    /// Stores a login in progress under `key` for `ttl`, unless `max` logins are pending
    /// already (on every instance sharing the store): then
    /// [`WebAuthError::TooManyPendingLogins`], with the time until the earliest one expires.
    /// Each login costs server-side state before anyone has signed in, so without a cap a
    /// flood of `/auth/login` requests grows the store without bound.
    pub(crate) async fn start_login(
        &self,
        key: &str,
        value: &SecretString,
        ttl: Duration,
        max: usize,
    ) -> Result<(), WebAuthError> {
        let verdict = match self {
            SessionStore::Memory(m) => m.logins.put_capped(key, value.clone(), ttl, max),
            #[cfg(feature = "redis")]
            SessionStore::Redis(r) => r.start_login(key, value, ttl, max).await?,
        };
        verdict.map_err(|retry_after| WebAuthError::TooManyPendingLogins { retry_after })
    }

    /// Removes and returns the login in progress under `key` atomically, freeing its place:
    /// this is what makes a login state single-use.
    pub(crate) async fn take_login(&self, key: &str) -> Result<Option<SecretString>, WebAuthError> {
        match self {
            SessionStore::Memory(m) => Ok(m.logins.take(key)),
            #[cfg(feature = "redis")]
            SessionStore::Redis(r) => r.take_login(key).await,
        }
    }
}

impl fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionStore::Memory(_) => f.write_str("SessionStore::Memory"),
            #[cfg(feature = "redis")]
            SessionStore::Redis(_) => f.write_str("SessionStore::Redis"),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[tokio::test]
    async fn finding_store_access_does_not_sweep_every_record() {
        let memory = MemorySessions::default();
        let store = SessionStore::Memory(memory.clone());
        let value = SecretString::from("v".to_owned());
        // Past the size at which the store used to sweep the whole map on every access.
        for i in 0..12_000 {
            store
                .put(&format!("session:{i}"), &value, Duration::from_secs(3600))
                .await
                .unwrap();
        }
        for i in 0..1_000 {
            assert!(store.get(&format!("session:{i}")).await.unwrap().is_some());
        }
        assert_eq!(
            memory.sessions.examined() + memory.logins.examined(),
            0,
            "no record expired, so no access had to look at any other record"
        );
    }

    #[tokio::test]
    async fn memory_records_are_single_use_and_expire() {
        let store = SessionStore::memory();
        let value = SecretString::from("v".to_owned());
        store
            .put("a", &value, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(store.get("a").await.unwrap().unwrap().expose_secret(), "v");
        assert_eq!(store.take("a").await.unwrap().unwrap().expose_secret(), "v");
        assert!(store.take("a").await.unwrap().is_none(), "taken once");
        // A zero TTL is already over: expiry is checked on every read.
        store.put("b", &value, Duration::ZERO).await.unwrap();
        assert!(store.get("b").await.unwrap().is_none());
        assert!(store.take("b").await.unwrap().is_none());
    }
}
