//! The browser login driven by a real headless Chromium (through chromedriver): the IdP's
//! login and consent pages, then the browser's own redirect to the loopback receiver.
//!
//! Needs Debian's `chromium` and `chromium-driver` (the project's test script installs
//! them); without them the test prints why and passes vacuously.

use std::time::Duration;

use latchkey::authorization::AuthorizationRequest;
use latchkey::loopback::{ExpectedResponse, LoopbackPage, LoopbackReceiver};
use latchkey::{AuthorizationCode, ExposeSecret, OAuthClient, TokenManager};
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

/// Serves one page whose policy forbids its own inline style, so Chromium must refuse it:
/// proves that the console read below does show CSP violations.
async fn serve_a_page_chromium_must_refuse() -> Url {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let body = "<!doctype html><title>control</title><style>body{color:red}</style>x";
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\
                 Content-Security-Policy: default-src 'none'\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    url
}

#[tokio::test]
async fn headless_chromium_renders_the_branded_page_with_no_csp_violation() {
    if !browser::available("login_browser") {
        return;
    }
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.chromium(profile.path(), &[]).await;

    // The control: a style the policy forbids is refused, and the console says so.
    browser
        .goto(serve_a_page_chromium_must_refuse().await.as_str())
        .await
        .unwrap();
    let control = browser::console_messages(&browser).await;
    assert!(
        control
            .iter()
            .any(|m| m.contains("Content Security Policy")),
        "the console read shows no CSP violation for the control page: {control:?}"
    );

    let page = LoopbackPage::builder()
        .product_name("Acme <Desktop>")
        .accent_color("#0a7d55")
        .profile("prod")
        .build()
        .unwrap();
    let receiver = LoopbackReceiver::bind("http://127.0.0.1:0/callback")
        .await
        .unwrap()
        .with_timeout(Duration::from_secs(60))
        .with_page(page);
    let mut redirect = receiver.redirect_uri().clone();
    redirect.set_query(Some("code=c1&state=st"));
    let wait = tokio::spawn(async move {
        receiver
            .wait(&ExpectedResponse::new("st".to_owned().into()))
            .await
    });
    browser.goto(redirect.as_str()).await.unwrap();
    assert_eq!(wait.await.unwrap().unwrap().expose_secret(), "c1");

    let messages = browser::console_messages(&browser).await;
    assert!(
        !messages
            .iter()
            .any(|m| m.contains("Content Security Policy")),
        "Chromium refused part of the page: {messages:?}"
    );
    // The stylesheet applied: the accent colour is on the card, the success mark is green.
    let styles = browser
        .execute(
            "const main = getComputedStyle(document.querySelector('main'));\
             const mark = getComputedStyle(document.querySelector('.mark'));\
             return [main.borderTopColor, mark.backgroundColor, \
                     document.querySelector('header').textContent, document.title];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(styles[0], "rgb(10, 125, 85)", "{styles}");
    assert_eq!(styles[1], "rgb(26, 127, 55)", "{styles}");
    assert_eq!(styles[2], "Acme <Desktop>", "{styles}");
    assert!(
        styles[3].as_str().unwrap().starts_with("Login complete"),
        "{styles}"
    );
    browser.close().await.unwrap();
}
