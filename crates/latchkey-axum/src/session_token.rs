//! Where a request names its session: the session cookie, an `Authorization: Bearer` session
//! token, or (opt-in, WebSocket upgrades only) a `?session=` query parameter.
//!
//! All three carry the same signed session id, so they share the session's lifetime and its
//! revocation: logout through any of them ends the session for all.

use axum::http::{HeaderMap, Method, Uri, header};

use crate::session::CookieConfig;

/// How a request presented its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The session cookie, which browsers attach by themselves: state-changing requests
    /// need the origin check.
    Cookie,
    /// `Authorization: Bearer <session token>`, which a page of another site cannot make a
    /// browser send: no cross-site request forgery to guard against.
    Bearer,
    /// `?session=<session token>` on a WebSocket upgrade.
    Query,
}

/// A verified session id and where it came from.
#[derive(Debug)]
pub(crate) struct Presented {
    pub(crate) id: String,
    pub(crate) source: Source,
}

/// The parts of a request that can name a session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestView<'a> {
    headers: &'a HeaderMap,
    /// The query string, kept only for a WebSocket upgrade (`GET` with `Upgrade: websocket`).
    websocket_query: Option<&'a str>,
}

impl<'a> RequestView<'a> {
    /// A request known only by its headers (cookie and bearer token).
    pub(crate) fn headers(headers: &'a HeaderMap) -> Self {
        Self {
            headers,
            websocket_query: None,
        }
    }

    /// A whole request.
    pub(crate) fn of(method: &Method, uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        let upgrade = headers
            .get_all(header::UPGRADE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|protocol| protocol.trim().eq_ignore_ascii_case("websocket"));
        Self {
            headers,
            websocket_query: (*method == Method::GET && upgrade)
                .then(|| uri.query())
                .flatten(),
        }
    }
}

/// The session a request presents, checking the sources in this order and taking the first
/// whose signature verifies: a bearer token, the cookie, then (when `query_allowed`) the
/// `session` query parameter of a WebSocket upgrade. A bearer token that does not verify is
/// skipped rather than refused: the app's own APIs may take other bearer tokens.
pub(crate) fn find(
    cookies: &CookieConfig,
    query_allowed: bool,
    view: RequestView<'_>,
) -> Option<Presented> {
    let found = |id: Option<String>, source| id.map(|id| Presented { id, source });
    let bearer = view
        .headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(bearer_token)
        .find_map(|token| cookies.verify_session_token(token));
    found(bearer, Source::Bearer)
        .or_else(|| {
            found(
                cookies.read(view.headers, &cookies.session_name),
                Source::Cookie,
            )
        })
        .or_else(|| {
            let query = view.websocket_query.filter(|_| query_allowed)?;
            let id = url::form_urlencoded::parse(query.as_bytes())
                .filter(|(name, _)| name == "session")
                .find_map(|(_, token)| cookies.verify_session_token(&token));
            found(id, Source::Query)
        })
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive,
/// RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use secrecy::ExposeSecret;

    use super::*;

    fn config() -> CookieConfig {
        CookieConfig {
            session_name: "s".into(),
            login_name: "s_login".into(),
            secure: true,
            master_key: vec![3; 64].into(),
        }
    }

    fn token(id: &str) -> String {
        config()
            .session_token(id)
            .unwrap()
            .expose_secret()
            .to_owned()
    }

    #[test]
    fn bearer_then_cookie_then_websocket_query() {
        let cookies = config();
        let uri: Uri = format!("/ws?session={}", token("q")).parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        let get = |headers: &HeaderMap, allowed| {
            find(
                &cookies,
                allowed,
                RequestView::of(&Method::GET, &uri, headers),
            )
            .map(|p| (p.id, p.source))
        };
        assert_eq!(get(&headers, true), Some(("q".into(), Source::Query)));
        assert_eq!(get(&headers, false), None, "the query is opt-in");
        let set = cookies
            .set("s", "c", std::time::Duration::from_secs(60))
            .unwrap();
        let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
        headers.insert(header::COOKIE, HeaderValue::from_str(&pair).unwrap());
        assert_eq!(get(&headers, true), Some(("c".into(), Source::Cookie)));
        // An app's own bearer token (not a session token) is passed over, not refused.
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer some-api-token"),
        );
        assert_eq!(get(&headers, true), Some(("c".into(), Source::Cookie)));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("bearer {}", token("b"))).unwrap(),
        );
        assert_eq!(get(&headers, true), Some(("b".into(), Source::Bearer)));
    }

    #[test]
    fn the_query_counts_only_on_a_websocket_upgrade_get() {
        let cookies = config();
        let uri: Uri = format!("/ws?session={}", token("q")).parse().unwrap();
        let mut upgrade = HeaderMap::new();
        upgrade.insert(header::UPGRADE, HeaderValue::from_static("h2c, WebSocket"));
        let plain = HeaderMap::new();
        let found = |method: &Method, headers: &HeaderMap| {
            find(&cookies, true, RequestView::of(method, &uri, headers)).is_some()
        };
        assert!(found(&Method::GET, &upgrade));
        assert!(!found(&Method::GET, &plain), "a plain link with ?session=");
        assert!(!found(&Method::POST, &upgrade));
        assert!(
            find(&cookies, true, RequestView::headers(&upgrade)).is_none(),
            "headers alone have no query"
        );
    }
}
