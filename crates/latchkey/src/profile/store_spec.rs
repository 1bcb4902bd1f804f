//! Where a profile keeps its tokens (`store = "…"`), parsed when the file loads.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use url::Url;

use super::{Paths, ProfileError, Selected};
use crate::redact::DisplayUrl;
use crate::store::{FileStore, MemoryStore, TokenStore};
use crate::token::TokenSet;

/// The token store a profile names. `Debug` and `Display` hide a Redis password.
#[derive(Clone, PartialEq, Eq, Default)]
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
    /// A Redis server (feature `redis`): `redis://` or `rediss://`.
    Redis(Url),
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
            url if url.starts_with("redis://") || url.starts_with("rediss://") => {
                // The URL may carry a password: the message names the problem, not the URL.
                StoreSpec::Redis(
                    Url::parse(url).map_err(|e| format!("is not a valid Redis URL ({e})"))?,
                )
            }
            _ => return Err(format!("is not a known token store; valid: {VALID}")),
        })
    }
}

impl<'de> Deserialize<'de> for StoreSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|reason: String| serde::de::Error::custom(format!("`store` {reason}")))
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
            StoreSpec::Redis(url) => write!(f, "{}", DisplayUrl::new(url)),
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
            StoreSpec::Redis(url) => {
                #[cfg(feature = "redis")]
                {
                    Arc::new(
                        crate::store::RedisStore::connect(url.as_str())
                            .await
                            .map_err(crate::error::Error::from)?,
                    )
                }
                #[cfg(not(feature = "redis"))]
                {
                    let _ = url;
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
    /// Opens the profile's token store (`store = …`, default `file` under the state dir).
    pub async fn open_store(&self, paths: &Paths) -> Result<Arc<dyn TokenStore>, ProfileError> {
        self.profile.store_spec().open(&self.name, paths).await
    }

    /// The stored token set, read on the calling thread (see
    /// [`StoreSpec::stored_tokens_now`]).
    pub fn stored_tokens_now(&self, paths: &Paths) -> Option<TokenSet> {
        self.profile
            .store_spec()
            .stored_tokens_now(&self.name, paths)
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
        assert_eq!(StoreSpec::default(), StoreSpec::File);
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
}
