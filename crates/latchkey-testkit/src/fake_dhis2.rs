//! `fake_dhis2`: a loopback server that answers like a DHIS2 instance where the identity
//! provider fixture cannot: DHIS2's authorization server switched off, its token endpoint's
//! trailing-slash redirect, and its API's refusals of bearer tokens.
//!
//! Sources, and how sure each behaviour is (docs/seeds.md keeps the same list):
//!
//! - Verified against the DHIS2 documentation
//!   (<https://github.com/dhis2/dhis2-docs/blob/master/src/sysadmin/reference/oauth.md>,
//!   published at docs.dhis2.org under "OpenID Connect (OIDC) configuration"): the API takes
//!   JWT bearer tokens only with `oidc.jwt.token.authentication.enabled = on`; a token maps
//!   to the DHIS2 user whose *OpenID* field equals the provider's `mapping_claim` (default
//!   `email`).
//! - From DHIS2's source (<https://github.com/dhis2/dhis2-core>,
//!   `Dhis2JwtAuthenticationManagerResolver`) and Spring Security's bearer-token entry point
//!   (which writes `error_description` into `WWW-Authenticate`): the refusal
//!   `Found no matching DHIS2 user for the mapping claim: '…' with the value: '…'` as an
//!   RFC 6750 `invalid_token` challenge.
//! - Inferred from the seeds (the dhis2w client's notes on DHIS2 2.40–2.42), not in the
//!   DHIS2 documentation: the authorization server is the `dhis.conf` key
//!   `oauth2.server.enabled`, off by default; off, `GET /.well-known/openid-configuration`
//!   answers 404 and `POST /oauth2/token` answers DHIS2's generic HTML 401 with a Basic
//!   challenge; on, `POST /oauth2/token` answers 301 to `/oauth2/token/` (fixed in 2.42.6);
//!   without bearer support the API answers a token with 401 and no Bearer challenge.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

/// The client the fake's authorization server knows, registered for `client_secret_post`
/// only, so that a test sees which method a request used (which method DHIS2's registered
/// clients take is not documented; see docs/seeds.md).
pub const CLIENT: (&str, &str) = ("dhis2-client", "dhis2-client-secret");

/// The access token the fake issues, and the only one its API takes.
pub const ACCESS_TOKEN: &str = "fake-dhis2-access-token";

/// What the fake's `/api/me` says to a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiAnswer {
    /// 200 with the user.
    Ok,
    /// 401 `invalid_token`: no user whose OpenID matches `value` of `claim`.
    UnmappedUser {
        /// The mapping claim.
        claim: String,
        /// The claim's value in the token.
        value: String,
    },
    /// 401 with a Basic challenge only: bearer tokens are not taken at all.
    NoBearerSupport,
}

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct Dhis2Options {
    /// `oauth2.server.enabled`: off answers discovery with 404 and the token endpoint with
    /// the HTML 401.
    pub oauth_enabled: bool,
    /// The status `POST /oauth2/token` answers with, pointing `Location` at
    /// [`Dhis2Options::token_redirect_location`]; `None`: it answers itself.
    pub token_redirect: Option<u16>,
    /// Where that redirect points (default `/oauth2/token/`).
    pub token_redirect_location: String,
    /// What `/api/me` says to the issued bearer token.
    pub api: ApiAnswer,
}

impl Default for Dhis2Options {
    /// DHIS2 2.42 with its authorization server on, the trailing-slash 301, and an API that
    /// takes the tokens it issues.
    fn default() -> Self {
        Self {
            oauth_enabled: true,
            token_redirect: Some(301),
            token_redirect_location: "/oauth2/token/".into(),
            api: ApiAnswer::Ok,
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`.
    pub method: String,
    /// The path.
    pub path: String,
    /// The form fields of a POST.
    pub form: HashMap<String, String>,
    /// Whether it carried an `Authorization` header.
    pub authorization: bool,
}

#[derive(Debug)]
struct Shared {
    options: Dhis2Options,
    base_url: String,
    seen: Mutex<Vec<Seen>>,
}

/// A running fake DHIS2 on a free loopback port, on its own thread and runtime (so both
/// async and blocking tests can use it); stopped when dropped.
#[derive(Debug)]
pub struct FakeDhis2 {
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeDhis2 {
    /// Starts the fake with `options`.
    pub fn start(options: Dhis2Options) -> FakeDhis2 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Arc::new(Shared {
            options,
            base_url,
            seen: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/oauth2/token", post(token))
            .route("/oauth2/token/", post(token_slashed))
            .route("/oauth2/authorize", get(authorize))
            .route("/api/me", get(me))
            .fallback(not_found)
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        FakeDhis2 {
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`: the `base_url` of a `dhis2` profile.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("lock").clone()
    }

    /// How many requests went to `method path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .count()
    }
}

impl Drop for FakeDhis2 {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn record(
    shared: &Shared,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) {
    shared.seen.lock().expect("lock").push(Seen {
        method: method.into(),
        path: path.into(),
        form: form.clone(),
        authorization: headers.contains_key(header::AUTHORIZATION),
    });
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// DHIS2's generic "not logged in" answer: an HTML page with a Basic challenge.
fn html_401() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::CONTENT_TYPE, "text/html;charset=UTF-8"),
            (header::WWW_AUTHENTICATE, "Basic realm=\"DHIS2\""),
        ],
        "<!doctype html><html><head><title>DHIS2</title></head><body>Login required</body></html>",
    )
        .into_response()
}

async fn discovery(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    record(
        &shared,
        "GET",
        "/.well-known/openid-configuration",
        &headers,
        &HashMap::new(),
    );
    if !shared.options.oauth_enabled {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html")],
            "<html>Not Found</html>",
        )
            .into_response();
    }
    let base = &shared.base_url;
    json(
        StatusCode::OK,
        serde_json::json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/oauth2/authorize"),
            "token_endpoint": format!("{base}/oauth2/token"),
            "jwks_uri": format!("{base}/oauth2/jwks"),
            "scopes_supported": ["ALL"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }),
    )
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    record(&shared, "POST", "/oauth2/token", &headers, &form);
    if !shared.options.oauth_enabled {
        return html_401();
    }
    if let Some(status) = shared.options.token_redirect {
        let status = StatusCode::from_u16(status).expect("a redirect status");
        return (
            status,
            [(
                header::LOCATION,
                shared.options.token_redirect_location.clone(),
            )],
        )
            .into_response();
    }
    answer_token(&form, &headers)
}

async fn token_slashed(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    record(&shared, "POST", "/oauth2/token/", &headers, &form);
    if !shared.options.oauth_enabled {
        return html_401();
    }
    answer_token(&form, &headers)
}

/// Spring Authorization Server's answers, for the one registered `client_secret_post`
/// client: a Basic header is not how it authenticates, so it is refused.
fn answer_token(form: &HashMap<String, String>, headers: &HeaderMap) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str);
    let oauth_error = |status, error: &str| json(status, serde_json::json!({ "error": error }));
    if headers.contains_key(header::AUTHORIZATION) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    match field("client_secret") {
        None => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client"),
        Some(secret) if field("client_id") != Some(CLIENT.0) || secret != CLIENT.1 => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
        }
        Some(_) => {}
    }
    let granted = match field("grant_type") {
        Some("client_credentials") => true,
        Some("authorization_code") => field("code") == Some("fake-dhis2-code"),
        Some(_) => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        None => false,
    };
    if !granted {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    json(
        StatusCode::OK,
        serde_json::json!({
            "access_token": ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "ALL",
        }),
    )
}

/// Signs the user in at once: redirects to `redirect_uri` with a code and the `state`.
async fn authorize(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    record(&shared, "GET", "/oauth2/authorize", &headers, &query);
    if !shared.options.oauth_enabled {
        return not_found().await;
    }
    let (Some(redirect_uri), Some(state)) = (query.get("redirect_uri"), query.get("state")) else {
        return (
            StatusCode::BAD_REQUEST,
            "redirect_uri and state are required",
        )
            .into_response();
    };
    let mut to = url::Url::parse(redirect_uri).expect("a redirect URI");
    to.query_pairs_mut()
        .append_pair("code", "fake-dhis2-code")
        .append_pair("state", state);
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

/// `GET /api/me`: the signed-in user, as DHIS2's "current user information" resource
/// answers it (<https://github.com/dhis2/dhis2-docs/blob/master/src/developer/web-api/users.md>,
/// published at docs.dhis2.org under "Users" → "Current user information"): a JSON user
/// with `username` and `name` among its fields (trimmed here to those two and `id`).
async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    record(&shared, "GET", "/api/me", &headers, &HashMap::new());
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(ACCESS_TOKEN) {
        return html_401();
    }
    match &shared.options.api {
        ApiAnswer::Ok => json(
            StatusCode::OK,
            serde_json::json!({ "id": "M5zQapPyTZI", "username": "admin", "name": "admin admin" }),
        ),
        ApiAnswer::UnmappedUser { claim, value } => {
            let challenge = format!(
                "Bearer error=\"invalid_token\", error_description=\"Found no matching DHIS2 user for the mapping claim: '{claim}' with the value: '{value}'\", error_uri=\"https://tools.ietf.org/html/rfc6750#section-3.1\""
            );
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, challenge)],
            )
                .into_response()
        }
        ApiAnswer::NoBearerSupport => html_401(),
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}
