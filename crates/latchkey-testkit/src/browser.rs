//! Real headless Chromium for browser tests: Debian's `chromium` driven through
//! `chromedriver` (WebDriver, via fantoccini), and a person at its keyboard who logs in to
//! the identity provider fixture.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use url::{ParseError, Url};

use crate::person::{LOGIN_FIELD, PASSWORD_FIELD};

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's ChromeDriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether Chromium and ChromeDriver are installed. When they are not, prints why `test` is
/// skipped and returns `false` — unless `LATCHKEY_REQUIRE_BROWSER` is set (the test command
/// sets it after installing them), where a missing browser fails the test instead.
pub fn available(test: &str) -> bool {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(tool).exists() {
            assert!(
                std::env::var_os("LATCHKEY_REQUIRE_BROWSER").is_none(),
                "{tool} is missing (apt install chromium chromium-driver)"
            );
            eprintln!(
                "\n!!! SKIPPING {test}: {tool} is missing. Install Debian's `chromium` \
                 and `chromium-driver` (scripts/test.sh does) to run the real-browser test.\n"
            );
            return false;
        }
    }
    true
}

/// How long a page of the identity provider may take to show up.
const PAGE_WAIT: Duration = Duration::from_secs(30);

/// Types `user`'s name and password into the identity provider fixture's login form and
/// consents on the page that follows, as a person would, in a browser that is on (or on its
/// way to) the login page. Where the browser goes next is up to the identity provider: the
/// caller checks where it lands. Panics naming the form that did not appear.
pub async fn log_in_and_consent(browser: &Client, (user, password): (&str, &str)) {
    type_into(browser, &format!("input[name={LOGIN_FIELD}]"), user).await;
    type_into(browser, &format!("input[name={PASSWORD_FIELD}]"), password).await;
    click_submit(browser, "the login form").await;
    // The consent form is the one that carries `prompt=consent`.
    wait_for(
        browser,
        "input[name=prompt][value=consent]",
        "the consent form",
    )
    .await;
    click_submit(browser, "the consent form").await;
}

/// The text of the first element matching `css`, once it shows up. Panics naming `css` when
/// it does not.
pub async fn text_of(browser: &Client, css: &str) -> String {
    wait_for(browser, css, "the page")
        .await
        .text()
        .await
        .unwrap_or_else(|e| panic!("reading the text of `{css}`: {e}"))
}

/// Clicks the first element matching `css`, once it shows up.
pub async fn click(browser: &Client, css: &str) {
    wait_for(browser, css, "the page")
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking `{css}`: {e}"));
}

/// Where a browser test keeps a screenshot or page dump named `name`:
/// `target/artifacts/` at the workspace root (created when missing).
pub fn artifact(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/artifacts");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir.join(name)
}

async fn wait_for(browser: &Client, css: &str, what: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{what}: no `{css}` on the page: {e}"))
}

async fn type_into(browser: &Client, css: &str, text: &str) {
    wait_for(browser, css, "the login form")
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("typing into `{css}`: {e}"));
}

async fn click_submit(browser: &Client, what: &str) {
    wait_for(browser, "button[type=submit]", what)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("submitting {what}: {e}"));
}

/// chromedriver on a free loopback port, killed when dropped.
#[derive(Debug)]
pub struct Driver {
    _child: tokio::process::Child,
    url: String,
}

impl Driver {
    /// Starts chromedriver and waits until it answers `/status`.
    pub async fn start() -> Driver {
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
        #[allow(
            clippy::disallowed_methods,
            reason = "polls the local chromedriver, bypassing any proxy"
        )]
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

    /// A headless Chromium session with its own profile directory. The flags keep it off
    /// the network (this machine's closed network refuses Chromium's background traffic);
    /// `extra_args` are appended.
    pub async fn chromium(&self, profile: &Path, extra_args: &[&str]) -> Client {
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ]
        .into_iter()
        .chain(extra_args.iter().copied())
        .map(str::to_owned)
        .collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        // Keeps the page's console, so tests can see what Chromium refused (CSP).
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        ClientBuilder::rustls()
            .expect("webdriver HTTP connector")
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a chromium session")
    }
}

/// The messages Chromium's console logged since the last call (a CSP violation shows up
/// as "… violates the following Content Security Policy directive …"), read through
/// chromedriver's log endpoint.
pub async fn console_messages(browser: &Client) -> Vec<String> {
    let entries = browser
        .issue_cmd(BrowserLog)
        .await
        .unwrap_or_else(|e| panic!("reading Chromium's console: {e}"));
    entries
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// chromedriver's `POST /session/{id}/se/log` for the `browser` log.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &Url, session: Option<&str>) -> Result<Url, ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _url: &Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}
