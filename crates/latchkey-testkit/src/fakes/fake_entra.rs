//! `fake_entra`: the Microsoft identity platform (Entra ID) v2.0 endpoints, as documented:
//!
//! - Discovery at `/{tenant}/v2.0/.well-known/openid-configuration`: for the multi-tenant
//!   names `common` and `organizations` the issuer is the template
//!   `https://login.microsoftonline.com/{tenantid}/v2.0`; for a tenant (id or domain) it is
//!   that tenant's id. ID tokens say their tenant in `tid`:
//!   <https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc> and
//!   <https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference>.
//!   The document lists no revocation endpoint.
//! - v2.0 endpoints `/{tenant}/oauth2/v2.0/{authorize,token,devicecode}` next to the v1.0
//!   ones (`/{tenant}/oauth2/token`, whose discovery document at
//!   `/{tenant}/.well-known/openid-configuration` has the issuer
//!   `https://sts.windows.net/{tenantid}/`, another host than the one serving it):
//!   <https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens> (v1.0 and
//!   v2.0 tokens and issuers). Only the v1.0 discovery document is reproduced, not the
//!   v1.0 token endpoint (which takes `resource` instead of `scope`).
//! - Errors carry an `AADSTS` code at the start of `error_description` and in
//!   `error_codes`, with `timestamp`, `trace_id` and `correlation_id`:
//!   <https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>
//!   (`AADSTS7000215` invalid secret, `AADSTS50126` wrong password, `AADSTS70011` invalid
//!   scope, `AADSTS1002012` a client-credentials scope without `/.default`,
//!   `AADSTS70016` pending device login, `AADSTS9002313` malformed grant).
//! - Client credentials take one `{resource}/.default` scope and get no refresh token:
//!   <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>.
//!   A refresh token comes with `offline_access`, and each refresh answers a new one (the
//!   old one is not revoked): <https://learn.microsoft.com/en-us/entra/identity-platform/refresh-tokens>.
//!   Token responses add `ext_expires_in`.
//! - The device flow answers `verification_uri` and a `message` to show:
//!   <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code>.
//! - The password grant (ROPC) for a work account:
//!   <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth-ropc>.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};

use super::server::{
    Authorized, Issued, Running, Seen, client_credentials, json, redirect_with_code,
};
use super::signing;

/// The tenant the fake's accounts live in (its id).
pub const TENANT_ID: &str = "aaaabbbb-0000-cccc-1111-dddd2222eeee";

/// The tenant's domain name, accepted wherever the id is.
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";

/// The app registration: application (client) id and a client secret value.
pub const CLIENT: (&str, &str) = ("00001111-aaaa-2222-bbbb-3333cccc4444", "fake~entra.secret");

/// A work account of the tenant.
pub const USER: (&str, &str) = ("alice@contoso.onmicrosoft.com", "alice-password");

/// The user code the device flow shows.
pub const USER_CODE: &str = "FAKE2ENTRA";

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct EntraOptions {
    /// `expires_in` of access tokens (Entra: between 3600 and 5400 or so).
    pub expires_in: u64,
    /// The device flow's `interval`, in seconds (Entra says 5).
    pub device_interval: u64,
    /// How many device polls get `authorization_pending` first.
    pub pending_polls: u32,
}

impl Default for EntraOptions {
    fn default() -> Self {
        Self {
            expires_in: 3599,
            device_interval: 5,
            pending_polls: 1,
        }
    }
}

#[derive(Debug)]
struct Shared {
    options: EntraOptions,
    base: String,
    codes: Issued,
    refresh_tokens: Issued,
    devices: Mutex<HashMap<String, (Authorized, u32)>>,
}

/// A running fake Entra ID on a free loopback port; stopped when dropped.
#[derive(Debug)]
pub struct FakeEntra {
    running: Running,
}

impl FakeEntra {
    /// Starts the fake with `options`.
    pub fn start(options: EntraOptions) -> FakeEntra {
        let running = Running::start(|base| {
            let shared = Arc::new(Shared {
                options,
                base: base.to_owned(),
                codes: Issued::default(),
                refresh_tokens: Issued::default(),
                devices: Mutex::new(HashMap::new()),
            });
            Router::new()
                .route(
                    "/{tenant}/v2.0/.well-known/openid-configuration",
                    get(discovery_v2),
                )
                .route(
                    "/{tenant}/.well-known/openid-configuration",
                    get(discovery_v1),
                )
                .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
                .route("/{tenant}/oauth2/v2.0/token", post(token))
                .route("/{tenant}/oauth2/v2.0/devicecode", post(device_code))
                .route(
                    "/{tenant}/discovery/v2.0/keys",
                    get(|| async { axum::Json(signing::jwks()) }),
                )
                .with_state(shared)
        });
        FakeEntra { running }
    }

    /// `http://127.0.0.1:PORT`, standing for `https://login.microsoftonline.com`.
    pub fn base_url(&self) -> &str {
        self.running.base_url()
    }

    /// The v2.0 authority of `tenant` (`common`, `organizations`, a tenant id or domain):
    /// what discovery is asked about.
    pub fn authority(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.running.base_url())
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.running.seen()
    }

    /// How many token requests had `grant_type`.
    pub fn token_requests(&self, grant_type: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| {
                s.path.ends_with("/oauth2/v2.0/token") && s.param("grant_type") == Some(grant_type)
            })
            .count()
    }
}

fn known_tenant(tenant: &str) -> bool {
    matches!(
        tenant,
        "common" | "organizations" | TENANT_ID | TENANT_DOMAIN
    )
}

/// An Entra error: `AADSTS{code}: {message}` with its trace lines, and the code again in
/// `error_codes`.
fn aadsts(status: StatusCode, error: &str, code: u64, message: &str) -> Response {
    let trace_id = "0000aaaa-11bb-cccc-dd22-eeeeee333333";
    let correlation_id = "aaaa0000-bb11-2222-33cc-444444dddddd";
    let timestamp = "2026-01-01 00:00:00Z";
    json(
        status,
        serde_json::json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {message} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

fn unknown_tenant(tenant: &str) -> Response {
    aadsts(
        StatusCode::BAD_REQUEST,
        "invalid_tenant",
        90002,
        &format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
    )
}

async fn discovery_v2(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Response {
    if !known_tenant(&tenant) {
        return unknown_tenant(&tenant);
    }
    let base = &shared.base;
    let issuer_tenant = if matches!(tenant.as_str(), "common" | "organizations") {
        "{tenantid}"
    } else {
        TENANT_ID
    };
    json(
        StatusCode::OK,
        serde_json::json!({
            "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{base}/{issuer_tenant}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": format!("{base}/{tenant}/kerberos"),
            "tenant_region_scope": null,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }),
    )
}

/// The v1.0 document: its issuer is on another host (`sts.windows.net`).
async fn discovery_v1(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Response {
    if !known_tenant(&tenant) {
        return unknown_tenant(&tenant);
    }
    let base = &shared.base;
    let issuer_tenant = if matches!(tenant.as_str(), "common" | "organizations") {
        "{tenantid}"
    } else {
        TENANT_ID
    };
    json(
        StatusCode::OK,
        serde_json::json!({
            "token_endpoint": format!("{base}/{tenant}/oauth2/token"),
            "jwks_uri": format!("{base}/{tenant}/discovery/keys"),
            "issuer": format!("https://sts.windows.net/{issuer_tenant}/"),
            "authorization_endpoint": format!("{base}/{tenant}/oauth2/authorize"),
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }),
    )
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !known_tenant(&tenant) {
        return unknown_tenant(&tenant);
    }
    if query.get("client_id").map(String::as_str) != Some(CLIENT.0) {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            "Application with identifier was not found in the directory.",
        );
    }
    let scope = query.get("scope").cloned().unwrap_or_default();
    let code = shared.codes.issue(
        "1.AQEAfake-",
        Authorized {
            offline: scope.split_whitespace().any(|s| s == "offline_access"),
            scope,
            nonce: query.get("nonce").cloned(),
            expires_at: Some(Instant::now() + Duration::from_secs(600)),
            ..Authorized::default()
        },
    );
    redirect_with_code(&query, &code)
}

async fn device_code(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if !known_tenant(&tenant) {
        return unknown_tenant(&tenant);
    }
    let scope = form.get("scope").cloned().unwrap_or_default();
    let device_code = signing::opaque("DAQABAAEAAAfake");
    shared.devices.lock().expect("lock").insert(
        device_code.clone(),
        (
            Authorized {
                offline: scope.split_whitespace().any(|s| s == "offline_access"),
                scope,
                ..Authorized::default()
            },
            0,
        ),
    );
    json(
        StatusCode::OK,
        serde_json::json!({
            "user_code": USER_CODE,
            "device_code": device_code,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": 900,
            "interval": shared.options.device_interval,
            "message": format!("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {USER_CODE} to authenticate."),
        }),
    )
}

async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if !known_tenant(&tenant) {
        return unknown_tenant(&tenant);
    }
    let field = |name: &str| form.get(name).map(String::as_str);
    let device_grant = field("grant_type") == Some("urn:ietf:params:oauth:grant-type:device_code");
    let (id, secret) = client_credentials(&headers, &form);
    if id.as_deref() != Some(CLIENT.0) {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{}' was not found in the directory '{TENANT_DOMAIN}'.",
                id.unwrap_or_default()
            ),
        );
    }
    // A public-client device login sends no secret; a secret that is sent must be right.
    if secret.as_deref() != Some(CLIENT.1) && !(device_grant && secret.is_none()) {
        return aadsts(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                CLIENT.0
            ),
        );
    }
    let scope = field("scope").unwrap_or("").to_owned();
    let offline = scope.split_whitespace().any(|s| s == "offline_access");
    let authorized = match field("grant_type") {
        Some("client_credentials") => {
            if scope.split_whitespace().count() != 1 || !scope.ends_with("/.default") {
                return aadsts(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    1002012,
                    &format!(
                        "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                    ),
                );
            }
            Authorized {
                scope,
                ..Authorized::default()
            }
        }
        Some("password") => {
            if field("username") != Some(USER.0) || field("password") != Some(USER.1) {
                return aadsts(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50126,
                    "Error validating credentials due to invalid username or password.",
                );
            }
            Authorized {
                scope,
                offline,
                ..Authorized::default()
            }
        }
        Some("authorization_code") => match field("code").and_then(|c| shared.codes.take(c)) {
            Some(a) if !a.expired() => a,
            _ => {
                return aadsts(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
                );
            }
        },
        // Each refresh answers a new refresh token; the old one stays valid.
        Some("refresh_token") => {
            match field("refresh_token").and_then(|r| shared.refresh_tokens.get(r)) {
                Some(a) => Authorized { nonce: None, ..a },
                None => {
                    return aadsts(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        9002313,
                        "Invalid request. Request is malformed or invalid.",
                    );
                }
            }
        }
        Some(_) if device_grant => {
            let mut devices = shared.devices.lock().expect("lock");
            let Some((authorized, polls)) = field("device_code").and_then(|c| devices.get_mut(c))
            else {
                return aadsts(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid.",
                );
            };
            *polls += 1;
            if *polls <= shared.options.pending_polls {
                return aadsts(
                    StatusCode::BAD_REQUEST,
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                );
            }
            let authorized = authorized.clone();
            if let Some(code) = field("device_code") {
                devices.remove(code);
            }
            authorized
        }
        other => {
            return aadsts(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!(
                    "The app requested an unsupported grant type '{}'.",
                    other.unwrap_or_default()
                ),
            );
        }
    };
    tokens(&shared, authorized)
}

fn tokens(shared: &Shared, authorized: Authorized) -> Response {
    let expires_in = shared.options.expires_in;
    let mut body = serde_json::json!({
        "token_type": "Bearer",
        "scope": authorized.scope,
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": signing::opaque("eyJ0eXAiOiJKV1Qi.fake-entra-access."),
    });
    if authorized.has_scope("openid") {
        let extra = serde_json::json!({
            "oid": "00000000-0000-0000-66f3-3332eca7ea81",
            "tid": TENANT_ID,
            "ver": "2.0",
            "preferred_username": USER.0
        });
        body["id_token"] = signing::id_token(
            &format!("{}/{TENANT_ID}/v2.0", shared.base),
            CLIENT.0,
            "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            authorized.nonce.as_deref(),
            extra,
        )
        .into();
    }
    if authorized.offline {
        body["refresh_token"] = shared
            .refresh_tokens
            .issue("1.AQEAfake-refresh-", authorized)
            .into();
    }
    json(StatusCode::OK, body)
}
