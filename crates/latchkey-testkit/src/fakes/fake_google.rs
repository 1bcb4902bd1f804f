//! `fake_google`: Google's OAuth 2.0 / OpenID Connect endpoints, as documented:
//!
//! - The discovery document (issuer `https://accounts.google.com`; here the fake's own
//!   URL), its endpoints, and the ID token in every token response of an `openid` login:
//!   <https://developers.google.com/identity/openid-connect/openid-connect>.
//! - A refresh token only for an authorization request with `access_type=offline`, and a
//!   refresh answered without a new refresh token (the old one keeps working);
//!   `invalid_grant` "Token has been expired or revoked." for a dead one:
//!   <https://developers.google.com/identity/protocols/oauth2/web-server#offline> and
//!   <https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code>.
//! - The device flow: `POST /device/code` answers `verification_url` (not RFC 8628's
//!   `verification_uri`); a poll before approval is `authorization_pending` with HTTP 428;
//!   device logins always get a refresh token:
//!   <https://developers.google.com/identity/protocols/oauth2/limited-input-device>.
//! - Scopes are granted as URLs (`email` becomes
//!   `https://www.googleapis.com/auth/userinfo.email`), `expires_in` is 3599.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};

use super::server::{
    Authorized, Issued, Running, Seen, client_credentials, json, oauth_error, redirect_with_code,
};
use super::signing;

/// The OAuth client the fake knows (a "Desktop app" or "TVs and Limited Input" client).
pub const CLIENT: (&str, &str) = (
    "123456789012-fake.apps.googleusercontent.com",
    "GOCSPX-fake-google-secret",
);

/// The user code the device flow shows.
pub const USER_CODE: &str = "GQVQ-JKEC";

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct GoogleOptions {
    /// The `interval` of the device flow, in seconds (Google says 5).
    pub device_interval: u64,
    /// How many polls of a device code get the 428 `authorization_pending` first.
    pub pending_polls: u32,
    /// `expires_in` of access tokens (Google: 3599).
    pub expires_in: u64,
}

impl Default for GoogleOptions {
    fn default() -> Self {
        Self {
            device_interval: 5,
            pending_polls: 1,
            expires_in: 3599,
        }
    }
}

#[derive(Debug)]
struct Shared {
    options: GoogleOptions,
    issuer: String,
    codes: Issued,
    refresh_tokens: Issued,
    devices: Mutex<HashMap<String, (Authorized, u32)>>,
}

/// A running fake Google on a free loopback port; stopped when dropped.
#[derive(Debug)]
pub struct FakeGoogle {
    running: Running,
}

impl FakeGoogle {
    /// Starts the fake with `options`.
    pub fn start(options: GoogleOptions) -> FakeGoogle {
        let running = Running::start(|base| {
            let shared = Arc::new(Shared {
                options,
                issuer: base.to_owned(),
                codes: Issued::default(),
                refresh_tokens: Issued::default(),
                devices: Mutex::new(HashMap::new()),
            });
            Router::new()
                .route("/.well-known/openid-configuration", get(discovery))
                .route("/o/oauth2/v2/auth", get(authorize))
                .route("/token", post(token))
                .route("/device/code", post(device_code))
                .route(
                    "/oauth2/v3/certs",
                    get(|| async { axum::Json(signing::jwks()) }),
                )
                .with_state(shared)
        });
        FakeGoogle { running }
    }

    /// The issuer: `http://127.0.0.1:PORT` (standing for `https://accounts.google.com`).
    pub fn issuer(&self) -> &str {
        self.running.base_url()
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.running.seen()
    }

    /// How many requests went to `method path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.running.count(method, path)
    }
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    let base = &shared.issuer;
    json(
        StatusCode::OK,
        serde_json::json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/o/oauth2/v2/auth"),
            "device_authorization_endpoint": format!("{base}/device/code"),
            "token_endpoint": format!("{base}/token"),
            "userinfo_endpoint": format!("{base}/v1/userinfo"),
            "revocation_endpoint": format!("{base}/revoke"),
            "jwks_uri": format!("{base}/oauth2/v3/certs"),
            "response_types_supported": ["code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token", "none"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "name", "picture", "sub"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        }),
    )
}

/// Google's names for the short scopes.
fn granted_scope(requested: &str) -> String {
    requested
        .split_whitespace()
        .map(|s| match s {
            "email" => "https://www.googleapis.com/auth/userinfo.email",
            "profile" => "https://www.googleapis.com/auth/userinfo.profile",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if query.get("client_id").map(String::as_str) != Some(CLIENT.0) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    let code = shared.codes.issue(
        "4/0A-fake-",
        Authorized {
            scope: granted_scope(query.get("scope").map(String::as_str).unwrap_or("")),
            nonce: query.get("nonce").cloned(),
            offline: query.get("access_type").map(String::as_str) == Some("offline"),
            expires_at: Some(Instant::now() + Duration::from_secs(600)),
            ..Authorized::default()
        },
    );
    redirect_with_code(&query, &code)
}

async fn device_code(
    State(shared): State<Arc<Shared>>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if form.get("client_id").map(String::as_str) != Some(CLIENT.0) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    let device_code = signing::opaque("AH-1Ng");
    shared.devices.lock().expect("lock").insert(
        device_code.clone(),
        (
            Authorized {
                scope: granted_scope(form.get("scope").map(String::as_str).unwrap_or("")),
                offline: true,
                ..Authorized::default()
            },
            0,
        ),
    );
    json(
        StatusCode::OK,
        serde_json::json!({
            "device_code": device_code,
            "user_code": USER_CODE,
            "verification_url": "https://www.google.com/device",
            "expires_in": 1800,
            "interval": shared.options.device_interval,
        }),
    )
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
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    match field("grant_type") {
        Some("authorization_code") => match field("code").and_then(|c| shared.codes.take(c)) {
            Some(a) if !a.expired() => tokens(&shared, a, true),
            _ => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request"),
        },
        // Google keeps the refresh token: no new one in the answer.
        Some("refresh_token") => {
            match field("refresh_token").and_then(|r| shared.refresh_tokens.get(r)) {
                Some(a) => tokens(&shared, a, false),
                None => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                ),
            }
        }
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let mut devices = shared.devices.lock().expect("lock");
            let Some((authorized, polls)) = field("device_code").and_then(|c| devices.get_mut(c))
            else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Malformed auth code.",
                );
            };
            *polls += 1;
            if *polls <= shared.options.pending_polls {
                return oauth_error(
                    StatusCode::PRECONDITION_REQUIRED,
                    "authorization_pending",
                    "Precondition Required.",
                );
            }
            let authorized = authorized.clone();
            if let Some(code) = field("device_code") {
                devices.remove(code);
            }
            drop(devices);
            tokens(&shared, authorized, true)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type: ",
        ),
    }
}

fn tokens(shared: &Shared, authorized: Authorized, new_refresh_token: bool) -> Response {
    let mut body = serde_json::json!({
        "access_token": signing::opaque("ya29.a0-fake-"),
        "expires_in": shared.options.expires_in,
        "scope": authorized.scope,
        "token_type": "Bearer",
    });
    if authorized.has_scope("openid") {
        let extra = serde_json::json!({
            "azp": CLIENT.0,
            "email": "alice@example.org",
            "email_verified": true
        });
        body["id_token"] = signing::id_token(
            &shared.issuer,
            CLIENT.0,
            "110169484474386276334",
            authorized.nonce.as_deref(),
            extra,
        )
        .into();
    }
    if new_refresh_token && authorized.offline {
        body["refresh_token"] = shared
            .refresh_tokens
            .issue(
                "1//0g-fake-",
                Authorized {
                    nonce: None,
                    ..authorized
                },
            )
            .into();
    }
    json(StatusCode::OK, body)
}
