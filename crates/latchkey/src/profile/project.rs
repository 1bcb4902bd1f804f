//! Project profiles: a `.latchkey/profiles.toml` in the working directory or the nearest
//! parent, read on top of the user's file. Its profiles keep their tokens beside it, in
//! `.latchkey/`, so a checkout's logins stay with the checkout.

use std::path::{Path, PathBuf};

use super::ProfileError;

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
