//! What every command shares: where files are, and which profile was asked for.

use latchkey::profile::{self, Paths, ProfilesFile, Selected};

use crate::error::CliError;

/// The process environment, as latchkey's resolvers read it.
pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The environment reader passed to the library.
pub(crate) const ENV: &(dyn Fn(&str) -> Option<String> + Sync) = &env;

/// Paths and the profile selector.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The profiles file and the state directory.
    pub paths: Paths,
    /// `--profile` or a positional profile.
    pub profile: Option<String>,
}

impl Ctx {
    pub(crate) fn new(profile: Option<String>) -> Result<Self, CliError> {
        Ok(Self {
            paths: Paths::from_env(&env)?,
            profile,
        })
    }

    /// The user's profiles file with the project's on top (empty when neither exists yet).
    pub(crate) fn file(&self) -> Result<ProfilesFile, CliError> {
        Ok(ProfilesFile::load_all(&self.paths)?)
    }

    /// The profile this run uses.
    pub(crate) fn select(&self) -> Result<Selected, CliError> {
        Ok(profile::select(
            &self.file()?,
            self.profile.as_deref(),
            &env,
        )?)
    }
}
