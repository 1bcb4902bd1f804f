use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keyring::Entry;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::{
    FileStore, MemoryStore, StoreError, StoreLock, TokenStore, blocking, record, validate_key,
};
use crate::token::TokenSet;

/// Secrets are split into chunks of this many bytes. Windows Credential Manager caps a
/// credential blob at 2560 bytes and macOS Keychain items get slow well before any hard
/// limit; an ID token alone can exceed that.
const CHUNK: usize = 2048;

/// How long one keyring call may take: a locked keyring waiting for a prompt, or a wedged
/// D-Bus daemon, must not hang the caller.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What a [`KeyringStore`] does when no platform keyring is reachable (headless Linux,
/// containers, CI).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeyringFallback {
    /// Fail with [`StoreError::Unavailable`] (the default: never store secrets somewhere
    /// the user did not choose).
    Fail,
    /// Keep tokens in a [`FileStore`] in this directory (0600 files) and log a warning.
    File(PathBuf),
    /// Keep tokens in memory only (lost when the process exits) and log a warning.
    Memory,
}

/// The stored form of a chunked secret: the main entry holds this manifest, the chunks
/// live in `<key>#<generation>.<index>`. A new generation is written in full before the
/// manifest points at it, so a reader never mixes chunks of two saves.
#[derive(Serialize, Deserialize)]
struct Manifest {
    latchkey_chunks: usize,
    generation: String,
}

/// Keeps token sets in the platform keyring (Secret Service on Linux, Keychain on macOS,
/// Credential Manager on Windows), one entry per key under a service name.
///
/// - Every keyring call runs on the blocking pool with a timeout.
/// - Secrets larger than 2 KiB are chunked behind a manifest entry.
/// - Keyrings have no locks, so [`lock`](TokenStore::lock) uses a lock file per key in
///   `<state dir>/keyring-locks` (`flock`, as the [`FileStore`] does): it excludes other
///   tasks and processes on this machine, and the kernel releases it when a holder dies.
/// - Keyrings cannot be searched portably, so [`list_keys`](TokenStore::list_keys) answers
///   from an index: an empty marker file per saved key in `<state dir>/keyring-index`,
///   created before the keyring entry and removed after it, and checked against the keyring
///   when listed (a marker whose entry is missing is skipped). Entries saved by a latchkey
///   without the index are not listed until saved again.
/// - When no keyring is reachable, [`open`](Self::open) applies the [`KeyringFallback`];
///   [`describe`](TokenStore::describe) names the fallback in use, so `status` shows it,
///   and every call, listing included, goes to the fallback store.
#[derive(Clone)]
pub struct KeyringStore {
    service: String,
    locks: FileStore,
    index: PathBuf,
    fallback: Option<(Arc<dyn TokenStore>, String)>,
}

impl KeyringStore {
    /// Opens the keyring for `service`, with lock files under `state_dir`. Checks that the
    /// keyring answers; when it does not, applies `fallback`.
    pub async fn open(
        service: impl Into<String>,
        state_dir: impl Into<PathBuf>,
        fallback: KeyringFallback,
    ) -> Result<Self, StoreError> {
        let service = service.into();
        let state_dir = state_dir.into();
        let locks = FileStore::new(state_dir.join("keyring-locks"));
        let index = state_dir.join("keyring-index");
        let backend = format!("keyring:{service}");
        let probe_service = service.clone();
        let probe = blocking::run(&backend, TIMEOUT, move || {
            let entry = entry(&probe_service, "latchkey-probe")?;
            match entry.get_secret() {
                Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(map_error(&probe_service, "latchkey-probe", e)),
            }
        })
        .await;
        let reason = match probe {
            Ok(()) => {
                return Ok(Self {
                    service,
                    locks,
                    index,
                    fallback: None,
                });
            }
            Err(err @ StoreError::Unavailable { .. }) => err,
            Err(other) => return Err(other),
        };
        let (store, shown): (Arc<dyn TokenStore>, String) = match fallback {
            KeyringFallback::Fail => return Err(reason),
            KeyringFallback::File(dir) => {
                let file = FileStore::new(dir);
                let shown = file.describe();
                (Arc::new(file), shown)
            }
            KeyringFallback::Memory => (Arc::new(MemoryStore::new()), "memory".into()),
        };
        tracing::warn!(service, fallback = %shown, error = %reason, "no keyring is reachable; using the configured fallback store");
        Ok(Self {
            service,
            locks,
            index,
            fallback: Some((store, shown)),
        })
    }

    /// The fallback store in use, if the keyring was unreachable at [`open`](Self::open).
    pub fn fallback_in_use(&self) -> Option<String> {
        self.fallback.as_ref().map(|(_, shown)| shown.clone())
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&str) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let service = self.service.clone();
        blocking::run(&self.describe(), TIMEOUT, move || f(&service)).await
    }
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .field("fallback", &self.fallback_in_use())
            .finish_non_exhaustive()
    }
}

fn entry(service: &str, user: &str) -> Result<Entry, StoreError> {
    Entry::new(service, user).map_err(|e| map_error(service, user, e))
}

/// Keyring errors, without ever quoting the bytes some variants carry.
fn map_error(service: &str, user: &str, e: keyring::Error) -> StoreError {
    let backend = format!("keyring:{service}");
    let unavailable = |reason: String| StoreError::Unavailable {
        backend: backend.clone(),
        reason,
    };
    match e {
        keyring::Error::NoDefaultStore | keyring::Error::NoStorageAccess(_) => {
            unavailable(format!(
                "no platform keyring is reachable ({e}); on Linux this needs a Secret Service \
             (gnome-keyring, KeePassXC) on the D-Bus session bus, which headless machines \
             and containers lack"
            ))
        }
        keyring::Error::PlatformFailure(_) => unavailable(format!("the keyring failed: {e}")),
        keyring::Error::BadEncoding(_) | keyring::Error::BadDataFormat(..) => StoreError::Corrupt {
            location: format!("{backend}#{user}"),
            reason: "the keyring returned data in an unexpected format".into(),
        },
        keyring::Error::Ambiguous(items) => StoreError::Corrupt {
            location: format!("{backend}#{user}"),
            reason: format!("{} keyring items match this entry", items.len()),
        },
        other => unavailable(format!("the keyring refused the request: {other}")),
    }
}

fn get(service: &str, user: &str) -> Result<Option<Vec<u8>>, StoreError> {
    match entry(service, user)?.get_secret() {
        Ok(bytes) => Ok(Some(bytes)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(map_error(service, user, e)),
    }
}

fn remove(service: &str, user: &str) -> Result<(), StoreError> {
    match entry(service, user)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(map_error(service, user, e)),
    }
}

fn set(service: &str, user: &str, bytes: &[u8]) -> Result<(), StoreError> {
    entry(service, user)?
        .set_secret(bytes)
        .map_err(|e| map_error(service, user, e))
}

fn manifest_of(bytes: &[u8]) -> Option<Manifest> {
    serde_json::from_slice::<Manifest>(bytes).ok()
}

fn chunk_user(key: &str, generation: &str, index: usize) -> String {
    format!("{key}#{generation}.{index}")
}

fn load_blocking(service: &str, key: &str) -> Result<Option<TokenSet>, StoreError> {
    let Some(main) = get(service, key)? else {
        return Ok(None);
    };
    let bytes = match manifest_of(&main) {
        None => main,
        Some(manifest) => {
            let mut joined = Vec::new();
            for index in 0..manifest.latchkey_chunks {
                let user = chunk_user(key, &manifest.generation, index);
                joined.extend(get(service, &user)?.ok_or_else(|| StoreError::Corrupt {
                    location: format!("keyring:{service}#{key}"),
                    reason: format!("chunk {index} of {} is missing", manifest.latchkey_chunks),
                })?);
            }
            joined
        }
    };
    record::decode(&bytes)
        .map(Some)
        .map_err(|reason| StoreError::Corrupt {
            location: format!("keyring:{service}#{key}"),
            reason,
        })
}

fn delete_chunks(service: &str, key: &str, old: Option<Manifest>) {
    if let Some(old) = old {
        for index in 0..old.latchkey_chunks {
            // Left-over chunks are garbage, not a failure of the save that replaced them.
            if let Err(err) = remove(service, &chunk_user(key, &old.generation, index)) {
                tracing::warn!(key, error = %err, "could not remove an old keyring chunk");
            }
        }
    }
}

fn save_blocking(service: &str, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let old = get(service, key)?.and_then(|b| manifest_of(&b));
    if bytes.len() <= CHUNK {
        set(service, key, bytes)?;
    } else {
        let generation = format!("{:016x}", rand::rng().random::<u64>());
        let chunks: Vec<&[u8]> = bytes.chunks(CHUNK).collect();
        for (index, chunk) in chunks.iter().enumerate() {
            set(service, &chunk_user(key, &generation, index), chunk)?;
        }
        let manifest = Manifest {
            latchkey_chunks: chunks.len(),
            generation,
        };
        // Writing the manifest is the commit point: before it, readers see the old save.
        set(
            service,
            key,
            &serde_json::to_vec(&manifest).unwrap_or_default(),
        )?;
    }
    delete_chunks(service, key, old);
    Ok(())
}

fn delete_blocking(service: &str, key: &str) -> Result<(), StoreError> {
    let old = get(service, key)?.and_then(|b| manifest_of(&b));
    remove(service, key)?;
    delete_chunks(service, key, old);
    Ok(())
}

/// Records in the index that `key` has (or is about to have) an entry.
fn mark(index: &Path, key: &str) -> Result<(), StoreError> {
    super::file::private_dir(index)?;
    let path = index.join(key);
    crate::fs::open_or_create_private(&path)
        .map(drop)
        .map_err(|e| StoreError::io(path, e))
}

fn unmark(index: &Path, key: &str) -> Result<(), StoreError> {
    let path = index.join(key);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// The indexed keys whose main entry is in the keyring.
fn list_blocking(service: &str, index: &Path) -> Result<Vec<String>, StoreError> {
    let entries = match std::fs::read_dir(index) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(index, e)),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(index, e))?;
        let Some(key) = entry
            .file_name()
            .to_str()
            .filter(|k| validate_key(k).is_ok())
            .map(str::to_owned)
        else {
            continue;
        };
        // A marker without an entry is a save in progress or one that crashed: skipped,
        // not removed, since removing it could race a save that is about to finish.
        if get(service, &key)?.is_some() {
            keys.push(key);
        }
    }
    keys.sort();
    Ok(keys)
}

#[async_trait]
impl TokenStore for KeyringStore {
    fn describe(&self) -> String {
        match &self.fallback {
            None => format!("keyring:{}", self.service),
            Some((_, shown)) => format!(
                "keyring:{} (unavailable; falling back to {shown})",
                self.service
            ),
        }
    }

    async fn load(&self, key: &str) -> Result<Option<TokenSet>, StoreError> {
        validate_key(key)?;
        if let Some((store, _)) = &self.fallback {
            return store.load(key).await;
        }
        let key = key.to_owned();
        self.call(move |service| load_blocking(service, &key)).await
    }

    async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError> {
        validate_key(key)?;
        if let Some((store, _)) = &self.fallback {
            return store.save(key, tokens).await;
        }
        let (key, bytes) = (key.to_owned(), record::encode(tokens));
        let index = self.index.clone();
        self.call(move |service| {
            // The marker first: a crash in between leaves a marker without an entry, which
            // listing drops, never an entry that listing misses.
            mark(&index, &key)?;
            save_blocking(service, &key, &bytes)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        if let Some((store, _)) = &self.fallback {
            return store.delete(key).await;
        }
        let key = key.to_owned();
        let index = self.index.clone();
        self.call(move |service| {
            delete_blocking(service, &key)?;
            unmark(&index, &key)
        })
        .await
    }

    async fn list_keys(&self) -> Result<Vec<String>, StoreError> {
        if let Some((store, _)) = &self.fallback {
            return store.list_keys().await;
        }
        let index = self.index.clone();
        self.call(move |service| list_blocking(service, &index))
            .await
    }

    async fn lock(&self, key: &str, wait: Duration) -> Result<StoreLock, StoreError> {
        match &self.fallback {
            // The fallback's own lock: a memory store's lock is what guards memory entries.
            Some((store, _)) => store.lock(key, wait).await,
            None => self.locks.lock(key, wait).await,
        }
    }
}
