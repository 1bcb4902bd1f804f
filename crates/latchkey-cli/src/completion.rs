//! Shell completion through clap's dynamic engine: the script `completions SHELL` prints
//! asks `latchkey` itself for candidates (`COMPLETE=SHELL latchkey -- WORDS…`), so profile
//! names come from the profiles files as they are when the user presses Tab.
//!
//! `clap_complete`'s `unstable-dynamic` feature may change between its releases; Cargo.lock
//! pins the tested one.

use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::Shells;
use latchkey::profile::{Paths, ProfilesFile};

use crate::error::CliError;

/// The variable the registered script sets to ask for completions (clap's convention).
pub(crate) const VAR: &str = "COMPLETE";

/// The profile names of the user's and the project's files, for an argument that takes one.
pub(crate) fn profile_names() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        known_profiles()
            .into_iter()
            .map(CompletionCandidate::new)
            .collect::<Vec<_>>()
    })
}

/// A broken or missing file completes nothing: Tab must never print an error.
fn known_profiles() -> Vec<String> {
    Paths::from_env(&crate::context::env)
        .ok()
        .and_then(|paths| ProfilesFile::load_all(&paths).ok())
        .map(|file| file.names())
        .unwrap_or_default()
}

/// The registration script for `shell`: it calls `latchkey` on the PATH for candidates.
pub(crate) fn script(shell: clap_complete::Shell) -> Result<Vec<u8>, CliError> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let completer = shells.completer(&name).ok_or_else(|| {
        CliError::usage(format!("no completion support for the shell `{name}`"))
            .with_hint("supported: bash, elvish, fish, powershell, zsh")
    })?;
    let mut script = Vec::new();
    completer
        .write_registration(VAR, "latchkey", "latchkey", "latchkey", &mut script)
        .map_err(|e| {
            CliError::new(
                crate::error::code::OTHER,
                format!("cannot write the completion script: {e}"),
            )
        })?;
    Ok(script)
}
