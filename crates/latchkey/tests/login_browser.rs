//! The browser login driven by a real headless Chromium (through chromedriver): the IdP's
//! login and consent pages, then the browser's own redirect to the loopback receiver.
//!
//! Needs Debian's `chromium` and `chromium-driver` (the project's test script installs
//! them); without them the test prints why and passes vacuously.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use latchkey::{AuthorizationCode, OAuthClient, TokenManager};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, NATIVE_APP};
use serde_json::json;
use tokio::sync::mpsc;
use url::Url;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    _child: tokio::process::Child,
    url: String,
}

async fn start_chromedriver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..100 {
        if let Ok(response) = http.get(format!("{url}/status")).send().await
            && response.status().is_success()
        {
            return Driver { _child: child, url };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not become ready on port {port}");
}

#[tokio::test]
async fn headless_chromium_logs_in_through_the_loopback_receiver() {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(tool).exists() {
            // scripts/test.sh installs the browser and sets this: there, a skip is a failure.
            assert!(
                std::env::var_os("LATCHKEY_REQUIRE_BROWSER").is_none(),
                "{tool} is missing (apt install chromium chromium-driver)"
            );
            eprintln!(
                "\n!!! SKIPPING login_browser: {tool} is missing. Install Debian's `chromium` \
                 and `chromium-driver` (scripts/test.sh does) to run the real-browser login test.\n"
            );
            return;
        }
    }
    let driver = start_chromedriver().await;
    let profile = tempfile::tempdir().unwrap();
    let idp = Idp::start().await;

    let (tx, mut rx) = mpsc::unbounded_channel::<Url>();
    let client = OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let grant = AuthorizationCode::builder(idp.url("/auth"))
        .redirect_uri("http://127.0.0.1:0/callback")
        .scopes(["openid", "profile", "offline_access"])
        .param("prompt", "consent")
        .issuer(idp.issuer(), true)
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

    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let browser = ClientBuilder::rustls()
        .expect("webdriver HTTP connector")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a chromium session");
    let wait = Duration::from_secs(30);

    browser.goto(auth_url.as_str()).await.unwrap();
    let outcome = async {
        browser
            .wait()
            .at_most(wait)
            .for_element(Locator::Css("input[name=login]"))
            .await
            .expect("the login form")
            .send_keys(ALICE.0)
            .await
            .unwrap();
        browser
            .find(Locator::Css("input[name=password]"))
            .await
            .unwrap()
            .send_keys(ALICE.1)
            .await
            .unwrap();
        browser
            .find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // The consent page: its form carries `prompt=consent`.
        browser
            .wait()
            .at_most(wait)
            .for_element(Locator::Css("input[name=prompt][value=consent]"))
            .await
            .expect("the consent form");
        browser
            .find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        login_task.await.expect("login task")
    }
    .await;
    let tokens = outcome.expect("login through a real browser");
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
