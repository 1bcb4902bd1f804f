use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use super::{StoreError, StoreLock, TokenStore, blocking, lease, record, validate_key};
use crate::token::TokenSet;

/// The database schema written by this release (`PRAGMA user_version`). A newer database
/// is refused rather than guessed at.
const DB_SCHEMA_VERSION: i64 = 1;

/// How long SQLite itself waits for another writer before answering `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Keeps every key's token set in one SQLite database: for many profiles, or many
/// processes on one machine.
///
/// - The file is created 0600 (owner-only on Windows) *before* SQLite opens it (SQLite
///   gives its `-wal` and `-shm` files the same mode); an existing file that another user
///   owns or can read is refused, and so is a directory that others can write to, like
///   the file store does.
/// - WAL mode with `synchronous = FULL`: a committed save survives a crash or power loss,
///   and readers never see a half-written row.
/// - Tables `tokens` (key → versioned JSON record, see [`record`]) and `locks`; the schema
///   version is `PRAGMA user_version`.
/// - [`lock`](TokenStore::lock) is a lease row (owner id + expiry) taken in a
///   `BEGIN IMMEDIATE` transaction and renewed by a heartbeat while held; a holder that
///   dies stops renewing, and its lock is taken over once the lease (default 10 s) lapses.
///   [`save_locked`](TokenStore::save_locked) checks the owner and writes in one
///   transaction, so a holder that stalled past its lease cannot overwrite its successor.
/// - Every call runs on the blocking pool with a timeout (default 10 s).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
    lease: Duration,
    queue: super::KeyLocks,
    timeout: Duration,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`. Blocks briefly: call it at
    /// startup, not on a hot path.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        create_private_file(&path)?;
        let conn = Connection::open(&path).map_err(|e| sql_error(&path, e))?;
        setup(&conn).map_err(|e| sql_error(&path, e))?;
        migrate(&conn, &path)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                conn: Mutex::new(conn),
                lease: lease::DEFAULT_LEASE,
                timeout: Duration::from_secs(10),
                queue: super::KeyLocks::default(),
            }),
        })
    }

    /// How long a lock survives its holder without a heartbeat (default 10 s): the longest
    /// a crashed process can block its peers. Call before sharing the store.
    pub fn with_lock_lease(mut self, lease: Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.lease = lease.max(Duration::from_millis(200));
        }
        self
    }

    /// How long one database call may take before it fails as unavailable (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.timeout = timeout;
        }
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        blocking::run(&self.describe(), self.inner.timeout, move || f(&inner)).await
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("lease", &self.inner.lease)
            .finish_non_exhaustive()
    }
}

fn create_private_file(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        super::file::private_dir(dir)?;
    }
    let file = crate::fs::open_or_create_private(path).map_err(|e| StoreError::io(path, e))?;
    super::file::check_file(path, &file)
}

fn setup(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // `journal_mode` answers with the resulting mode; WAL lets readers proceed during a save.
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    // FULL in WAL mode fsyncs every commit: a rotated refresh token must survive power loss.
    conn.execute_batch("PRAGMA synchronous = FULL;")
}

fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| sql_error(path, e))?;
    if version > DB_SCHEMA_VERSION {
        return Err(StoreError::Corrupt {
            location: path.display().to_string(),
            reason: format!(
                "database schema version {version} is newer than this latchkey understands ({DB_SCHEMA_VERSION}): upgrade latchkey"
            ),
        });
    }
    if version == DB_SCHEMA_VERSION {
        return Ok(());
    }
    // Two processes may create a new database at once: IMMEDIATE serializes them, and the
    // loser finds the tables already there (IF NOT EXISTS).
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         CREATE TABLE IF NOT EXISTS tokens (
             key TEXT PRIMARY KEY NOT NULL,
             record BLOB NOT NULL,
             updated_at_ms INTEGER NOT NULL
         );
         CREATE TABLE IF NOT EXISTS locks (
             key TEXT PRIMARY KEY NOT NULL,
             owner TEXT NOT NULL,
             expires_at_ms INTEGER NOT NULL
         );
         PRAGMA user_version = 1;
         COMMIT;",
    )
    .map_err(|e| sql_error(path, e))
}

fn sql_error(path: &Path, e: rusqlite::Error) -> StoreError {
    // rusqlite messages name columns and SQLite result codes, never bound values.
    StoreError::io(path, std::io::Error::other(format!("sqlite: {e}")))
}

fn upsert(conn: &Connection, key: &str, bytes: &[u8]) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO tokens (key, record, updated_at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET record = excluded.record,
                                        updated_at_ms = excluded.updated_at_ms",
        params![key, bytes, lease::now_ms()],
    )
    .map(drop)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code()
        .is_some_and(|c| matches!(c, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

impl Inner {
    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn location(&self, key: &str) -> String {
        format!("sqlite:{}#{key}", self.path.display())
    }

    fn try_take(&self, key: &str, owner: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            // Another process is writing: not an error, just not our turn yet.
            Err(e) if is_busy(&e) => return Ok(false),
            Err(e) => return Err(sql_error(&self.path, e)),
        };
        let now = lease::now_ms();
        let held: Option<(String, i64)> = tx
            .query_row(
                "SELECT owner, expires_at_ms FROM locks WHERE key = ?1",
                params![key],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| sql_error(&self.path, e))?;
        if held.as_ref().is_some_and(|(_, expires)| *expires > now) {
            return Ok(false);
        }
        if held.is_some() {
            tracing::warn!(store = %self.path.display(), key, "taking over an expired refresh lock (its holder stopped renewing it, probably crashed)");
        }
        let expires = now + self.lease.as_millis() as i64;
        tx.execute(
            "INSERT OR REPLACE INTO locks (key, owner, expires_at_ms) VALUES (?1, ?2, ?3)",
            params![key, owner, expires],
        )
        .map_err(|e| sql_error(&self.path, e))?;
        match tx.commit() {
            Ok(()) => Ok(true),
            Err(e) if is_busy(&e) => Ok(false),
            Err(e) => Err(sql_error(&self.path, e)),
        }
    }

    /// Extends the lease; `false` when the lock is no longer ours.
    fn renew(&self, key: &str, owner: &str) -> Result<bool, StoreError> {
        let expires = lease::now_ms() + self.lease.as_millis() as i64;
        self.conn()
            .execute(
                "UPDATE locks SET expires_at_ms = ?3 WHERE key = ?1 AND owner = ?2",
                params![key, owner, expires],
            )
            .map(|n| n == 1)
            .map_err(|e| sql_error(&self.path, e))
    }

    /// Writes the record only while `owner` holds the lock row, in one transaction. The
    /// owner alone is the fence, expired or not: a lease that lapsed but that nobody took
    /// over still means nobody else refreshed meanwhile, and taking it over replaces the owner.
    fn save_if_held(&self, key: &str, owner: &str, bytes: &[u8]) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_error(&self.path, e))?;
        let held: Option<String> = tx
            .query_row(
                "SELECT owner FROM locks WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| sql_error(&self.path, e))?;
        if held.as_deref() != Some(owner) {
            return Ok(false);
        }
        upsert(&tx, key, bytes).map_err(|e| sql_error(&self.path, e))?;
        tx.commit().map_err(|e| sql_error(&self.path, e))?;
        Ok(true)
    }

    fn release(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "DELETE FROM locks WHERE key = ?1 AND owner = ?2",
                params![key, owner],
            )
            .map(drop)
            .map_err(|e| sql_error(&self.path, e))
    }
}

#[async_trait]
impl lease::LeaseBackend for SqliteStore {
    fn describe(&self) -> String {
        TokenStore::describe(self)
    }

    fn lease(&self) -> Duration {
        self.inner.lease
    }

    async fn try_acquire(&self, key: &str, owner: &str) -> Result<bool, StoreError> {
        let (key, owner) = (key.to_owned(), owner.to_owned());
        self.call(move |inner| inner.try_take(&key, &owner)).await
    }

    async fn renew(&self, key: &str, owner: &str) -> Result<bool, StoreError> {
        let (key, owner) = (key.to_owned(), owner.to_owned());
        self.call(move |inner| inner.renew(&key, &owner)).await
    }

    async fn release(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let (key, owner) = (key.to_owned(), owner.to_owned());
        self.call(move |inner| inner.release(&key, &owner)).await
    }

    fn release_without_runtime(&self, key: &str, owner: &str) {
        if let Err(err) = self.inner.release(key, owner) {
            tracing::warn!(key, error = %err, "could not release the refresh lock; it lapses with its lease");
        }
    }

    async fn save_if_held(
        &self,
        key: &str,
        owner: &str,
        tokens: &TokenSet,
    ) -> Result<bool, StoreError> {
        let (key, owner, bytes) = (key.to_owned(), owner.to_owned(), record::encode(tokens));
        self.call(move |inner| inner.save_if_held(&key, &owner, &bytes))
            .await
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.inner.path.display())
    }

    async fn load(&self, key: &str) -> Result<Option<TokenSet>, StoreError> {
        validate_key(key)?;
        let key = key.to_owned();
        self.call(move |inner| {
            let bytes: Option<Vec<u8>> = inner
                .conn()
                .query_row(
                    "SELECT record FROM tokens WHERE key = ?1",
                    params![key],
                    |row| row.get(0),
                )
                .optional()
                .map_err(|e| sql_error(&inner.path, e))?;
            bytes
                .map(|bytes| {
                    record::decode(&bytes).map_err(|reason| StoreError::Corrupt {
                        location: inner.location(&key),
                        reason,
                    })
                })
                .transpose()
        })
        .await
    }

    async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError> {
        validate_key(key)?;
        let (key, bytes) = (key.to_owned(), record::encode(tokens));
        self.call(move |inner| {
            upsert(&inner.conn(), &key, &bytes).map_err(|e| sql_error(&inner.path, e))
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let key = key.to_owned();
        self.call(move |inner| {
            inner
                .conn()
                .execute("DELETE FROM tokens WHERE key = ?1", params![key])
                .map(drop)
                .map_err(|e| sql_error(&inner.path, e))
        })
        .await
    }

    async fn list_keys(&self) -> Result<Vec<String>, StoreError> {
        self.call(|inner| {
            let conn = inner.conn();
            let mut statement = conn
                .prepare("SELECT key FROM tokens ORDER BY key")
                .map_err(|e| sql_error(&inner.path, e))?;
            let keys = statement
                .query_map([], |row| row.get::<_, String>(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(|e| sql_error(&inner.path, e))?;
            Ok(keys)
        })
        .await
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        validate_key(key)?;
        let key = key.to_owned();
        self.call(move |inner| {
            inner
                .conn()
                .query_row("SELECT 1 FROM tokens WHERE key = ?1", params![key], |_| {
                    Ok(())
                })
                .optional()
                .map(|found| found.is_some())
                .map_err(|e| sql_error(&inner.path, e))
        })
        .await
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
}
