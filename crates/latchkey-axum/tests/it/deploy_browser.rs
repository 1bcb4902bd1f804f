//! The protect-all layer with roles in a real headless Chromium, against the IdP fixture:
//! the browser asks for a protected page with a query, is sent to the IdP's login form, and
//! lands back on that very page showing the user's roles; the admin-only page opens; the
//! status JSON carries the roles. A screenshot is saved as
//! `target/artifacts/deploy-protected.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (see `web_app_browser`).
#![allow(
    clippy::disallowed_methods,
    reason = "screenshots are test artifacts, not secrets"
)]

use std::net::SocketAddr;

use axum::Router;
use axum::extract::RawQuery;
use axum::response::Html;
use axum::routing::get;
use latchkey::html::escape_html;
use latchkey_axum::{AuthenticatedUser, RequireAdmin};
use latchkey_testkit::Idp;
use latchkey_testkit::browser::{self, Driver};
use latchkey_testkit::clients::ALICE;

use crate::support::builder_at;

/// A protected app on a free loopback port (`/` public); returns its origin.
async fn start_protected_app(idp: &Idp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let auth = builder_at(idp, &origin)
        .await
        .default_roles(["viewer"])
        .admin_users(["alice"])
        .public_paths(["/"])
        .build()
        .unwrap();
    let app = auth.attach_protected(
        Router::new()
            .route("/", get(|| async { Html("<p id=\"home\">home</p>") }))
            .route(
                "/reports",
                get(
                    |user: AuthenticatedUser, RawQuery(query): RawQuery| async move {
                        Html(format!(
                            "<p id=\"name\">{}</p><p id=\"roles\">{}</p><p id=\"query\">{}</p>",
                            escape_html(user.name().unwrap_or("?")),
                            escape_html(&user.roles().join(" ")),
                            escape_html(query.as_deref().unwrap_or("")),
                        ))
                    },
                ),
            )
            .route(
                "/admin",
                get(|user: RequireAdmin| async move {
                    Html(format!(
                        "<p id=\"admin\">admin {}</p>",
                        escape_html(user.sub())
                    ))
                }),
            ),
    );
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
async fn headless_chromium_is_sent_to_sign_in_and_back_to_the_protected_page_with_roles() {
    if !browser::available("deploy_browser") {
        return;
    }
    let idp = Idp::start().await;
    let origin = start_protected_app(&idp).await;
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver
        .chromium(profile.path(), &["--window-size=1000,700"])
        .await;

    let asked = format!("{origin}/reports?year=2026&q=a%20b");
    browser.goto(&asked).await.unwrap();
    // Sent away to the IdP's login form, not shown the page.
    browser::log_in_and_consent(&browser, ALICE).await;

    assert_eq!(browser::text_of(&browser, "#name").await, "Alice Example");
    assert_eq!(browser.current_url().await.unwrap().as_str(), asked);
    assert_eq!(
        browser::text_of(&browser, "#query").await,
        "year=2026&q=a%20b"
    );
    assert_eq!(browser::text_of(&browser, "#roles").await, "viewer admin");
    let screenshot = browser.screenshot().await.unwrap();
    assert!(screenshot.starts_with(b"\x89PNG"));
    std::fs::write(browser::artifact("deploy-protected.png"), &screenshot).unwrap();

    browser.goto(&format!("{origin}/admin")).await.unwrap();
    assert_eq!(browser::text_of(&browser, "#admin").await, "admin alice");
    browser
        .goto(&format!("{origin}/auth/status"))
        .await
        .unwrap();
    let status = browser::text_of(&browser, "body").await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["roles"], serde_json::json!(["viewer", "admin"]));

    // The public page is served as it is.
    browser.goto(&format!("{origin}/")).await.unwrap();
    assert_eq!(browser::text_of(&browser, "#home").await, "home");
    browser.close().await.unwrap();
}
