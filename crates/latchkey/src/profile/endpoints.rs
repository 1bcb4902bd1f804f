//! Where a profile's endpoints come from: its preset, then discovery of its issuer, then the
//! explicit URLs in the profile on top.

use std::sync::Arc;

use url::Url;

use super::{ProfileError, Selected};
use crate::http::endpoint;
use crate::oidc::{OidcProvider, ProviderMetadata};
use crate::preset::{Preset, PresetVars, Resolved};

impl Selected {
    /// The profile's preset, when it names one.
    pub(super) fn preset(&self) -> Result<Option<&'static Preset>, ProfileError> {
        Ok(self
            .profile
            .preset
            .as_deref()
            .map(Preset::by_name)
            .transpose()?)
    }

    /// The values `preset`'s URL templates are filled with, from this profile.
    pub(super) fn preset_vars(&self, preset: &Preset) -> PresetVars {
        let p = &self.profile;
        let mut vars = PresetVars::default();
        if let Some(v) = &p.issuer {
            vars = vars.issuer(v);
        }
        if let Some(v) = &p.base_url {
            vars = vars.base_url(v);
        }
        if let Some(v) = &p.realm {
            vars = vars.realm(v);
        }
        if let Some(v) = &p.tenant {
            vars = vars.tenant(v);
        }
        if let Some(v) = p.client_id.as_deref().or(preset.public_client_id) {
            vars = vars.client_id(v);
        }
        vars
    }

    /// The endpoints: from the preset, from discovery of `issuer` (its `mtls_endpoint_aliases`
    /// when the profile has a `client_cert`), then explicit URLs on top.
    pub async fn endpoints(
        &self,
    ) -> Result<(Arc<ProviderMetadata>, Option<OidcProvider>), ProfileError> {
        let p = &self.profile;
        let mut discover = None;
        let mut metadata = None;
        if let Some(preset) = self.preset()? {
            match preset.resolve(&self.preset_vars(preset))? {
                // The profile's own `issuer` wins over the preset's: the same provider at
                // another address (an Entra national cloud such as
                // `https://login.microsoftonline.us/{tenant}/v2.0`, a test server) keeps
                // the preset's scopes, client auth and quirks.
                Resolved::Discover { issuer } => {
                    discover = Some(p.issuer.clone().unwrap_or(issuer))
                }
                Resolved::Static(m) => metadata = Some(*m),
                #[allow(unreachable_patterns, reason = "Resolved is non_exhaustive")]
                _ => {
                    return Err(
                        crate::error::Error::Internal("unknown preset resolution".into()).into(),
                    );
                }
            }
        } else if let Some(issuer) = &p.issuer {
            discover = Some(issuer.clone());
        }
        let mut provider = None;
        if let Some(issuer) = discover {
            let found = OidcProvider::discover(&issuer).await?;
            metadata = Some(found.metadata().clone());
            provider = Some(found);
        }
        let mut metadata = match metadata {
            Some(m) => m,
            None => {
                let raw = p.token_url.as_deref().ok_or_else(|| {
                    ProfileError::missing(&self.name, p.auth, "issuer` or `token_url")
                })?;
                ProviderMetadata::new(raw, endpoint("token_url", raw, false)?)
            }
        };
        if p.client_cert.is_some() {
            // RFC 8705 §5: a client presenting a certificate uses the provider's aliases;
            // the profile's explicit URLs below still win.
            metadata = metadata.with_mtls_endpoint_aliases()?;
        }
        let field = |name: &str, raw: &Option<String>| -> Result<Option<Url>, ProfileError> {
            Ok(raw
                .as_deref()
                .map(|r| endpoint(name, r, false))
                .transpose()?)
        };
        if let Some(u) = field("token_url", &p.token_url)? {
            metadata.token_endpoint = u;
        }
        if let Some(u) = field("authorization_url", &p.authorization_url)? {
            metadata.authorization_endpoint = Some(u);
        }
        if let Some(u) = field("device_authorization_url", &p.device_authorization_url)? {
            metadata.device_authorization_endpoint = Some(u);
        }
        if let Some(u) = field("revocation_url", &p.revocation_url)? {
            metadata.revocation_endpoint = Some(u);
        }
        Ok((Arc::new(metadata), provider))
    }
}
