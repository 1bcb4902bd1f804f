//! The check before a login: is there an authorization server behind the profile's URLs?
//!
//! A browser login against a server without one fails late and obscurely (a 404 page in the
//! browser, a web page where the token answer should be, a 401 that looks like a bad
//! secret). The preflight asks first, cheaply, and names what the server lacks.

use std::sync::Arc;

use super::{ProfileError, Selected};
use crate::error::Error;
use crate::oidc::{OidcProvider, ProviderMetadata};
use crate::preset::Quirk;

/// What [`Selected::preflight`] checked, and the endpoints it resolved on the way.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Preflight {
    /// The endpoints in use.
    pub metadata: Arc<ProviderMetadata>,
    /// The discovered OpenID provider, when the profile has an issuer.
    pub provider: Option<OidcProvider>,
    /// One line per check that passed, for people (`doctor`).
    pub passed: Vec<String>,
}

impl Selected {
    /// Checks that an authorization server answers for this OAuth profile, before anything
    /// interactive starts:
    ///
    /// - a profile with an issuer (or a discovering preset) has its discovery document
    ///   fetched, which is the check; nothing more is sent, so such logins make the same
    ///   requests as without a preflight;
    /// - a preset whose authorization server is optional ([`Quirk::OptionalAuthorizationServer`],
    ///   DHIS2) has its discovery document fetched too, though its endpoints are fixed;
    /// - otherwise, and after that, the token endpoint gets a request no server can grant
    ///   (an `authorization_code` grant without a code nor secret) and must answer with an
    ///   OAuth error.
    ///
    /// A missing authorization server fails with
    /// [`crate::oidc::OidcError::NotAnAuthorizationServer`], carrying the preset's
    /// [`crate::Preset::server_setup`] as its hint.
    pub async fn preflight(&self) -> Result<Preflight, ProfileError> {
        let preset = self.preset()?;
        let (metadata, provider) = self.endpoints().await.map_err(|e| self.advise_profile(e))?;
        let mut passed = Vec::new();
        if let Some(found) = &provider {
            passed.push(format!(
                "discovery document of {} answers",
                found.metadata().issuer
            ));
            return Ok(Preflight {
                metadata,
                provider,
                passed,
            });
        }
        if let Some(preset) = preset
            && preset.check_authorization_server(&metadata.issuer).await?
        {
            passed.push(format!("discovery document of {} answers", metadata.issuer));
        }
        let client_id = self
            .profile
            .client_id
            .clone()
            .or_else(|| preset.and_then(|p| p.public_client_id).map(Into::into))
            .unwrap_or_else(|| "latchkey-preflight".into());
        let client = metadata
            .client_builder(client_id)
            .follow_trailing_slash_redirect(self.follows_trailing_slash()?)
            .build()?;
        client
            .probe_token_endpoint()
            .await
            .map_err(|e| self.advise(e))?;
        passed.push(format!(
            "token endpoint {} answers with OAuth errors",
            crate::redact::DisplayUrl::new(&metadata.token_endpoint)
        ));
        Ok(Preflight {
            metadata,
            provider,
            passed,
        })
    }

    /// `err`, with what this profile's preset knows added: a server without an authorization
    /// server gets the preset's [`crate::Preset::server_setup`] as its hint.
    pub fn advise(&self, err: Error) -> Error {
        match self.preset() {
            Ok(Some(preset)) => preset.advise(err),
            _ => err,
        }
    }

    /// [`Selected::advise`] for an error of the profile layer.
    pub(super) fn advise_profile(&self, err: ProfileError) -> ProfileError {
        match err {
            ProfileError::Core(err) => ProfileError::Core(self.advise(err)),
            other => other,
        }
    }

    /// Whether the client follows the token endpoint's redirect to its trailing-slash
    /// variant ([`Quirk::TokenEndpointTrailingSlash`]).
    pub(super) fn follows_trailing_slash(&self) -> Result<bool, ProfileError> {
        Ok(self
            .preset()?
            .is_some_and(|p| p.has_quirk(Quirk::TokenEndpointTrailingSlash)))
    }

    /// The loopback redirect URI of browser logins: the profile's, else its preset's default
    /// (`None`: an ephemeral port).
    pub fn redirect_uri(&self) -> Result<Option<String>, ProfileError> {
        Ok(match &self.profile.redirect_uri {
            Some(uri) => Some(uri.clone()),
            None => self
                .preset()?
                .and_then(|p| p.default_redirect_uri)
                .map(Into::into),
        })
    }
}
