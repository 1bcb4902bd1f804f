//! A small web app that signs users in with latchkey-axum: a login button, the signed-in
//! user's name, a call to a protected API with the session's access token, and logout.
//!
//! ```sh
//! LATCHKEY_ISSUER=http://127.0.0.1:PORT LATCHKEY_CLIENT_SECRET=web-app-secret \
//!     cargo run -p latchkey-axum --example web_app
//! ```
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LATCHKEY_ISSUER` | (required) | the OpenID provider |
//! | `LATCHKEY_CLIENT_ID` | `web-app` | the confidential web client |
//! | `LATCHKEY_CLIENT_SECRET` | (required) | its secret (client_secret_basic) |
//! | `WEB_APP_BIND` | `127.0.0.1:18080` | listen address (loopback unless you say otherwise) |
//! | `WEB_APP_PUBLIC_URL` | `http://<bind>` | the origin browsers use (https unless loopback) |
//! | `WEB_APP_COOKIE_KEY` | random per start | ≥ 32 bytes; set it to keep sessions across restarts and instances |
//! | `WEB_APP_PROMPT` | none | e.g. `consent` (oidc-provider issues refresh tokens only after consent) |
//! | `WEB_APP_REDIS_URL` | none | share sessions through Redis (needs `--features redis`) |
//!
//! The protected API (`/api/hello`) is an ordinary bearer-token API: it asks the provider's
//! userinfo endpoint who the token belongs to, the way a separate resource server would.

use std::error::Error;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use latchkey::{ClientAuth, ExposeSecret, OidcProvider, SecretString};
use latchkey_axum::{AuthenticatedUser, SessionStore, WebAuth};
use rand::RngExt;
use serde_json::json;

type BoxError = Box<dyn Error + Send + Sync>;

/// The example's settings.
pub(crate) struct Config {
    /// The OpenID provider's issuer URL.
    pub issuer: String,
    /// The web client's id.
    pub client_id: String,
    /// The web client's secret.
    pub client_secret: SecretString,
    /// Where to listen.
    pub bind: SocketAddr,
    /// The origin browsers use.
    pub public_url: String,
    /// The cookie signing key (≥ 32 bytes).
    pub cookie_key: secrecy::SecretSlice<u8>,
    /// An extra `prompt` for the authorization request.
    pub prompt: Option<String>,
    /// Redis for shared sessions.
    pub redis_url: Option<String>,
}

impl Config {
    /// Reads the settings from the environment (see the module docs).
    pub(crate) fn from_env() -> Result<Self, BoxError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let issuer = var("LATCHKEY_ISSUER").ok_or("set LATCHKEY_ISSUER to the provider's URL")?;
        let client_secret = var("LATCHKEY_CLIENT_SECRET")
            .ok_or("set LATCHKEY_CLIENT_SECRET to the web client's secret")?;
        let bind: SocketAddr = var("WEB_APP_BIND")
            .unwrap_or_else(|| "127.0.0.1:18080".into())
            .parse()?;
        let cookie_key = match var("WEB_APP_COOKIE_KEY") {
            Some(key) => key.into_bytes(),
            None => {
                tracing::warn!("WEB_APP_COOKIE_KEY is not set: sessions end when the app stops");
                rand::rng().random::<[u8; 32]>().to_vec()
            }
        };
        Ok(Self {
            issuer,
            client_id: var("LATCHKEY_CLIENT_ID").unwrap_or_else(|| "web-app".into()),
            client_secret: client_secret.into(),
            public_url: var("WEB_APP_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}")),
            bind,
            cookie_key: cookie_key.into(),
            prompt: var("WEB_APP_PROMPT"),
            redis_url: var("WEB_APP_REDIS_URL"),
        })
    }
}

/// The whole app: pages, the protected API and the `/auth/*` routes.
pub(crate) async fn app(config: Config) -> Result<Router, BoxError> {
    let provider = OidcProvider::discover(&config.issuer).await?;
    let client = provider
        .client_builder(&config.client_id)
        .auth(ClientAuth::SecretBasic(config.client_secret))
        .build()?;
    let store = match &config.redis_url {
        #[cfg(feature = "redis")]
        Some(url) => SessionStore::redis(url).await?,
        #[cfg(not(feature = "redis"))]
        Some(_) => return Err("WEB_APP_REDIS_URL needs `--features redis`".into()),
        None => SessionStore::memory(),
    };
    let loopback = url::Url::parse(&config.public_url).is_ok_and(|u| latchkey::is_loopback(&u));
    let mut builder = WebAuth::builder(provider.clone(), client, &config.public_url)
        .cookie_key(config.cookie_key)
        .store(store)
        .loopback_development(loopback);
    if let Some(prompt) = config.prompt {
        builder = builder.param("prompt", prompt);
    }
    let auth = builder.build()?;
    let state = AppState {
        provider,
        api: format!("{}/api/hello", auth.origin()),
        http: latchkey::http_client()?,
    };
    let pages = Router::new()
        .route("/", get(home))
        .route("/call-api", get(call_api))
        .route("/api/hello", get(hello_api))
        .with_state(state);
    Ok(auth.attach(pages))
}

#[derive(Clone)]
struct AppState {
    provider: OidcProvider,
    api: String,
    http: reqwest::Client,
}

fn page(body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>latchkey web app</title>\
         <style>body{{font-family:sans-serif;max-width:40em;margin:3em auto}}\
         button,a.button{{font-size:1.1em;padding:.4em 1em}}</style></head>\
         <body><h1>latchkey web app</h1>{body}</body></html>"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

async fn home(user: Option<AuthenticatedUser>) -> Html<String> {
    match user {
        None => page(
            "<p id=\"status\">Not signed in.</p>\
             <p><a class=\"button\" id=\"login\" href=\"/auth/login?return_to=/\">Sign in</a></p>",
        ),
        Some(user) => page(&format!(
            "<p id=\"user\">Signed in as <strong id=\"name\">{}</strong> ({})</p>\
             <p><a class=\"button\" id=\"call-api\" href=\"/call-api\">Call the protected API</a></p>\
             <form method=\"post\" action=\"/auth/logout\">\
             <button id=\"logout\" type=\"submit\">Sign out</button></form>",
            escape(user.name().unwrap_or(user.sub())),
            escape(user.email().unwrap_or("no email")),
        )),
    }
}

/// Calls the protected API with the session's (fresh) access token.
async fn call_api(State(state): State<AppState>, user: AuthenticatedUser) -> Response {
    let answer = state
        .http
        .get(&state.api)
        .bearer_auth(user.access_token().expose_secret())
        .send()
        .await;
    let text = match answer {
        Ok(response) => {
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            format!(
                "{status}: {}",
                body["message"].as_str().unwrap_or("(no message)")
            )
        }
        Err(err) => format!("the API could not be reached: {err}"),
    };
    page(&format!(
        "<p id=\"api-result\">{}</p><p><a id=\"back\" href=\"/\">Back</a></p>",
        escape(&text)
    ))
    .into_response()
}

/// The protected API: accepts a bearer token the provider vouches for.
async fn hello_api(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| SecretString::from(t.to_owned()));
    let Some(token) = token else {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "bearer token required"})),
        )
            .into_response();
    };
    match state.provider.userinfo(&token, None).await {
        Ok(info) => {
            let name = info.claim_str("name").unwrap_or(&info.sub).to_owned();
            axum::Json(json!({ "message": format!("Hello, {name}! (sub {})", info.sub) }))
                .into_response()
        }
        Err(err) => {
            tracing::info!(error = %err, "API call with a token the provider rejects");
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"message": "invalid token"})),
            )
                .into_response()
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,latchkey=info".into()),
        )
        .init();
    let config = Config::from_env()?;
    let bind = config.bind;
    let app = app(config).await?;
    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
