//! The login route's protected requests against the IdP fixture: pushed (PAR, counted at
//! the fixture's PAR endpoint, with the web app's Basic authentication) whenever the
//! provider advertises it, or not when told `never`; and a JWT-secured response (JARM)
//! validated before the callback opens a session.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use latchkey::authorization::{ParMode, ResponseMode};
use latchkey_testkit::Idp;
use url::Url;

use crate::support::{Jar, app, builder, location, log_in, request, send, target};

fn names(url: &Url) -> BTreeSet<String> {
    url.query_pairs().map(|(k, _)| k.into_owned()).collect()
}

/// The authorization URL the login route sends the browser to.
async fn login_location(app: &axum::Router) -> Url {
    let (response, _) = send(
        app,
        request("GET", "/auth/login", &Jar::default(), [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    Url::parse(&location(&response)).unwrap()
}

#[tokio::test]
async fn the_login_route_pushes_when_the_provider_advertises_par() {
    let idp = Idp::start().await;
    let auth = builder(&idp).await.build().unwrap();
    let app = app(&auth);
    idp.reset_counters().await;
    let url = login_location(&app).await;
    let expected: BTreeSet<String> = ["client_id", "request_uri"].map(String::from).into();
    assert_eq!(names(&url), expected, "{url}");
    assert_eq!(idp.counters().await.endpoint("par"), 1);

    // A whole login through the pushed request opens a session.
    log_in(&idp, &app).await;
    assert_eq!(idp.counters().await.endpoint("par"), 2);
}

#[tokio::test]
async fn the_login_route_sends_the_parameters_itself_when_par_is_never() {
    let idp = Idp::start().await;
    let auth = builder(&idp).await.par(ParMode::Never).build().unwrap();
    idp.reset_counters().await;
    let url = login_location(&app(&auth)).await;
    assert!(names(&url).contains("code_challenge"), "{url}");
    assert_eq!(idp.counters().await.endpoint("par"), 0);
}

#[tokio::test]
async fn a_jwt_response_is_validated_before_the_session_opens() {
    let idp = Idp::start().await;
    let auth = builder(&idp)
        .await
        .response_mode(ResponseMode::Jwt)
        .build()
        .unwrap();
    let app = app(&auth);
    let mut jar = Jar::default();
    let callback = crate::support::login_until_callback(&idp, &app, &mut jar).await;
    assert!(names(&callback).contains("response"), "{callback}");
    assert!(!names(&callback).contains("code"), "{callback}");

    // The same callback with its JWT's signature broken: refused, no session.
    let forged: Vec<(String, String)> = callback
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "response" {
                let cut = v.rfind('.').unwrap();
                (k, format!("{}.AAAA", &v[..cut]))
            } else {
                (k, v)
            }
        })
        .collect();
    let mut bad = callback.clone();
    bad.query_pairs_mut().clear().extend_pairs(forged);
    let (response, _) = send(&app, request("GET", &target(&bad), &jar, [10, 0, 0, 1])).await;
    assert!(response.status().is_client_error(), "{}", response.status());
    jar.absorb(&response);
    assert!(jar.get("latchkey_session").is_none());
}
