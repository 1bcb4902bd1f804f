//! Where a profile's token from another system comes from (`subject_token`, `actor_token`,
//! `assertion`, `client_assertion`): a file another system rotates, a variable, or the
//! GitHub Actions runner.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::login_options::{Env, LoginOptions};
use super::{Paths, ProfileError, ProfilesFile, Selected};
use crate::token_source::{EnvToken, FileToken, GithubActionsToken, TokenSource};

/// A token source as written in a profile:
///
/// ```toml
/// subject_token = { file = "/var/run/secrets/tokens/latchkey" }  # Kubernetes, SPIFFE
/// subject_token = { env = "CI_JOB_JWT" }
/// subject_token = { github_actions = "https://idp.example.org" } # the audience asked for
/// subject_token = { profile = "login" }                           # its access token
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
    /// Another profile's access token, refreshed by that profile as usual (token exchange
    /// only; the named profile must not name a profile itself).
    Profile(String),
}

/// The managers of the profiles a profile names as sources, by name.
pub(super) type Linked = [(String, Arc<dyn TokenSource>)];

impl Selected {
    /// The source `spec` describes; `field` names it in errors.
    pub(super) fn token_source(
        &self,
        field: &str,
        spec: &TokenSourceSpec,
        env: Env<'_>,
        linked: &Linked,
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
            TokenSourceSpec::Profile(name) => linked
                .iter()
                .find(|(linked, _)| linked == name)
                .map(|(_, source)| source.clone())
                .ok_or_else(|| {
                    ProfileError::invalid(
                        &self.name,
                        field,
                        format!("names profile `{name}`, which only a subject or actor token of a profile resolved from the profiles file can (not a client assertion, an assertion, or a profile built by code)"),
                    )
                })?,
        })
    }
}

impl Selected {
    /// Resolves the profiles this one names as subject or actor token sources into their
    /// managers. One level only: a named profile that names a profile itself is refused, so
    /// a loop cannot form.
    pub(super) async fn linked_profiles(
        &self,
        paths: &Paths,
        env: Env<'_>,
    ) -> Result<Vec<(String, Arc<dyn TokenSource>)>, ProfileError> {
        let names_profile = |p: &super::Profile| {
            [&p.subject_token, &p.actor_token]
                .into_iter()
                .filter_map(|spec| match spec {
                    Some(TokenSourceSpec::Profile(name)) => Some(name.clone()),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let names = names_profile(&self.profile);
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let file = ProfilesFile::load_all(paths)?;
        let mut linked: Vec<(String, Arc<dyn TokenSource>)> = Vec::new();
        for name in names {
            let invalid = |why: String| ProfileError::invalid(&self.name, "subject_token", why);
            if name == self.name {
                return Err(invalid(format!(
                    "names profile `{name}`, which is this profile"
                )));
            }
            let other = super::select(&file, Some(&name), env)?;
            if !names_profile(&other.profile).is_empty() {
                return Err(invalid(format!(
                    "names profile `{name}`, which takes its own token from a profile; chains are not followed: name the last profile directly"
                )));
            }
            // Not `managed`: the named profile links nothing (checked above), and calling
            // the linking path from here would make the future recursive.
            let store = other.open_store(paths, env).await?;
            let managed = other
                .managed_linked(store, env, &LoginOptions::default(), &[])
                .await?;
            linked.push((name, Arc::new(managed.manager)));
        }
        Ok(linked)
    }
}
