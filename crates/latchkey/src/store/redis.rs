use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{StoreError, StoreLock, TokenStore, lease, record, validate_key};
use crate::redact::DisplayUrl;
use crate::token::TokenSet;

/// Extends a lease only while it is still ours (compare-and-pexpire).
const RENEW: &str = r"if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
else
  return 0
end";

/// Deletes a lock only while it is still ours: a holder whose lease lapsed must not delete
/// the lock a peer has taken since (compare-and-delete).
const RELEASE: &str = r"if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
else
  return 0
end";

/// Keeps token sets in Redis: one store shared by processes on many machines.
///
/// - Keys are `<prefix>token:<key>` and `<prefix>lock:<key>`; the prefix defaults to
///   `latchkey:`.
/// - A saved token set expires with its **refresh token** (`refresh_expires_at`), never with
///   its access token: the refresh token is what makes the entry worth keeping. Without a
///   known refresh expiry the entry does not expire.
/// - [`lock`](TokenStore::lock) is `SET <lock> <random owner> NX PX <lease>`, renewed by a
///   heartbeat while held and released by a compare-and-delete Lua script when the guard
///   drops (spawned on the runtime). A holder that dies stops renewing; its lock lapses after
///   one lease (default 10 s).
/// - The URL may carry a password: [`describe`](TokenStore::describe) and `Debug` show it
///   without userinfo.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    shown: String,
    password: Option<SecretString>,
    prefix: String,
    lease: Duration,
    queue: lease::LocalQueue,
    renew: redis::Script,
    release: redis::Script,
}

impl RedisStore {
    /// Connects to `url` (`redis://[:password@]host:port/db`, or `rediss://`), failing
    /// with [`StoreError::Unavailable`] when the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, "latchkey:", lease::DEFAULT_LEASE).await
    }

    /// Like [`connect`](Self::connect), with a key prefix and a lock lease (the longest a
    /// crashed holder can block its peers).
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        lock_lease: Duration,
    ) -> Result<Self, StoreError> {
        let parsed = Url::parse(url).map_err(|e| StoreError::Unavailable {
            backend: "redis".into(),
            reason: format!("invalid Redis URL: {e}"),
        })?;
        let shown = DisplayUrl::new(&parsed).to_string();
        let password = parsed
            .password()
            .filter(|p| !p.is_empty())
            .map(|p| SecretString::from(p.to_owned()));
        let unavailable = |e: redis::RedisError| StoreError::Unavailable {
            backend: shown.clone(),
            reason: scrub(&e, password.as_ref()),
        };
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(unavailable)?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn,
                shown,
                password,
                prefix: prefix.to_owned(),
                lease: lock_lease.max(Duration::from_millis(200)),
                renew: redis::Script::new(RENEW),
                release: redis::Script::new(RELEASE),
                queue: lease::LocalQueue::default(),
            }),
        })
    }

    /// The Redis key holding `key`'s token set.
    pub fn token_key(&self, key: &str) -> String {
        format!("{}token:{key}", self.inner.prefix)
    }

    fn lock_key(&self, key: &str) -> String {
        format!("{}lock:{key}", self.inner.prefix)
    }

    fn error(&self, e: redis::RedisError) -> StoreError {
        self.inner.error(e)
    }
}

impl Inner {
    fn error(&self, e: redis::RedisError) -> StoreError {
        StoreError::Unavailable {
            backend: self.shown.clone(),
            reason: scrub(&e, self.password.as_ref()),
        }
    }
}

/// A Redis error message, with the password cut out should the client ever quote it.
fn scrub(e: &redis::RedisError, password: Option<&SecretString>) -> String {
    let message = e.to_string();
    match password {
        Some(p) => message.replace(p.expose_secret(), "***"),
        None => message,
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.inner.shown)
            .field("prefix", &self.inner.prefix)
            .field("lease", &self.inner.lease)
            .finish_non_exhaustive()
    }
}

/// Milliseconds until the refresh token expires; `None` when its expiry is unknown.
fn ttl_ms(tokens: &TokenSet) -> Option<u64> {
    let at = tokens.refresh_expires_at()?;
    let left = at.duration_since(SystemTime::now()).unwrap_or_default();
    // Never zero (Redis refuses PX 0); an already-dead refresh token lingers one second.
    Some((left.as_millis() as u64).max(1_000))
}

/// A held lease; dropping it stops the heartbeat and releases the lock.
struct LeaseGuard {
    inner: Arc<Inner>,
    lock_key: String,
    owner: String,
    heartbeat: tokio::task::AbortHandle,
    /// This process's turn on the key, passed on once the lease is released: a task here
    /// that waits for the key then finds it free in Redis, instead of polling until the
    /// release lands.
    turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.heartbeat.abort();
        let inner = self.inner.clone();
        let (lock_key, owner) = (
            std::mem::take(&mut self.lock_key),
            std::mem::take(&mut self.owner),
        );
        let turn = self.turn.take();
        // Without a runtime (dropped during shutdown) the lock simply lapses with its lease.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut conn = inner.conn.clone();
                let released: Result<i64, _> = inner
                    .release
                    .key(&lock_key)
                    .arg(&owner)
                    .invoke_async(&mut conn)
                    .await;
                if let Err(e) = released {
                    tracing::warn!(error = %inner.error(e), "could not release the refresh lock; it lapses with its lease");
                }
                drop(turn);
            });
        }
    }
}

fn spawn_heartbeat(inner: Arc<Inner>, lock_key: String, owner: String) -> tokio::task::AbortHandle {
    let every = lease::heartbeat_every(inner.lease);
    tokio::spawn(async move {
        let mut conn = inner.conn.clone();
        loop {
            tokio::time::sleep(every).await;
            let renewed: Result<i64, _> = inner
                .renew
                .key(&lock_key)
                .arg(&owner)
                .arg(inner.lease.as_millis() as u64)
                .invoke_async(&mut conn)
                .await;
            match renewed {
                Ok(1) => {}
                Ok(_) => {
                    tracing::error!(lock = %lock_key, "the refresh lock lease was lost (renewed too late); another process may refresh concurrently");
                    return;
                }
                // Retried at the next beat; the lease has slack for a missed one.
                Err(e) => tracing::warn!(error = %inner.error(e), "could not renew the refresh lock"),
            }
        }
    })
    .abort_handle()
}

#[async_trait]
impl TokenStore for RedisStore {
    fn describe(&self) -> String {
        self.inner.shown.clone()
    }

    async fn load(&self, key: &str) -> Result<Option<TokenSet>, StoreError> {
        validate_key(key)?;
        let mut conn = self.inner.conn.clone();
        let bytes: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.token_key(key))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        bytes
            .map(|bytes| {
                record::decode(&bytes).map_err(|reason| StoreError::Corrupt {
                    location: format!("{}#{key}", self.inner.shown),
                    reason,
                })
            })
            .transpose()
    }

    async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError> {
        validate_key(key)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.token_key(key)).arg(record::encode(tokens));
        // One SET with PX replaces value and expiry atomically; a plain SET clears an old TTL.
        if let Some(ms) = ttl_ms(tokens) {
            cmd.arg("PX").arg(ms);
        }
        let mut conn = self.inner.conn.clone();
        cmd.query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.error(e))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let mut conn = self.inner.conn.clone();
        redis::cmd("DEL")
            .arg(self.token_key(key))
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.error(e))
    }

    async fn lock(&self, key: &str, wait: Duration) -> Result<StoreLock, StoreError> {
        validate_key(key)?;
        let (lock_key, owner) = (self.lock_key(key), lease::owner_id());
        let lease_ms = self.inner.lease.as_millis() as u64;
        let turn = lease::acquire(&self.inner.queue, key, &self.describe(), wait, || {
            let mut conn = self.inner.conn.clone();
            let mut cmd = redis::cmd("SET");
            cmd.arg(&lock_key)
                .arg(&owner)
                .arg("NX")
                .arg("PX")
                .arg(lease_ms);
            async move {
                let set: Option<String> = cmd
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| self.error(e))?;
                Ok(set.is_some())
            }
        })
        .await?;
        let heartbeat = spawn_heartbeat(self.inner.clone(), lock_key.clone(), owner.clone());
        Ok(StoreLock::new(LeaseGuard {
            inner: self.inner.clone(),
            lock_key,
            owner,
            heartbeat,
            turn: Some(turn),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_follows_the_refresh_token_not_the_access_token() {
        let now = SystemTime::now();
        let base = TokenSet::new("at".to_string().into(), now)
            .with_expires_at(Some(now + Duration::from_secs(60)));
        assert_eq!(ttl_ms(&base), None, "unknown refresh expiry: no TTL");
        let with_refresh = base.with_refresh_expires_at(Some(now + Duration::from_secs(3600)));
        let ms = ttl_ms(&with_refresh).unwrap();
        assert!((3_590_000..=3_600_000).contains(&ms), "{ms}");
    }
}
