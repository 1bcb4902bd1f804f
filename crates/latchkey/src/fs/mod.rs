//! The one door to the filesystem for everything that holds a secret: token files, lock
//! files, the SQLite database and the profiles file.
//!
//! Raw `std::fs::write`, `File::create` and `OpenOptions::new` are refused elsewhere by
//! `clippy.toml`, so every file latchkey creates gets its privacy from here:
//!
//! - private directories: 0700 on unix; on Windows a protected DACL that grants only the
//!   current user (inherited by everything created inside);
//! - private files: mode 0600 *at creation* on unix (never chmod-ed afterwards, so there is
//!   no moment when they are readable); on Windows the same owner-only DACL, set through the
//!   handle before any byte is written and while no other handle can be opened;
//! - atomic replacement: temp file, write, fsync, rename, fsync of the directory;
//! - reads with a size cap, so a huge or endless file cannot exhaust memory;
//! - lock files opened without following symbolic links.
//!
//! Cross-process locks are std's `File::try_lock` (`flock` on unix, `LockFileEx` on
//! Windows), stable since Rust 1.89, this workspace's minimum: a lock crate would wrap the
//! same two calls.
//!
//! The platform seam is [`sys`]: `unix.rs` (Linux and macOS alike) or `windows.rs`.
#![cfg_attr(
    not(all(feature = "profiles", feature = "sqlite")),
    allow(
        dead_code,
        reason = "some helpers serve only the profiles layer or the SQLite store"
    )
)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use rand::RngExt;

#[cfg(unix)]
#[path = "unix.rs"]
mod sys;
#[cfg(windows)]
#[path = "windows.rs"]
mod sys;

/// The largest token file or profiles file latchkey reads. Real ones are a few KiB: a
/// larger file is a mistake or an attack, and reading it whole would only waste memory.
pub(crate) const MAX_READ: u64 = 1 << 20;

/// Why a file or directory is not private to the current user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exposure {
    /// Another user owns it.
    ForeignOwner(String),
    /// Other users may read it (files) or change its entries (directories). `mode` is the
    /// unix permission bits, `None` on Windows, where `reason` names the ACL entry.
    OpenToOthers {
        /// Unix permission bits.
        mode: Option<u32>,
        /// Who can do what.
        reason: String,
    },
}

impl std::fmt::Display for Exposure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exposure::ForeignOwner(owner) => write!(f, "it is owned by another user ({owner})"),
            Exposure::OpenToOthers { reason, .. } => f.write_str(reason),
        }
    }
}

/// Creates `dir` and its missing parents, private to the current user. A directory that
/// already exists is left as it is: check it with [`dir_exposure`].
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    sys::create_private_dir(dir)
}

/// Whether `dir` lets anyone else plant, swap or delete entries: owned by another user, or
/// writable by group or others (as ssh refuses such a `~/.ssh`). `Ok(None)` when private.
pub(crate) fn dir_exposure(dir: &Path) -> io::Result<Option<Exposure>> {
    sys::dir_exposure(dir)
}

/// Whether the open `file` is owned by someone else or readable or writable by others.
pub(crate) fn file_exposure(file: &File) -> io::Result<Option<Exposure>> {
    sys::file_exposure(file)
}

/// Whether the open `file` is readable by users other than its owner (for files that
/// latchkey reads but the user writes, such as `profiles.toml`).
pub(crate) fn readable_by_others(file: &File) -> io::Result<Option<Exposure>> {
    sys::readable_by_others(file)
}

/// Opens `path` for reading; `Ok(None)` when it does not exist.
pub(crate) fn open_existing(path: &Path) -> io::Result<Option<File>> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads the rest of `file`, failing when it holds more than `cap` bytes.
pub(crate) fn read_capped(file: &mut File, cap: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the file is larger than {cap} bytes, which no latchkey file is"),
        ));
    }
    Ok(bytes)
}

/// Reads `path` as UTF-8 text of at most `cap` bytes, and hands back the open file, so that
/// its permissions are checked on the very file that was read. `Ok(None)` when the file
/// does not exist.
pub(crate) fn read_text_capped(path: &Path, cap: u64) -> io::Result<Option<(String, File)>> {
    let Some(mut file) = open_existing(path)? else {
        return Ok(None);
    };
    let bytes = read_capped(&mut file, cap)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8: {e}")))?;
    Ok(Some((text, file)))
}

/// Opens `path` for reading and writing, creating it private when missing (never
/// truncating). For a database file that a library then opens by name.
pub(crate) fn open_or_create_private(path: &Path) -> io::Result<File> {
    sys::open_or_create_private(path, Follow::Yes)
}

/// Opens (creating when missing) the lock file `path` without following a symbolic link:
/// a link planted there must not make latchkey create or lock a file elsewhere.
pub(crate) fn open_lock_file(path: &Path) -> io::Result<File> {
    let file = sys::open_or_create_private(path, Follow::No).map_err(|e| {
        if sys::is_symlink_error(&e) || path.is_symlink() {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a symbolic link; latchkey does not follow links for lock files: \
                 remove it",
            )
        } else {
            e
        }
    })?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file; remove it and latchkey creates it again",
        ));
    }
    Ok(file)
}

/// Replaces `path` with `bytes` atomically: a private temp file beside it is written,
/// fsynced and renamed over `path`, then the directory is fsynced. A crash leaves the old
/// contents or the new, never a torn file; a reader that opened the old file keeps it.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let temp = temp_path(dir, path);
    let written = (|| {
        let mut file = sys::create_new_private(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        // Closed before the rename: Windows cannot rename a file that is still open.
        drop(file);
        sys::rename_over(&temp, path)?;
        // Persist the rename itself: without this a power loss can bring the old file back.
        sys::sync_dir(dir)
    })();
    written.inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

fn temp_path(dir: &Path, path: &Path) -> PathBuf {
    let suffix: u64 = rand::rng().random();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.{}.{suffix:016x}.tmp", std::process::id()))
}

/// Whether opening may follow a symbolic link at the last path component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Follow {
    Yes,
    No,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_past_the_cap_fails_and_one_at_the_cap_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomic(&path, &[b'x'; 16]).unwrap();
        let mut file = File::open(&path).unwrap();
        assert_eq!(read_capped(&mut file, 16).unwrap().len(), 16);
        let mut file = File::open(&path).unwrap();
        let err = read_capped(&mut file, 15).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn atomic_writes_leave_a_private_file_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        create_private_dir(&sub).unwrap();
        assert_eq!(dir_exposure(&sub).unwrap(), None);
        let path = sub.join("f.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        let file = File::open(&path).unwrap();
        assert_eq!(file_exposure(&file).unwrap(), None);
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&sub).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn lock_files_are_private_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.lock");
        let file = open_lock_file(&path).unwrap();
        assert_eq!(file_exposure(&file).unwrap(), None);
        drop(file);
        // Opening again finds the same file and does not fail.
        open_lock_file(&path).unwrap();
    }
}
