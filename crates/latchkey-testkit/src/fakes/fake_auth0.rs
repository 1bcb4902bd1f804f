//! `fake_auth0`: an Auth0 tenant's Authentication API, as documented:
//!
//! - Discovery at `https://{yourDomain}/.well-known/openid-configuration`, whose issuer
//!   ends with a slash (`https://{yourDomain}/`); the token endpoint is `/oauth/token`:
//!   <https://auth0.com/docs/get-started/applications/configure-applications-with-oidc-discovery>
//!   and <https://auth0.com/docs/api/authentication>.
//! - `audience` names the API an access token is for. Without it (and without a tenant
//!   default audience) a login gets an opaque access token, good only for `/userinfo`;
//!   with it, a JWT whose `aud` is that API:
//!   <https://auth0.com/docs/secure/tokens/access-tokens/get-access-tokens> and
//!   <https://auth0.com/docs/secure/tokens/access-tokens/opaque-access-tokens>. Client
//!   credentials always need it (the default audience does not apply to them): a request
//!   without one is refused with `access_denied`:
//!   <https://auth0.com/docs/get-started/authentication-and-authorization-flow/client-credentials-flow/call-your-api-using-the-client-credentials-flow>.
//! - A refresh token only with `offline_access`; with refresh-token rotation on, each
//!   refresh answers a new one, and reusing a retired one is `invalid_grant` and revokes
//!   the whole family (reuse detection):
//!   <https://auth0.com/docs/secure/tokens/refresh-tokens/refresh-token-rotation>.
//! - Errors come with HTTP 403 for `invalid_grant` and `access_denied`, and 401 for bad
//!   client credentials (`access_denied` "Unauthorized"), as the Authentication API's
//!   error table lists them: <https://auth0.com/docs/api/authentication#standard-error-responses>.

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

/// The API registered in the tenant: its identifier is the `audience`.
pub const API_AUDIENCE: &str = "https://api.example.org";

/// The application (a "Regular Web App" with the password and client-credentials grants,
/// authorized for the API).
pub const CLIENT: (&str, &str) = ("fakeAuth0ClientId7d5f", "fake-auth0-secret");

/// A user in the tenant's default directory.
pub const USER: (&str, &str) = ("alice@example.org", "alice-password");

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct Auth0Options {
    /// Refresh-token rotation (with reuse detection); off: refresh tokens are reused.
    pub rotate_refresh_tokens: bool,
    /// `expires_in` of access tokens (Auth0's default: 86400).
    pub expires_in: u64,
}

impl Default for Auth0Options {
    fn default() -> Self {
        Self {
            rotate_refresh_tokens: true,
            expires_in: 86400,
        }
    }
}

#[derive(Debug)]
struct Shared {
    options: Auth0Options,
    base: String,
    codes: Issued,
    refresh_tokens: Issued,
    /// Refresh tokens retired by rotation, with their family.
    retired: Mutex<HashMap<String, String>>,
    /// Families revoked by reuse detection.
    revoked_families: Mutex<Vec<String>>,
}

/// A running fake Auth0 tenant on a free loopback port; stopped when dropped.
#[derive(Debug)]
pub struct FakeAuth0 {
    running: Running,
}

impl FakeAuth0 {
    /// Starts the fake with `options`.
    pub fn start(options: Auth0Options) -> FakeAuth0 {
        let running = Running::start(|base| {
            let shared = Arc::new(Shared {
                options,
                base: base.to_owned(),
                codes: Issued::default(),
                refresh_tokens: Issued::default(),
                retired: Mutex::new(HashMap::new()),
                revoked_families: Mutex::new(Vec::new()),
            });
            Router::new()
                .route("/.well-known/openid-configuration", get(discovery))
                .route(
                    "/.well-known/jwks.json",
                    get(|| async { axum::Json(signing::jwks()) }),
                )
                .route("/authorize", get(authorize))
                .route("/oauth/token", post(token))
                .with_state(shared)
        });
        FakeAuth0 { running }
    }

    /// `http://127.0.0.1:PORT/`: the issuer, with Auth0's trailing slash.
    pub fn issuer(&self) -> String {
        format!("{}/", self.running.base_url())
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.running.seen()
    }

    /// The token requests so far.
    pub fn token_requests(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path == "/oauth/token")
            .collect()
    }
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    let base = &shared.base;
    json(
        StatusCode::OK,
        serde_json::json!({
            "issuer": format!("{base}/"),
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/oauth/token"),
            "device_authorization_endpoint": format!("{base}/oauth/device/code"),
            "userinfo_endpoint": format!("{base}/userinfo"),
            "mfa_challenge_endpoint": format!("{base}/mfa/challenge"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "registration_endpoint": format!("{base}/oidc/register"),
            "revocation_endpoint": format!("{base}/oauth/revoke"),
            "end_session_endpoint": format!("{base}/oidc/logout"),
            "scopes_supported": ["openid", "profile", "offline_access", "name", "given_name", "family_name", "nickname", "email", "email_verified", "picture", "created_at", "identities", "phone", "address"],
            "response_types_supported": ["code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "claims_supported": ["aud", "auth_time", "created_at", "email", "email_verified", "exp", "family_name", "given_name", "iat", "identities", "iss", "name", "nickname", "phone_number", "picture", "sub"],
            "request_uri_parameter_supported": false,
            "request_parameter_supported": false,
            "id_token_signing_alg_values_supported": ["HS256", "RS256", "PS256"],
            "end_session_endpoint_methods_supported": ["GET"],
        }),
    )
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if query.get("client_id").map(String::as_str) != Some(CLIENT.0) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Unknown client.",
        );
    }
    let scope = query.get("scope").cloned().unwrap_or_default();
    let mut extra = HashMap::new();
    if let Some(audience) = query.get("audience") {
        extra.insert("audience".into(), audience.clone());
    }
    let code = shared.codes.issue(
        "",
        Authorized {
            offline: scope.split_whitespace().any(|s| s == "offline_access"),
            scope,
            nonce: query.get("nonce").cloned(),
            expires_at: Some(Instant::now() + Duration::from_secs(600)),
            extra,
        },
    );
    redirect_with_code(&query, &code)
}

/// The API an `audience` names, or Auth0's refusal.
fn audience_of(form: &HashMap<String, String>) -> Result<Option<String>, Box<Response>> {
    match form.get("audience") {
        None => Ok(None),
        Some(a) if a == API_AUDIENCE => Ok(Some(a.clone())),
        Some(other) => Err(Box::new(oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            &format!("Service not found: {other}"),
        ))),
    }
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str);
    let (id, secret) = client_credentials(&headers, &form);
    if id.as_deref() != Some(CLIENT.0) || secret.as_deref() != Some(CLIENT.1) {
        return oauth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    }
    let scope = field("scope").unwrap_or("").to_owned();
    let audience = match audience_of(&form) {
        Ok(a) => a,
        Err(refusal) => return *refusal,
    };
    let mut extra = HashMap::new();
    if let Some(a) = &audience {
        extra.insert("audience".to_owned(), a.clone());
    }
    let authorized = match field("grant_type") {
        Some("client_credentials") => {
            if audience.is_none() {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "access_denied",
                    "No audience parameter was provided, and no default audience has been configured",
                );
            }
            // The client grant's scopes, whatever was asked.
            Authorized {
                scope: "read:things".into(),
                extra,
                ..Authorized::default()
            }
        }
        Some("password") => {
            if field("username") != Some(USER.0) || field("password") != Some(USER.1) {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "invalid_grant",
                    "Wrong email or password.",
                );
            }
            Authorized {
                offline: scope.split_whitespace().any(|s| s == "offline_access"),
                scope,
                extra,
                ..Authorized::default()
            }
        }
        Some("authorization_code") => match field("code").and_then(|c| shared.codes.take(c)) {
            Some(a) if !a.expired() => a,
            _ => {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "invalid_grant",
                    "Invalid authorization code",
                );
            }
        },
        Some("refresh_token") => match refresh(&shared, field("refresh_token").unwrap_or_default())
        {
            Ok(a) => a,
            Err(refusal) => return *refusal,
        },
        Some(other) => {
            return oauth_error(
                StatusCode::FORBIDDEN,
                "unsupported_grant_type",
                &format!("Grant type '{other}' not allowed for the client."),
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing required parameter: grant_type",
            );
        }
    };
    tokens(&shared, authorized, field("refresh_token"))
}

/// A refresh: with rotation the presented token retires; presenting a retired one revokes
/// its whole family.
fn refresh(shared: &Shared, presented: &str) -> Result<Authorized, Box<Response>> {
    let refused = || {
        Box::new(oauth_error(
            StatusCode::FORBIDDEN,
            "invalid_grant",
            "Unknown or invalid refresh token.",
        ))
    };
    if let Some(family) = shared.retired.lock().expect("lock").get(presented) {
        shared
            .revoked_families
            .lock()
            .expect("lock")
            .push(family.clone());
        return Err(refused());
    }
    let found = if shared.options.rotate_refresh_tokens {
        shared.refresh_tokens.take(presented)
    } else {
        shared.refresh_tokens.get(presented)
    };
    let Some(authorized) = found else {
        return Err(refused());
    };
    let family = authorized.extra.get("family").cloned().unwrap_or_default();
    if shared
        .revoked_families
        .lock()
        .expect("lock")
        .contains(&family)
    {
        return Err(refused());
    }
    if shared.options.rotate_refresh_tokens {
        shared
            .retired
            .lock()
            .expect("lock")
            .insert(presented.to_owned(), family);
    }
    Ok(Authorized {
        nonce: None,
        ..authorized
    })
}

fn tokens(shared: &Shared, mut authorized: Authorized, presented: Option<&str>) -> Response {
    let issuer = format!("{}/", shared.base);
    let audience = authorized.extra.get("audience").cloned();
    let access_token = match &audience {
        Some(api) => {
            let mut claims = serde_json::Map::new();
            claims.insert("iss".into(), issuer.clone().into());
            claims.insert("sub".into(), "auth0|fakeuser".into());
            let mut aud = vec![serde_json::Value::from(api.clone())];
            if authorized.has_scope("openid") {
                aud.push(format!("{}/userinfo", shared.base).into());
            }
            claims.insert("aud".into(), aud.into());
            claims.insert("azp".into(), CLIENT.0.into());
            claims.insert("scope".into(), authorized.scope.clone().into());
            signing::sign(claims)
        }
        // Not a JWT: nothing an API could validate.
        None => signing::opaque("fake-auth0-opaque-"),
    };
    let mut body = serde_json::json!({
        "access_token": access_token,
        "expires_in": shared.options.expires_in,
        "token_type": "Bearer",
        "scope": authorized.scope,
    });
    if authorized.has_scope("openid") {
        let extra = serde_json::json!({
            "email": USER.0
        });
        body["id_token"] = signing::id_token(
            &issuer,
            CLIENT.0,
            "auth0|fakeuser",
            authorized.nonce.as_deref(),
            extra,
        )
        .into();
    }
    if authorized.offline {
        if !authorized.extra.contains_key("family") {
            authorized
                .extra
                .insert("family".into(), signing::opaque("family-"));
        }
        body["refresh_token"] = match presented {
            Some(old) if !shared.options.rotate_refresh_tokens => old.to_owned(),
            _ => shared
                .refresh_tokens
                .issue("v1.fake-auth0-refresh-", authorized),
        }
        .into();
    }
    json(StatusCode::OK, body)
}
