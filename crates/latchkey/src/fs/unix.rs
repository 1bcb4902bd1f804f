//! Unix (Linux and macOS share it): permission bits and the owner's uid.

use std::fs::{DirBuilder, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::{Exposure, Follow};

#[allow(
    clippy::disallowed_methods,
    reason = "this is the helper the lint points to: the mode is set at creation here"
)]
fn options() -> OpenOptions {
    OpenOptions::new()
}

pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    // `recursive` gives every directory it creates this mode, parents included.
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

fn foreign_owner(meta: &Metadata) -> Option<Exposure> {
    let me = rustix::process::geteuid().as_raw();
    (meta.uid() != me)
        .then(|| Exposure::ForeignOwner(format!("uid {}, you are uid {me}", meta.uid())))
}

pub(super) fn dir_exposure(dir: &Path) -> io::Result<Option<Exposure>> {
    let meta = std::fs::metadata(dir)?;
    if let Some(exposure) = foreign_owner(&meta) {
        return Ok(Some(exposure));
    }
    let mode = meta.mode() & 0o7777;
    Ok((mode & 0o022 != 0).then(|| Exposure::OpenToOthers {
        mode: Some(mode & 0o777),
        reason: format!(
            "its mode {:o} lets other users create, replace or delete files in it",
            mode & 0o777
        ),
    }))
}

pub(super) fn file_exposure(file: &File) -> io::Result<Option<Exposure>> {
    let meta = file.metadata()?;
    if let Some(exposure) = foreign_owner(&meta) {
        return Ok(Some(exposure));
    }
    Ok(bits_exposure(&meta, 0o077, "read or write"))
}

pub(super) fn readable_by_others(file: &File) -> io::Result<Option<Exposure>> {
    Ok(bits_exposure(&file.metadata()?, 0o044, "read"))
}

fn bits_exposure(meta: &Metadata, bits: u32, what: &str) -> Option<Exposure> {
    let mode = meta.mode() & 0o777;
    (mode & bits != 0).then(|| Exposure::OpenToOthers {
        mode: Some(mode),
        reason: format!("its mode {mode:o} lets other users {what} it"),
    })
}

pub(super) fn open_or_create_private(path: &Path, follow: Follow) -> io::Result<File> {
    let mut options = options();
    options
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600);
    if follow == Follow::No {
        options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    options.open(path)
}

pub(super) fn create_new_private(path: &Path) -> io::Result<File> {
    options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

pub(super) fn rename_over(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)
}

pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub(super) fn is_symlink_error(e: &io::Error) -> bool {
    // O_NOFOLLOW on a link: ELOOP on Linux and macOS, EMLINK on FreeBSD.
    e.raw_os_error().is_some_and(|code| {
        code == rustix::io::Errno::LOOP.raw_os_error()
            || code == rustix::io::Errno::MLINK.raw_os_error()
    })
}
