//! `WebAuth::attach_protected` (pywry deploy mode's protect-everything layer): public paths
//! stay open, browsers are sent to sign in and come back to the page they asked for, API
//! clients get `401` JSON, `return_to` never leaves the site, and cookie-signed state changes
//! need this site's or a trusted origin.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use latchkey_axum::{AuthenticatedUser, WebAuth};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::ALICE;
use latchkey_testkit::person::UserAgent;
use url::Url;

use crate::support::*;

const HTML: (&str, &str) = ("accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8");
const API: (&str, &str) = ("accept", "application/json");
const TRUSTED: &str = "https://admin.example.org";

/// `/` and `/static/*` are public; `/reports`, `POST /api/data` and the fallback (any
/// other path) are not.
fn protected_app(auth: &WebAuth) -> Router {
    auth.attach_protected(
        Router::new()
            .route("/", get(|| async { "home" }))
            .route("/static/app.js", get(|| async { "js" }))
            // Like a file server: whatever path it is given.
            .route("/static/{*file}", get(|| async { "a static file" }))
            .fallback(|| async { (StatusCode::NOT_FOUND, "no such page") })
            .route(
                "/reports",
                get(|user: AuthenticatedUser| async move {
                    format!("reports for {}", user.name().unwrap_or("?"))
                })
                .post(|| async { "posted" }),
            )
            .route(
                "/api/data",
                axum::routing::post(|user: AuthenticatedUser| async move {
                    format!("saved by {}", user.sub())
                }),
            ),
    )
}

async fn protected(idp: &Idp) -> Router {
    let auth = builder(idp)
        .await
        .public_paths(["/", "/static/"])
        .trusted_origins([TRUSTED])
        .build()
        .unwrap();
    protected_app(&auth)
}

#[tokio::test]
async fn public_paths_and_login_routes_are_open_the_rest_is_401_json() {
    let idp = Idp::start().await;
    let app = protected(&idp).await;
    let nobody = Jar::default();
    for (path, body) in [("/", "home"), ("/static/app.js", "js")] {
        let (response, text) = send(&app, request_with("GET", path, &nobody, &[HTML])).await;
        assert_eq!((response.status(), text.as_str()), (StatusCode::OK, body));
    }
    let (response, text) = send(&app, request_with("GET", "/auth/status", &nobody, &[API])).await;
    assert_eq!(response.status(), StatusCode::OK, "{text}");
    assert_eq!(json(&text)["authenticated"], false);

    for accept in [API, ("accept", "*/*"), ("accept", "")] {
        let (response, text) =
            send(&app, request_with("GET", "/reports", &nobody, &[accept])).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{accept:?}: {text}"
        );
        assert_eq!(json(&text)["error"], "not_signed_in", "{text}");
    }
    // A browser's form POST is not redirected: the login could not replay its body.
    let (response, text) = send(&app, request_with("POST", "/reports", &nobody, &[HTML])).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{text}");
    // A dot segment never makes a path public: a file server would resolve it to a path
    // outside `/static/`.
    let (response, _) = send(
        &app,
        request_with("GET", "/static/../reports", &nobody, &[API]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A CORS preflight carries no credentials: it passes to the app (here: no OPTIONS
    // handler, 405), it is not answered 401.
    let (response, _) = send(
        &app,
        request_with(
            "OPTIONS",
            "/api/data",
            &nobody,
            &[
                ("origin", TRUSTED),
                ("access-control-request-method", "POST"),
            ],
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let (response, _) = send(&app, request_with("OPTIONS", "/api/data", &nobody, &[])).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "not a preflight"
    );
    // Unknown paths too (the app's fallback is behind the layer): nothing tells a stranger
    // which pages exist.
    let (response, _) = send(&app, request_with("GET", "/no/such/page", &nobody, &[API])).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_browser_is_sent_to_sign_in_and_back_to_the_page_it_asked_for() {
    let idp = Idp::start().await;
    let app = protected(&idp).await;
    let mut jar = Jar::default();
    let asked = "/reports?year=2026&q=a%20b";
    let (response, _) = send(&app, request_with("GET", asked, &jar, &[HTML])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login = location(&response);
    assert_eq!(
        login,
        "/auth/login?return_to=%2Freports%3Fyear%3D2026%26q%3Da%2520b"
    );

    // Follow it: the login route, the IdP's forms, the callback.
    let (response, _) = send(&app, request("GET", &login, &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    jar.absorb(&response);
    let authorization = Url::parse(&location(&response)).unwrap();
    let callback = UserAgent::new()
        .log_in_and_consent(&authorization, idp.issuer(), ALICE)
        .await
        .expect_err("the IdP redirects back to the app");
    let (response, body) = send(
        &app,
        request("GET", &target(&callback), &jar, [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location(&response), asked, "back where the browser started");
    jar.absorb(&response);

    let (response, body) = send(&app, request_with("GET", asked, &jar, &[HTML])).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    assert_eq!(body, "reports for Alice Example");
}

#[tokio::test]
async fn open_redirects_are_refused() {
    let idp = Idp::start().await;
    let app = protected(&idp).await;
    let nobody = Jar::default();
    for evil in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "/.//evil.example",
    ] {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", evil)
            .finish();
        let (response, body) = send(
            &app,
            request(
                "GET",
                &format!("/auth/login?{query}"),
                &nobody,
                [10, 0, 0, 2],
            ),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{evil}: {body}");
        assert!(response.headers().get(header::LOCATION).is_none());
    }
    // A request whose own path looks like another host is sent to sign in without a
    // `return_to`: after login it lands on `/`, not at evil.example.
    let (response, _) = send(
        &app,
        request_with("GET", "//evil.example/x", &nobody, &[HTML]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/auth/login");
}

#[tokio::test]
async fn cookie_signed_state_changes_need_this_or_a_trusted_origin() {
    let idp = Idp::start().await;
    let app = protected(&idp).await;
    let jar = log_in(&idp, &app).await;
    let post = |path: &str, origin: &str| request_with("POST", path, &jar, &[("origin", origin)]);

    for origin in [ORIGIN, TRUSTED] {
        let (response, body) = send(&app, post("/api/data", origin)).await;
        assert_eq!(
            (response.status(), body.as_str()),
            (StatusCode::OK, "saved by alice")
        );
        let (response, body) = send(&app, post("/auth/refresh", origin)).await;
        assert_eq!(response.status(), StatusCode::OK, "{origin}: {body}");
    }
    for origin in ["https://evil.example", "http://admin.example.org", ""] {
        let (response, body) = send(&app, post("/api/data", origin)).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{origin:?}: {body}"
        );
        assert_eq!(json(&body)["error"], "origin_refused", "{body}");
        let (response, _) = send(&app, post("/auth/refresh", origin)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin:?}");
        let (response, _) = send(&app, post("/auth/logout", origin)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin:?}");
    }
    // The refused logouts ended nothing; one from the trusted origin does.
    let (response, _) = send(&app, request("GET", "/reports", &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (response, _) = send(&app, post("/auth/logout", TRUSTED)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (response, _) = send(&app, request_with("GET", "/reports", &jar, &[API])).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_builder_refuses_bad_public_paths_and_trusted_origins() {
    let idp = Idp::start().await;
    for path in ["static/", "/static/*", "/a/../b"] {
        let err = builder(&idp)
            .await
            .public_paths([path])
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("public path"), "{err}");
    }
    for origin in ["admin.example.org", "https://admin.example.org/app", "*"] {
        let err = builder(&idp)
            .await
            .trusted_origins([origin])
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("trusted origin"), "{err}");
    }
}
