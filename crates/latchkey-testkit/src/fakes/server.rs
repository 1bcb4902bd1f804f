//! What every `fake_*` provider shares: a loopback HTTP server on its own thread and
//! runtime (usable from async and blocking tests alike), a log of the requests it received,
//! and the JSON answers providers send.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query parameters of a GET, the form fields of a POST.
    pub params: HashMap<String, String>,
    /// The `Accept` header, when sent.
    pub accept: Option<String>,
    /// Whether it carried an `Authorization` header.
    pub authorization: bool,
}

impl Seen {
    /// The parameter `name`, when sent.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// The requests a fake received, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    pub(crate) fn all(&self) -> Vec<Seen> {
        self.0.lock().expect("log lock").clone()
    }

    fn push(&self, seen: Seen) {
        self.0.lock().expect("log lock").push(seen);
    }
}

/// A running fake on a free loopback port; stopped when dropped.
#[derive(Debug)]
pub(crate) struct Running {
    base_url: String,
    log: Log,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Serves the router `build` makes from the base URL (`http://127.0.0.1:PORT`), which a
    /// fake needs before its first request to write its discovery document.
    pub(crate) fn start(build: impl FnOnce(&str) -> Router) -> Running {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let log = Log::default();
        let app = build(&base_url).layer(middleware::from_fn_with_state(log.clone(), record));
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
        Running {
            base_url,
            log,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.log.all()
    }

    pub(crate) fn count(&self, method: &str, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .count()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Logs the request (its form read here once, and put back for the handler).
async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let mut params: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    if parts.method == axum::http::Method::POST {
        params.extend(url::form_urlencoded::parse(&bytes).into_owned());
    }
    let header_text = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    log.push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        params,
        accept: header_text(header::ACCEPT),
        authorization: parts.headers.contains_key(header::AUTHORIZATION),
    });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A JSON answer.
pub(crate) fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// An RFC 6749 §5.2 error.
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        serde_json::json!({ "error": error, "error_description": description }),
    )
}

/// The `client_id` and secret of a request: from HTTP Basic (RFC 6749 §2.3.1, decoded) or
/// from the form.
pub(crate) fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    }
}

/// Signs the user in at once: redirects to `redirect_uri` with `code` and the `state`.
pub(crate) fn redirect_with_code(query: &HashMap<String, String>, code: &str) -> Response {
    let (Some(redirect_uri), Some(state)) = (query.get("redirect_uri"), query.get("state")) else {
        return (
            StatusCode::BAD_REQUEST,
            "redirect_uri and state are required",
        )
            .into_response();
    };
    let Ok(mut to) = url::Url::parse(redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not a URL").into_response();
    };
    to.query_pairs_mut()
        .append_pair("code", code)
        .append_pair("state", state);
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

/// What a user authorized: kept with an authorization code, a refresh token or a device
/// code until it is redeemed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Authorized {
    /// The granted scopes, space-separated.
    pub(crate) scope: String,
    /// The `nonce` of the authorization request.
    pub(crate) nonce: Option<String>,
    /// Whether a refresh token goes with the tokens.
    pub(crate) offline: bool,
    /// When this code or refresh token stops working.
    pub(crate) expires_at: Option<std::time::Instant>,
    /// Provider-specific values (Auth0's `audience`, …).
    pub(crate) extra: HashMap<String, String>,
}

impl Authorized {
    pub(crate) fn expired(&self) -> bool {
        self.expires_at
            .is_some_and(|at| std::time::Instant::now() >= at)
    }

    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        self.scope.split_whitespace().any(|s| s == scope)
    }
}

/// Codes and refresh tokens issued and not yet redeemed or revoked.
#[derive(Debug, Default)]
pub(crate) struct Issued(Mutex<HashMap<String, Authorized>>);

impl Issued {
    /// A fresh value with `prefix` standing for `what`.
    pub(crate) fn issue(&self, prefix: &str, what: Authorized) -> String {
        let value = super::signing::opaque(prefix);
        self.0
            .lock()
            .expect("issued lock")
            .insert(value.clone(), what);
        value
    }

    /// What `value` stands for, removing it.
    pub(crate) fn take(&self, value: &str) -> Option<Authorized> {
        self.0.lock().expect("issued lock").remove(value)
    }

    /// What `value` stands for, keeping it.
    pub(crate) fn get(&self, value: &str) -> Option<Authorized> {
        self.0.lock().expect("issued lock").get(value).cloned()
    }
}
