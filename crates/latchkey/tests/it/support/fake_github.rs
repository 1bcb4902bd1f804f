//! `fake_github_app_token_api`: GitHub's "Delete an app token" endpoint, which the fixture
//! (an OpenID provider speaking RFC 7009) cannot play. Modelled on GitHub's documentation,
//! https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token:
//! `DELETE /applications/{client_id}/token`, HTTP Basic `client_id:client_secret`, JSON body
//! `{"access_token": "…"}`, `204 No Content` on success and `422 Validation failed` for a
//! token it does not know. Unknown client credentials get GitHub's `404 Not Found`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::delete;
use base64::Engine as _;
use serde_json::{Value, json};

use super::oidc;

/// One request the fake received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub client_id: String,
    /// The decoded `Authorization: Basic` credentials, `id:secret`.
    pub basic: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

#[derive(Clone)]
struct Fake {
    client_id: &'static str,
    secret: &'static str,
    /// Access tokens GitHub would still accept; a revoked one is removed.
    live: Arc<Mutex<Vec<String>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// The fake API at a loopback base URL, for `client_id`/`secret`, knowing `tokens`.
pub(crate) async fn fake_github_app_token_api(
    client_id: &'static str,
    secret: &'static str,
    tokens: &[&str],
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let fake = Fake {
        client_id,
        secret,
        live: Arc::new(Mutex::new(tokens.iter().map(|t| t.to_string()).collect())),
        seen: Arc::default(),
    };
    let seen = fake.seen.clone();
    let router = Router::new()
        .route("/applications/{client_id}/token", delete(delete_token))
        .with_state(fake);
    (oidc::serve(router).await, seen)
}

async fn delete_token(
    State(fake): State<Fake>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.seen.lock().unwrap().push(Seen {
        client_id: client_id.clone(),
        basic: basic.clone(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: body.clone(),
    });
    let expected = format!("{}:{}", fake.client_id, fake.secret);
    if client_id != fake.client_id || basic.as_deref() != Some(expected.as_str()) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({
                "message": "Not Found",
                "documentation_url": "https://docs.github.com/rest/apps/oauth-applications#delete-an-app-token",
                "status": "404"
            })),
        )
            .into_response();
    }
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    let mut live = fake.live.lock().unwrap();
    match live.iter().position(|t| *t == token) {
        Some(at) => {
            live.remove(at);
            StatusCode::NO_CONTENT.into_response()
        }
        None => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({
                "message": "Validation Failed",
                "documentation_url": "https://docs.github.com/rest/apps/oauth-applications#delete-an-app-token",
                "status": "422"
            })),
        )
            .into_response(),
    }
}
