//! What the worker processes (`latchkey-store-worker`, `latchkey-redis-scale`) share: opening
//! a store from its spec on the command line, and a stand-in for a token in their reports.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use latchkey::{RedisConfig, RedisStore, SqliteStore, TokenStore};

/// Opens `memory`, `file:<dir>`, `sqlite:<path>`, `redis:<url>`, `redis-cluster:<url>` or
/// `redis-sentinel:<url>;<more sentinel>;…` (every save and lock waiting for one replica).
/// `lease` sets the lock lease of the stores that have one; `None` keeps each store's
/// default, as an application would.
pub async fn open_store(spec: &str, lease: Option<Duration>) -> Arc<dyn TokenStore> {
    let redis = |url: &str| {
        let config = RedisConfig::new(url).expect("a Redis URL");
        match lease {
            Some(lease) => config.lock_lease(lease),
            None => config,
        }
    };
    if spec == "memory" {
        Arc::new(latchkey::MemoryStore::new())
    } else if let Some(dir) = spec.strip_prefix("file:") {
        Arc::new(latchkey::FileStore::new(dir))
    } else if let Some(path) = spec.strip_prefix("sqlite:") {
        let store = SqliteStore::open(path).expect("open the SQLite store");
        Arc::new(match lease {
            Some(lease) => store.with_lock_lease(lease),
            None => store,
        })
    } else if let Some(rest) = spec.strip_prefix("redis-sentinel:") {
        let mut parts = rest.split(';');
        let config = redis(parts.next().expect("a sentinel URL"))
            .more_sentinels(parts.map(str::to_owned).collect())
            .wait_for_replicas(1, Duration::from_millis(500));
        Arc::new(
            RedisStore::connect_config(config)
                .await
                .expect("connect through the sentinels"),
        )
    } else if let Some(url) = spec.strip_prefix("redis-cluster:") {
        Arc::new(
            RedisStore::connect_config(redis(url).cluster())
                .await
                .expect("connect to the Redis Cluster"),
        )
    } else if let Some(url) = spec.strip_prefix("redis:") {
        Arc::new(
            RedisStore::connect_config(redis(url))
                .await
                .expect("connect to Redis"),
        )
    } else {
        panic!(
            "unknown store {spec}: memory, file:<dir>, sqlite:<path>, redis:<url>, \
             redis-cluster:<url> or redis-sentinel:<url>;<sentinel>;…"
        )
    }
}

/// A stable stand-in for an access token: the reports compare tokens, never show them.
pub fn fingerprint(header: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    header.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
