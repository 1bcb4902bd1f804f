//! Where token sets are kept between requests, processes and machines.
//!
//! Every backend implements [`TokenStore`]; the same conformance suite
//! (`latchkey-testkit`) runs against each one.

pub(crate) mod blocking;
mod file;
mod key_locks;
#[cfg(feature = "keyring")]
mod keyring;
#[cfg(any(feature = "sqlite", feature = "redis"))]
mod lease;
mod memory;
pub mod record;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_config;
#[cfg(feature = "redis")]
mod redis_sentinel;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use file::FileStore;
pub use key_locks::KeyLocks;
#[cfg(feature = "keyring")]
#[cfg_attr(docsrs, doc(cfg(feature = "keyring")))]
pub use keyring::{KeyringFallback, KeyringStore};
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_config::{RedisConfig, RedisConnection};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_sentinel::SentinelConnection;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;

use crate::token::TokenSet;

/// Persists token sets by key (usually a profile name) and coordinates refreshes.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// A short description for status output, e.g. `file:/home/me/.local/state/latchkey`.
    fn describe(&self) -> String;

    /// The token set stored under `key`, or `None` when there is none. A stored value that
    /// cannot be read is an error, never `None`: "corrupt" must not look like "logged out".
    async fn load(&self, key: &str) -> Result<Option<TokenSet>, StoreError>;

    /// Stores `tokens` under `key`, replacing what was there atomically.
    async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError>;

    /// Removes what is stored under `key`; removing nothing is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Every key that holds a token set, sorted, for administration tools (PyWry's
    /// `list_keys`). A key whose entry is corrupt is listed: it exists, and loading it is
    /// the error that says what is wrong. Keys only: no token is read or decoded.
    async fn list_keys(&self) -> Result<Vec<String>, StoreError>;

    /// Whether a token set is stored under `key` (PyWry's `exists`). A corrupt entry
    /// exists, as [`list_keys`](Self::list_keys) lists it. The default loads the entry; backends
    /// with a cheaper presence check override it.
    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.load(key).await {
            Ok(found) => Ok(found.is_some()),
            Err(StoreError::Corrupt { .. }) => Ok(true),
            Err(other) => Err(other),
        }
    }

    /// Takes the refresh lock for `key`, waiting at most `wait`. While one holder has it, no
    /// other task or process that shares this store gets it. Dropping the guard releases it,
    /// and a holder that dies (even by SIGKILL) releases it too.
    async fn lock(&self, key: &str, wait: Duration) -> Result<StoreLock, StoreError>;

    /// Stores `tokens` under `key` while holding `lock` (taken from this store for `key`).
    ///
    /// Stores whose locks are leases (SQLite, Redis) write only if the lease is still this
    /// holder's, in one atomic step, and otherwise fail with [`StoreError::LeaseLost`]
    /// without writing: a holder that stalled past its lease must not overwrite the tokens
    /// its successor saved. The default, for locks that cannot lapse while their guard
    /// lives, is [`save`](Self::save).
    async fn save_locked(
        &self,
        key: &str,
        tokens: &TokenSet,
        lock: &StoreLock,
    ) -> Result<(), StoreError> {
        let _ = lock;
        self.save(key, tokens).await
    }
}

/// A held refresh lock; released when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct StoreLock {
    guard: Guard,
}

enum Guard {
    /// Held until dropped, whatever happens meanwhile (a file lock, a mutex).
    Plain(#[allow(dead_code, reason = "held for its drop")] Box<dyn Send + Sync>),
    /// A lease that lapses if its holder stalls; see [`lease`].
    #[cfg(any(feature = "sqlite", feature = "redis"))]
    Lease(lease::Lease),
}

impl StoreLock {
    /// Wraps a backend's guard; dropping it must release the lock, and the lock must stay
    /// held until then (a lock that can lapse needs fencing, see
    /// [`TokenStore::save_locked`]).
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self {
            guard: Guard::Plain(Box::new(guard)),
        }
    }

    #[cfg(any(feature = "sqlite", feature = "redis"))]
    pub(crate) fn leased(lease: lease::Lease) -> Self {
        Self {
            guard: Guard::Lease(lease),
        }
    }

    /// The lease behind this lock, if it is one.
    #[cfg(any(feature = "sqlite", feature = "redis"))]
    pub(crate) fn lease(&self) -> Option<&lease::Lease> {
        match &self.guard {
            Guard::Lease(lease) => Some(lease),
            Guard::Plain(_) => None,
        }
    }

    /// Checks that the lock is still held, renewing a lease; [`StoreError::LeaseLost`] when
    /// its lease lapsed and another holder has taken it. Call it before acting on what was
    /// read under the lock, e.g. spending a refresh token.
    pub async fn ensure_held(&self) -> Result<(), StoreError> {
        match &self.guard {
            Guard::Plain(_) => Ok(()),
            #[cfg(any(feature = "sqlite", feature = "redis"))]
            Guard::Lease(lease) => lease.ensure_held().await,
        }
    }
}

impl fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreLock")
    }
}

/// What went wrong in a token store. Messages name the store location.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file or device operation failed.
    #[error("token store I/O failed at {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The stored data cannot be read back.
    #[error("token store entry at {location} is corrupt: {reason}")]
    Corrupt {
        /// Where the bad entry is (a path, or backend and key).
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A token file other users can read; latchkey refuses to use it.
    #[error("token file {path} is readable by other users (mode {mode:o})")]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A token directory that is not private: owned by another user, or one in which other
    /// users can create, replace or delete files. latchkey refuses it, as ssh refuses such
    /// a `~/.ssh`.
    #[error("token directory {path} is not private: {reason}")]
    InsecureDirectory {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A token or lock file that latchkey will not use: owned by another user, a symbolic
    /// link or not a regular file, or (on Windows) open to other users by its access list.
    #[error("token file {path} cannot be trusted: {reason}")]
    UntrustedFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key cannot name an entry.
    #[error("invalid token key `{key}`: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// Why it is refused.
        reason: String,
    },
    /// Another holder kept the refresh lock longer than the bound.
    #[error("timed out after {waited:?} waiting for the refresh lock on `{key}` in {store}")]
    LockTimeout {
        /// The key.
        key: String,
        /// The store.
        store: String,
        /// How long latchkey waited.
        waited: Duration,
    },
    /// The refresh lock's lease lapsed while its holder stalled, and another holder took
    /// it: the holder's result was not saved, so it cannot overwrite its successor's.
    #[error(
        "the refresh lock on `{key}` in {store} was lost: its lease lapsed and another holder took it; nothing was saved"
    )]
    LeaseLost {
        /// The key.
        key: String,
        /// The store.
        store: String,
    },
    /// The backend cannot be reached at all (no secret service, no Redis server…).
    #[error("token store {backend} is unavailable: {reason}")]
    Unavailable {
        /// The backend.
        backend: String,
        /// Why.
        reason: String,
    },
}

impl StoreError {
    /// What the user should do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            StoreError::Io { path, .. } => format!(
                "check that {} exists and is writable by you",
                path.display()
            ),
            StoreError::Corrupt { .. } => {
                "delete the entry (`TokenStore::delete`) and log in again; other keys are untouched"
                    .to_string()
            }
            StoreError::InsecurePermissions { path, .. } => {
                format!("run `chmod 600 {}`", path.display())
            }
            StoreError::InsecureDirectory { path, .. } => format!(
                "make sure you own {0} and run `chmod 700 {0}`, or choose another state \
                 directory (LATCHKEY_STATE_DIR)",
                path.display()
            ),
            StoreError::UntrustedFile { path, .. } => format!(
                "check how {0} got there, then remove it (`rm {0}`) and log in again",
                path.display()
            ),
            StoreError::InvalidKey { .. } => {
                "use letters, digits, `.`, `_` and `-` only".to_string()
            }
            StoreError::LockTimeout { .. } => {
                "another latchkey process is refreshing this token and has not finished; try again"
                    .to_string()
            }
            StoreError::LeaseLost { .. } => {
                "read the tokens again (the new holder saved them); if this recurs, this process \
                 stalls for longer than the lock lease: give the store a longer lease"
                    .to_string()
            }
            StoreError::Unavailable { backend, .. } if backend.starts_with("keyring") => {
                "start a Secret Service (gnome-keyring, KeePassXC) in your session, or choose \
                 another store, e.g. `store = \"file\"`"
                    .to_string()
            }
            StoreError::Unavailable { .. } => {
                "check that the store is reachable, or choose another store, e.g. \
                 `store = \"file\"`"
                    .to_string()
            }
        })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }
}

/// The longest key [`validate_key`] accepts.
pub(crate) const MAX_KEY_LEN: usize = 128;

/// Checks that `key` is usable as a file name and a database key everywhere.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let invalid = |reason: &str| {
        Err(StoreError::InvalidKey {
            key: key.to_string(),
            reason: reason.to_string(),
        })
    };
    if key.is_empty() {
        return invalid("it is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return invalid("it is longer than 128 characters");
    }
    if key.starts_with('.') {
        return invalid("it starts with `.`");
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return invalid("it contains characters other than letters, digits, `.`, `_` and `-`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_validated() {
        assert!(validate_key("svc-prod_1.eu").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "sp ace", &"x".repeat(129)] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
    }
}
