//! The `/auth/*` routes through `tower::ServiceExt::oneshot`, against the real IdP fixture
//! (logins are driven through its real login and consent forms by the scripted person).

use std::time::Duration;

use crate::support::{self, *};
use axum::http::StatusCode;
use latchkey_testkit::Idp;
use serde_json::{Value, json};

async fn status(app: &axum::Router, jar: &Jar) -> Value {
    let (response, body) = send(app, request("GET", "/auth/status", jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn full_login_shows_the_user_and_logout_revokes_and_clears() {
    let idp = Idp::start().await;
    let (_, app) = memory_app(&idp).await;
    assert_eq!(status(&app, &Jar::default()).await["authenticated"], false);

    let jar = log_in(&idp, &app).await;
    let shown = status(&app, &jar).await;
    assert_eq!(shown["authenticated"], true, "{shown}");
    assert_eq!(shown["sub"], "alice");
    assert_eq!(shown["name"], "Alice Example");
    assert_eq!(shown["email"], "alice@example.org");
    let expires_at = shown["expires_at"]
        .as_str()
        .expect("expires_at is a string");
    let expires_at: jiff::Timestamp = expires_at.parse().expect("expires_at is RFC 3339");
    assert!(
        expires_at > jiff::Timestamp::now() && shown["expires_at"].as_str().unwrap().ends_with('Z'),
        "a future UTC time: {shown}"
    );
    assert!(
        !shown.to_string().contains("token"),
        "no token in status: {shown}"
    );

    let (_, name) = send(&app, request("GET", "/whoami", &jar, [10, 0, 0, 1])).await;
    assert_eq!(name, "Alice Example");
    let (response, info) = send(&app, request("GET", "/auth/userinfo", &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::OK, "{info}");
    assert_eq!(
        serde_json::from_str::<Value>(&info).unwrap()["sub"],
        "alice"
    );
    let (_, access_token) = send(&app, request("GET", "/token", &jar, [10, 0, 0, 1])).await;
    assert!(idp.is_active(&access_token).await);
    let counters = idp.counters().await;
    assert_eq!(counters.token("authorization_code"), 1);

    let (response, body) = send(&app, request("POST", "/auth/logout", &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location(&response), "/");
    let mut after = jar.clone();
    after.absorb(&response);
    assert!(
        after.get("latchkey_session").is_none(),
        "the cookie is cleared"
    );
    // The old cookie is dead too: the session is gone server-side.
    assert_eq!(status(&app, &jar).await["authenticated"], false);
    let (response, _) = send(&app, request("GET", "/whoami", &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !idp.is_active(&access_token).await,
        "the tokens were revoked"
    );
    assert!(idp.counters().await.endpoint("revocation") >= 1);
}

#[tokio::test]
async fn end_session_logout_redirects_to_the_idp() {
    let idp = Idp::start().await;
    let auth = builder(&idp).await.end_session(true).build().unwrap();
    let app = app(&auth);
    let jar = log_in(&idp, &app).await;
    let (response, _) = send(&app, request("POST", "/auth/logout", &jar, [10, 0, 0, 1])).await;
    let target = url::Url::parse(&location(&response)).unwrap();
    assert!(
        target.as_str().starts_with(&idp.url("/session/end")),
        "{target}"
    );
    let query: std::collections::HashMap<_, _> = target.query_pairs().into_owned().collect();
    assert_eq!(query["post_logout_redirect_uri"], format!("{ORIGIN}/"));
    assert!(query.contains_key("id_token_hint"));
}

#[tokio::test]
async fn a_callback_with_another_state_is_rejected() {
    let idp = Idp::start().await;
    let (_, app) = memory_app(&idp).await;
    let mut jar = Jar::default();
    let mut callback = login_until_callback(&idp, &app, &mut jar).await;
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" {
                (k, "forged".into())
            } else {
                (k, v)
            }
        })
        .collect();
    callback.query_pairs_mut().clear().extend_pairs(pairs);
    let (response, body) = send(
        &app,
        request("GET", &target(&callback), &jar, [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("state"), "{body}");
    assert_eq!(
        idp.counters().await.token("authorization_code"),
        0,
        "no code exchange"
    );
}

#[tokio::test]
async fn a_replayed_callback_is_rejected() {
    let idp = Idp::start().await;
    let (_, app) = memory_app(&idp).await;
    let mut jar = Jar::default();
    let callback = login_until_callback(&idp, &app, &mut jar).await;
    let (first, _) = send(
        &app,
        request("GET", &target(&callback), &jar, [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let (again, body) = send(
        &app,
        request("GET", &target(&callback), &jar, [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("already completed"), "{body}");
    assert_eq!(
        idp.counters().await.token("authorization_code"),
        1,
        "the code was used once"
    );
}

#[tokio::test]
async fn a_callback_without_the_login_cookie_is_rejected() {
    let idp = Idp::start().await;
    let (_, app) = memory_app(&idp).await;
    let mut jar = Jar::default();
    let callback = login_until_callback(&idp, &app, &mut jar).await;
    let (response, body) = send(
        &app,
        request("GET", &target(&callback), &Jar::default(), [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("login cookie is missing"), "{body}");
    assert_eq!(idp.counters().await.token("authorization_code"), 0);
}

#[tokio::test]
async fn tampered_cookies_are_rejected() {
    let idp = Idp::start().await;
    let (_, app) = memory_app(&idp).await;
    let mut jar = Jar::default();
    let callback = login_until_callback(&idp, &app, &mut jar).await;
    let mut tampered = jar.clone();
    for (_, value) in &mut tampered.0 {
        // Flip the last character of the signed value (the id), keeping the MAC.
        let last = value.pop().unwrap();
        value.push(if last == 'A' { 'B' } else { 'A' });
    }
    let (response, body) = send(
        &app,
        request("GET", &target(&callback), &tampered, [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("signature is invalid"), "{body}");

    // A session cookie signed with another key is not a session.
    let signed_in = log_in(&idp, &app).await;
    let other = builder(&idp)
        .await
        .cookie_key(vec![1u8; 64].into())
        .build()
        .unwrap();
    let other_app = support::app(&other);
    assert_eq!(status(&other_app, &signed_in).await["authenticated"], false);
    let mut forged = signed_in.clone();
    for (_, value) in &mut forged.0 {
        value.insert(0, 'x');
    }
    assert_eq!(status(&app, &forged).await["authenticated"], false);
    assert_eq!(status(&app, &signed_in).await["authenticated"], true);
}

#[tokio::test]
async fn return_to_must_be_a_local_path() {
    let idp = Idp::start().await;
    let (_, app) = memory_app(&idp).await;
    for evil in [
        "https://evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
        "javascript:alert(1)",
    ] {
        let uri = format!("/auth/login?return_to={evil}");
        let (response, body) =
            send(&app, request("GET", &uri, &Jar::default(), [10, 0, 0, 2])).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{evil}: {body}");
        assert!(body.contains("return_to"), "{body}");
    }
    let (response, _) = send(
        &app,
        request(
            "GET",
            "/auth/login?return_to=/reports%3Fid%3D7",
            &Jar::default(),
            [10, 0, 0, 2],
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_is_rate_limited_per_address() {
    let idp = Idp::start().await;
    let auth = builder(&idp)
        .await
        .login_rate_limit(3, Duration::from_secs(3600))
        .build()
        .unwrap();
    let app = app(&auth);
    for _ in 0..3 {
        let (response, _) = send(
            &app,
            request("GET", "/auth/login", &Jar::default(), [10, 0, 0, 3]),
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let (response, body) = send(
        &app,
        request("GET", "/auth/login", &Jar::default(), [10, 0, 0, 3]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(response.headers().contains_key("retry-after"));
    let (response, _) = send(
        &app,
        request("GET", "/auth/login", &Jar::default(), [10, 0, 0, 4]),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "another address has its own budget"
    );
}

#[tokio::test]
async fn forwarded_for_counts_only_the_address_the_proxy_appended() {
    let idp = Idp::start().await;
    let limited = |trust: bool| {
        let idp = &idp;
        async move {
            let auth = builder(idp)
                .await
                .login_rate_limit(2, Duration::from_secs(3600))
                .trust_forwarded_for(trust)
                .build()
                .unwrap();
            app(&auth)
        }
    };
    // Every request comes through the same proxy (peer 10.0.0.9).
    let via_proxy = |forwarded: &str| {
        let mut request = request("GET", "/auth/login", &Jar::default(), [10, 0, 0, 9]);
        request
            .headers_mut()
            .insert("x-forwarded-for", forwarded.parse().unwrap());
        request
    };

    let trusted = limited(true).await;
    // A client rotating a spoofed first address stays in the bucket of the address the
    // proxy appended.
    for (i, expected) in [
        StatusCode::SEE_OTHER,
        StatusCode::SEE_OTHER,
        StatusCode::TOO_MANY_REQUESTS,
    ]
    .into_iter()
    .enumerate()
    {
        let (response, body) = send(&trusted, via_proxy(&format!("6.6.6.{i}, 192.0.2.1"))).await;
        assert_eq!(response.status(), expected, "request {i}: {body}");
    }
    // Another client behind the same proxy has its own budget.
    let (response, _) = send(&trusted, via_proxy("192.0.2.2")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // Not trusted: the header is ignored and everyone shares the proxy's bucket.
    let untrusted = limited(false).await;
    for (i, forwarded) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
        .into_iter()
        .enumerate()
    {
        let (response, _) = send(&untrusted, via_proxy(forwarded)).await;
        let expected = if i < 2 {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(response.status(), expected, "request {i}");
    }
}

#[tokio::test]
async fn get_logout_shows_a_sign_out_form_that_posts_same_origin() {
    let idp = Idp::start().await;
    let (_, app) = memory_app(&idp).await;
    let header = |response: &axum::http::Response<axum::body::Body>, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };

    let (response, body) = send(
        &app,
        request("GET", "/auth/logout", &Jar::default(), [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    assert!(header(&response, "content-type").starts_with("text/html"));
    let csp = header(&response, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert_eq!(header(&response, "cache-control"), "no-store");
    assert!(
        body.contains(r#"<form method="post" action="/auth/logout">"#),
        "{body}"
    );
    assert!(body.contains("not signed in"), "{body}");

    let jar = log_in(&idp, &app).await;
    let (response, body) = send(&app, request("GET", "/auth/logout", &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    assert!(body.contains("signed in as Alice Example"), "{body}");
    assert_eq!(
        status(&app, &jar).await["authenticated"],
        true,
        "GET signs nobody out"
    );

    // The form's POST still goes through the same-origin check.
    let mut cross = request("POST", "/auth/logout", &jar, [10, 0, 0, 1]);
    cross
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    let (response, _) = send(&app, cross).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (response, _) = send(&app, request("POST", "/auth/logout", &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(&app, &jar).await["authenticated"], false);
}

#[tokio::test]
async fn state_changing_routes_need_the_same_origin() {
    let idp = Idp::start().await;
    let (_, app) = memory_app(&idp).await;
    let jar = log_in(&idp, &app).await;
    for path in ["/auth/logout", "/auth/refresh"] {
        let mut cross = request("POST", path, &jar, [10, 0, 0, 1]);
        cross
            .headers_mut()
            .insert("origin", "http://evil.example".parse().unwrap());
        let (response, body) = send(&app, cross).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}: {body}");
        let mut none = request("POST", path, &jar, [10, 0, 0, 1]);
        none.headers_mut().remove("origin");
        let (response, _) = send(&app, none).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{path} without Origin"
        );
    }
    assert_eq!(
        status(&app, &jar).await["authenticated"],
        true,
        "still signed in"
    );
}

#[tokio::test]
async fn refresh_route_renews_the_access_token_once() {
    let idp = Idp::start().await;
    let (_, app) = memory_app(&idp).await;
    let jar = log_in(&idp, &app).await;
    let (_, before) = send(&app, request("GET", "/token", &jar, [10, 0, 0, 1])).await;
    let (response, body) = send(&app, request("POST", "/auth/refresh", &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    let (_, after) = send(&app, request("GET", "/token", &jar, [10, 0, 0, 1])).await;
    assert_ne!(before, after);
    assert_eq!(idp.counters().await.token("refresh_token"), 1);
}

#[tokio::test]
async fn the_extractor_refreshes_an_expiring_token_once_for_concurrent_requests() {
    let idp = Idp::start().await;
    // Access tokens live 4 s; the refresh margin is capped at half of that.
    idp.set_ttl(json!({ "AccessToken": 4 })).await;
    let (_, app) = memory_app(&idp).await;
    let jar = log_in(&idp, &app).await;
    let (_, first) = send(&app, request("GET", "/token", &jar, [10, 0, 0, 1])).await;
    // Wait until the token is inside the margin (this is a correctness test, not a timing
    // one: any wait between 2 s and 4 s works).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let requests = (0..8).map(|_| send(&app, request("GET", "/token", &jar, [10, 0, 0, 1])));
    let answers = futures::future::join_all(requests).await;
    let fresh: std::collections::HashSet<_> = answers.into_iter().map(|(_, t)| t).collect();
    assert_eq!(fresh.len(), 1, "every request got the same new token");
    assert!(!fresh.contains(&first));
    assert_eq!(
        idp.counters().await.token("refresh_token"),
        1,
        "one refresh"
    );
}

#[tokio::test]
async fn the_session_cookie_has_the_right_flags() {
    let idp = Idp::start().await;
    let (_, app) = memory_app(&idp).await;
    let mut jar = Jar::default();
    let callback = login_until_callback(&idp, &app, &mut jar).await;
    let (response, _) = send(
        &app,
        request("GET", &target(&callback), &jar, [10, 0, 0, 1]),
    )
    .await;
    let session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("latchkey_session="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(flag), "{session}");
    }
    // Loopback development mode is the only way to drop `Secure`.
    assert!(!session.contains("Secure"), "{session}");
}

#[tokio::test]
async fn the_builder_refuses_unsafe_settings() {
    let idp = Idp::start().await;
    let provider = latchkey::OidcProvider::discover(idp.issuer())
        .await
        .unwrap();
    let client = provider.client_builder("web-app").build().unwrap();
    let base = |url: &str| {
        latchkey_axum::WebAuth::builder(provider.clone(), client.clone(), url).cookie_key(key())
    };
    let refused = |result: Result<latchkey_axum::WebAuth, latchkey_axum::WebAuthError>| {
        result.expect_err("must be refused").to_string()
    };
    assert!(refused(base("http://app.example").build()).contains("https"));
    assert!(
        refused(
            base("https://app.example")
                .loopback_development(true)
                .build()
        )
        .contains("loopback")
    );
    assert!(refused(base("https://app.example/app").build()).contains("origin only"));
    assert!(
        refused(
            latchkey_axum::WebAuth::builder(
                provider.clone(),
                client.clone(),
                "https://app.example"
            )
            .cookie_key(vec![1u8; 16].into())
            .build()
        )
        .contains("32 bytes")
    );
    let secure = base("https://app.example").build().unwrap();
    assert_eq!(secure.origin(), "https://app.example");
}

#[tokio::test]
async fn finding_return_to_dot_segments_cannot_reach_another_host() {
    let idp = Idp::start().await;
    let (_, app) = memory_app(&idp).await;
    // Each resolves (WHATWG URL) to the path `//evil.example`, which a browser or a
    // trailing-slash redirect downstream can turn into the host `evil.example`; encoded
    // slashes and backslashes are refused too.
    for evil in [
        "/.//evil.example",
        "/..//evil.example",
        "/a/..//evil.example",
        "/%2e//evil.example",
        "/%2E%2E//evil.example",
        "/%2f%2fevil.example",
        "/%5C%5Cevil.example",
        "/a%2F..%2F..%2F/evil.example",
    ] {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", evil)
            .finish();
        let (response, body) = send(
            &app,
            request(
                "GET",
                &format!("/auth/login?{query}"),
                &Jar::default(),
                [10, 0, 0, 2],
            ),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{evil}: {body}");
        assert!(body.contains("return_to"), "{body}");
    }
    // An accepted path is kept in its normalised form: the callback goes where the
    // browser would have resolved it anyway.
    let mut jar = Jar::default();
    let callback = login_until_callback_to(&idp, &app, &mut jar, "/a/./b/../../whoami").await;
    let (response, body) = send(
        &app,
        request("GET", &target(&callback), &jar, [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location(&response), "/whoami");
}

/// Asserts the headers every error page carries.
fn assert_error_page_headers(response: &axum::http::Response<axum::body::Body>, what: &str) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        header("cache-control").as_deref(),
        Some("no-store"),
        "{what}"
    );
}

#[tokio::test]
async fn finding_error_pages_are_nosniff_no_store_and_echo_no_request_text() {
    let idp = Idp::start().await;
    let (_, app) = memory_app(&idp).await;

    // A cross-origin POST: refused without repeating the Origin it named.
    let mut cross = request("POST", "/auth/logout", &Jar::default(), [10, 0, 0, 1]);
    cross
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    let (response, body) = send(&app, cross).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "{body}");
    assert!(
        !body.contains("evil.example"),
        "the Origin is echoed: {body}"
    );
    assert_error_page_headers(&response, "403 cross-origin");

    // The provider's `error_description` (here on a callback with this login's own state)
    // reaches the page only as printable ASCII, at most 200 characters. The state is read
    // from the authorization URL, so this app does not push its requests (PAR).
    let auth = builder(&idp)
        .await
        .par(latchkey::authorization::ParMode::Never)
        .build()
        .unwrap();
    let app = crate::support::app(&auth);
    let mut jar = Jar::default();
    let (response, _) = send(&app, request("GET", "/auth/login", &jar, [10, 0, 0, 1])).await;
    jar.absorb(&response);
    let authorization = url::Url::parse(&location(&response)).unwrap();
    let state = authorization
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let description = format!(
        "<script>alert(1)</script>\u{202e}\u{1b}[31m\r\nSet-Cookie: x=y é{}",
        "x".repeat(500)
    );
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("state", &state)
        .append_pair("iss", idp.issuer())
        .append_pair("error", "access_denied")
        .append_pair("error_description", &description)
        .finish();
    let (response, body) = send(
        &app,
        request(
            "GET",
            &format!("/auth/callback?{query}"),
            &jar,
            [10, 0, 0, 1],
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "{body}");
    assert_error_page_headers(&response, "403 access denied");
    let first_line = body.lines().next().unwrap();
    let shown = first_line
        .strip_prefix("the login was denied: ")
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        shown.chars().count() <= 200,
        "{} characters: {shown}",
        shown.len()
    );
    assert!(
        body.chars().all(|c| c == '\n' || (' '..='~').contains(&c)),
        "not printable ASCII: {body:?}"
    );
    assert!(shown.starts_with("<script>alert(1)</script>"), "{shown}");

    // Every other error page too.
    for (uri, status) in [
        (
            "/auth/login?return_to=//evil.example",
            StatusCode::BAD_REQUEST,
        ),
        ("/whoami", StatusCode::UNAUTHORIZED),
        ("/auth/callback?state=x&code=y", StatusCode::BAD_REQUEST),
    ] {
        let (response, body) =
            send(&app, request("GET", uri, &Jar::default(), [10, 0, 0, 5])).await;
        assert_eq!(response.status(), status, "{uri}: {body}");
        assert_error_page_headers(&response, uri);
    }
}

#[tokio::test]
async fn finding_secure_session_cookies_use_the_host_prefix() {
    let idp = Idp::start().await;
    // Secure cookies (no loopback development mode): `oneshot` does not care about TLS.
    let auth = builder(&idp)
        .await
        .loopback_development(false)
        .build()
        .unwrap();
    let app = app(&auth);
    let set_cookies = |response: &axum::http::Response<axum::body::Body>| -> Vec<String> {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    };
    // `__Host-` cookies must be Secure, Path=/ and carry no Domain, or browsers drop them.
    let assert_host_cookie = |cookie: &str| {
        for flag in ["Secure", "Path=/", "HttpOnly", "SameSite=Lax"] {
            assert!(cookie.split("; ").any(|f| f == flag), "{flag}: {cookie}");
        }
        assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    };

    let mut jar = Jar::default();
    let callback = login_until_callback(&idp, &app, &mut jar).await;
    assert!(
        jar.get("__Host-latchkey_session_login").is_some(),
        "login cookie: {jar:?}"
    );
    // A login cookie under the plain name (a sibling subdomain can set that one) is not
    // the login cookie.
    let plain_login = Jar(jar
        .0
        .iter()
        .map(|(k, v)| (k.trim_start_matches("__Host-").to_owned(), v.clone()))
        .collect());
    let (response, body) = send(
        &app,
        request("GET", &target(&callback), &plain_login, [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");

    let (response, body) = send(
        &app,
        request("GET", &target(&callback), &jar, [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{body}");
    let cookies = set_cookies(&response);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-latchkey_session="))
        .unwrap_or_else(|| panic!("no __Host- session cookie: {cookies:?}"));
    assert_host_cookie(session);
    let cleared = cookies
        .iter()
        .find(|c| c.starts_with("__Host-latchkey_session_login="))
        .unwrap_or_else(|| panic!("the login cookie is not cleared: {cookies:?}"));
    assert_host_cookie(cleared);
    jar.absorb(&response);
    assert_eq!(status(&app, &jar).await["authenticated"], true);

    // The same signed session id under the plain name (what a sibling subdomain could plant
    // to fix a session or log the victim in as the attacker) is not a session.
    let planted = Jar(vec![(
        "latchkey_session".to_owned(),
        jar.get("__Host-latchkey_session").unwrap().to_owned(),
    )]);
    assert_eq!(status(&app, &planted).await["authenticated"], false);

    // Logout clears the prefixed cookie.
    let (response, _) = send(&app, request("POST", "/auth/logout", &jar, [10, 0, 0, 1])).await;
    let cookies = set_cookies(&response);
    let clear = cookies
        .iter()
        .find(|c| c.starts_with("__Host-latchkey_session="))
        .unwrap_or_else(|| panic!("the session cookie is not cleared: {cookies:?}"));
    assert!(clear.contains("Max-Age=0"), "{clear}");
    assert_host_cookie(clear);

    // A name that already carries a prefix is refused (the prefix is the builder's job).
    let refused = builder(&idp)
        .await
        .cookie_name("__Host-mine")
        .build()
        .expect_err("a prefixed cookie name must be refused");
    assert!(refused.to_string().contains("cookie_name"), "{refused}");
}

/// Starts logins from `peer`, one per expected status, and checks each answer.
async fn logins_from(app: &axum::Router, peer: Option<&str>, expected: &[StatusCode]) {
    for (i, expected) in expected.iter().enumerate() {
        let peer = peer.map(|p| std::net::SocketAddr::new(p.parse().unwrap(), 40000));
        let (response, body) = send(
            app,
            request_from("GET", "/auth/login", &Jar::default(), peer),
        )
        .await;
        assert_eq!(
            response.status(),
            *expected,
            "login {i} from {peer:?}: {body}"
        );
    }
}

#[tokio::test]
async fn finding_login_limit_buckets_ipv6_by_64() {
    let idp = Idp::start().await;
    let auth = builder(&idp)
        .await
        .login_rate_limit(2, Duration::from_secs(3600))
        .build()
        .unwrap();
    let app = app(&auth);
    let (ok, limited) = (StatusCode::SEE_OTHER, StatusCode::TOO_MANY_REQUESTS);
    // One host hands itself any address of its /64 (RFC 8981 temporary addresses): every
    // address in it is one client.
    logins_from(&app, Some("2001:db8:1:2::1"), &[ok]).await;
    logins_from(&app, Some("2001:db8:1:2:ffff:ffff:ffff:fffe"), &[ok]).await;
    for address in ["2001:db8:1:2::3", "2001:db8:1:2:abcd::77"] {
        logins_from(&app, Some(address), &[limited]).await;
    }
    // The next /64 is another client.
    logins_from(&app, Some("2001:db8:1:3::1"), &[ok, ok, limited]).await;
    // An IPv4 client reached over an IPv4-mapped IPv6 socket is still that IPv4 address.
    logins_from(&app, Some("192.0.2.7"), &[ok, ok]).await;
    logins_from(&app, Some("::ffff:192.0.2.7"), &[limited]).await;
    logins_from(&app, Some("192.0.2.8"), &[ok]).await;
}

#[tokio::test]
async fn finding_login_limit_without_peer_address_is_not_global() {
    let idp = Idp::start().await;
    let auth = builder(&idp)
        .await
        .login_rate_limit(2, Duration::from_secs(3600))
        .build()
        .unwrap();
    let app = app(&auth);
    // This test's own thread-local subscriber (the runtime is single-threaded, so the
    // handlers run on this thread); other tests may have set the global one.
    let logs = latchkey_testkit::logs::CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // Served without `ConnectInfo` (plain `axum::serve(listener, app)`): the address is
    // unknown, so no client can use up everyone's budget.
    let ok = StatusCode::SEE_OTHER;
    logins_from(&app, None, &[ok; 6]).await;
    let text = logs.text();
    assert_eq!(
        text.matches("peer address").count(),
        1,
        "one warning, naming the cause: {text}"
    );
    assert!(text.contains("WARN"), "{text}");
    // Clients with a known address are still limited.
    logins_from(
        &app,
        Some("192.0.2.9"),
        &[ok, ok, StatusCode::TOO_MANY_REQUESTS],
    )
    .await;
}

#[tokio::test]
async fn finding_pending_logins_capped_with_503_and_retry_after() {
    let idp = Idp::start().await;
    let auth = builder(&idp).await.max_pending_logins(3).build().unwrap();
    let app = app(&auth);
    let mut jars = Vec::new();
    for i in 0..3 {
        let mut jar = Jar::default();
        let (response, body) = send(&app, request("GET", "/auth/login", &jar, [10, 1, 0, i])).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "login {i}: {body}"
        );
        jar.absorb(&response);
        jars.push(jar);
    }
    // Full: refused before anything is stored, with a hint of when to come back.
    let (response, body) = send(
        &app,
        request("GET", "/auth/login", &Jar::default(), [10, 1, 0, 9]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    assert!(body.contains("logins in progress"), "{body}");
    // A callback ends its pending login (here a failed one: the state is not this login's),
    // which frees a place.
    let (response, body) = send(
        &app,
        request(
            "GET",
            "/auth/callback?state=forged&code=x",
            &jars[0],
            [10, 1, 0, 0],
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    let (response, body) = send(
        &app,
        request("GET", "/auth/login", &Jar::default(), [10, 1, 0, 9]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{body}");
}
