//! `fake_github_actions`: a loopback stand-in for the GitHub Actions OIDC token endpoint,
//! which only exists inside a running job.
//!
//! Its contract, from GitHub's documentation
//! (<https://docs.github.com/en/actions/reference/security/oidc>, "Methods for requesting the
//! OIDC token"): a job with `permissions: id-token: write` gets `ACTIONS_ID_TOKEN_REQUEST_URL`
//! (a URL that already has a query, so the audience is appended as `&audience=…`) and
//! `ACTIONS_ID_TOKEN_REQUEST_TOKEN`; a GET of the URL with `Authorization: Bearer <request
//! token>` answers `{"count": …, "value": "<JWT>"}`. The JWTs here are signed by the
//! fixture's workload issuer ([`crate::workload`]), so the identity provider fixture trusts
//! them like GitHub's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::workload::{WORKLOAD_ISSUER, workload_jwt};

/// The request token the fake accepts.
pub const REQUEST_TOKEN: &str = "fake-actions-request-token";

/// Whom the tokens the fake mints say they are.
#[derive(Debug, Clone)]
pub struct Subject {
    /// `iss`.
    pub iss: String,
    /// `sub`.
    pub sub: String,
}

impl Default for Subject {
    fn default() -> Self {
        Self {
            iss: WORKLOAD_ISSUER.into(),
            sub: "repo:latchkey/latchkey:ref:refs/heads/main".into(),
        }
    }
}

struct Shared {
    subject: Subject,
    audiences: Mutex<Vec<Option<String>>>,
    issued: Mutex<Vec<String>>,
}

/// A running fake on a free loopback port, on its own thread; stopped when dropped.
pub struct FakeGithubActions {
    shared: Arc<Shared>,
    request_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeGithubActions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGithubActions")
            .field("request_url", &self.request_url)
            .finish_non_exhaustive()
    }
}

impl FakeGithubActions {
    /// Starts the fake; its tokens carry `subject`'s `iss` and `sub`.
    pub fn start(subject: Subject) -> FakeGithubActions {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let request_url = format!(
            "http://{}/_apis/pipelines/1/runs/2/idtoken?api-version=2.0",
            listener.local_addr().expect("address")
        );
        let shared = Arc::new(Shared {
            subject,
            audiences: Mutex::new(Vec::new()),
            issued: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/_apis/pipelines/1/runs/2/idtoken", get(id_token))
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
        FakeGithubActions {
            shared,
            request_url,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
    pub fn request_url(&self) -> &str {
        &self.request_url
    }

    /// The `audience` of every accepted request, in order.
    pub fn audiences(&self) -> Vec<Option<String>> {
        self.shared.audiences.lock().expect("lock").clone()
    }

    /// Every token issued, in order.
    pub fn issued(&self) -> Vec<String> {
        self.shared.issued.lock().expect("lock").clone()
    }
}

impl Drop for FakeGithubActions {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn id_token(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {REQUEST_TOKEN}"));
    if !authorized || query.get("api-version").map(String::as_str) != Some("2.0") {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    }
    let audience = query.get("audience").cloned();
    // GitHub's default audience is the repository owner's URL.
    let aud = audience
        .clone()
        .unwrap_or_else(|| "https://github.com/latchkey".into());
    let token = workload_jwt(
        &shared.subject.iss,
        &shared.subject.sub,
        &aud,
        Duration::from_secs(300),
    );
    shared.audiences.lock().expect("lock").push(audience);
    shared.issued.lock().expect("lock").push(token.clone());
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "count": 1, "value": token }).to_string(),
    )
        .into_response()
}
