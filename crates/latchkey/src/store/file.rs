use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::RngExt;

use super::{StoreError, StoreLock, TokenStore, record, validate_key};
use crate::token::TokenSet;

/// Keeps each key's token set in its own JSON file: the CLI's default store.
///
/// The directory is created 0700 and files 0600 (created with that mode, never chmod-ed
/// afterwards, so there is no window where they are readable); on Windows both get an
/// access list that grants only the current user. A directory that another user owns or
/// can write to is refused, and so is a token file that another user owns or can read. A
/// save writes a temporary file, fsyncs it, renames it over the old one and fsyncs the
/// directory: a crash leaves either the old or the new token set, never a torn one. Each
/// key has a lock file (`<key>.lock`, never followed if it is a symbolic link) held with
/// `flock` (`LockFileEx` on Windows), which the OS releases when a holder dies.
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
        private_dir(&self.dir)
    }
}

/// Creates `dir` private when missing, and refuses it when another user owns it or can
/// change its entries.
pub(super) fn private_dir(dir: &Path) -> Result<(), StoreError> {
    crate::fs::create_private_dir(dir).map_err(|e| StoreError::io(dir, e))?;
    check_dir(dir)
}

fn check_dir(dir: &Path) -> Result<(), StoreError> {
    match crate::fs::dir_exposure(dir).map_err(|e| StoreError::io(dir, e))? {
        None => Ok(()),
        Some(exposure) => Err(StoreError::InsecureDirectory {
            path: dir.to_owned(),
            reason: exposure.to_string(),
        }),
    }
}

/// Refuses the open file at `path` when another user owns it or can read or write it.
pub(super) fn check_file(path: &Path, file: &File) -> Result<(), StoreError> {
    match crate::fs::file_exposure(file).map_err(|e| StoreError::io(path, e))? {
        None => Ok(()),
        Some(crate::fs::Exposure::OpenToOthers {
            mode: Some(mode), ..
        }) => Err(StoreError::InsecurePermissions {
            path: path.to_owned(),
            mode,
        }),
        Some(exposure) => Err(StoreError::UntrustedFile {
            path: path.to_owned(),
            reason: exposure.to_string(),
        }),
    }
}

fn load_file(path: &Path) -> Result<Option<TokenSet>, StoreError> {
    if let Some(dir) = path.parent() {
        match crate::fs::dir_exposure(dir) {
            Ok(None) => {}
            Ok(Some(exposure)) => {
                return Err(StoreError::InsecureDirectory {
                    path: dir.to_owned(),
                    reason: exposure.to_string(),
                });
            }
            // Nothing saved yet.
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(dir, e)),
        }
    }
    let Some(mut file) = crate::fs::open_existing(path).map_err(|e| StoreError::io(path, e))?
    else {
        return Ok(None);
    };
    check_file(path, &file)?;
    let bytes = crate::fs::read_capped(&mut file, crate::fs::MAX_READ)
        .map_err(|e| StoreError::io(path, e))?;
    record::decode(&bytes)
        .map(Some)
        .map_err(|reason| StoreError::Corrupt {
            location: path.display().to_string(),
            reason,
        })
}

/// The keys of the `<key>.json` files in `dir`, sorted; nothing when `dir` does not exist.
/// Lock files, a save's temporary files (`.<name>.tmp`, never a valid key) and anything
/// else are skipped. A directory others can write to is refused, as for a load: what it
/// lists may have been planted.
fn list_dir(dir: &Path) -> Result<Vec<String>, StoreError> {
    match crate::fs::dir_exposure(dir) {
        Ok(None) => {}
        Ok(Some(exposure)) => {
            return Err(StoreError::InsecureDirectory {
                path: dir.to_owned(),
                reason: exposure.to_string(),
            });
        }
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(dir, e)),
    }
    let mut keys = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        let name = entry.file_name();
        let key = name.to_str().and_then(|n| n.strip_suffix(".json"));
        if let Some(key) = key.filter(|k| validate_key(k).is_ok()) {
            keys.push(key.to_owned());
        }
    }
    keys.sort();
    Ok(keys)
}

/// How long a file operation may take before the caller gets an error instead of a hang (a
/// token directory on a stalled network share). Lock waits are not bounded by it.
const FILE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs a blocking file operation through the stores' one blocking-call helper.
async fn blocking<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    super::blocking::run(&format!("file:{}", path.display()), FILE_TIMEOUT, f).await
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
        blocking(&path.clone(), move || {
            crate::fs::write_atomic(&path, &bytes).map_err(|e| StoreError::io(&path, e))
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_for(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    async fn list_keys(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.dir.clone();
        blocking(&self.dir, move || list_dir(&dir)).await
    }

    async fn lock(&self, key: &str, wait: Duration) -> Result<StoreLock, StoreError> {
        validate_key(key)?;
        self.ensure_dir()?;
        let path = self.dir.join(format!("{key}.lock"));
        let file = crate::fs::open_lock_file(&path).map_err(|e| match e.kind() {
            ErrorKind::InvalidInput => StoreError::UntrustedFile {
                path: path.clone(),
                reason: e.to_string(),
            },
            _ => StoreError::io(&path, e),
        })?;
        check_file(&path, &file)?;
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

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "tests write fixtures directly, including ones the helper would refuse"
)]
mod tests {
    use std::time::SystemTime;

    use secrecy::SecretString;

    use super::*;

    fn tokens() -> TokenSet {
        TokenSet::new(SecretString::from("access-x"), SystemTime::now())
    }

    #[cfg(unix)]
    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Security finding 7: a lock file that is a symbolic link made `lock` create and
    /// `flock` the file it points to, wherever that is.
    #[cfg(unix)]
    #[tokio::test]
    async fn finding_7_a_symlinked_lock_file_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let target = elsewhere.path().join("victim");
        std::os::unix::fs::symlink(&target, dir.path().join("svc.lock")).unwrap();
        let store = FileStore::new(dir.path());
        let err = store
            .lock("svc", Duration::from_secs(1))
            .await
            .expect_err("a symlinked lock file must be refused");
        assert!(
            matches!(&err, StoreError::UntrustedFile { path, .. } if path.ends_with("svc.lock")),
            "{err:?}"
        );
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(!target.exists(), "the link's target was created");
        // A link to an existing file is refused too, and that file is not locked.
        fs::write(&target, b"keep").unwrap();
        assert!(store.lock("svc", Duration::from_secs(1)).await.is_err());
        assert!(File::open(&target).unwrap().try_lock().is_ok());
    }

    #[cfg(unix)]
    async fn assert_dir_refused(store: &FileStore, mode: u32) {
        let dir = store.dir().display().to_string();
        let save = store.save("svc", &tokens()).await.unwrap_err();
        let lock = store.lock("svc", Duration::from_secs(1)).await.unwrap_err();
        let load = store.load("svc").await.unwrap_err();
        for err in [save, lock, load] {
            assert!(
                matches!(&err, StoreError::InsecureDirectory { .. }),
                "mode {mode:o}: {err:?}"
            );
            assert!(err.to_string().contains(&format!("{mode:o}")), "{err}");
            assert!(
                err.hint().unwrap().contains(&format!("chmod 700 {dir}")),
                "{:?}",
                err.hint()
            );
        }
    }

    /// Security finding 7: a group-writable token directory was only warned about, so
    /// another member of the group could plant or swap token files.
    #[cfg(unix)]
    #[tokio::test]
    async fn finding_7_a_group_writable_token_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        store.save("svc", &tokens()).await.unwrap();
        chmod(dir.path(), 0o770);
        assert_dir_refused(&store, 0o770).await;
        chmod(dir.path(), 0o700);
        assert!(
            store.load("svc").await.unwrap().is_some(),
            "fixed by chmod 700"
        );
    }

    /// Security finding 7: a world-writable (0777) token directory was only warned about.
    #[cfg(unix)]
    #[tokio::test]
    async fn finding_7_a_0777_token_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir(&state).unwrap();
        chmod(&state, 0o777);
        let store = FileStore::new(&state);
        assert_dir_refused(&store, 0o777).await;
        assert!(
            fs::read_dir(&state).unwrap().next().is_none(),
            "nothing was written into it"
        );
    }

    /// Security finding 7: a token file owned by another user (but 0600) was loaded; it
    /// could have been planted there. Changing a file's owner needs root, which CI is.
    #[cfg(unix)]
    #[tokio::test]
    async fn finding_7_a_token_file_owned_by_another_user_is_refused() {
        if rustix::process::geteuid().as_raw() != 0 {
            #[allow(clippy::print_stderr, reason = "a test says why it did not run")]
            {
                eprintln!("skipped: only root can give a file to another user");
            }
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        store.save("svc", &tokens()).await.unwrap();
        let path = dir.path().join("svc.json");
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        let err = store.load("svc").await.unwrap_err();
        assert!(matches!(&err, StoreError::UntrustedFile { .. }), "{err:?}");
        assert!(err.to_string().contains("owned by another user"), "{err}");
        assert!(err.hint().unwrap().contains("rm "), "{:?}", err.hint());
    }

    #[tokio::test]
    async fn a_private_directory_and_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("a/b"));
        store.save("svc", &tokens()).await.unwrap();
        let _lock = store.lock("svc", Duration::from_secs(1)).await.unwrap();
        assert!(store.load("svc").await.unwrap().is_some());
        assert_eq!(crate::fs::dir_exposure(store.dir()).unwrap(), None);
    }
}
