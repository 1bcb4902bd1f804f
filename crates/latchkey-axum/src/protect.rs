//! [`require_login`]: the middleware that lets only signed-in users past, except on public
//! paths.

use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::WebAuth;
use crate::error::{AuthRejection, WebAuthError};
use crate::guard::safe_return_to;
use crate::routes;
use crate::session_token::{RequestView, Source};

/// The paths anyone may reach: exact paths, and prefixes (entries ending in `/`).
#[derive(Debug, Clone, Default)]
pub(crate) struct PublicPaths {
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl PublicPaths {
    /// Sorts `entries` into exact paths and prefixes; `Err` names the first entry that is not
    /// a path.
    pub(crate) fn new(entries: Vec<String>) -> Result<Self, String> {
        let mut paths = PublicPaths::default();
        for entry in entries {
            let is_path = entry.starts_with('/')
                && !entry.contains(['?', '#', '\\', '*'])
                && !entry.chars().any(char::is_control)
                && !has_dot_segment(&entry);
            if !is_path {
                return Err(entry);
            }
            // `/` alone is the home page: as a prefix it would make every path public.
            if entry.ends_with('/') && entry != "/" {
                paths.prefixes.push(entry);
            } else {
                paths.exact.push(entry);
            }
        }
        Ok(paths)
    }

    /// Whether `path` (a request's path, as routed) is public. The login routes always are.
    pub(crate) fn allows(&self, path: &str) -> bool {
        // A dot segment (`/static/../admin`, also percent-encoded) or an encoded slash or
        // backslash (`/static/..%2fadmin`) is never public: whatever decodes and resolves
        // it later (a proxy, a file server) would reach a path outside the prefix.
        let lower = path.to_ascii_lowercase();
        if has_dot_segment(&lower) || lower.contains("%2f") || lower.contains("%5c") {
            return false;
        }
        routes::PATHS.contains(&path)
            || self.exact.iter().any(|p| p == path)
            || self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }
}

fn has_dot_segment(path: &str) -> bool {
    path.split(['/', '\\']).any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    })
}

/// Middleware that lets a request through only when it carries a live session (cookie,
/// bearer session token, or `?session=` on a WebSocket upgrade when allowed), or when its
/// path is public ([`WebAuthBuilder::public_paths`](crate::WebAuthBuilder::public_paths);
/// the login routes always are).
///
/// - A browser (`Accept` naming `text/html`) asking with `GET` or `HEAD` is sent (`303`) to
///   `/auth/login?return_to=<path and query>`, and comes back there after signing in.
/// - Anything else gets `401` JSON ([`AuthRejection`]): an API client cannot follow a login
///   page, and a form POST would lose its body on the way.
/// - A state-changing request (not `GET`, `HEAD`, `OPTIONS` or `TRACE`) signed in by the
///   cookie must come from this site or a
///   [trusted origin](crate::WebAuthBuilder::trusted_origins), else `403` JSON.
///
/// - A CORS preflight (`OPTIONS` with `Access-Control-Request-Method`) passes: browsers
///   never attach credentials to one, so it could not pass otherwise, and it runs no
///   handler of the app's own.
///
/// The signed-in user is handed on to the [`AuthenticatedUser`](crate::AuthenticatedUser)
/// extractor, which then does not look the session up again.
///
/// [`WebAuth::attach_protected`] installs it; by hand it is
/// `axum::middleware::from_fn_with_state(auth.clone(), require_login)` on the top-level
/// router (paths are matched as that router sees them). axum puts a layer in front of the
/// routes and the fallback the router has when the layer is added: give the app its own
/// fallback first, or a path without a route answers `404` to anyone.
pub async fn require_login(
    State(auth): State<WebAuth>,
    mut request: Request,
    next: Next,
) -> Response {
    if auth.inner.public_paths.allows(request.uri().path()) || is_preflight(&request) {
        return next.run(request).await;
    }
    let view = RequestView::of(request.method(), request.uri(), request.headers());
    let checked = match auth.user_of(view).await {
        Ok((user, source)) => {
            let safe = matches!(
                *request.method(),
                Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
            );
            if source == Source::Cookie && !safe {
                auth.check_origin(request.headers()).map(|()| user)
            } else {
                Ok(user)
            }
        }
        Err(err) => Err(err),
    };
    match checked {
        Ok(user) => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Err(
            WebAuthError::NotSignedIn
            | WebAuthError::Latchkey(latchkey::Error::LoginRequired { .. }),
        ) if wants_a_page(&request) => to_login(&request),
        Err(err) => AuthRejection::from(err).into_response(),
    }
}

fn is_preflight(request: &Request) -> bool {
    *request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// A browser navigating: `GET`/`HEAD` that accepts HTML.
fn wants_a_page(request: &Request) -> bool {
    matches!(*request.method(), Method::GET | Method::HEAD)
        && request
            .headers()
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

/// `303` to the login, carrying the page asked for as `return_to` when it is a safe one
/// (the login route checks it again; a path like `//evil.example` is simply left out).
fn to_login(request: &Request) -> Response {
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map_or(request.uri(), |original| &original.0);
    let asked = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let location = match safe_return_to(asked) {
        Ok(path) if path != "/" => {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", &path)
                .finish();
            format!("/auth/login?{query}")
        }
        _ => "/auth/login".to_owned(),
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(entries: &[&str]) -> PublicPaths {
        PublicPaths::new(entries.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn exact_paths_prefixes_and_the_login_routes() {
        let public = paths(&["/", "/healthz", "/static/"]);
        for open in [
            "/",
            "/healthz",
            "/static/app.js",
            "/static/a/b.css",
            "/auth/login",
        ] {
            assert!(public.allows(open), "{open} should be public");
        }
        for closed in [
            "/reports",
            "/healthz/x",
            "/static",
            "/staticx",
            "/static/../admin",
            "/static/%2E%2E/admin",
            "/static/./x",
        ] {
            assert!(!public.allows(closed), "{closed} should be protected");
        }
    }

    #[test]
    fn entries_must_be_plain_paths() {
        for bad in [
            "static/",
            "/a?b",
            "/a#b",
            "/static/*",
            "/a/../b",
            "/a\\b",
            "",
        ] {
            assert!(PublicPaths::new(vec![bad.into()]).is_err(), "{bad:?}");
        }
    }
}
