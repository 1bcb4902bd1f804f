//! Where sessions and logins in progress are kept: in this process, or in Redis so that every
//! instance of the application sees them.
//!
//! Two kinds of data live here: short records (pending logins, sessions) with a TTL, and the
//! session's tokens, which go through a latchkey [`TokenStore`] so that the
//! [`latchkey::TokenManager`] can refresh them with its cross-instance lock.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latchkey::{MemoryStore, TokenStore};
use secrecy::SecretString;

use crate::error::WebAuthError;

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

    /// Connects to Redis at `url` (`redis://[:password@]host:port/db` or `rediss://`).
    #[cfg(feature = "redis")]
    pub async fn redis(url: &str) -> Result<Self, WebAuthError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .map_err(redis_error)?;
        let tokens =
            latchkey::RedisStore::connect_with(url, "latchkey-axum:", Duration::from_secs(30))
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
                m.records()
                    .insert(key.to_owned(), (value.clone(), Instant::now() + ttl));
                Ok(())
            }
            #[cfg(feature = "redis")]
            SessionStore::Redis(r) => {
                use secrecy::ExposeSecret;
                let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                redis::cmd("SET")
                    .arg(r.key(key))
                    .arg(value.expose_secret())
                    .arg("PX")
                    .arg(millis)
                    .query_async::<()>(&mut r.conn.clone())
                    .await
                    .map_err(redis_error)
            }
        }
    }

    /// The value under `key`, if present and not expired.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<SecretString>, WebAuthError> {
        match self {
            SessionStore::Memory(m) => {
                let mut records = m.records();
                Ok(match records.get(key) {
                    Some((value, until)) if *until > Instant::now() => Some(value.clone()),
                    Some(_) => {
                        records.remove(key);
                        None
                    }
                    None => None,
                })
            }
            #[cfg(feature = "redis")]
            SessionStore::Redis(r) => redis::cmd("GET")
                .arg(r.key(key))
                .query_async::<Option<String>>(&mut r.conn.clone())
                .await
                .map(|v| v.map(SecretString::from))
                .map_err(redis_error),
        }
    }

    /// Removes and returns the value under `key` atomically: of two concurrent takers, one
    /// gets it. This is what makes a login state single-use.
    pub(crate) async fn take(&self, key: &str) -> Result<Option<SecretString>, WebAuthError> {
        match self {
            SessionStore::Memory(m) => Ok(m
                .records()
                .remove(key)
                .filter(|(_, until)| *until > Instant::now())
                .map(|(value, _)| value)),
            #[cfg(feature = "redis")]
            SessionStore::Redis(r) => redis::cmd("GETDEL")
                .arg(r.key(key))
                .query_async::<Option<String>>(&mut r.conn.clone())
                .await
                .map(|v| v.map(SecretString::from))
                .map_err(redis_error),
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

/// The in-process backend of [`SessionStore::Memory`].
#[derive(Clone)]
pub struct MemorySessions {
    records: Arc<Mutex<HashMap<String, (SecretString, Instant)>>>,
    tokens: Arc<MemoryStore>,
}

impl Default for MemorySessions {
    fn default() -> Self {
        Self {
            records: Arc::default(),
            tokens: Arc::new(MemoryStore::new()),
        }
    }
}

impl MemorySessions {
    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, (SecretString, Instant)>> {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        // Expired records are dropped lazily; sweep when the map grows, so abandoned logins
        // cannot pile up.
        if records.len() > 10_000 {
            let now = Instant::now();
            records.retain(|_, (_, until)| *until > now);
        }
        records
    }
}

/// The Redis backend of [`SessionStore::Redis`].
#[cfg(feature = "redis")]
#[derive(Clone)]
pub struct RedisSessions {
    conn: redis::aio::ConnectionManager,
    tokens: Arc<latchkey::RedisStore>,
}

#[cfg(feature = "redis")]
impl RedisSessions {
    fn key(&self, key: &str) -> String {
        format!("latchkey-axum:{key}")
    }
}

/// Redis errors can quote the URL (and its password): only the kind is kept.
#[cfg(feature = "redis")]
fn redis_error(err: redis::RedisError) -> WebAuthError {
    WebAuthError::Store {
        backend: "redis",
        reason: format!("{:?} error", err.kind()),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

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
