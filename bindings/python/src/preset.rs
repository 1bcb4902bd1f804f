//! `preset="github"` on a manager: what a CLI profile's `preset = …` applies, through the
//! core's own `Preset` functions (the quirks are handled there, not here): the client's
//! quirks, the authorization request's extra parameters, the check before a login, the
//! advice on errors, and the preset's defaults for what the caller left out.

use latchkey::{Error, Preset};

use crate::grants::GrantSpec;

/// The preset called `name`; an unknown name is the core's error listing the valid ones.
pub(crate) fn lookup(name: Option<&str>) -> latchkey::Result<Option<&'static Preset>> {
    name.map(Preset::by_name).transpose()
}

/// The `client_auth` keyword's default: the preset's secret method (`post` for Google,
/// GitHub, Microsoft and DHIS2), else `basic`, as a profile's default is.
pub(crate) fn default_client_auth(preset: Option<&Preset>) -> &'static str {
    match preset.map(|p| p.client_auth) {
        Some(latchkey::ClientAuthMethod::ClientSecretPost) => "post",
        _ => "basic",
    }
}

/// `spec` with the preset's defaults where the grant names none: its scopes, and the
/// redirect URI its OAuth clients are registered with (DHIS2's `http://localhost:8765`).
pub(crate) fn with_defaults(mut spec: GrantSpec, preset: Option<&Preset>) -> GrantSpec {
    let Some(preset) = preset else {
        return spec;
    };
    let defaults = || {
        preset
            .default_scopes
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    match &mut spec {
        GrantSpec::ClientCredentials { scopes, .. }
        | GrantSpec::Password { scopes, .. }
        | GrantSpec::Device { scopes, .. } => {
            if scopes.is_empty() {
                *scopes = defaults();
            }
        }
        GrantSpec::Browser {
            scopes,
            redirect_uri,
            ..
        } => {
            if scopes.is_empty() {
                *scopes = defaults();
            }
            if redirect_uri.is_none() {
                *redirect_uri = preset.default_redirect_uri.map(Into::into);
            }
        }
        GrantSpec::RefreshToken(_) => {}
    }
    spec
}

/// What runs before an interactive login (a browser opens, a code is shown): for a preset
/// whose authorization server is optional (DHIS2), its discovery document at the issuer.
#[derive(Clone)]
pub(crate) struct LoginCheck {
    preset: &'static Preset,
    issuer: String,
}

impl LoginCheck {
    /// The check for a manager of `preset` with this `issuer` and grant; `None` when there
    /// is nothing to check (no preset, no issuer, a grant that needs no person).
    pub(crate) fn new(
        preset: Option<&'static Preset>,
        issuer: Option<&str>,
        spec: &GrantSpec,
    ) -> Option<Self> {
        let interactive = matches!(spec, GrantSpec::Browser { .. } | GrantSpec::Device { .. });
        match (preset, issuer) {
            (Some(preset), Some(issuer)) if interactive => Some(Self {
                preset,
                issuer: issuer.trim_end_matches('/').to_owned(),
            }),
            _ => None,
        }
    }

    pub(crate) async fn run(check: Option<Self>) -> latchkey::Result<()> {
        if let Some(check) = check {
            check
                .preset
                .check_authorization_server(&check.issuer)
                .await?;
        }
        Ok(())
    }
}

/// `err` with the preset's advice (its `server_setup` for a server without an
/// authorization server).
pub(crate) fn advise(preset: Option<&Preset>, err: &Error) -> Error {
    match preset {
        Some(preset) => preset.advise(err.clone()),
        None => err.clone(),
    }
}
