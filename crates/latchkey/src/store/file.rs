use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::RngExt;

use super::{StoreError, StoreLock, TokenStore, record, validate_key};
use crate::token::TokenSet;

/// Keeps each key's token set in its own JSON file: the CLI's default store.
///
/// The directory is created 0700 and files 0600 (created with that mode, never chmod-ed
/// afterwards, so there is no window where they are readable). A save writes a temporary
/// file, fsyncs it, renames it over the old one and fsyncs the directory: a crash leaves
/// either the old or the new token set, never a torn one. Each key has a lock file
/// (`<key>.lock`) held with `flock`, which the kernel releases when a holder dies.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// A store in `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory holding the token files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds `key`'s token set.
    pub fn path_for(&self, key: &str) -> Result<PathBuf, StoreError> {
        validate_key(key)?;
        Ok(self.dir.join(format!("{key}.json")))
    }

    /// Reads `key`'s token set on the calling thread. For synchronous callers, such as a
    /// command-line tool answering before it starts a runtime; async code should use
    /// [`TokenStore::load`], which keeps the file I/O off the runtime's threads.
    pub fn load_now(&self, key: &str) -> Result<Option<TokenSet>, StoreError> {
        load_file(&self.path_for(key)?)
    }

    fn ensure_dir(&self) -> Result<(), StoreError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| StoreError::io(&self.dir, e))?;
        if let Ok(meta) = fs::metadata(&self.dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(dir = %self.dir.display(), mode = format!("{:o}", meta.permissions().mode() & 0o777), "token directory is accessible by other users; consider `chmod 700`");
        }
        Ok(())
    }
}

fn load_file(path: &Path) -> Result<Option<TokenSet>, StoreError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let mode = file
        .metadata()
        .map_err(|e| StoreError::io(path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(StoreError::InsecurePermissions {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| StoreError::io(path, e))?;
    record::decode(&bytes)
        .map(Some)
        .map_err(|reason| StoreError::Corrupt {
            location: path.display().to_string(),
            reason,
        })
}

fn save_file(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let suffix: u64 = rand::rng().random();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.{suffix:016x}.tmp", std::process::id()));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        // Persist the rename itself: without this a power loss can bring the old file back.
        File::open(dir)?.sync_all()
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&temp);
        StoreError::io(path, e)
    })
}

async fn blocking<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        StoreError::io(
            path,
            std::io::Error::other(format!("store task failed: {e}")),
        )
    })?
}

#[async_trait]
impl TokenStore for FileStore {
    fn describe(&self) -> String {
        format!("file:{}", self.dir.display())
    }

    async fn load(&self, key: &str) -> Result<Option<TokenSet>, StoreError> {
        let path = self.path_for(key)?;
        blocking(&path.clone(), move || load_file(&path)).await
    }

    async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError> {
        let path = self.path_for(key)?;
        self.ensure_dir()?;
        let bytes = record::encode(tokens);
        let dir = self.dir.clone();
        blocking(&path.clone(), move || save_file(&dir, &path, &bytes)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_for(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    async fn lock(&self, key: &str, wait: Duration) -> Result<StoreLock, StoreError> {
        validate_key(key)?;
        self.ensure_dir()?;
        let path = self.dir.join(format!("{key}.lock"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        let started = Instant::now();
        loop {
            // Each `open` is its own open file description, so flock excludes other tasks of
            // this process as well as other processes.
            match file.try_lock() {
                Ok(()) => return Ok(StoreLock::new(file)),
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => return Err(StoreError::io(&path, e)),
            }
            if started.elapsed() >= wait {
                return Err(StoreError::LockTimeout {
                    key: key.to_owned(),
                    store: self.describe(),
                    waited: wait,
                });
            }
            let pause = Duration::from_millis(rand::rng().random_range(5..25));
            tokio::time::sleep(pause).await;
        }
    }
}
