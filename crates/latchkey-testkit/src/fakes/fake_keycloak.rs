//! `fake_keycloak`: one Keycloak realm's OpenID Connect endpoints, as documented:
//!
//! - Realm paths: the issuer is `{base_url}/realms/{realm}` (Keycloak 17 and later; older
//!   servers add `/auth`), the endpoints are under `/realms/{realm}/protocol/openid-connect/`
//!   (`auth`, `token`, `certs`, `userinfo`, `logout`, `revoke`, `token/introspect`,
//!   `auth/device`): <https://www.keycloak.org/securing-apps/oidc-layers> ("Available
//!   endpoints").
//! - Token responses carry, besides RFC 6749's fields, `refresh_expires_in` (the SSO session
//!   idle timeout; `0` for an offline token), `not-before-policy` and `session_state`; a
//!   refresh answers a new refresh token; a refresh token past `refresh_expires_in` is
//!   `invalid_grant` "Token is not active"; the password grant ("direct access grants")
//!   refuses a wrong password with HTTP 401 `invalid_grant` "Invalid user credentials", and
//!   bad client credentials get `unauthorized_client` (not `invalid_client`):
//!   <https://www.keycloak.org/docs/latest/server_admin/#_timeouts> (SSO Session Idle and
//!   the refresh token) and <https://www.keycloak.org/securing-apps/oidc-layers> (token
//!   endpoint). The error texts are Keycloak's own, as its server answers them.
//! - The authorization response carries `iss` (RFC 9207), announced in discovery as
//!   `authorization_response_iss_parameter_supported` (since Keycloak 18:
//!   <https://www.keycloak.org/docs/latest/release_notes/index.html>, "OAuth 2.0
//!   Authorization Server Issuer Identification").

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::server::{Authorized, Issued, Running, Seen, client_credentials, json, oauth_error};
use super::signing;

/// The realm the fake serves.
pub const REALM: &str = "demo";

/// The confidential client (client authentication "Client Id and Secret"; standard flow,
/// direct access grants and service accounts on).
pub const CLIENT: (&str, &str) = ("kc-cli", "kc-cli-secret");

/// The realm's user.
pub const USER: (&str, &str) = ("alice", "alice-password");

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct KeycloakOptions {
    /// `expires_in` of access tokens (Keycloak's default access token lifespan: 300).
    pub expires_in: u64,
    /// `refresh_expires_in`: how long a refresh token works (SSO Session Idle: 1800).
    pub refresh_expires_in: u64,
}

impl Default for KeycloakOptions {
    fn default() -> Self {
        Self {
            expires_in: 300,
            refresh_expires_in: 1800,
        }
    }
}

#[derive(Debug)]
struct Shared {
    options: KeycloakOptions,
    issuer: String,
    codes: Issued,
    refresh_tokens: Issued,
}

/// A running fake Keycloak on a free loopback port; stopped when dropped.
#[derive(Debug)]
pub struct FakeKeycloak {
    running: Running,
}

const OIDC: &str = "/protocol/openid-connect";

impl FakeKeycloak {
    /// Starts the fake with `options`.
    pub fn start(options: KeycloakOptions) -> FakeKeycloak {
        let running = Running::start(|base| {
            let shared = Arc::new(Shared {
                options,
                issuer: format!("{base}/realms/{REALM}"),
                codes: Issued::default(),
                refresh_tokens: Issued::default(),
            });
            let realm = format!("/realms/{REALM}");
            Router::new()
                .route(
                    &format!("{realm}/.well-known/openid-configuration"),
                    get(discovery),
                )
                .route(&format!("{realm}{OIDC}/auth"), get(authorize))
                .route(&format!("{realm}{OIDC}/token"), post(token))
                .route(
                    &format!("{realm}{OIDC}/certs"),
                    get(|| async { axum::Json(signing::jwks()) }),
                )
                .fallback(not_found)
                .with_state(shared)
        });
        FakeKeycloak { running }
    }

    /// `http://127.0.0.1:PORT`: the `base_url` of a `keycloak` profile.
    pub fn base_url(&self) -> &str {
        self.running.base_url()
    }

    /// `{base_url}/realms/demo`.
    pub fn issuer(&self) -> String {
        format!("{}/realms/{REALM}", self.running.base_url())
    }

    /// The token endpoint's path.
    pub fn token_path() -> String {
        format!("/realms/{REALM}{OIDC}/token")
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.running.seen()
    }

    /// How many token requests had `grant_type`.
    pub fn token_requests(&self, grant_type: &str) -> usize {
        let path = Self::token_path();
        self.seen()
            .iter()
            .filter(|s| s.path == path && s.param("grant_type") == Some(grant_type))
            .count()
    }
}

/// Keycloak's 404 for a realm or path it does not have.
async fn not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        serde_json::json!({ "error": "Realm does not exist" }),
    )
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    let issuer = &shared.issuer;
    json(
        StatusCode::OK,
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}{OIDC}/auth"),
            "token_endpoint": format!("{issuer}{OIDC}/token"),
            "introspection_endpoint": format!("{issuer}{OIDC}/token/introspect"),
            "userinfo_endpoint": format!("{issuer}{OIDC}/userinfo"),
            "end_session_endpoint": format!("{issuer}{OIDC}/logout"),
            "revocation_endpoint": format!("{issuer}{OIDC}/revoke"),
            "device_authorization_endpoint": format!("{issuer}{OIDC}/auth/device"),
            "jwks_uri": format!("{issuer}{OIDC}/certs"),
            "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "password", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"],
            "response_types_supported": ["code", "none", "id_token", "token", "id_token token", "code id_token", "code token", "code id_token token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post", "tls_client_auth", "client_secret_jwt"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "scopes_supported": ["openid", "offline_access", "profile", "email"],
            "authorization_response_iss_parameter_supported": true,
        }),
    )
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if query.get("client_id").map(String::as_str) != Some(CLIENT.0) {
        return (StatusCode::BAD_REQUEST, "Client not found.").into_response();
    }
    let code = shared.codes.issue(
        "",
        Authorized {
            scope: query.get("scope").cloned().unwrap_or_default(),
            nonce: query.get("nonce").cloned(),
            offline: true,
            expires_at: Some(Instant::now() + Duration::from_secs(60)),
            ..Authorized::default()
        },
    );
    let (Some(redirect_uri), Some(state)) = (query.get("redirect_uri"), query.get("state")) else {
        return (StatusCode::BAD_REQUEST, "Invalid parameter: redirect_uri").into_response();
    };
    let Ok(mut to) = url::Url::parse(redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "Invalid parameter: redirect_uri").into_response();
    };
    to.query_pairs_mut()
        .append_pair("state", state)
        .append_pair("session_state", "5f2d1f2c-fake-session")
        .append_pair("iss", &shared.issuer)
        .append_pair("code", &code);
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str);
    let (id, secret) = client_credentials(&headers, &form);
    if id.as_deref() != Some(CLIENT.0) || secret.as_deref() != Some(CLIENT.1) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Invalid client or Invalid client credentials",
        );
    }
    let scope = |requested: Option<&str>| {
        // Keycloak grants its default client scopes besides what was asked for.
        let mut scope = vec!["profile", "email"];
        scope.extend(requested.unwrap_or("").split_whitespace());
        scope.join(" ")
    };
    match field("grant_type") {
        Some("password") => {
            if field("username") != Some(USER.0) || field("password") != Some(USER.1) {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_grant",
                    "Invalid user credentials",
                );
            }
            let authorized = Authorized {
                scope: scope(field("scope")),
                offline: true,
                ..Authorized::default()
            };
            tokens(&shared, authorized)
        }
        // Keycloak issues no refresh token to a service account (by default).
        Some("client_credentials") => tokens(
            &shared,
            Authorized {
                scope: scope(field("scope")),
                ..Authorized::default()
            },
        ),
        Some("authorization_code") => match field("code").and_then(|c| shared.codes.take(c)) {
            Some(a) if !a.expired() => tokens(&shared, a),
            _ => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Code not valid"),
        },
        Some("refresh_token") => {
            match field("refresh_token").and_then(|r| shared.refresh_tokens.take(r)) {
                Some(a) if a.expired() => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token is not active",
                ),
                Some(a) => tokens(&shared, Authorized { nonce: None, ..a }),
                None => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid refresh token",
                ),
            }
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant_type",
        ),
    }
}

fn tokens(shared: &Shared, authorized: Authorized) -> Response {
    let options = &shared.options;
    let mut claims = serde_json::Map::new();
    claims.insert("iss".into(), shared.issuer.clone().into());
    claims.insert("sub".into(), "f1b3c1e0-fake-user".into());
    claims.insert("typ".into(), "Bearer".into());
    claims.insert("azp".into(), CLIENT.0.into());
    claims.insert("scope".into(), authorized.scope.clone().into());
    claims.insert("jti".into(), signing::opaque("").into());
    let mut body = serde_json::json!({
        "access_token": signing::sign(claims),
        "expires_in": options.expires_in,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": authorized.scope,
    });
    if authorized.offline {
        body["session_state"] = "5f2d1f2c-fake-session".into();
        body["refresh_expires_in"] = options.refresh_expires_in.into();
        body["refresh_token"] = shared
            .refresh_tokens
            .issue(
                "eyJhbGciOiJIUzUxMiJ9.fake-refresh.",
                Authorized {
                    expires_at: Some(
                        Instant::now() + Duration::from_secs(options.refresh_expires_in),
                    ),
                    ..authorized.clone()
                },
            )
            .into();
    }
    if authorized.has_scope("openid") {
        let extra = serde_json::json!({
            "azp": CLIENT.0,
            "typ": "ID",
            "sid": "5f2d1f2c-fake-session",
            "preferred_username": USER.0
        });
        body["id_token"] = signing::id_token(
            &shared.issuer,
            CLIENT.0,
            "f1b3c1e0-fake-user",
            authorized.nonce.as_deref(),
            extra,
        )
        .into();
    }
    json(StatusCode::OK, body)
}
