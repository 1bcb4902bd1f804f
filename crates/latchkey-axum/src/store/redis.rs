//! The Redis backend: records under `latchkey-axum:<key>` with a Redis TTL, and the pending
//! logins under `latchkey-axum:{logins}:<key>` and in one sorted set
//! (`latchkey-axum:{logins}`, scored by deadline) so that every instance counts them against
//! one cap; the hash tag keeps them in one slot of a Redis Cluster.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::error::WebAuthError;

/// The sorted set of pending login keys, scored by their deadline in Redis milliseconds.
/// The hash tag puts it and every pending login in one slot, so the scripts that touch both
/// also run on a Redis Cluster.
const LOGINS_INDEX: &str = "latchkey-axum:{logins}";

/// Stores a login unless the cap is reached, atomically (two instances cannot both take
/// the last place). Returns -1 when stored, else the milliseconds until the earliest
/// pending login expires. Redis's own clock keeps instances with skewed clocks consistent;
/// expired index entries go first, which costs only the ones that expired.
static START_LOGIN: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(tonumber(first[2]) - now, 0)
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[1], now + ttl, KEYS[2])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return -1
",
    )
});

/// Takes a login (`GETDEL`) and its place in the index, atomically.
static TAKE_LOGIN: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local value = redis.call('GETDEL', KEYS[2])
redis.call('ZREM', KEYS[1], KEYS[2])
return value
",
    )
});

/// The Redis backend of [`SessionStore::Redis`](super::SessionStore::Redis).
#[derive(Clone)]
pub struct RedisSessions {
    pub(super) conn: latchkey::RedisConnection,
    pub(super) tokens: Arc<latchkey::RedisStore>,
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessions")
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisSessions {
    fn key(&self, key: &str) -> String {
        format!("latchkey-axum:{key}")
    }

    /// A pending login's key: in the slot of [`LOGINS_INDEX`].
    fn login_key(&self, key: &str) -> String {
        format!("latchkey-axum:{{logins}}:{key}")
    }

    pub(super) async fn put(
        &self,
        key: &str,
        value: &SecretString,
        ttl: Duration,
    ) -> Result<(), WebAuthError> {
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value.expose_secret())
            .arg("PX")
            .arg(millis(ttl))
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(redis_error)
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<SecretString>, WebAuthError> {
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async::<Option<String>>(&mut self.conn.clone())
            .await
            .map(|v| v.map(SecretString::from))
            .map_err(redis_error)
    }

    pub(super) async fn take(&self, key: &str) -> Result<Option<SecretString>, WebAuthError> {
        redis::cmd("GETDEL")
            .arg(self.key(key))
            .query_async::<Option<String>>(&mut self.conn.clone())
            .await
            .map(|v| v.map(SecretString::from))
            .map_err(redis_error)
    }

    pub(super) async fn start_login(
        &self,
        key: &str,
        value: &SecretString,
        ttl: Duration,
        max: usize,
    ) -> Result<Result<(), Duration>, WebAuthError> {
        let wait: i64 = START_LOGIN
            .key(LOGINS_INDEX)
            .key(self.login_key(key))
            .arg(value.expose_secret())
            .arg(millis(ttl))
            .arg(max)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        Ok(match u64::try_from(wait) {
            Ok(wait) => Err(Duration::from_millis(wait)),
            Err(_) => Ok(()),
        })
    }

    pub(super) async fn take_login(&self, key: &str) -> Result<Option<SecretString>, WebAuthError> {
        TAKE_LOGIN
            .key(LOGINS_INDEX)
            .key(self.login_key(key))
            .invoke_async::<Option<String>>(&mut self.conn.clone())
            .await
            .map(|v| v.map(SecretString::from))
            .map_err(redis_error)
    }
}

/// Redis errors can quote the URL (and its password): only the kind is kept.
pub(super) fn redis_error(err: redis::RedisError) -> WebAuthError {
    WebAuthError::Store {
        backend: "redis",
        reason: format!("{:?} error", err.kind()),
    }
}
