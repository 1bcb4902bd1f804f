//! Shared by the route tests: an app wired to the IdP fixture, a cookie jar for `oneshot`
//! requests, and a full login driven by the scripted person.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use axum::routing::get;
use latchkey::{ClientAuth, ExposeSecret, OidcProvider};
use latchkey_axum::{AuthenticatedUser, SessionStore, WebAuth, WebAuthBuilder};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, WEB_APP};
use latchkey_testkit::person::UserAgent;
use tower::ServiceExt;
use url::Url;

/// The app's origin in the route tests (nothing listens there: requests go through `oneshot`).
pub(crate) const ORIGIN: &str = "http://127.0.0.1:18080";

/// The cookie key every test instance shares.
pub(crate) fn key() -> secrecy::SecretSlice<u8> {
    vec![42u8; 64].into()
}

/// A builder for the web-app client at the fixture, with cookies usable over plain HTTP.
pub(crate) async fn builder(idp: &Idp) -> WebAuthBuilder {
    builder_at(idp, ORIGIN).await
}

/// [`builder`] for an app served at `origin`.
pub(crate) async fn builder_at(idp: &Idp, origin: &str) -> WebAuthBuilder {
    let provider = OidcProvider::discover(idp.issuer())
        .await
        .expect("discovery");
    let client = provider
        .client_builder(WEB_APP.0)
        .auth(ClientAuth::SecretBasic(WEB_APP.1.to_string().into()))
        .build()
        .expect("client");
    WebAuth::builder(provider, client, origin)
        .cookie_key(key())
        .loopback_development(true)
        // offline_access needs an explicit consent at oidc-provider.
        .param("prompt", "consent")
}

/// The login routes plus `/whoami` (the user's name) and `/token` (the access token, so the
/// tests can ask the IdP about it).
pub(crate) fn app(auth: &WebAuth) -> Router {
    auth.attach(
        Router::new()
            .route(
                "/whoami",
                get(|user: AuthenticatedUser| async move { user.name().unwrap_or("?").to_owned() }),
            )
            .route(
                "/token",
                get(|user: AuthenticatedUser| async move {
                    user.access_token().expose_secret().to_owned()
                }),
            ),
    )
}

/// An app with the default settings and a memory store.
pub(crate) async fn memory_app(idp: &Idp) -> (WebAuth, Router) {
    let auth = builder(idp)
        .await
        .store(SessionStore::memory())
        .build()
        .expect("build");
    let router = app(&auth);
    (auth, router)
}

/// A browser's cookies, as far as `oneshot` requests need them.
#[derive(Default, Clone, Debug)]
pub(crate) struct Jar(pub Vec<(String, String)>);

impl Jar {
    /// The `Cookie` header value.
    pub(crate) fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Takes in the response's `Set-Cookie` headers (an empty value removes the cookie).
    pub(crate) fn absorb<B>(&mut self, response: &Response<B>) {
        for set in response.headers().get_all(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.0.retain(|(k, _)| k != name);
            if !value.is_empty() {
                self.0.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    /// The value of cookie `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request from `ip` with the jar's cookies.
pub(crate) fn request(method: &str, uri: &str, jar: &Jar, ip: [u8; 4]) -> Request<Body> {
    request_from(method, uri, jar, Some(SocketAddr::from((ip, 40000))))
}

/// A request from `peer` (`None`: served without `ConnectInfo`, as plain
/// `axum::serve(listener, app)` does) with the jar's cookies.
pub(crate) fn request_from(
    method: &str,
    uri: &str,
    jar: &Jar,
    peer: Option<SocketAddr>,
) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    if !jar.0.is_empty() {
        request = request.header(header::COOKIE, jar.header());
    }
    if method == "POST" {
        request = request.header(header::ORIGIN, ORIGIN);
    }
    let mut request = request.body(Body::empty()).unwrap();
    if let Some(peer) = peer {
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    request
}

/// A request like [`request`] (from 10.0.0.1) with `headers` set on top; an empty value
/// removes the header (the `Origin` POSTs get by default, say).
pub(crate) fn request_with(
    method: &str,
    uri: &str,
    jar: &Jar,
    headers: &[(&str, &str)],
) -> Request<Body> {
    let mut request = request(method, uri, jar, [10, 0, 0, 1]);
    for (name, value) in headers {
        let name = header::HeaderName::from_bytes(name.as_bytes()).unwrap();
        if value.is_empty() {
            request.headers_mut().remove(&name);
        } else {
            let value = header::HeaderValue::from_str(value).unwrap();
            request.headers_mut().insert(name, value);
        }
    }
    request
}

/// The JSON body of a response.
pub(crate) fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Sends `request` through `app` and reads the whole response.
pub(crate) async fn send(app: &Router, request: Request<Body>) -> (Response<Body>, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (Response::from_parts(parts, Body::empty()), text)
}

/// The `Location` of a redirect.
pub(crate) fn location<B>(response: &Response<B>) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// `GET /auth/login?return_to=/whoami`, then the person logs in and consents at the IdP;
/// returns the callback URL the IdP redirects to (not yet sent to the app).
pub(crate) async fn login_until_callback(idp: &Idp, app: &Router, jar: &mut Jar) -> Url {
    login_until_callback_to(idp, app, jar, "/whoami").await
}

/// [`login_until_callback`] with another `return_to` (sent URL-encoded).
pub(crate) async fn login_until_callback_to(
    idp: &Idp,
    app: &Router,
    jar: &mut Jar,
    return_to: &str,
) -> Url {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    let (response, _) = send(
        app,
        request("GET", &format!("/auth/login?{query}"), jar, [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    jar.absorb(&response);
    let authorization = Url::parse(&location(&response)).unwrap();
    assert!(authorization.as_str().starts_with(idp.issuer()));
    match UserAgent::new()
        .log_in_and_consent(&authorization, idp.issuer(), ALICE)
        .await
    {
        Err(callback) => callback,
        Ok(page) => panic!("the IdP did not redirect back: {}", page.body),
    }
}

/// The path and query of `url`, as a request target.
pub(crate) fn target(url: &Url) -> String {
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// A whole login; returns the jar holding the session cookie.
pub(crate) async fn log_in(idp: &Idp, app: &Router) -> Jar {
    let mut jar = Jar::default();
    let callback = login_until_callback(idp, app, &mut jar).await;
    let (response, body) = send(app, request("GET", &target(&callback), &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location(&response), "/whoami");
    jar.absorb(&response);
    assert!(jar.get("latchkey_session").is_some());
    assert!(
        jar.get("latchkey_session_login").is_none(),
        "the login cookie is cleared"
    );
    jar
}
