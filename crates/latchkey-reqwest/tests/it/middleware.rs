//! The middleware against a real local API server (axum) and the real IdP fixture.
#![allow(
    clippy::disallowed_methods,
    reason = "the middleware wraps a caller's own client; the tests build one as callers do"
)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use latchkey::{
    BearerChallenge, BearerError, ClientAuth, ClientCredentials, OAuthClient, SecretString,
    StaticAuth, TokenManager,
};
use latchkey_reqwest::AuthMiddleware;
use latchkey_testkit::Idp;
use latchkey_testkit::clients::SVC_BASIC;

/// A protected API that rejects the first token it ever sees (as if it had been revoked) and
/// records every Authorization header it receives.
#[derive(Clone, Default)]
struct Api {
    seen: Arc<Mutex<Vec<String>>>,
    rejected: Arc<Mutex<HashSet<String>>>,
}

async fn protected(State(api): State<Api>, headers: HeaderMap) -> (StatusCode, String) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let first = {
        let mut seen = api.seen.lock().unwrap();
        seen.push(auth.clone());
        seen.len() == 1
    };
    if first {
        api.rejected.lock().unwrap().insert(auth.clone());
    }
    if auth.is_empty() || api.rejected.lock().unwrap().contains(&auth) {
        (StatusCode::UNAUTHORIZED, "token rejected".into())
    } else {
        (StatusCode::OK, "hello".into())
    }
}

async fn by_query(
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> (StatusCode, String) {
    match q.get("api_key").map(String::as_str) {
        Some("k-123") => (
            StatusCode::OK,
            format!("page {}", q.get("page").cloned().unwrap_or_default()),
        ),
        _ => (StatusCode::UNAUTHORIZED, "no key".into()),
    }
}

async fn serve(api: Api) -> String {
    let app = axum::Router::new()
        .route("/data", get(protected))
        .route("/upload", post(protected))
        .route("/q", get(by_query))
        .with_state(api);
    listen(app).await
}

/// Serves `app` on a free loopback port; returns its base URL.
async fn listen(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn manager(idp: &Idp) -> TokenManager {
    let client = OAuthClient::builder(SVC_BASIC.0)
        .auth(ClientAuth::SecretBasic(SecretString::from(SVC_BASIC.1)))
        .token_url(idp.token_url())
        .build()
        .unwrap();
    TokenManager::builder(client, ClientCredentials::new())
        .build()
        .unwrap()
}

fn client(auth: AuthMiddleware) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth)
        .build()
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_once_and_the_request_retried() {
    let idp = Idp::start().await;
    let api = Api::default();
    let base = serve(api.clone()).await;
    let http = client(AuthMiddleware::new(manager(&idp)));

    let response = http.get(format!("{base}/data")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hello");
    let seen = api.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one rejected attempt, one retry");
    assert_ne!(seen[0], seen[1], "the retry carried a new token");
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        2,
        "exactly one refresh"
    );

    // The next request reuses the new token: no refresh, no retry.
    assert_eq!(
        http.get(format!("{base}/data"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(api.seen.lock().unwrap().len(), 3);
    assert_eq!(idp.counters().await.token("client_credentials"), 2);
}

#[tokio::test]
async fn a_request_with_a_streaming_body_is_not_retried() {
    let idp = Idp::start().await;
    let api = Api::default();
    let base = serve(api.clone()).await;
    let http = client(AuthMiddleware::new(manager(&idp)));
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>("chunk".to_string())]);
    let response = http
        .post(format!("{base}/upload"))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "the 401 is returned as it is");
    assert_eq!(api.seen.lock().unwrap().len(), 1, "no retry");
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        1,
        "and no refresh"
    );
}

#[tokio::test]
async fn static_credentials_and_query_parameters() {
    let api = Api::default();
    let base = serve(api.clone()).await;
    let http = client(AuthMiddleware::new(StaticAuth::query_params([(
        "api_key",
        SecretString::from("k-123"),
    )])));
    let response = http.get(format!("{base}/q?page=2")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "page 2");

    // A static bearer token the API rejects: not retried with the same credentials.
    let http = client(AuthMiddleware::new(StaticAuth::Bearer(SecretString::from(
        "static",
    ))));
    assert_eq!(
        http.get(format!("{base}/data"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(api.seen.lock().unwrap().len(), 1);
}

/// An API that answers every request 401, with `challenge` as its `WWW-Authenticate` header
/// when given; returns its base URL.
async fn serve_always_401(api: Api, challenge: Option<&'static str>) -> String {
    let handler = move |State(api): State<Api>, headers: HeaderMap| async move {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        api.seen.lock().unwrap().push(auth);
        let mut response = HeaderMap::new();
        if let Some(challenge) = challenge {
            response.insert("www-authenticate", challenge.parse().unwrap());
        }
        (StatusCode::UNAUTHORIZED, response)
    };
    let app = axum::Router::new()
        .route("/never", get(handler))
        .with_state(api);
    listen(app).await
}

#[tokio::test]
async fn an_api_that_keeps_rejecting_gets_exactly_one_retry() {
    for challenge in [None, Some(r#"Bearer realm="api", error="invalid_token""#)] {
        let idp = Idp::start().await;
        let api = Api::default();
        let base = serve_always_401(api.clone(), challenge).await;
        let http = client(AuthMiddleware::new(manager(&idp)));

        let response = http.get(format!("{base}/never")).send().await.unwrap();
        assert_eq!(
            response.status(),
            401,
            "the second 401 is returned, not retried ({challenge:?})"
        );
        assert_eq!(
            api.seen.lock().unwrap().len(),
            2,
            "one attempt, one retry ({challenge:?})"
        );
        assert_eq!(
            idp.counters().await.token("client_credentials"),
            2,
            "first token, one renewal ({challenge:?})"
        );
    }
}

#[tokio::test]
async fn a_401_that_a_new_token_cannot_meet_is_not_retried() {
    let idp = Idp::start().await;
    for (challenge, code) in [
        (
            r#"Bearer realm="api", error="insufficient_scope", scope="orders:write""#,
            BearerError::InsufficientScope,
        ),
        (
            r#"Basic realm="x", Bearer error="insufficient_user_authentication", acr_values="phr", max_age=60"#,
            BearerError::InsufficientUserAuthentication,
        ),
        (
            r#"Bearer error="invalid_request""#,
            BearerError::InvalidRequest,
        ),
    ] {
        idp.reset_counters().await;
        let api = Api::default();
        let base = serve_always_401(api.clone(), Some(challenge)).await;
        let http = client(AuthMiddleware::new(manager(&idp)));

        let response = http.get(format!("{base}/never")).send().await.unwrap();
        assert_eq!(response.status(), 401, "{challenge}");
        assert_eq!(api.seen.lock().unwrap().len(), 1, "no retry: {challenge}");
        assert_eq!(
            idp.counters().await.token("client_credentials"),
            1,
            "no renewal: {challenge}"
        );
        // The caller can read what the resource needs from the response it gets.
        let seen = BearerChallenge::from_headers(response.headers()).expect("challenge");
        assert_eq!(seen.error, Some(code), "{challenge}");
    }
}

/// A middleware placed after ours, to look at the request as it goes on the wire.
struct Inspect(Arc<Mutex<Option<bool>>>);

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Inspect {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let sensitive = request
            .headers()
            .get("authorization")
            .map(|v| v.is_sensitive());
        *self.0.lock().unwrap() = sensitive;
        next.run(request, extensions).await
    }
}

#[tokio::test]
async fn the_authorization_header_is_marked_sensitive() {
    let api = Api::default();
    let base = serve(api.clone()).await;
    let seen = Arc::new(Mutex::new(None));
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AuthMiddleware::new(StaticAuth::Bearer(SecretString::from(
            "static",
        ))))
        .with(Inspect(seen.clone()))
        .build();
    http.get(format!("{base}/data")).send().await.unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(true));
}

#[tokio::test]
async fn a_transport_error_does_not_show_query_credentials() {
    // A port nothing listens on: bound, then closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let http = client(AuthMiddleware::new(StaticAuth::query_params([(
        "api_key",
        SecretString::from("k-secret-123"),
    )])));
    let err = http
        .get(format!("http://{addr}/q?page=2"))
        .send()
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("k-secret-123"), "{shown}");
    assert!(
        shown.contains("page=2"),
        "the caller's own URL is still named: {shown}"
    );
}
