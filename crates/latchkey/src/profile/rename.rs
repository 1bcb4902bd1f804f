//! Renaming a profile without logging its user out: the file changes in place and the
//! stored tokens move from the old key to the new one in the profile's store.

use std::time::Duration;

use super::login_options::Env;
use super::{Origin, Paths, ProfileError, ProfilesFile, Selected, StoreSpec, edit};

/// How long to wait for a refresh in progress (another process) before moving the tokens.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// What [`rename`] did with the stored tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokensMoved {
    /// A token set was stored under the old name and now is under the new one, in this
    /// store (its description).
    Moved(String),
    /// Nothing was stored under the old name.
    NoneStored,
    /// The profile keeps no tokens (fixed credentials, or the memory store).
    NotKept,
}

/// Renames profile `old` to `new` in the profiles file of `origin`, keeping its comments
/// and place, and moves its stored token set to the new name under the store's lock, so
/// the user stays logged in. Refuses when `new` is taken (in either file) or `old` is
/// missing.
///
/// The tokens are copied before the file changes and the old entry is deleted after, so
/// a failure at any step leaves a profile that still finds its tokens.
pub async fn rename(
    paths: &Paths,
    origin: Origin,
    old: &str,
    new: &str,
    env: Env<'_>,
) -> Result<TokensMoved, ProfileError> {
    let path = paths.file_of(origin).ok_or_else(|| ProfileError::Unknown {
        name: old.into(),
        path: paths.config.clone(),
        known: Vec::new(),
    })?;
    let file = ProfilesFile::load(&path)?;
    let Some(profile) = file.profiles.get(old) else {
        return Err(ProfileError::Unknown {
            name: old.into(),
            path,
            known: file.names(),
        });
    };
    // Taken in either file: a project profile and a user profile of one name would share
    // their tokens in a store both use (keyring, Redis).
    let all = ProfilesFile::load_all(paths)?;
    if file.profiles.contains_key(new) || all.profiles.contains_key(new) {
        let holder = paths
            .file_of(all.origin(new))
            .filter(|_| !file.profiles.contains_key(new))
            .unwrap_or_else(|| path.clone());
        return Err(ProfileError::invalid(
            new,
            "name",
            format!(
                "is taken in {}: remove that profile first",
                holder.display()
            ),
        ));
    }
    crate::store::validate_key(new)
        .map_err(|e| ProfileError::invalid(new, "name", e.to_string()))?;
    // A trusted project file stays trusted after this change of the user's own.
    let rename_file = || match origin {
        Origin::Project => {
            super::project::change_trusted(paths, &path, || edit::rename(&path, old, new))
        }
        _ => edit::rename(&path, old, new),
    };
    let mut selected = Selected::new(old, profile.clone());
    selected.origin = origin;
    if profile.auth.is_static() || matches!(profile.store_spec(), StoreSpec::Memory) {
        rename_file()?;
        return Ok(TokensMoved::NotKept);
    }
    let store = selected.open_store(paths, env).await?;
    // Both keys locked, in a fixed order, so no refresh of either runs in between.
    let (first, second) = if old < new { (old, new) } else { (new, old) };
    let lock_first = store.lock(first, LOCK_WAIT).await?;
    let lock_second = store.lock(second, LOCK_WAIT).await?;
    let new_lock = if first == new {
        &lock_first
    } else {
        &lock_second
    };
    let Some(tokens) = store.load(old).await? else {
        rename_file()?;
        // Tokens left under the new name (by a profile removed earlier) are not this
        // profile's: it must not sign in as someone else.
        store.delete(new).await?;
        return Ok(TokensMoved::NoneStored);
    };
    store.save_locked(new, &tokens, new_lock).await?;
    if let Err(err) = rename_file() {
        // The profile keeps its old name: take the copy back (the original is untouched).
        if let Err(undo) = store.delete(new).await {
            tracing::warn!(key = new, error = %undo, "could not remove the copied tokens");
        }
        return Err(err);
    }
    store.delete(old).await?;
    Ok(TokensMoved::Moved(store.describe()))
}
