//! Where a command that adds or changes a profile writes: the user's file, or the project's
//! (created private and git-ignored when missing), a trusted project file staying trusted.

use std::path::{Path, PathBuf};

use latchkey::profile::edit::{self, FieldValue};
use latchkey::profile::project::{self, PROJECT_DIR, PROJECT_FILE};
use latchkey::profile::{AuthKind, ProfileError, ProfilesFile};

use crate::context::Ctx;
use crate::error::CliError;
use crate::plan::ProfileAdd;

/// The file a writing command changes: the user's, or with `--project` the project's (the
/// one found from the working directory, else a new `.latchkey/` there, created private
/// and git-ignored).
pub(super) fn target_file(ctx: &Ctx, project: bool) -> Result<PathBuf, CliError> {
    if !project {
        return Ok(ctx.paths.config.clone());
    }
    let dir = match &ctx.paths.project {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| CliError::usage(format!("cannot read the working directory: {e}")))?
            .join(PROJECT_DIR),
    };
    project::create_project_dir(&dir)?;
    if crate::context::env(latchkey::profile::env::CONFIG).is_some_and(|v| !v.is_empty()) {
        tracing::warn!(
            "LATCHKEY_CONFIG is set: it is the one profiles file read, so the project file \
             written here is ignored until it is unset"
        );
    }
    Ok(dir.join(PROJECT_FILE))
}

/// Runs `change` on the file a writing command changes. A project file that was trusted (or
/// new) stays trusted after the user's own change; an untrusted one stays untrusted.
pub(super) fn write_to<T>(
    ctx: &Ctx,
    path: &Path,
    project: bool,
    change: impl FnOnce() -> Result<T, ProfileError>,
) -> Result<T, ProfileError> {
    if project {
        project::change_trusted(&ctx.paths, path, change)
    } else {
        change()
    }
}

/// Writes the profile `add` describes and says so.
pub(super) fn write_new(
    path: &Path,
    name: &str,
    auth: AuthKind,
    add: &ProfileAdd,
) -> Result<(), ProfileError> {
    let fields: Vec<(&str, FieldValue)> = add
        .fields
        .iter()
        .map(|(field, value)| (field.as_str(), value.clone()))
        .collect();
    edit::add(path, name, auth, &fields, add.make_default, add.overwrite)?;
    let default = ProfilesFile::load(path)?.default.as_deref() == Some(name);
    let default = if default {
        " (the default profile)"
    } else {
        ""
    };
    eprintln!("Added profile `{name}` to {}{default}.", path.display());
    Ok(())
}
