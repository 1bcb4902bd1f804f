//! The browser login driven by a real headless Chromium (through chromedriver): the IdP's
//! login and consent pages, then the browser's own redirect to the loopback receiver.
//!
//! Needs Debian's `chromium` and `chromium-driver` (the project's test script installs
//! them); without them the test prints why and passes vacuously.

use std::time::Duration;

use latchkey::authorization::AuthorizationRequest;
use latchkey::{AuthorizationCode, OAuthClient, TokenManager};
use latchkey_testkit::Idp;
use latchkey_testkit::browser::{self, Driver};
use latchkey_testkit::clients::{ALICE, NATIVE_APP};
use tokio::sync::mpsc;
use url::Url;

#[tokio::test]
async fn headless_chromium_logs_in_through_the_loopback_receiver() {
    if !browser::available("login_browser") {
        return;
    }
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let idp = Idp::start().await;

    let (tx, mut rx) = mpsc::unbounded_channel::<Url>();
    let client = OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let grant = AuthorizationCode::builder(
        AuthorizationRequest::builder(idp.url("/auth"))
            .scopes(["openid", "profile", "offline_access"])
            .param("prompt", "consent")
            .issuer(idp.issuer(), true)
            .build()
            .unwrap(),
    )
    .redirect_uri("http://127.0.0.1:0/callback")
    .timeout(Duration::from_secs(90))
    .on_authorization_url(move |url: &Url| {
        let _ = tx.send(url.clone());
    })
    .build()
    .unwrap();
    let manager = TokenManager::builder(client, grant).build().unwrap();
    let login_task = tokio::spawn({
        let manager = manager.clone();
        async move { manager.login().await }
    });
    let auth_url = rx
        .recv()
        .await
        .expect("the grant shows the authorization URL");
    let redirect_uri: Url = auth_url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap();

    let browser = driver.chromium(profile.path(), &[]).await;
    browser.goto(auth_url.as_str()).await.unwrap();
    browser::log_in_and_consent(&browser, ALICE).await;
    let tokens = login_task
        .await
        .expect("login task")
        .expect("login through a real browser");
    assert!(tokens.refresh_token().is_some());
    assert!(tokens.id_token().is_some());

    // The browser itself went to the loopback receiver and shows its success page.
    let landed = browser.current_url().await.unwrap();
    assert!(
        landed.as_str().starts_with(redirect_uri.as_str()),
        "{landed} vs {redirect_uri}"
    );
    let source = browser.source().await.unwrap();
    assert!(source.contains("Login complete"), "{source}");
    browser.close().await.unwrap();
}
