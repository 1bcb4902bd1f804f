//! `fake_github`: GitHub's OAuth token endpoints (OAuth apps and GitHub Apps' user tokens),
//! as documented:
//!
//! - Web flow and device flow, and their errors:
//!   <https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps>.
//!   `POST /login/oauth/access_token` takes `client_id` and `client_secret` in the form; it
//!   answers form-encoded (`access_token=…&scope=repo%2Cgist&token_type=bearer`) unless the
//!   request says `Accept: application/json`; `scope` lists the granted scopes separated
//!   by commas; errors (`bad_verification_code`, `incorrect_client_credentials`,
//!   `authorization_pending`, `slow_down`, `expired_token`, `access_denied`, …) come with
//!   **HTTP 200**, with `error_description` and `error_uri`. The device flow's
//!   `POST /login/device/code` answers `verification_uri` (`https://github.com/login/device`);
//!   `slow_down` adds 5 seconds to the interval, and its body carries the new `interval`.
//!   Error troubleshooting pages:
//!   <https://docs.github.com/en/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors>.
//! - Expiring user tokens of GitHub Apps, refreshed with `grant_type=refresh_token`: `ghu_`
//!   access tokens that live 8 hours (`expires_in: 28800`), `ghr_` refresh tokens of six
//!   months (`refresh_token_expires_in: 15897600`) replaced by each refresh; a used or
//!   unknown one is `bad_refresh_token`:
//!   <https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens>.
//!
//! GitHub is not an OpenID provider: no discovery document, no ID token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::server::{Authorized, Issued, Running, Seen, redirect_with_code};

/// The OAuth app the fake knows: client id and secret.
pub const CLIENT: (&str, &str) = ("Iv1.fakegithubapp", "fake-github-secret");

/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/login/oauth/access_token";

/// The device authorization endpoint's path.
pub const DEVICE_PATH: &str = "/login/device/code";

/// The authorization endpoint's path.
pub const AUTHORIZE_PATH: &str = "/login/oauth/authorize";

/// The user code the device flow shows.
pub const USER_CODE: &str = "WDJB-MJHT";

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct GitHubOptions {
    /// A GitHub App with expiring user tokens (refresh tokens issued); `false`: an OAuth
    /// app, whose tokens neither expire nor refresh.
    pub expiring_tokens: bool,
    /// The device flow's polling interval, in seconds (GitHub says 5).
    pub device_interval: u64,
    /// How many polls of an approved device code get `authorization_pending` first.
    pub pending_polls: u32,
    /// Answers the first device poll with `slow_down`, as GitHub does to a client it finds
    /// too fast; later polls sooner than the raised interval get `slow_down` again.
    pub slow_down_first: bool,
}

impl Default for GitHubOptions {
    fn default() -> Self {
        Self {
            expiring_tokens: true,
            device_interval: 5,
            pending_polls: 1,
            slow_down_first: false,
        }
    }
}

#[derive(Debug)]
struct Device {
    authorized: Authorized,
    polls: u32,
    interval: u64,
    last_poll: Option<Instant>,
}

#[derive(Debug)]
struct Shared {
    options: GitHubOptions,
    codes: Issued,
    refresh_tokens: Issued,
    devices: Mutex<HashMap<String, Device>>,
}

/// A running fake GitHub on a free loopback port; stopped when dropped.
#[derive(Debug)]
pub struct FakeGitHub {
    running: Running,
}

impl FakeGitHub {
    /// Starts the fake with `options`.
    pub fn start(options: GitHubOptions) -> FakeGitHub {
        let shared = Arc::new(Shared {
            options,
            codes: Issued::default(),
            refresh_tokens: Issued::default(),
            devices: Mutex::new(HashMap::new()),
        });
        let running = Running::start(|_| {
            Router::new()
                .route(AUTHORIZE_PATH, get(authorize))
                .route(TOKEN_PATH, post(token))
                .route(DEVICE_PATH, post(device_code))
                .with_state(shared)
        });
        FakeGitHub { running }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        self.running.base_url()
    }

    /// The URL of `path` on the fake.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
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

/// GitHub's answer in the format the request's `Accept` asks for: JSON, or else a form.
fn answer(headers: &HeaderMap, fields: &[(&str, String)]) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        let mut object = serde_json::Map::new();
        for (name, value) in fields {
            // Numbers stay numbers in GitHub's JSON.
            let value = match value.parse::<u64>() {
                Ok(n) if name.ends_with("expires_in") || *name == "interval" => n.into(),
                _ => value.clone().into(),
            };
            object.insert((*name).into(), value);
        }
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            serde_json::Value::Object(object).to_string(),
        )
            .into_response()
    } else {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(n, v)| (*n, v.as_str())))
            .finish();
        (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            body,
        )
            .into_response()
    }
}

/// An error the GitHub way: HTTP 200 with `error`, a description and the docs page.
fn error(headers: &HeaderMap, code: &str, description: &str, extra: &[(&str, String)]) -> Response {
    let mut fields = vec![
        ("error", code.to_owned()),
        ("error_description", description.to_owned()),
        (
            "error_uri",
            format!(
                "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#{}",
                code.replace('_', "-")
            ),
        ),
    ];
    fields.extend(extra.iter().cloned());
    answer(headers, &fields)
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if query.get("client_id").map(String::as_str) != Some(CLIENT.0) {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    let code = shared.codes.issue(
        "",
        Authorized {
            scope: query.get("scope").cloned().unwrap_or_default(),
            expires_at: Some(Instant::now() + Duration::from_secs(600)),
            ..Authorized::default()
        },
    );
    redirect_with_code(&query, &code)
}

async fn device_code(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if form.get("client_id").map(String::as_str) != Some(CLIENT.0) {
        return error(
            &headers,
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
            &[],
        );
    }
    let device_code = super::signing::opaque("3584d83530557fdd1f46af8289938c8ef79f");
    let interval = shared.options.device_interval;
    shared.devices.lock().expect("lock").insert(
        device_code.clone(),
        Device {
            authorized: Authorized {
                scope: form.get("scope").cloned().unwrap_or_default(),
                ..Authorized::default()
            },
            polls: 0,
            interval,
            last_poll: None,
        },
    );
    answer(
        &headers,
        &[
            ("device_code", device_code),
            ("user_code", USER_CODE.into()),
            ("verification_uri", "https://github.com/login/device".into()),
            ("expires_in", "900".into()),
            ("interval", interval.to_string()),
        ],
    )
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str);
    let secret_ok = field("client_secret") == Some(CLIENT.1);
    let device_grant = field("grant_type") == Some("urn:ietf:params:oauth:grant-type:device_code");
    // The device flow needs no secret (public clients); every other request does.
    if field("client_id") != Some(CLIENT.0) || (!secret_ok && !device_grant) {
        return error(
            &headers,
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
            &[],
        );
    }
    let authorized = match field("grant_type") {
        // GitHub's web flow sends no grant_type; RFC 6749 clients send this one.
        None | Some("authorization_code") => {
            match field("code").and_then(|c| shared.codes.take(c)) {
                Some(a) if !a.expired() => a,
                _ => {
                    return error(
                        &headers,
                        "bad_verification_code",
                        "The code passed is incorrect or expired.",
                        &[],
                    );
                }
            }
        }
        Some("refresh_token") => {
            match field("refresh_token").and_then(|r| shared.refresh_tokens.take(r)) {
                Some(a) if !a.expired() => a,
                _ => {
                    return error(
                        &headers,
                        "bad_refresh_token",
                        "The refresh token passed is incorrect or expired.",
                        &[],
                    );
                }
            }
        }
        Some(_) if device_grant => match poll_device(&shared, &headers, field("device_code")) {
            Ok(authorized) => authorized,
            Err(response) => return *response,
        },
        Some(_) => {
            return error(
                &headers,
                "unsupported_grant_type",
                "The grant type is not supported.",
                &[],
            );
        }
    };
    tokens(&shared, &headers, authorized)
}

/// One poll of the device flow: pending, too fast, or approved.
fn poll_device(
    shared: &Shared,
    headers: &HeaderMap,
    device_code: Option<&str>,
) -> Result<Authorized, Box<Response>> {
    let mut devices = shared.devices.lock().expect("lock");
    let Some(device) = device_code.and_then(|c| devices.get_mut(c)) else {
        return Err(Box::new(error(
            headers,
            "incorrect_device_code",
            "The device_code provided is not valid.",
            &[],
        )));
    };
    let now = Instant::now();
    let too_fast = device
        .last_poll
        .is_some_and(|last| now.duration_since(last) < Duration::from_secs(device.interval));
    let first = device.last_poll.is_none();
    device.last_poll = Some(now);
    device.polls += 1;
    if too_fast || (first && shared.options.slow_down_first) {
        device.interval += 5;
        return Err(Box::new(error(
            headers,
            "slow_down",
            "Too many requests have been made in the same timeframe.",
            &[("interval", device.interval.to_string())],
        )));
    }
    if device.polls <= shared.options.pending_polls {
        return Err(Box::new(error(
            headers,
            "authorization_pending",
            "The authorization request is still pending.",
            &[],
        )));
    }
    let authorized = device.authorized.clone();
    if let Some(code) = device_code {
        devices.remove(code);
    }
    Ok(authorized)
}

fn tokens(shared: &Shared, headers: &HeaderMap, authorized: Authorized) -> Response {
    // GitHub lists granted scopes with commas.
    let scope = authorized
        .scope
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(",");
    if !shared.options.expiring_tokens {
        return answer(
            headers,
            &[
                ("access_token", super::signing::opaque("gho_")),
                ("scope", scope),
                ("token_type", "bearer".into()),
            ],
        );
    }
    let refresh_token = shared.refresh_tokens.issue(
        "ghr_",
        Authorized {
            expires_at: Some(Instant::now() + Duration::from_secs(15_897_600)),
            ..authorized
        },
    );
    answer(
        headers,
        &[
            ("access_token", super::signing::opaque("ghu_")),
            ("expires_in", "28800".into()),
            ("refresh_token", refresh_token),
            ("refresh_token_expires_in", "15897600".into()),
            ("scope", scope),
            ("token_type", "bearer".into()),
        ],
    )
}
