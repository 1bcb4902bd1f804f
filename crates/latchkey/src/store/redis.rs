use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use secrecy::SecretString;

use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

use super::redis_config::{RedisConfig, RedisConnection, scrub};
use super::{StoreError, StoreLock, TokenStore, lease, record, validate_key};
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

/// Writes the token record only while the lock is still ours (compare-and-set): a holder
/// that stalled past its lease must not overwrite what its successor saved. `ARGV[3]` is the
/// record's expiry in milliseconds, or empty for none.
const SAVE_IF_HELD: &str = r"if redis.call('get', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[3] == '' then
  redis.call('set', KEYS[2], ARGV[2])
else
  redis.call('set', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
return 1";

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
///   one lease (default 10 s). [`save_locked`](TokenStore::save_locked) is one Lua script
///   that checks the lock's owner and writes the record, so a holder that stalled past its
///   lease cannot overwrite its successor.
/// - [`RedisConfig`] says how to reach the server (TLS, a private CA, a client certificate,
///   an ACL user and a password kept out of the URL, a Redis Cluster). [`describe`](TokenStore::describe),
///   `Debug` and error messages never show the password.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: RedisConnection,
    cluster: bool,
    wait_replicas: Option<(u32, Duration)>,
    shown: String,
    secrets: Vec<SecretString>,
    prefix: String,
    lease: Duration,
    queue: super::KeyLocks,
    renew: redis::Script,
    release: redis::Script,
    save_if_held: redis::Script,
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host:port/db`, or `rediss://` for TLS),
    /// failing with [`StoreError::Unavailable`] when the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_config(RedisConfig::new(url)?).await
    }

    /// Like [`connect`](Self::connect), with a key prefix and a lock lease (the longest a
    /// crashed holder can block its peers).
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        lock_lease: Duration,
    ) -> Result<Self, StoreError> {
        let config = RedisConfig::new(url)?
            .key_prefix(prefix)
            .lock_lease(lock_lease);
        Self::connect_config(config).await
    }

    /// Connects as `config` says: TLS with a private CA or a client certificate, a password
    /// from a secret store, a key prefix, a lock lease.
    pub async fn connect_config(config: RedisConfig) -> Result<Self, StoreError> {
        let conn = config.connect().await?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn,
                cluster: config.is_cluster(),
                wait_replicas: config.replicas_to_wait_for(),
                shown: config.shown(),
                secrets: config.secrets(),
                prefix: config.prefix().to_owned(),
                lease: config.lease(),
                renew: redis::Script::new(RENEW),
                release: redis::Script::new(RELEASE),
                save_if_held: redis::Script::new(SAVE_IF_HELD),
                queue: super::KeyLocks::default(),
            }),
        })
    }

    /// The Redis key holding `key`'s token set (`<prefix>token:<key>`; on a cluster
    /// `<prefix>token:{<key>}`, in the slot of its lock).
    pub fn token_key(&self, key: &str) -> String {
        self.redis_key("token", key)
    }

    fn lock_key(&self, key: &str) -> String {
        self.redis_key("lock", key)
    }

    fn redis_key(&self, kind: &str, key: &str) -> String {
        // Store keys are letters, digits, `.`, `_` and `-` (validate_key): no braces of
        // their own to confuse the hash tag.
        match self.inner.cluster {
            true => format!("{}{kind}:{{{key}}}", self.inner.prefix),
            false => format!("{}{kind}:{key}", self.inner.prefix),
        }
    }

    fn error(&self, e: redis::RedisError) -> StoreError {
        self.inner.error(e)
    }
}

impl RedisStore {
    /// Whether the writes sent on `conn` since `generation` reached the replicas the
    /// configuration waits for (always, when it waits for none).
    async fn replicated(
        &self,
        conn: &mut RedisConnection,
        generation: u64,
    ) -> Result<bool, StoreError> {
        let Some((replicas, timeout)) = self.inner.wait_replicas else {
            return Ok(true);
        };
        let acked: i64 = redis::cmd("WAIT")
            .arg(replicas)
            .arg(
                u64::try_from(timeout.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
            )
            .query_async(conn)
            .await
            .map_err(|e| self.error(e))?;
        // A WAIT answered by another master than the write's says nothing about the write.
        Ok(acked >= i64::from(replicas) && conn.generation() == generation)
    }

    /// Runs `write` until its result is copied to the replicas the configuration waits for,
    /// for at most one lock lease. `write` answers whether it wrote (a fenced save that
    /// finds the lock taken writes nothing, and there is nothing to wait for).
    async fn write_replicated(&self, what: &str, write: Write<'_>) -> Result<bool, StoreError> {
        let deadline = std::time::Instant::now() + self.inner.lease;
        loop {
            let mut conn = self.inner.conn.clone();
            let generation = conn.generation();
            if !self.write_once(&mut conn, write).await? {
                return Ok(false);
            }
            if self.replicated(&mut conn, generation).await? {
                return Ok(true);
            }
            if std::time::Instant::now() >= deadline {
                let (replicas, _) = self.inner.wait_replicas.unwrap_or_default();
                return Err(StoreError::Unavailable {
                    backend: self.inner.shown.clone(),
                    reason: format!(
                        "the {what} was not copied to {replicas} replica(s) in time; a failover \
                         could lose it. Check that the master has that many replicas in sync \
                         (INFO replication)"
                    ),
                });
            }
            tracing::debug!(what, "not yet on the replicas; writing again");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn write_once(
        &self,
        conn: &mut RedisConnection,
        write: Write<'_>,
    ) -> Result<bool, StoreError> {
        match write {
            Write::Plain(cmd) => cmd
                .query_async::<()>(conn)
                .await
                .map(|()| true)
                .map_err(|e| self.error(e)),
            Write::Fenced {
                key,
                owner,
                record,
                ttl,
            } => {
                let saved: i64 = self
                    .inner
                    .save_if_held
                    .key(self.lock_key(key))
                    .key(self.token_key(key))
                    .arg(owner)
                    .arg(record)
                    .arg(ttl)
                    .invoke_async(conn)
                    .await
                    .map_err(|e| self.error(e))?;
                Ok(saved == 1)
            }
        }
    }

    /// The address of every master of the cluster (`CLUSTER SLOTS`: one entry per slot
    /// range, its master first).
    async fn cluster_masters(
        &self,
        mut conn: redis::cluster_async::ClusterConnection,
    ) -> Result<Vec<Option<(String, u16)>>, StoreError> {
        let ranges: Vec<redis::Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        let mut masters = Vec::new();
        for range in ranges {
            let Ok(items) = redis::from_redis_value::<Vec<redis::Value>>(range) else {
                continue;
            };
            let Some(master) = items.into_iter().nth(2) else {
                continue;
            };
            // [ip, port, id, (metadata)]
            let Ok(fields) = redis::from_redis_value::<Vec<redis::Value>>(master) else {
                continue;
            };
            let mut fields = fields.into_iter();
            let (Some(host), Some(port)) = (fields.next(), fields.next()) else {
                continue;
            };
            if let (Ok(host), Ok(port)) = (
                redis::from_redis_value::<String>(host),
                redis::from_redis_value::<u16>(port),
            ) {
                let node = Some((host, port));
                if !masters.contains(&node) {
                    masters.push(node);
                }
            }
        }
        Ok(masters)
    }
}

impl Inner {
    fn error(&self, e: redis::RedisError) -> StoreError {
        StoreError::Unavailable {
            backend: self.shown.clone(),
            reason: scrub(&e, &self.secrets),
        }
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

/// A write that [`RedisStore::write_replicated`] repeats until replicas have it.
#[derive(Clone, Copy)]
enum Write<'a> {
    /// A plain `SET`.
    Plain(&'a redis::Cmd),
    /// The record, only while the lock is `owner`'s (the fenced save script).
    Fenced {
        key: &'a str,
        owner: &'a str,
        record: &'a [u8],
        ttl: &'a str,
    },
}

/// Milliseconds until the refresh token expires; `None` when its expiry is unknown.
fn ttl_ms(tokens: &TokenSet) -> Option<u64> {
    let at = tokens.refresh_expires_at()?;
    let left = at.duration_since(SystemTime::now()).unwrap_or_default();
    // Never zero (Redis refuses PX 0); an already-dead refresh token lingers one second.
    Some((left.as_millis() as u64).max(1_000))
}

#[async_trait]
impl lease::LeaseBackend for RedisStore {
    fn describe(&self) -> String {
        self.inner.shown.clone()
    }

    fn lease(&self) -> Duration {
        self.inner.lease
    }

    async fn try_acquire(&self, key: &str, owner: &str) -> Result<bool, StoreError> {
        let mut conn = self.inner.conn.clone();
        let generation = conn.generation();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.lock_key(key))
            .arg(owner)
            .arg("NX")
            .arg("PX")
            .arg(self.inner.lease.as_millis() as u64)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        if set.is_none() {
            return Ok(false);
        }
        // A lock a failover could lose must not send its holder to the identity provider:
        // give it back, and let the waiting loop take it again once replicas have caught up.
        if !self.replicated(&mut conn, generation).await? {
            self.release(key, owner).await?;
            return Ok(false);
        }
        Ok(true)
    }

    async fn renew(&self, key: &str, owner: &str) -> Result<bool, StoreError> {
        let mut conn = self.inner.conn.clone();
        let renewed: i64 = self
            .inner
            .renew
            .key(self.lock_key(key))
            .arg(owner)
            .arg(self.inner.lease.as_millis() as u64)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(renewed == 1)
    }

    async fn release(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let mut conn = self.inner.conn.clone();
        self.inner
            .release
            .key(self.lock_key(key))
            .arg(owner)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    async fn save_if_held(
        &self,
        key: &str,
        owner: &str,
        tokens: &TokenSet,
    ) -> Result<bool, StoreError> {
        let ttl = ttl_ms(tokens).map(|ms| ms.to_string()).unwrap_or_default();
        let record = record::encode(tokens);
        let write = Write::Fenced {
            key,
            owner,
            record: &record,
            ttl: &ttl,
        };
        self.write_replicated("token record", write).await
    }
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
        self.write_replicated("token record", Write::Plain(&cmd))
            .await
            .map(drop)
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
        let backend = Arc::new(self.clone());
        lease::Lease::acquire(backend, &self.inner.queue, key, wait)
            .await
            .map(StoreLock::leased)
    }

    async fn save_locked(
        &self,
        key: &str,
        tokens: &TokenSet,
        lock: &StoreLock,
    ) -> Result<(), StoreError> {
        validate_key(key)?;
        match lock.lease() {
            Some(lease) => lease.save(key, tokens).await,
            None => self.save(key, tokens).await,
        }
    }

    /// `SCAN … MATCH <prefix>token:*`, never `KEYS`: `KEYS` blocks the server for as long
    /// as it walks the whole keyspace, which on a shared Redis stalls everyone else. On a
    /// cluster every master is scanned (a slot moving meanwhile may hide its keys from one
    /// listing).
    async fn list_keys(&self) -> Result<Vec<String>, StoreError> {
        let prefix = format!("{}token:", self.inner.prefix);
        let pattern = format!("{}*", escape_glob(&prefix));
        let nodes = match &self.inner.conn {
            RedisConnection::Cluster(conn) => self.cluster_masters(conn.clone()).await?,
            _ => vec![None],
        };
        let mut keys = Vec::new();
        for node in nodes {
            let mut cursor: u64 = 0;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(500);
                let (next, batch): (u64, Vec<Vec<u8>>) = match (&node, &self.inner.conn) {
                    (Some((host, port)), RedisConnection::Cluster(conn)) => {
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port: *port,
                        });
                        let value = conn
                            .clone()
                            .route_command(scan, routing)
                            .await
                            .map_err(|e| self.error(e))?;
                        redis::from_redis_value(value).map_err(|e| self.error(e.into()))?
                    }
                    _ => scan
                        .query_async(&mut self.inner.conn.clone())
                        .await
                        .map_err(|e| self.error(e))?,
                };
                keys.extend(batch.into_iter().filter_map(|raw| {
                    let name = String::from_utf8(raw).ok()?;
                    let name = name.strip_prefix(&prefix)?;
                    let key = match self.inner.cluster {
                        true => name.strip_prefix('{')?.strip_suffix('}')?,
                        false => name,
                    };
                    validate_key(key).is_ok().then(|| key.to_owned())
                }));
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        // SCAN may return a key more than once (when the table is rehashed meanwhile).
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        validate_key(key)?;
        let mut conn = self.inner.conn.clone();
        let found: i64 = redis::cmd("EXISTS")
            .arg(self.token_key(key))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(found > 0)
    }
}

/// `text` with Redis glob metacharacters escaped, so a prefix matches only itself.
fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_with_glob_characters_matches_only_itself() {
        assert_eq!(escape_glob("latchkey:token:"), "latchkey:token:");
        assert_eq!(escape_glob(r"a*b?[c]\\"), r"a\*b\?\[c\]\\\\");
    }

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
