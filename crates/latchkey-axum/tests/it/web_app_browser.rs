//! The example web app (`examples/web_app.rs`, run in-process on an ephemeral loopback port)
//! driven end to end by a real headless Chromium through chromedriver, against the IdP
//! fixture: click "Sign in", fill the IdP's login form, consent, land back signed in with the
//! user's name, call the protected API, sign out. A screenshot of the signed-in page is saved
//! as `target/artifacts/web-app.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them the test says why and passes
//! vacuously, unless `LATCHKEY_REQUIRE_BROWSER` is set (as the test command does).
#![allow(
    clippy::disallowed_methods,
    reason = "screenshots and page dumps are test artifacts, not secrets"
)]

#[expect(
    dead_code,
    reason = "the example's own `main` and `Config::from_env` do not run here"
)]
#[path = "../../examples/web_app.rs"]
mod web_app;

use std::net::SocketAddr;

use latchkey_testkit::Idp;
use latchkey_testkit::browser::{self, Driver};
use latchkey_testkit::clients::{ALICE, WEB_APP};
use serde_json::json;

/// Starts the example app on a free loopback port; returns its origin.
async fn start_example(idp: &Idp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bind = listener.local_addr().unwrap();
    let origin = format!("http://{bind}");
    let config = web_app::Config {
        issuer: idp.issuer().to_owned(),
        client_id: WEB_APP.0.to_owned(),
        client_secret: WEB_APP.1.to_owned().into(),
        bind,
        public_url: origin.clone(),
        cookie_key: vec![9u8; 32].into(),
        prompt: Some("consent".into()),
        redis_url: None,
    };
    let app = web_app::app(config).await.expect("the example app");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    origin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_signs_in_calls_the_api_and_signs_out() {
    if !browser::available("web_app_browser") {
        return;
    }
    let idp = Idp::start().await;
    let origin = start_example(&idp).await;
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver
        .chromium(profile.path(), &["--window-size=1000,700"])
        .await;

    browser.goto(&format!("{origin}/")).await.unwrap();
    assert_eq!(
        browser::text_of(&browser, "#status").await,
        "Not signed in."
    );
    browser::click(&browser, "#login").await;

    // The IdP's own login form, then its consent form.
    browser::log_in_and_consent(&browser, ALICE).await;

    // Back at the app, signed in.
    assert_eq!(browser::text_of(&browser, "#name").await, "Alice Example");
    let landed = browser.current_url().await.unwrap();
    assert_eq!(landed.as_str(), format!("{origin}/"));
    let screenshot = browser.screenshot().await.unwrap();
    std::fs::write(browser::artifact("web-app.png"), &screenshot).unwrap();
    assert!(screenshot.starts_with(b"\x89PNG"));
    // The session cookie is not readable by scripts (HttpOnly).
    let script_cookies = browser
        .execute("return document.cookie", vec![])
        .await
        .unwrap();
    assert_eq!(script_cookies, json!(""));

    browser::click(&browser, "#call-api").await;
    let answer = browser::text_of(&browser, "#api-result").await;
    assert!(
        answer.contains("200 OK: Hello, Alice Example! (sub alice)"),
        "{answer}"
    );
    std::fs::write(
        browser::artifact("web-app-api.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();

    browser::click(&browser, "#back").await;
    browser::click(&browser, "#logout").await;
    assert_eq!(
        browser::text_of(&browser, "#status").await,
        "Not signed in."
    );
    assert!(
        idp.counters().await.endpoint("revocation") >= 1,
        "logout revoked"
    );
    browser.close().await.unwrap();
}
