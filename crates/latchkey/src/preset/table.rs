//! The preset table: one entry per provider, data only.

use super::{Endpoints, Preset, Quirk};
use crate::client_auth::ClientAuthMethod;

/// Every preset latchkey knows.
pub static PRESETS: &[Preset] = &[
    Preset {
        name: "oidc",
        description: "any OpenID Connect provider, configured by discovery from `issuer`",
        endpoints: Endpoints::Discovery { issuer: "{issuer}" },
        default_scopes: &["openid"],
        client_auth: ClientAuthMethod::ClientSecretBasic,
        public_client_id: None,
        static_auth: &[],
        extra_auth_params: &[],
        quirks: &[],
    },
    Preset {
        name: "google",
        description: "Google accounts",
        endpoints: Endpoints::Discovery {
            issuer: "https://accounts.google.com",
        },
        default_scopes: &["openid", "email", "profile"],
        client_auth: ClientAuthMethod::ClientSecretPost,
        public_client_id: None,
        static_auth: &[],
        // Google issues a refresh token only for `access_type=offline`, and only on the first
        // consent unless `prompt=consent` asks again.
        extra_auth_params: &[("access_type", "offline"), ("prompt", "consent")],
        quirks: &[Quirk::VerificationUrlAlias],
    },
    Preset {
        name: "github",
        description: "GitHub OAuth apps (OAuth 2 only, not OpenID Connect)",
        endpoints: Endpoints::Static {
            issuer: "https://github.com",
            authorization: "https://github.com/login/oauth/authorize",
            token: "https://github.com/login/oauth/access_token",
            device_authorization: Some("https://github.com/login/device/code"),
            // Not RFC 7009: see `Quirk::RevokeViaDeleteApplicationToken`.
            revocation: Some("https://api.github.com/applications/{client_id}/token"),
        },
        default_scopes: &["read:user"],
        client_auth: ClientAuthMethod::ClientSecretPost,
        public_client_id: None,
        static_auth: &[],
        extra_auth_params: &[],
        quirks: &[
            Quirk::NotOidc,
            Quirk::JsonOnlyWithAccept,
            Quirk::ErrorWith200,
            Quirk::CommaSeparatedScopes,
            Quirk::RevokeViaDeleteApplicationToken,
        ],
    },
    Preset {
        name: "microsoft",
        description: "Microsoft Entra ID (Azure AD) v2.0; `tenant` defaults to `common`",
        endpoints: Endpoints::Discovery {
            issuer: "https://login.microsoftonline.com/{tenant}/v2.0",
        },
        default_scopes: &["openid", "profile", "email", "offline_access"],
        client_auth: ClientAuthMethod::ClientSecretPost,
        public_client_id: None,
        static_auth: &[],
        extra_auth_params: &[],
        quirks: &[Quirk::TenantIssuerTemplate],
    },
    Preset {
        name: "keycloak",
        description: "a Keycloak realm: `base_url` (e.g. https://host or https://host/auth) and `realm`",
        endpoints: Endpoints::Discovery {
            issuer: "{base_url}/realms/{realm}",
        },
        default_scopes: &["openid"],
        client_auth: ClientAuthMethod::ClientSecretBasic,
        public_client_id: None,
        static_auth: &[],
        extra_auth_params: &[],
        quirks: &[Quirk::RefreshExpiresIn, Quirk::TotpParameter],
    },
    Preset {
        name: "dhis2",
        description: "a DHIS2 instance at `base_url`: Basic, personal access token (ApiToken) or OAuth2",
        endpoints: Endpoints::Static {
            issuer: "{base_url}",
            authorization: "{base_url}/oauth2/authorize",
            token: "{base_url}/oauth2/token",
            device_authorization: None,
            revocation: None,
        },
        default_scopes: &["ALL"],
        client_auth: ClientAuthMethod::ClientSecretBasic,
        public_client_id: None,
        static_auth: &["basic", "api-token"],
        extra_auth_params: &[],
        quirks: &[],
    },
    Preset {
        name: "cdse",
        description: "Copernicus Data Space Ecosystem (Keycloak realm CDSE, public client, password + TOTP)",
        endpoints: Endpoints::Discovery {
            issuer: "https://identity.dataspace.copernicus.eu/auth/realms/CDSE",
        },
        default_scopes: &["openid"],
        client_auth: ClientAuthMethod::None,
        public_client_id: Some("cdse-public"),
        static_auth: &[],
        extra_auth_params: &[],
        quirks: &[Quirk::RefreshExpiresIn, Quirk::TotpParameter],
    },
];
