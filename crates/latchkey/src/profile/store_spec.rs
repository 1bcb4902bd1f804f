//! Where a profile keeps its tokens (`store = "…"`, or a `store` table for Redis with TLS
//! files and a password reference), parsed when the file loads.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use url::Url;

use super::login_options::Env;
use super::{Paths, ProfileError, SecretRef, Selected};
use crate::redact::DisplayUrl;
use crate::store::{FileStore, MemoryStore, TokenStore};
use crate::token::TokenSet;

/// The token store a profile names. `Debug` and `Display` hide a Redis password.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum StoreSpec {
    /// In memory: gone when the process ends.
    Memory,
    /// One 0600 file per profile under the state directory (the default).
    #[default]
    File,
    /// One SQLite database under the state directory (feature `sqlite`).
    Sqlite,
    /// The platform keyring (feature `keyring`).
    Keyring,
    /// A Redis server (feature `redis`): `redis://` or `rediss://`, a cluster or a service
    /// behind Sentinel (boxed: the other variants are empty).
    Redis(Box<RedisSpec>),
}

/// A Redis store as a profile names it: `store = "rediss://…"`, or a table when the
/// connection needs more than a URL:
///
/// ```toml
/// [profiles.svc.store]
/// redis = "rediss://latchkey@cache.internal:6380/0"
/// password = { env = "REDIS_PASSWORD" }
/// ca = "/etc/latchkey/redis-ca.pem"        # trust only this CA
/// cert = "/etc/latchkey/redis-client.pem"  # mutual TLS: certificate ...
/// key = "/etc/latchkey/redis-client.key"   # ... and its private key
/// cluster = true                           # `redis` is one node of a Redis Cluster
/// ```
///
/// Through Redis Sentinel: `redis = "redis+sentinel://s1:26379/mymaster"` (the master's
/// service name, then optionally `/DB`), `sentinels = ["s2:26379", "s3:26379"]`, and
/// `wait_replicas = 1` so that a failover loses no lock or saved token.
#[derive(Clone)]
#[non_exhaustive]
pub struct RedisSpec {
    /// The server (its password, if written here, is never shown).
    pub url: Url,
    /// The ACL user's password, by reference.
    pub password: Option<SecretRef>,
    /// A PEM CA bundle trusted instead of the platform's roots.
    pub ca: Option<PathBuf>,
    /// A PEM client certificate (chain) for mutual TLS; always with `key`.
    pub cert: Option<PathBuf>,
    /// The PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// `redis` is one node of a Redis Cluster.
    pub cluster: bool,
    /// More sentinels (`host:port`) for a `redis+sentinel://` URL.
    pub sentinels: Vec<String>,
    /// Locks and saves count once this many replicas have them (`WAIT`, 500 ms a try).
    pub wait_replicas: u32,
}

#[cfg(feature = "redis")]
/// The largest certificate or key file read (a PEM bundle of a few hundred CAs fits).
const PEM_FILE_CAP: u64 = 1024 * 1024;

impl fmt::Debug for RedisSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSpec")
            .field("url", &DisplayUrl::new(&self.url).to_string())
            .field("password", &self.password)
            .field("ca", &self.ca)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("cluster", &self.cluster)
            .field("sentinels", &self.sentinels)
            .field("wait_replicas", &self.wait_replicas)
            .finish()
    }
}

impl RedisSpec {
    fn from_url(text: &str) -> Result<Self, String> {
        // The URL may carry a password: the message names the problem, not the URL.
        let url = Url::parse(text).map_err(|e| format!("is not a valid Redis URL ({e})"))?;
        Ok(RedisSpec {
            url,
            password: None,
            ca: None,
            cert: None,
            key: None,
            cluster: false,
            sentinels: Vec::new(),
            wait_replicas: 0,
        })
    }

    /// Every problem of a `store` table at once.
    fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        let tls_files = self.ca.is_some() || self.cert.is_some() || self.key.is_some();
        if tls_files && !self.url.scheme().starts_with("rediss") {
            problems.push(
                "`ca`, `cert` and `key` are TLS files, but `redis` is a redis:// (plain) URL; \
                 use rediss://"
                    .to_owned(),
            );
        }
        if self.cert.is_some() != self.key.is_some() {
            problems.push("`cert` and `key` go together (mutual TLS needs both)".to_owned());
        }
        for (field, path) in [("ca", &self.ca), ("cert", &self.cert), ("key", &self.key)] {
            if path.as_deref().is_some_and(|p| !p.is_absolute()) {
                problems.push(format!("`{field}` must be an absolute path"));
            }
        }
        let sentinel = self.url.scheme().ends_with("+sentinel");
        if !self.sentinels.is_empty() && !sentinel {
            problems.push("`sentinels` needs a redis+sentinel:// URL".to_owned());
        }
        if self.cluster && sentinel {
            problems.push("a store is a cluster or behind Sentinel, not both".to_owned());
        }
        if self.cluster && self.wait_replicas > 0 {
            problems.push(
                "`wait_replicas` is for a single master or Sentinel, not a cluster".to_owned(),
            );
        }
        if self.password.is_some() && self.url.password().is_some() {
            problems.push(
                "the password is both in the URL and in `password`; keep the reference and \
                 remove it from the URL"
                    .to_owned(),
            );
        }
        match problems.is_empty() {
            true => Ok(()),
            false => Err(problems.join("; ")),
        }
    }

    /// The connection settings, with the password resolved and the TLS files read.
    #[cfg(feature = "redis")]
    async fn config(
        &self,
        profile: &str,
        env: Env<'_>,
    ) -> Result<crate::store::RedisConfig, ProfileError> {
        let mut config =
            crate::store::RedisConfig::new(self.url.as_str()).map_err(crate::error::Error::from)?;
        if let Some(password) = &self.password {
            config = config.password(password.resolve(profile, "store.password", env).await?);
        }
        if self.cluster {
            config = config.cluster();
        }
        if !self.sentinels.is_empty() {
            config = config.more_sentinels(self.sentinels.clone());
        }
        if self.wait_replicas > 0 {
            config =
                config.wait_for_replicas(self.wait_replicas, std::time::Duration::from_millis(500));
        }
        if let Some(ca) = &self.ca {
            config = config.ca_pem(read_pem(profile, "store.ca", ca)?.into_bytes());
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            let cert = read_pem(profile, "store.cert", cert)?.into_bytes();
            let key = read_pem(profile, "store.key", key)?;
            config = config.client_identity(cert, key.into());
        }
        Ok(config)
    }
}

/// Reads a PEM file named by a profile (capped; a missing file is an error that names it).
#[cfg(feature = "redis")]
fn read_pem(profile: &str, field: &str, path: &std::path::Path) -> Result<String, ProfileError> {
    let invalid = |reason: String| ProfileError::invalid(profile, field, reason);
    match crate::fs::read_text_capped(path, PEM_FILE_CAP) {
        Ok(Some((text, _))) => Ok(text),
        Ok(None) => Err(invalid(format!(
            "names {}, which does not exist",
            path.display()
        ))),
        Err(e) => Err(invalid(format!(
            "names {}, which cannot be read: {e}",
            path.display()
        ))),
    }
}

/// The spellings accepted, for error messages.
const VALID: &str = "memory, file, sqlite, keyring, redis://host:port/db";

impl FromStr for StoreSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "memory" => StoreSpec::Memory,
            "file" => StoreSpec::File,
            "sqlite" => StoreSpec::Sqlite,
            "keyring" => StoreSpec::Keyring,
            url if is_redis_url(url) => StoreSpec::Redis(Box::new(RedisSpec::from_url(url)?)),
            _ => return Err(format!("is not a known token store; valid: {VALID}")),
        })
    }
}

/// Whether `text` is a Redis URL: plain, TLS, or through Sentinel.
fn is_redis_url(text: &str) -> bool {
    [
        "redis://",
        "rediss://",
        "redis+sentinel://",
        "rediss+sentinel://",
    ]
    .iter()
    .any(|scheme| text.starts_with(scheme))
}

/// The `store` table as written (only Redis needs one).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedisTable {
    redis: String,
    password: Option<SecretRef>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    #[serde(default)]
    cluster: bool,
    #[serde(default)]
    sentinels: Vec<String>,
    #[serde(default)]
    wait_replicas: u32,
}

impl<'de> Deserialize<'de> for StoreSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SpecVisitor)
    }
}

struct SpecVisitor;

impl<'de> Visitor<'de> for SpecVisitor {
    type Value = StoreSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a store name ({VALID}) or a table with a `redis` URL")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<StoreSpec, E> {
        text.parse()
            .map_err(|reason: String| E::custom(format!("`store` {reason}")))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StoreSpec, A::Error> {
        let table = RedisTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let custom = |reason: String| de::Error::custom(format!("`store` {reason}"));
        if !is_redis_url(&table.redis) {
            return Err(custom(
                "table is for Redis: its `redis` must start with redis://, rediss://, \
                 redis+sentinel:// or rediss+sentinel://"
                    .into(),
            ));
        }
        let spec = RedisSpec {
            password: table.password,
            ca: table.ca,
            cert: table.cert,
            key: table.key,
            cluster: table.cluster,
            sentinels: table.sentinels,
            wait_replicas: table.wait_replicas,
            ..RedisSpec::from_url(&table.redis).map_err(custom)?
        };
        spec.check().map_err(custom)?;
        Ok(StoreSpec::Redis(Box::new(spec)))
    }
}

impl fmt::Display for StoreSpec {
    /// The spec as written in the file, with a Redis password redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreSpec::Memory => f.write_str("memory"),
            StoreSpec::File => f.write_str("file"),
            StoreSpec::Sqlite => f.write_str("sqlite"),
            StoreSpec::Keyring => f.write_str("keyring"),
            StoreSpec::Redis(redis) => write!(f, "{}", DisplayUrl::new(&redis.url)),
        }
    }
}

impl fmt::Debug for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreSpec({self})")
    }
}

impl StoreSpec {
    /// The short name (`memory`, `file`, `sqlite`, `keyring`, `redis`).
    pub fn kind(&self) -> &'static str {
        match self {
            StoreSpec::Memory => "memory",
            StoreSpec::File => "file",
            StoreSpec::Sqlite => "sqlite",
            StoreSpec::Keyring => "keyring",
            StoreSpec::Redis(_) => "redis",
        }
    }

    /// Opens the store for `profile`, creating what it needs under `paths.state_dir`.
    #[cfg_attr(
        all(feature = "sqlite", feature = "keyring", feature = "redis"),
        allow(
            unused_variables,
            reason = "`profile` names the profile only in refusals"
        )
    )]
    pub async fn open(
        &self,
        profile: &str,
        paths: &Paths,
        env: Env<'_>,
    ) -> Result<Arc<dyn TokenStore>, ProfileError> {
        Ok(match self {
            StoreSpec::Memory => Arc::new(MemoryStore::new()),
            StoreSpec::File => Arc::new(file_store(paths)),
            StoreSpec::Sqlite => {
                #[cfg(feature = "sqlite")]
                {
                    // `SqliteStore::open` creates the state directory, owner-only.
                    Arc::new(
                        crate::store::SqliteStore::open(paths.state_dir.join("tokens.sqlite"))
                            .map_err(crate::error::Error::from)?,
                    )
                }
                #[cfg(not(feature = "sqlite"))]
                return Err(self.lacks_feature(profile, "sqlite"));
            }
            StoreSpec::Keyring => {
                #[cfg(feature = "keyring")]
                {
                    Arc::new(
                        crate::store::KeyringStore::open(
                            super::KEYRING_SERVICE,
                            paths.state_dir.clone(),
                            crate::store::KeyringFallback::Fail,
                        )
                        .await
                        .map_err(crate::error::Error::from)?,
                    )
                }
                #[cfg(not(feature = "keyring"))]
                return Err(self.lacks_feature(profile, "keyring"));
            }
            StoreSpec::Redis(redis) => {
                #[cfg(feature = "redis")]
                {
                    let config = redis.config(profile, env).await?;
                    Arc::new(
                        crate::store::RedisStore::connect_config(config)
                            .await
                            .map_err(crate::error::Error::from)?,
                    )
                }
                #[cfg(not(feature = "redis"))]
                {
                    let _ = (redis, env);
                    return Err(self.lacks_feature(profile, "redis"));
                }
            }
        })
    }

    #[cfg_attr(
        all(feature = "sqlite", feature = "keyring", feature = "redis"),
        allow(
            dead_code,
            reason = "only builds without a store feature refuse a spec"
        )
    )]
    fn lacks_feature(&self, profile: &str, feature: &str) -> ProfileError {
        ProfileError::invalid(
            profile,
            "store",
            format!(
                "is `{}`, but this build of latchkey lacks the `{feature}` feature",
                self.kind()
            ),
        )
    }

    /// The stored token set, read on the calling thread, when this is the file store;
    /// `None` for other stores, when nothing is stored or when the file cannot be read.
    /// For commands that answer from the store before they start an async runtime: on
    /// `None`, take the usual path through [`open`](Self::open), which reports any error.
    pub fn stored_tokens_now(&self, profile: &str, paths: &Paths) -> Option<TokenSet> {
        match self {
            StoreSpec::File => file_store(paths).load_now(profile).ok().flatten(),
            _ => None,
        }
    }
}

impl Selected {
    /// Opens the profile's token store (`store = …`, default `file` under the state dir,
    /// or the project folder for a project profile); `env` resolves a Redis password given
    /// as `{ env = … }`.
    pub async fn open_store(
        &self,
        paths: &Paths,
        env: Env<'_>,
    ) -> Result<Arc<dyn TokenStore>, ProfileError> {
        let paths = paths.for_origin(self.origin);
        self.profile
            .store_spec()
            .open(&self.name, &paths, env)
            .await
    }

    /// The stored token set, read on the calling thread (see
    /// [`StoreSpec::stored_tokens_now`]).
    pub fn stored_tokens_now(&self, paths: &Paths) -> Option<TokenSet> {
        self.profile
            .store_spec()
            .stored_tokens_now(&self.name, &paths.for_origin(self.origin))
    }
}

fn file_store(paths: &Paths) -> FileStore {
    FileStore::new(paths.state_dir.join("tokens"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_and_prints_back() {
        for text in [
            "memory",
            "file",
            "sqlite",
            "keyring",
            "redis://127.0.0.1:6379/0",
        ] {
            let spec: StoreSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
        }
        assert!(matches!(StoreSpec::default(), StoreSpec::File));
    }

    #[test]
    fn an_unknown_store_lists_the_valid_ones() {
        let err = "postgres".parse::<StoreSpec>().unwrap_err();
        assert!(err.contains(VALID), "{err}");
    }

    #[test]
    fn a_redis_password_is_not_shown() {
        let spec: StoreSpec = "redis://user:hunter2@cache:6379/0".parse().unwrap();
        assert!(!spec.to_string().contains("hunter2"), "{spec}");
        assert!(!format!("{spec:?}").contains("hunter2"));
    }

    /// The `store` of a profile whose file holds `store_line`, parsed as the CLI loads it.
    fn table(store_line: &str) -> Result<StoreSpec, String> {
        let text = format!("[profiles.p]\nauth = \"client-credentials\"\n{store_line}\n");
        super::super::ProfilesFile::parse(std::path::Path::new("profiles.toml"), &text)
            .map(|file| file.profiles["p"].store_spec().clone())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_redis_table_with_tls_files_and_a_password_reference_parses() {
        // An absolute path on this platform.
        let etc = if cfg!(windows) { "C:/etc" } else { "/etc" };
        let spec = table(&format!(
            r#"store = {{ redis = "rediss://alice@cache:6380/0", password = {{ env = "REDIS_PW" }}, ca = "{etc}/ca.pem", cert = "{etc}/c.pem", key = "{etc}/c.key", cluster = true }}"#
        ))
        .unwrap();
        let StoreSpec::Redis(redis) = &spec else {
            panic!("not redis: {spec}")
        };
        assert!(matches!(&redis.password, Some(SecretRef::Env { env }) if env == "REDIS_PW"));
        assert_eq!(
            redis.ca.as_deref(),
            Some(std::path::Path::new(&format!("{etc}/ca.pem")))
        );
        assert!(redis.cluster);
        assert_eq!(spec.to_string(), "rediss://cache:6380/0");
    }

    #[test]
    fn a_redis_table_lists_every_problem_at_once() {
        let err = table(
            r#"store = { redis = "redis://u:pw@cache/", password = { env = "P" }, ca = "ca.pem", key = "/k" }"#,
        )
        .unwrap_err();
        for problem in [
            "use rediss://",
            "go together",
            "`ca` must be an absolute path",
            "both in the URL",
        ] {
            assert!(err.contains(problem), "{problem}: {err}");
        }
        assert!(!err.contains("pw@"), "{err}");
    }

    #[test]
    fn a_store_table_refuses_unknown_fields_and_non_redis_urls() {
        let err = table(r#"store = { redis = "rediss://cache/", cafile = "/x" }"#).unwrap_err();
        assert!(err.contains("cafile"), "{err}");
        let err = table(r#"store = { redis = "https://cache/" }"#).unwrap_err();
        assert!(err.contains("must start with redis://"), "{err}");
        let err =
            table(r#"store = { redis = "redis://cache/", sentinels = ["s2:26379"] }"#).unwrap_err();
        assert!(err.contains("needs a redis+sentinel:// URL"), "{err}");
        let spec = table(
            r#"store = { redis = "redis+sentinel://s1:26379/mymaster", sentinels = ["s2:26379"], wait_replicas = 1 }"#,
        )
        .unwrap();
        assert!(
            matches!(spec, StoreSpec::Redis(r) if r.sentinels == ["s2:26379"] && r.wait_replicas == 1)
        );
    }
}
