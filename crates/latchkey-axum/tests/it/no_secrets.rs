//! No token, code, state or cookie value reaches the logs (at `trace` level), error pages or
//! `Debug` output of the web login.

use crate::support::*;
use axum::http::StatusCode;
use latchkey::ExposeSecret;
use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, WEB_APP};
use latchkey_testkit::logs::{CapturedLogs, assert_no_secret};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_session_leaks_no_secret() {
    // html5ever traces the scripted person parsing IdP pages (test machinery, not the app).
    let logs = CapturedLogs::install("trace,html5ever=off,selectors=off");

    let idp = Idp::start().await;
    let (auth, app) = memory_app(&idp).await;
    let mut secrets: Vec<String> = vec![WEB_APP.1.into(), ALICE.1.into()];
    let mut shown = vec![format!("{auth:?}")];

    let mut jar = Jar::default();
    let callback = login_until_callback(&idp, &app, &mut jar).await;
    for (name, value) in callback.query_pairs() {
        if name == "code" || name == "state" {
            secrets.push(value.into_owned());
        }
    }
    // A replay and a tampered cookie on the way: their error pages are checked too.
    let (response, _) = send(
        &app,
        request("GET", &target(&callback), &jar, [10, 0, 0, 1]),
    )
    .await;
    jar.absorb(&response);
    let (_, replay) = send(
        &app,
        request("GET", &target(&callback), &jar, [10, 0, 0, 1]),
    )
    .await;
    shown.push(replay);
    for (_, value) in &jar.0 {
        secrets.push(value.clone());
    }
    let (_, first) = send(&app, request("GET", "/token", &jar, [10, 0, 0, 1])).await;
    let (response, refreshed) =
        send(&app, request("POST", "/auth/refresh", &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::OK);
    shown.push(refreshed);
    let (_, second) = send(&app, request("GET", "/token", &jar, [10, 0, 0, 1])).await;
    secrets.extend([first, second]);
    let user = auth.user(&jar_headers(&jar)).await.unwrap();
    shown.push(format!("{user:?}"));
    // The session token, used as a bearer (and a forged one refused on the way).
    let token = user.session_token().unwrap().expose_secret().to_owned();
    for bearer in [format!("Bearer {token}"), format!("Bearer {token}x")] {
        let (_, body) = send(
            &app,
            request_with(
                "GET",
                "/auth/status",
                &Jar::default(),
                &[("authorization", &bearer)],
            ),
        )
        .await;
        shown.push(body);
    }
    secrets.push(token);
    for path in ["/auth/status", "/auth/userinfo"] {
        shown.push(
            send(&app, request("GET", path, &jar, [10, 0, 0, 1]))
                .await
                .1,
        );
    }
    let (_, logout) = send(&app, request("POST", "/auth/logout", &jar, [10, 0, 0, 1])).await;
    shown.push(logout);

    let logs = logs.text();
    assert!(logs.contains("signed in"), "the login was logged at all");
    for text in shown.iter().chain([&logs]) {
        assert_no_secret(text, &secrets);
    }
}

fn jar_headers(jar: &Jar) -> axum::http::HeaderMap {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(axum::http::header::COOKIE, jar.header().parse().unwrap());
    headers
}
