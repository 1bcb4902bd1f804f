//! Windows: owner-only access control lists instead of permission bits.
//!
//! "Private" is a protected DACL (no entries inherited from the parent) with one entry that
//! grants the current user full control, and the current user as owner. A private
//! directory's entry is inheritable, so everything created inside starts private too.
//! No `unsafe` here: `windows-permissions` wraps the security calls (SDDL, Get/Set security
//! info) and `winsafe` reads the current user's SID from the process token.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::OnceLock;

use windows_permissions::constants::{AceFlags, AceType, SeObjectType, SecurityInformation};
use windows_permissions::wrappers::{GetSecurityInfo, SetNamedSecurityInfo, SetSecurityInfo};
use windows_permissions::{LocalBox, SecurityDescriptor, Sid};

use super::{Exposure, Follow};

// Access rights and flags from winnt.h / winbase.h, for `OpenOptionsExt`.
const GENERIC_ALL: u32 = 0x1000_0000;
const GENERIC_WRITE: u32 = 0x4000_0000;
const GENERIC_READ: u32 = 0x8000_0000;
const READ_CONTROL: u32 = 0x0002_0000;
const WRITE_DAC: u32 = 0x0004_0000;
const WRITE_OWNER: u32 = 0x0008_0000;
/// FILE_READ_DATA on a file.
const FILE_READ_DATA: u32 = 0x0001;
/// FILE_WRITE_DATA on a file, FILE_ADD_FILE on a directory.
const FILE_WRITE_DATA: u32 = 0x0002;
/// FILE_APPEND_DATA on a file, FILE_ADD_SUBDIRECTORY on a directory.
const FILE_APPEND_DATA: u32 = 0x0004;
const FILE_DELETE_CHILD: u32 = 0x0040;
const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;

/// Rights that let their holder read a file.
const READ_RIGHTS: u32 = FILE_READ_DATA | GENERIC_READ | GENERIC_ALL;
/// Rights that let their holder change a file, its entries or who may use it.
const WRITE_RIGHTS: u32 = FILE_WRITE_DATA
    | FILE_APPEND_DATA
    | FILE_DELETE_CHILD
    | GENERIC_WRITE
    | GENERIC_ALL
    | WRITE_DAC
    | WRITE_OWNER;

/// Accounts that may hold rights on a private file besides its owner: the OS itself and
/// the administrators, who can take any file anyway, and OWNER RIGHTS, which is the owner.
const TRUSTED: [&str; 3] = ["S-1-5-18", "S-1-5-32-544", "S-1-3-4"];

#[allow(
    clippy::disallowed_methods,
    reason = "this is the helper the lint points to: the DACL is set here before any write"
)]
fn options() -> OpenOptions {
    OpenOptions::new()
}

fn current_user() -> io::Result<&'static str> {
    static SID: OnceLock<String> = OnceLock::new();
    if let Some(sid) = SID.get() {
        return Ok(sid);
    }
    let sid = read_current_user()?;
    Ok(SID.get_or_init(|| sid))
}

fn read_current_user() -> io::Result<String> {
    let os = |e: winsafe::co::ERROR| io::Error::from_raw_os_error(e.raw() as i32);
    let token = winsafe::HPROCESS::GetCurrentProcess()
        .OpenProcessToken(winsafe::co::TOKEN::QUERY)
        .map_err(os)?;
    let info = token
        .GetTokenInformation(winsafe::co::TOKEN_INFORMATION_CLASS::User)
        .map_err(os)?;
    let winsafe::TokenInfo::User(user) = info else {
        return Err(io::Error::other("the process token names no user"));
    };
    let sid = user
        .User
        .Sid()
        .ok_or_else(|| io::Error::other("the process token names no user"))?;
    winsafe::ConvertSidToStringSid(sid).map_err(os)
}

fn owner_only(inheritable: bool) -> io::Result<LocalBox<SecurityDescriptor>> {
    let me = current_user()?;
    let inherit = if inheritable { "OICI" } else { "" };
    format!("O:{me}D:P(A;{inherit};FA;;;{me})").parse()
}

fn apply_info() -> SecurityInformation {
    SecurityInformation::Owner | SecurityInformation::Dacl | SecurityInformation::ProtectedDacl
}

pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        // Another process created it first: it made it private, or it is checked later.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    // The new directory is empty until this returns, so nothing can leak in between.
    let sd = owner_only(true)?;
    SetNamedSecurityInfo(
        dir.as_os_str(),
        SeObjectType::SE_FILE_OBJECT,
        apply_info(),
        sd.owner(),
        None,
        sd.dacl(),
        None,
    )
}

fn exposure(sd: &SecurityDescriptor, rights: u32, what: &str) -> io::Result<Option<Exposure>> {
    let me: LocalBox<Sid> = current_user()?.parse()?;
    match sd.owner() {
        Some(owner) if *owner == *me => {}
        Some(owner) => return Ok(Some(Exposure::ForeignOwner(owner.to_string()))),
        None => return Ok(Some(Exposure::ForeignOwner("nobody".into()))),
    }
    // Wine (the Windows test run, scripts/test-windows.sh, builds with this cfg) neither
    // applies a DACL set on a file nor reports one: it reports entries made up from the
    // unix mode bits. Only the owner can be checked there; shipped builds never set it.
    if cfg!(latchkey_wine) {
        return Ok(None);
    }
    let Some(dacl) = sd.dacl() else {
        return Ok(Some(Exposure::OpenToOthers {
            mode: None,
            reason: format!("it has no access control list, so everyone may {what} it"),
        }));
    };
    for index in 0..dacl.len() {
        let Some(ace) = dacl.get_ace(index) else {
            continue;
        };
        let allows = matches!(
            ace.ace_type(),
            AceType::ACCESS_ALLOWED_ACE_TYPE | AceType::ACCESS_ALLOWED_CALLBACK_ACE_TYPE
        );
        // An inherit-only entry is for children, not for this object.
        if !allows || ace.flags().contains(AceFlags::InheritOnly) {
            continue;
        }
        let Some(sid) = ace.sid() else { continue };
        let name = sid.to_string();
        if *sid == *me || TRUSTED.contains(&name.as_str()) {
            continue;
        }
        if ace.mask().bits() & rights != 0 {
            return Ok(Some(Exposure::OpenToOthers {
                mode: None,
                reason: format!("its access control list lets {name} {what} it"),
            }));
        }
    }
    Ok(None)
}

fn security_of(file: &File) -> io::Result<LocalBox<SecurityDescriptor>> {
    GetSecurityInfo(
        file,
        SeObjectType::SE_FILE_OBJECT,
        SecurityInformation::Owner | SecurityInformation::Dacl,
    )
}

pub(super) fn dir_exposure(dir: &Path) -> io::Result<Option<Exposure>> {
    // FILE_FLAG_BACKUP_SEMANTICS is what lets CreateFile open a directory.
    let handle = options()
        .access_mode(READ_CONTROL)
        .custom_flags(0x0200_0000)
        .open(dir)?;
    let sd = security_of(&handle)?;
    exposure(&sd, WRITE_RIGHTS, "change")
}

pub(super) fn file_exposure(file: &File) -> io::Result<Option<Exposure>> {
    let sd = security_of(file)?;
    exposure(&sd, READ_RIGHTS | WRITE_RIGHTS, "read or write")
}

pub(super) fn readable_by_others(file: &File) -> io::Result<Option<Exposure>> {
    let sd = security_of(file)?;
    Ok(match exposure(&sd, READ_RIGHTS, "read")? {
        // Only readers matter here: a file the user wrote may belong to an admin group.
        Some(Exposure::ForeignOwner(_)) => None,
        other => other,
    })
}

pub(super) fn create_new_private(path: &Path) -> io::Result<File> {
    let mut file = options()
        .write(true)
        .create_new(true)
        // No second handle can be opened until this one is closed: none can be opened
        // before the DACL below is in place and then keep its access.
        .share_mode(0)
        .access_mode(GENERIC_READ | GENERIC_WRITE | READ_CONTROL | WRITE_DAC | WRITE_OWNER)
        .open(path)?;
    let sd = owner_only(false)?;
    let applied = SetSecurityInfo(
        &mut file,
        SeObjectType::SE_FILE_OBJECT,
        apply_info(),
        sd.owner(),
        None,
        sd.dacl(),
        None,
    );
    if let Err(e) = applied {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(file)
}

pub(super) fn open_or_create_private(path: &Path, follow: Follow) -> io::Result<File> {
    match create_new_private(path) {
        Ok(file) => drop(file),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let mut options = options();
    options.read(true).write(true);
    if follow == Follow::No {
        // Opens a symbolic link itself rather than its target; the caller then sees that
        // it is not a regular file.
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    options.open(path)
}

pub(super) fn rename_over(from: &Path, to: &Path) -> io::Result<()> {
    // Without POSIX rename semantics (older Windows, Wine) replacing a file fails with
    // "access denied" while another rename onto it or a delete of it is still in flight;
    // those finish within milliseconds, so a short bounded retry rides them out.
    let mut attempt = 0;
    loop {
        match std::fs::rename(from, to) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied && attempt < 100 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            result => return result,
        }
    }
}

pub(super) fn sync_dir(_dir: &Path) -> io::Result<()> {
    // NTFS journals the rename itself, and a directory handle cannot be flushed.
    Ok(())
}

pub(super) fn is_symlink_error(_e: &io::Error) -> bool {
    // Links are opened, not followed (FILE_FLAG_OPEN_REPARSE_POINT): no error to map.
    false
}
