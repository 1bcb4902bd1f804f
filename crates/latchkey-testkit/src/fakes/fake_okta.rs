//! `fake_okta`: an Okta org with its org authorization server and custom authorization
//! servers, as documented:
//!
//! - Two kinds of authorization server: the **org** one (issuer `https://{yourOktaDomain}`,
//!   endpoints `/oauth2/v1/*`), whose access tokens are for Okta's own APIs only, and
//!   **custom** ones (issuer `https://{yourOktaDomain}/oauth2/{authorizationServerId}`,
//!   endpoints `/oauth2/{authorizationServerId}/v1/*`), `default` being the one every
//!   developer org has: <https://developer.okta.com/docs/concepts/auth-servers/>.
//! - Each publishes `/.well-known/openid-configuration` and
//!   `/.well-known/oauth-authorization-server` under its issuer; an unknown server id is a
//!   404 in Okta's API error format (`errorCode` `E0000007`, not an OAuth error):
//!   <https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/CustomAS/> and
//!   <https://developer.okta.com/docs/reference/error-codes/>.
//! - Client credentials: a custom server needs a `scope` (it has no default scopes) and
//!   only grants its own custom scopes; the org server grants only `okta.*` scopes, to
//!   `private_key_jwt` clients, and refuses custom scopes with `invalid_scope` "Custom
//!   scopes are not allowed for this request.":
//!   <https://developer.okta.com/docs/guides/implement-grant-type/clientcreds/main/> and
//!   <https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/>.
//! - A refresh token only with `offline_access`; refresh-token rotation is a per-app
//!   setting ("Rotate token after every use", with a grace period that the fake sets to 0):
//!   <https://developer.okta.com/docs/guides/refresh-tokens/main/>.
//! - Access tokens of custom servers are JWTs with `aud` `api://default` (the default
//!   server's audience): <https://developer.okta.com/docs/guides/validate-access-tokens/>.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};

use super::server::{
    Authorized, Issued, Running, Seen, client_credentials, json, oauth_error, redirect_with_code,
};
use super::signing;

/// The id of a custom authorization server besides `default`.
pub const AUTH_SERVER_ID: &str = "aus8fakecustom0id5d7";

/// The custom scopes the custom servers define.
pub const CUSTOM_SCOPES: [&str; 2] = ["api:read", "api:write"];

/// The OIDC web app (client secret, sent with `client_secret_basic` or `_post`); its grant
/// types: authorization code, refresh token, resource owner password, client credentials.
pub const CLIENT: (&str, &str) = ("0oa1fakeoktaclient5d7", "fake-okta-secret");

/// A user of the org.
pub const USER: (&str, &str) = ("alice@example.org", "alice-password");

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct OktaOptions {
    /// "Rotate token after every use": each refresh answers a new refresh token and retires
    /// the old one. `false`: persistent refresh tokens (the web app default).
    pub rotate_refresh_tokens: bool,
    /// `expires_in` of access tokens (Okta: 3600).
    pub expires_in: u64,
}

impl Default for OktaOptions {
    fn default() -> Self {
        Self {
            rotate_refresh_tokens: false,
            expires_in: 3600,
        }
    }
}

#[derive(Debug)]
struct Shared {
    options: OktaOptions,
    base: String,
    codes: Issued,
    refresh_tokens: Issued,
}

/// A running fake Okta org on a free loopback port; stopped when dropped.
#[derive(Debug)]
pub struct FakeOkta {
    running: Running,
}

/// Which authorization server a path names.
#[derive(Debug, Clone, PartialEq)]
enum Server {
    Org,
    Custom(String),
}

impl Server {
    fn issuer(&self, base: &str) -> String {
        match self {
            Server::Org => base.to_owned(),
            Server::Custom(id) => format!("{base}/oauth2/{id}"),
        }
    }

    /// Where its `/v1/*` endpoints are.
    fn endpoints(&self, base: &str) -> String {
        match self {
            Server::Org => format!("{base}/oauth2"),
            Server::Custom(id) => format!("{base}/oauth2/{id}"),
        }
    }
}

impl FakeOkta {
    /// Starts the fake with `options`.
    pub fn start(options: OktaOptions) -> FakeOkta {
        let running = Running::start(|base| {
            let shared = Arc::new(Shared {
                options,
                base: base.to_owned(),
                codes: Issued::default(),
                refresh_tokens: Issued::default(),
            });
            let keys = || async { axum::Json(signing::jwks()) };
            Router::new()
                .route("/.well-known/openid-configuration", get(org_discovery))
                .route(
                    "/.well-known/oauth-authorization-server",
                    get(org_discovery),
                )
                .route("/oauth2/v1/authorize", get(org_authorize))
                .route("/oauth2/v1/token", post(org_token))
                .route("/oauth2/v1/keys", get(keys))
                .route(
                    "/oauth2/{server}/.well-known/openid-configuration",
                    get(custom_discovery),
                )
                .route(
                    "/oauth2/{server}/.well-known/oauth-authorization-server",
                    get(custom_discovery),
                )
                .route("/oauth2/{server}/v1/authorize", get(custom_authorize))
                .route("/oauth2/{server}/v1/token", post(custom_token))
                .route("/oauth2/{server}/v1/keys", get(keys))
                .with_state(shared)
        });
        FakeOkta { running }
    }

    /// `http://127.0.0.1:PORT`: the org, and the org authorization server's issuer.
    pub fn org_issuer(&self) -> &str {
        self.running.base_url()
    }

    /// The issuer of the custom authorization server `id` (`default` or [`AUTH_SERVER_ID`]).
    pub fn custom_issuer(&self, id: &str) -> String {
        format!("{}/oauth2/{id}", self.running.base_url())
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

fn known(id: &str) -> bool {
    id == "default" || id == AUTH_SERVER_ID
}

/// Okta's API error for an authorization server it does not have.
fn no_such_server(id: &str) -> Response {
    json(
        StatusCode::NOT_FOUND,
        serde_json::json!({
            "errorCode": "E0000007",
            "errorSummary": format!("Not found: Resource not found: {id} (AuthorizationServer)"),
            "errorLink": "E0000007",
            "errorId": "oaefakeerrorid",
            "errorCauses": [],
        }),
    )
}

fn discovery(shared: &Shared, server: &Server) -> Response {
    let issuer = server.issuer(&shared.base);
    let at = server.endpoints(&shared.base);
    let mut scopes = vec!["openid", "profile", "email", "offline_access"];
    if matches!(server, Server::Custom(_)) {
        scopes.extend(CUSTOM_SCOPES);
    }
    json(
        StatusCode::OK,
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{at}/v1/authorize"),
            "token_endpoint": format!("{at}/v1/token"),
            "userinfo_endpoint": format!("{at}/v1/userinfo"),
            "registration_endpoint": format!("{}/oauth2/v1/clients", shared.base),
            "jwks_uri": format!("{at}/v1/keys"),
            "response_types_supported": ["code", "id_token", "code id_token", "code token", "id_token token", "code id_token token"],
            "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "password", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": scopes,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
            "code_challenge_methods_supported": ["S256"],
            "introspection_endpoint": format!("{at}/v1/introspect"),
            "revocation_endpoint": format!("{at}/v1/revoke"),
            "end_session_endpoint": format!("{at}/v1/logout"),
            "device_authorization_endpoint": format!("{at}/v1/device/authorize"),
        }),
    )
}

async fn org_discovery(State(shared): State<Arc<Shared>>) -> Response {
    discovery(&shared, &Server::Org)
}

async fn custom_discovery(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    if !known(&id) {
        return no_such_server(&id);
    }
    discovery(&shared, &Server::Custom(id))
}

fn authorize(shared: &Shared, server: Server, query: &HashMap<String, String>) -> Response {
    if query.get("client_id").map(String::as_str) != Some(CLIENT.0) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "The requested client was not found in this organization.",
        );
    }
    let scope = query.get("scope").cloned().unwrap_or_default();
    let mut extra = HashMap::new();
    extra.insert("server".into(), server.issuer(&shared.base));
    let code = shared.codes.issue(
        "",
        Authorized {
            offline: scope.split_whitespace().any(|s| s == "offline_access"),
            scope,
            nonce: query.get("nonce").cloned(),
            expires_at: Some(Instant::now() + Duration::from_secs(60)),
            extra,
        },
    );
    redirect_with_code(query, &code)
}

async fn org_authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    authorize(&shared, Server::Org, &query)
}

async fn custom_authorize(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !known(&id) {
        return no_such_server(&id);
    }
    authorize(&shared, Server::Custom(id), &query)
}

async fn org_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    token(&shared, Server::Org, &headers, &form)
}

async fn custom_token(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if !known(&id) {
        return no_such_server(&id);
    }
    token(&shared, Server::Custom(id), &headers, &form)
}

fn token(
    shared: &Shared,
    server: Server,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str);
    let (id, secret) = client_credentials(headers, form);
    if id.as_deref() != Some(CLIENT.0) || secret.as_deref() != Some(CLIENT.1) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client secret supplied for a confidential client is invalid.",
        );
    }
    let scope = field("scope").unwrap_or("").to_owned();
    let offline = scope.split_whitespace().any(|s| s == "offline_access");
    let issuer = server.issuer(&shared.base);
    let authorized = match field("grant_type") {
        Some("client_credentials") => {
            if server == Server::Org {
                if scope.split_whitespace().any(|s| !s.starts_with("okta.")) {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        "Custom scopes are not allowed for this request.",
                    );
                }
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Client Credentials requests to the Org Authorization Server must use the private_key_jwt token_endpoint_auth_method.",
                );
            }
            if scope.is_empty() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
                );
            }
            if scope
                .split_whitespace()
                .any(|s| !CUSTOM_SCOPES.contains(&s))
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "One or more scopes are not configured for the authorization server resource.",
                );
            }
            Authorized {
                scope,
                ..Authorized::default()
            }
        }
        Some("password") => {
            if field("username") != Some(USER.0) || field("password") != Some(USER.1) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The credentials provided were invalid.",
                );
            }
            Authorized {
                scope,
                offline,
                ..Authorized::default()
            }
        }
        Some("authorization_code") => match field("code").and_then(|c| shared.codes.take(c)) {
            Some(a) if !a.expired() && a.extra.get("server") == Some(&issuer) => a,
            _ => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The authorization code is invalid or has expired.",
                );
            }
        },
        Some("refresh_token") => {
            let presented = field("refresh_token").unwrap_or_default();
            let found = if shared.options.rotate_refresh_tokens {
                shared.refresh_tokens.take(presented)
            } else {
                shared.refresh_tokens.get(presented)
            };
            match found {
                Some(a) if a.extra.get("server") == Some(&issuer) => {
                    Authorized { nonce: None, ..a }
                }
                _ => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The refresh token is invalid or expired.",
                    );
                }
            }
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server. Configured grant types: [authorization_code, refresh_token, password, client_credentials].",
            );
        }
    };
    tokens(shared, &server, authorized, field("refresh_token"))
}

fn tokens(
    shared: &Shared,
    server: &Server,
    mut authorized: Authorized,
    presented: Option<&str>,
) -> Response {
    let issuer = server.issuer(&shared.base);
    authorized.extra.insert("server".into(), issuer.clone());
    let mut claims = serde_json::Map::new();
    claims.insert("ver".into(), 1.into());
    claims.insert("iss".into(), issuer.clone().into());
    let audience = match server {
        Server::Org => shared.base.clone(),
        Server::Custom(_) => "api://default".into(),
    };
    claims.insert("aud".into(), audience.into());
    claims.insert("cid".into(), CLIENT.0.into());
    claims.insert(
        "scp".into(),
        authorized
            .scope
            .split_whitespace()
            .collect::<Vec<_>>()
            .into(),
    );
    claims.insert("sub".into(), USER.0.into());
    let mut body = serde_json::json!({
        "token_type": "Bearer",
        "expires_in": shared.options.expires_in,
        "access_token": signing::sign(claims),
        "scope": authorized.scope,
    });
    if authorized.has_scope("openid") {
        let extra = serde_json::json!({
            "preferred_username": USER.0
        });
        body["id_token"] = signing::id_token(
            &issuer,
            CLIENT.0,
            "00u1fakeuserid5d7",
            authorized.nonce.as_deref(),
            extra,
        )
        .into();
    }
    if authorized.offline {
        body["refresh_token"] = match presented {
            // A persistent refresh token is answered again as it is.
            Some(old) if !shared.options.rotate_refresh_tokens => old.to_owned(),
            _ => shared
                .refresh_tokens
                .issue("fake-okta-refresh-", authorized),
        }
        .into();
    }
    json(StatusCode::OK, body)
}
