//! The session without its cookie: `Authorization: Bearer <session token>` everywhere the
//! cookie works, `?session=` on WebSocket upgrades when allowed, the same revocation for all
//! (a logout through either ends both), and the token handed out only by the extractor.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use latchkey::ExposeSecret;
use latchkey_axum::{AuthenticatedUser, SessionStore, WebAuth};
use latchkey_testkit::Idp;

use crate::support::*;

/// The route tests' app plus `/session-token`, where the app hands the token out.
fn token_app(auth: &WebAuth) -> Router {
    let token = Router::new().route(
        "/session-token",
        get(|user: AuthenticatedUser| async move {
            user.session_token().unwrap().expose_secret().to_owned()
        }),
    );
    app(auth).merge(token.layer(auth.layer()))
}

/// Signs in; returns the cookie jar and the session token.
async fn signed_in(idp: &Idp, app: &Router) -> (Jar, String) {
    let jar = log_in(idp, app).await;
    let (response, token) = send(app, request("GET", "/session-token", &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::OK, "{token}");
    assert!(
        !jar.0.iter().any(|(_, cookie)| *cookie == token),
        "the token is not the cookie value"
    );
    (jar, token)
}

/// `GET path` with the token as a bearer and no cookie.
async fn with_bearer(app: &Router, path: &str, token: &str) -> (StatusCode, String) {
    let bearer = format!("Bearer {token}");
    let (response, body) = send(
        app,
        request_with("GET", path, &Jar::default(), &[("authorization", &bearer)]),
    )
    .await;
    (response.status(), body)
}

#[tokio::test]
async fn a_bearer_session_token_works_like_the_cookie_and_dies_with_its_logout() {
    let idp = Idp::start().await;
    let auth = builder(&idp).await.build().unwrap();
    let app = token_app(&auth);
    let (jar, token) = signed_in(&idp, &app).await;

    assert_eq!(
        with_bearer(&app, "/whoami", &token).await,
        (StatusCode::OK, "Alice Example".into())
    );
    let (status, body) = with_bearer(&app, "/auth/status", &token).await;
    assert_eq!(status, StatusCode::OK);
    let shown = json(&body);
    assert_eq!(shown["authenticated"], true, "{body}");
    assert!(
        !body.contains(&token) && !body.contains("token"),
        "status never shows the session token: {body}"
    );
    // A token changed in one character is refused.
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(
        with_bearer(&app, "/whoami", &forged).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Logout through the cookie (same-origin POST).
    let (response, _) = send(&app, request("POST", "/auth/logout", &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        with_bearer(&app, "/whoami", &token).await.0,
        StatusCode::UNAUTHORIZED,
        "the bearer token died with the session"
    );
    let (status, body) = with_bearer(&app, "/auth/status", &token).await;
    assert_eq!(
        (status, json(&body)["authenticated"].clone()),
        (StatusCode::OK, false.into())
    );
    let (response, _) = send(&app, request("GET", "/whoami", &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_logout_by_bearer_ends_the_cookie_session_and_revokes_the_tokens() {
    let idp = Idp::start().await;
    let auth = builder(&idp).await.build().unwrap();
    let app = token_app(&auth);
    let (jar, token) = signed_in(&idp, &app).await;
    let (_, access_token) = send(&app, request("GET", "/token", &jar, [10, 0, 0, 1])).await;
    assert!(idp.is_active(&access_token).await);

    // No Origin: a bearer token is not something another site's page can make a browser
    // send, so it needs no cross-site check.
    let bearer = format!("Bearer {token}");
    let (response, body) = send(
        &app,
        request_with(
            "POST",
            "/auth/logout",
            &Jar::default(),
            &[("authorization", &bearer), ("origin", "")],
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{body}");
    let (response, _) = send(&app, request("GET", "/whoami", &jar, [10, 0, 0, 1])).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the cookie is dead too"
    );
    assert_eq!(
        with_bearer(&app, "/whoami", &token).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        !idp.is_active(&access_token).await,
        "the tokens were revoked"
    );
}

#[tokio::test]
async fn the_query_token_counts_only_on_websocket_upgrades_and_only_when_allowed() {
    let idp = Idp::start().await;
    // Two apps over one store: the second one sees the same session.
    let store = SessionStore::memory();
    let allowed = builder(&idp)
        .await
        .store(store.clone())
        .session_in_websocket_query(true)
        .build()
        .unwrap();
    let app = token_app(&allowed);
    let (_, token) = signed_in(&idp, &app).await;
    let uri = format!("/whoami?session={token}");
    let upgrade = [("upgrade", "websocket"), ("connection", "Upgrade")];
    let nobody = Jar::default();

    let (response, body) = send(&app, request_with("GET", &uri, &nobody, &upgrade)).await;
    assert_eq!(
        (response.status(), body.as_str()),
        (StatusCode::OK, "Alice Example")
    );
    let (response, _) = send(&app, request_with("GET", &uri, &nobody, &[])).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a plain link carrying ?session= signs nobody in"
    );

    // The same token on an app that did not opt in.
    let closed = builder(&idp).await.store(store).build().unwrap();
    let closed = token_app(&closed);
    let (response, _) = send(&closed, request_with("GET", &uri, &nobody, &upgrade)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let bearer = format!("Bearer {token}");
    let (response, _) = send(
        &closed,
        request_with("GET", "/whoami", &nobody, &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the session itself is alive there"
    );
}
