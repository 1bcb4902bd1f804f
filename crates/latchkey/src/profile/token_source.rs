//! Where a profile's token from another system comes from (`subject_token`, `actor_token`,
//! `assertion`, `client_assertion`): a file another system rotates, a variable, or the
//! GitHub Actions runner.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::managed::Env;
use super::{ProfileError, Selected};
use crate::token_source::{EnvToken, FileToken, GithubActionsToken, TokenSource};

/// A token source as written in a profile:
///
/// ```toml
/// subject_token = { file = "/var/run/secrets/tokens/latchkey" }  # Kubernetes, SPIFFE
/// subject_token = { env = "CI_JOB_JWT" }
/// subject_token = { github_actions = "https://idp.example.org" } # the audience asked for
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum TokenSourceSpec {
    /// A file read again at every use (a projected service-account token, a JWT-SVID).
    File(PathBuf),
    /// An environment variable read at every use.
    Env(String),
    /// The running GitHub Actions job's OIDC token, for this audience (empty: GitHub's
    /// default audience); needs `permissions: id-token: write`.
    GithubActions(String),
}

impl Selected {
    /// The source `spec` describes; `field` names it in errors.
    pub(super) fn token_source(
        &self,
        field: &str,
        spec: &TokenSourceSpec,
        env: Env<'_>,
    ) -> Result<Arc<dyn TokenSource>, ProfileError> {
        Ok(match spec {
            TokenSourceSpec::File(path) => Arc::new(FileToken::new(path)),
            TokenSourceSpec::Env(name) => Arc::new(EnvToken::new(name)),
            TokenSourceSpec::GithubActions(audience) => {
                let audience = (!audience.is_empty()).then(|| audience.clone());
                Arc::new(
                    GithubActionsToken::from_env(env, audience)
                        .map_err(|e| ProfileError::invalid(&self.name, field, e.to_string()))?,
                )
            }
        })
    }
}
