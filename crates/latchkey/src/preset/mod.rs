//! Provider presets: endpoints, default scopes, client authentication and quirks as data.
//!
//! A preset never carries logic of its own: the quirks it lists are handled by the general
//! code paths (tolerant token parsing, the `{tenantid}` issuer template, …). Templates in
//! URLs use `{issuer}`, `{base_url}`, `{realm}`, `{tenant}` and `{client_id}`, filled from
//! [`PresetVars`].
//!
//! ```
//! let google = latchkey::Preset::by_name("google")?;
//! assert_eq!(google.extra_auth_params, [("access_type", "offline"), ("prompt", "consent")]);
//! # Ok::<(), latchkey::Error>(())
//! ```

mod apply;
mod table;

use url::Url;

use crate::client_auth::ClientAuthMethod;
use crate::error::{Error, Result};
use crate::oidc::{OidcError, ProviderMetadata};

pub use table::PRESETS;

/// Where a preset's endpoints come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoints {
    /// OIDC discovery at this issuer template.
    Discovery {
        /// The issuer, e.g. `{base_url}/realms/{realm}`.
        issuer: &'static str,
    },
    /// Fixed endpoint templates (providers without discovery).
    Static {
        /// An identifier for the provider (used as the issuer in metadata).
        issuer: &'static str,
        /// The authorization endpoint.
        authorization: &'static str,
        /// The token endpoint.
        token: &'static str,
        /// The device authorization endpoint (RFC 8628), if any.
        device_authorization: Option<&'static str>,
        /// The revocation endpoint, if the provider has one (RFC 7009 unless a quirk says
        /// otherwise).
        revocation: Option<&'static str>,
    },
}

/// A provider behaviour that differs from the RFCs, and where latchkey handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Quirk {
    /// Not an OpenID provider: no ID token, no discovery, no JWKS.
    NotOidc,
    /// Answers form-encoded unless `Accept: application/json` is sent (latchkey always sends it).
    JsonOnlyWithAccept,
    /// Sends OAuth errors with `200 OK` (detected by the tolerant token parser).
    ErrorWith200,
    /// Separates granted scopes with commas (the parser splits on both).
    CommaSeparatedScopes,
    /// Revokes with `DELETE /applications/{client_id}/token`, Basic client credentials and a
    /// JSON `{"access_token": …}` body instead of RFC 7009: a client for this preset gets
    /// [`RevocationMethod::GitHubAppToken`](crate::RevocationMethod::GitHubAppToken).
    RevokeViaDeleteApplicationToken,
    /// The device authorization response says `verification_url` instead of
    /// `verification_uri` (RFC 8628 §3.2).
    VerificationUrlAlias,
    /// The multi-tenant issuer is the template `…/{tenantid}/v2.0`; an ID token's issuer is
    /// checked after substituting its own `tid` claim.
    TenantIssuerTemplate,
    /// Token responses carry `refresh_expires_in` (Keycloak).
    RefreshExpiresIn,
    /// The password grant takes a one-time code in a `totp` parameter (Keycloak OTP).
    TotpParameter,
    /// The authorization server is off unless the server's configuration turns it on, and
    /// then announces itself with a discovery document: a login first checks that document,
    /// so a server without one fails before a browser opens, naming [`Preset::server_setup`].
    OptionalAuthorizationServer,
    /// The token endpoint redirects to its trailing-slash variant (`/oauth2/token` →
    /// `/oauth2/token/`): the client follows that one same-origin redirect, and no other.
    TokenEndpointTrailingSlash,
}

/// A provider preset. All fields are static data; see [`PRESETS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Preset {
    /// The name used in profiles (`preset = "google"`).
    pub name: &'static str,
    /// A human description.
    pub description: &'static str,
    /// Where the endpoints come from.
    pub endpoints: Endpoints,
    /// Scopes asked for when the profile names none.
    pub default_scopes: &'static [&'static str],
    /// The client authentication method used when the profile names none.
    pub client_auth: ClientAuthMethod,
    /// A well-known public client id (CDSE's `cdse-public`), if any.
    pub public_client_id: Option<&'static str>,
    /// The `auth` kinds the provider supports besides OAuth (`basic`, `api-token`).
    pub static_auth: &'static [&'static str],
    /// Extra parameters for the authorization request.
    pub extra_auth_params: &'static [(&'static str, &'static str)],
    /// Deviations from the RFCs.
    pub quirks: &'static [Quirk],
    /// The loopback redirect URI browser logins use when the profile names none (the one
    /// the provider's OAuth clients are usually registered with); `None`: an ephemeral port.
    pub default_redirect_uri: Option<&'static str>,
    /// What the server needs before it answers OAuth requests, for a provider whose
    /// authorization server is optional: the first entry turns it on, the others are its
    /// prerequisites. Shown when the server has no authorization server.
    pub server_setup: &'static [&'static str],
}

/// Values for a preset's URL templates.
#[derive(Debug, Clone, Default)]
pub struct PresetVars {
    issuer: Option<String>,
    base_url: Option<String>,
    realm: Option<String>,
    tenant: Option<String>,
    client_id: Option<String>,
}

impl PresetVars {
    /// `{issuer}`: the generic OIDC preset's issuer.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// `{base_url}`: the server (Keycloak, DHIS2), without a trailing slash.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// `{realm}`: the Keycloak realm.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// `{tenant}`: the Microsoft tenant (default `common`).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// `{client_id}`: the OAuth client id (GitHub's revocation URL names it).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    fn fill(&self, template: &str) -> Result<String> {
        let mut out = template.to_owned();
        // A client id is an opaque string: it goes into a path segment percent-encoded.
        let client_id = self.client_id.as_deref().map(encode_path_segment);
        let vars: [(&str, Option<&str>); 5] = [
            ("{issuer}", self.issuer.as_deref()),
            ("{base_url}", self.base_url.as_deref()),
            ("{realm}", self.realm.as_deref()),
            ("{tenant}", Some(self.tenant.as_deref().unwrap_or("common"))),
            ("{client_id}", client_id.as_deref()),
        ];
        for (name, value) in vars {
            if !out.contains(name) {
                continue;
            }
            let value = value.ok_or_else(|| {
                Error::Config(format!(
                    "the preset needs `{}`",
                    name.trim_matches(['{', '}'])
                ))
            })?;
            out = out.replace(name, value.trim_end_matches('/'));
        }
        Ok(out)
    }
}

/// `text` with everything but RFC 3986 unreserved characters percent-encoded.
fn encode_path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A preset with its templates filled in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Resolved {
    /// Discover this issuer.
    Discover {
        /// The issuer URL.
        issuer: String,
    },
    /// Use these endpoints.
    Static(Box<ProviderMetadata>),
}

impl Preset {
    /// The preset called `name` (case-insensitive); the error lists the valid names.
    pub fn by_name(name: &str) -> Result<&'static Preset> {
        PRESETS
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                OidcError::UnknownPreset {
                    name: name.into(),
                    valid: Self::names().join(", "),
                }
                .into()
            })
    }

    /// The names of all presets.
    pub fn names() -> Vec<&'static str> {
        PRESETS.iter().map(|p| p.name).collect()
    }

    /// Whether the preset has this quirk.
    pub fn has_quirk(&self, quirk: Quirk) -> bool {
        self.quirks.contains(&quirk)
    }

    /// Fills the templates: an issuer to discover, or fixed endpoints.
    pub fn resolve(&self, vars: &PresetVars) -> Result<Resolved> {
        let url = |field: &str, template: &str| -> Result<Url> {
            let raw = vars.fill(template)?;
            crate::http::endpoint(field, &raw, false)
        };
        Ok(match self.endpoints {
            Endpoints::Discovery { issuer } => Resolved::Discover {
                issuer: url("issuer", issuer)?
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned(),
            },
            Endpoints::Static {
                issuer,
                authorization,
                token,
                device_authorization,
                revocation,
            } => {
                let mut metadata =
                    ProviderMetadata::new(vars.fill(issuer)?, url("token_url", token)?);
                metadata.authorization_endpoint = Some(url("authorization_url", authorization)?);
                metadata.device_authorization_endpoint = device_authorization
                    .map(|t| url("device_authorization_url", t))
                    .transpose()?;
                // Revocation is optional: without the client id its URL names, there is none
                // yet (the token endpoint still works, and `revocation_url` can be given).
                metadata.revocation_endpoint = revocation
                    .filter(|t| !t.contains("{client_id}") || vars.client_id.is_some())
                    .map(|t| url("revocation_url", t))
                    .transpose()?;
                metadata.scopes_supported =
                    self.default_scopes.iter().map(|s| s.to_string()).collect();
                Resolved::Static(Box::new(metadata))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_preset_lists_valid_names() {
        let err = Preset::by_name("gogle").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("gogle") && msg.contains("google") && msg.contains("keycloak"),
            "{msg}"
        );
        assert_eq!(Preset::by_name("GitHub").unwrap().name, "github");
    }

    #[test]
    fn github_revocation_url_names_the_client_id() {
        let github = Preset::by_name("github").unwrap();
        match github.resolve(&PresetVars::default()).unwrap() {
            Resolved::Static(m) => assert_eq!(m.revocation_endpoint, None, "no client id yet"),
            other => panic!("{other:?}"),
        }
        match github
            .resolve(&PresetVars::default().client_id("Iv1.ab/c d"))
            .unwrap()
        {
            Resolved::Static(m) => assert_eq!(
                m.revocation_endpoint.unwrap().as_str(),
                "https://api.github.com/applications/Iv1.ab%2Fc%20d/token"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keycloak_realm_and_missing_vars() {
        let kc = Preset::by_name("keycloak").unwrap();
        let err = kc
            .resolve(&PresetVars::default().base_url("https://kc.example/"))
            .unwrap_err();
        assert!(err.to_string().contains("realm"), "{err}");
        match kc
            .resolve(
                &PresetVars::default()
                    .base_url("https://kc.example/")
                    .realm("demo"),
            )
            .unwrap()
        {
            Resolved::Discover { issuer } => assert_eq!(issuer, "https://kc.example/realms/demo"),
            other => panic!("{other:?}"),
        }
    }
}
