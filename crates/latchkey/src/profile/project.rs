//! Project profiles: a `.latchkey/profiles.toml` in the working directory or the nearest
//! parent, read on top of the user's file. Its profiles keep their tokens beside it, in
//! `.latchkey/`, so a checkout's logins stay with the checkout.
//!
//! A project file arrives with a checkout, and whoever wrote it chooses where a profile's
//! credentials go: a profile that reads `{ env = "GITHUB_TOKEN" }` or a keyring entry and
//! posts it to their own token URL, or one named like a user's profile whose stored tokens
//! a shared store (keyring, Redis) hands out by name. So a project file is used only once
//! the user has trusted that exact content (`latchkey profile trust`, as `direnv allow`):
//! the trust list in the user's state directory maps each file's canonical path to the
//! SHA-256 of the content trusted. A file that changes must be trusted again; one written
//! by latchkey for the user stays trusted when it was before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Paths, ProfileError};

/// The project folder's name.
pub const PROJECT_DIR: &str = ".latchkey";

/// The profiles file inside the project folder.
pub const PROJECT_FILE: &str = "profiles.toml";

/// What latchkey writes into a project folder it creates: the folder holds tokens, so git
/// must ignore all of it.
const GITIGNORE: &[u8] = b"# Written by latchkey: this folder holds tokens; never commit it.\n*\n";

/// Where a profile was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Origin {
    /// The user's profiles file (`$LATCHKEY_CONFIG` or the XDG config dir), or the
    /// environment.
    #[default]
    User,
    /// The project's `.latchkey/profiles.toml`.
    Project,
}

impl Origin {
    /// `user` or `project`, as `profile list` shows it.
    pub fn name(self) -> &'static str {
        match self {
            Origin::User => "user",
            Origin::Project => "project",
        }
    }
}

/// The nearest `.latchkey` folder holding a `profiles.toml`, from `start` up to the root.
pub fn find_project_dir(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(PROJECT_DIR))
        .find(|dir| dir.join(PROJECT_FILE).is_file())
}

/// Creates the project folder `dir` (owner-only) if it does not exist, with a `.gitignore`
/// that ignores everything in it. A folder that exists is left as it is.
pub fn create_project_dir(dir: &Path) -> Result<(), ProfileError> {
    if dir.is_dir() {
        return Ok(());
    }
    crate::fs::create_private_dir(dir).map_err(|e| ProfileError::io(dir, e))?;
    let ignore = dir.join(".gitignore");
    crate::fs::write_atomic(&ignore, GITIGNORE).map_err(|e| ProfileError::io(&ignore, e))
}

/// The trust list's file name, in the user's state directory.
const TRUST_FILE: &str = "trusted-projects.json";

/// The SHA-256 of a project file's content, as the trust list records it (hex).
pub fn digest(content: &[u8]) -> String {
    Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn trust_list_path(paths: &Paths) -> PathBuf {
    paths.state_dir.join(TRUST_FILE)
}

/// The key a project file is trusted under: its canonical path, so `cd`-ing in through a
/// symlink or a relative path finds the same entry.
fn trust_key(file: &Path) -> String {
    std::fs::canonicalize(file)
        .unwrap_or_else(|_| file.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

fn read_trust_list(paths: &Paths) -> Result<BTreeMap<String, String>, ProfileError> {
    let path = trust_list_path(paths);
    let Some((text, _)) = crate::fs::read_text_capped(&path, crate::fs::MAX_READ)
        .map_err(|e| ProfileError::io(&path, e))?
    else {
        return Ok(BTreeMap::new());
    };
    serde_json::from_str(&text).map_err(|e| ProfileError::Parse {
        path: path.clone(),
        line: e.line(),
        column: e.column(),
        message: format!("{e} (delete the file and trust your project files again)"),
    })
}

/// Whether the user trusted `file` with exactly `content`.
pub fn is_trusted(paths: &Paths, file: &Path, content: &[u8]) -> Result<bool, ProfileError> {
    Ok(read_trust_list(paths)?
        .get(&trust_key(file))
        .is_some_and(|trusted| *trusted == digest(content)))
}

/// Records the current content of `file` as trusted and returns its digest. The caller has
/// shown it to the user or the user has read it: this is the user's decision.
pub fn trust(paths: &Paths, file: &Path) -> Result<String, ProfileError> {
    let Some((content, _)) = crate::fs::read_text_capped(file, crate::fs::MAX_READ)
        .map_err(|e| ProfileError::io(file, e))?
    else {
        return Err(ProfileError::io(
            file,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no project profiles file here",
            ),
        ));
    };
    // Only a file latchkey can use is worth trusting: parse errors show up now.
    super::ProfilesFile::parse(file, &content)?;
    let mut list = read_trust_list(paths)?;
    let sum = digest(content.as_bytes());
    list.insert(trust_key(file), sum.clone());
    write_trust_list(paths, &list)?;
    Ok(sum)
}

/// Runs `change` on the project file `file` and keeps it trusted when it was trusted (or did
/// not exist) before: the user's own edits through latchkey need no new `trust`. An
/// untrusted file stays untrusted, whatever was changed in it.
pub fn change_trusted<T>(
    paths: &Paths,
    file: &Path,
    change: impl FnOnce() -> Result<T, ProfileError>,
) -> Result<T, ProfileError> {
    let before = crate::fs::read_text_capped(file, crate::fs::MAX_READ)
        .map_err(|e| ProfileError::io(file, e))?;
    let was_trusted = match &before {
        None => true,
        Some((content, _)) => is_trusted(paths, file, content.as_bytes())?,
    };
    let out = change()?;
    if was_trusted {
        trust(paths, file)?;
    }
    Ok(out)
}

fn write_trust_list(paths: &Paths, list: &BTreeMap<String, String>) -> Result<(), ProfileError> {
    let path = trust_list_path(paths);
    crate::fs::create_private_dir(&paths.state_dir)
        .map_err(|e| ProfileError::io(&paths.state_dir, e))?;
    let text = serde_json::to_string_pretty(list)
        .map_err(|e| ProfileError::io(&path, std::io::Error::other(e.to_string())))?;
    crate::fs::write_atomic(&path, text.as_bytes()).map_err(|e| ProfileError::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_folder_with_a_profiles_file_wins() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find_project_dir(&deep), None);
        // A `.latchkey` without a profiles file does not count.
        create_project_dir(&root.path().join("a/b/.latchkey")).unwrap();
        assert_eq!(find_project_dir(&deep), None);
        let outer = root.path().join(".latchkey");
        create_project_dir(&outer).unwrap();
        crate::fs::write_atomic(&outer.join(PROJECT_FILE), b"").unwrap();
        assert_eq!(find_project_dir(&deep), Some(outer.clone()));
        let inner = root.path().join("a/b/.latchkey");
        crate::fs::write_atomic(&inner.join(PROJECT_FILE), b"").unwrap();
        assert_eq!(find_project_dir(&deep), Some(inner.clone()));
        let ignore = crate::fs::read_text_capped(&inner.join(".gitignore"), 1000)
            .unwrap()
            .unwrap()
            .0;
        assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
    }
}
