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
        default_redirect_uri: None,
        server_setup: &[],
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
        default_redirect_uri: None,
        server_setup: &[],
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
        default_redirect_uri: None,
        server_setup: &[],
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
        default_redirect_uri: None,
        server_setup: &[],
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
        default_redirect_uri: None,
        server_setup: &[],
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
        // DHIS2 has no fine-grained scopes: `ALL` is the only one it recognises.
        default_scopes: &["ALL"],
        // The secret in the body, as DHIS2 OAuth2 clients are used (not stated by DHIS2's
        // docs: see docs/seeds.md); `client_auth` in the profile still picks
        // `client_secret_basic`.
        client_auth: ClientAuthMethod::ClientSecretPost,
        public_client_id: None,
        static_auth: &["basic", "api-token"],
        extra_auth_params: &[],
        quirks: &[
            Quirk::OptionalAuthorizationServer,
            Quirk::TokenEndpointTrailingSlash,
        ],
        // DHIS2 OAuth2 clients are registered with this redirect URI (and the generic
        // provider `oidc.provider.dhis2.redirect_url` names it too).
        default_redirect_uri: Some("http://localhost:8765"),
        // The dhis.conf keys DHIS2 needs before /oauth2/* and its discovery document exist
        // and its tokens work on /api (none is on by default); see docs/seeds.md.
        server_setup: &[
            "set `oauth2.server.enabled = on` in dhis.conf and restart DHIS2",
            "set `server.base.url` to the URL clients reach DHIS2 at (it becomes the `iss` of minted tokens)",
            "set `oidc.jwt.token.authentication.enabled = on` so /api accepts the minted bearer tokens",
            "set `oidc.oauth2.login.enabled = on` so /oauth2/authorize can sign users in with DHIS2's login form",
            "register DHIS2 as its own generic provider with every `oidc.provider.dhis2.*` key (client_id, client_secret, issuer_uri, authorization_uri, token_uri, jwk_uri, user_info_uri, redirect_url, scopes = ALL, mapping_claim): DHIS2 does not discover them",
            "register the OAuth2 client with a BCrypt-hashed secret and non-empty client and token settings (the settings app does both)",
        ],
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
        default_redirect_uri: None,
        server_setup: &[],
    },
];
