//! The loopback redirect receiver under the things browsers and users actually do.

use std::time::Duration;

use latchkey::authorization::AuthorizationRequest;
use latchkey::loopback::{ExpectedResponse, LoopbackReceiver};
use latchkey::{AuthorizationCode, Error, ExposeSecret, LoginError, OAuthClient, TokenManager};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, NATIVE_APP};
use latchkey_testkit::person::UserAgent;
use tokio::io::AsyncWriteExt;
use url::Url;

fn with_path(base: &Url, path_and_query: &str) -> Url {
    base.join(path_and_query).unwrap()
}

#[tokio::test]
async fn idle_preconnect_favicon_and_wrong_state_do_not_stop_the_real_redirect() {
    let idp = Idp::start().await;
    let origin = idp.issuer().to_owned();
    let (log_tx, mut log_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<String>>();
    let opener = move |auth: &Url| {
        let (auth, origin, log_tx) = (auth.clone(), origin.clone(), log_tx.clone());
        tokio::spawn(async move {
            let redirect_uri: Url = auth
                .query_pairs()
                .find(|(k, _)| k == "redirect_uri")
                .map(|(_, v)| v.parse().unwrap())
                .unwrap();
            let port = redirect_uri.port().unwrap();
            // A browser's speculative connection that never sends a byte, held open for
            // the whole login.
            let idle = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            // And one that sends half a request line and stalls.
            let mut half = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            half.write_all(b"GET /callback?co").await.unwrap();

            let agent = UserAgent::new();
            let favicon = agent.get(&with_path(&redirect_uri, "/favicon.ico")).await;
            let stale = agent
                .get(&with_path(
                    &redirect_uri,
                    "/callback?code=old&state=from-an-old-tab",
                ))
                .await;
            let redirect = agent
                .log_in_and_consent(&auth, &origin, ALICE)
                .await
                .expect_err("redirect to the client");
            let done = agent.get(&redirect).await;
            drop((idle, half));
            let _ = log_tx.send(vec![
                format!("favicon {}", favicon.status.as_u16()),
                format!("stale {} {}", stale.status.as_u16(), stale.body),
                format!("done {}", done.status.as_u16()),
            ]);
        });
    };
    let client = OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let grant = AuthorizationCode::builder(
        AuthorizationRequest::builder(idp.url("/auth"))
            .scopes(["openid"])
            .issuer(idp.issuer(), true)
            .build()
            .unwrap(),
    )
    .timeout(Duration::from_secs(60))
    .on_authorization_url(opener)
    .build()
    .unwrap();
    let manager = TokenManager::builder(client, grant).build().unwrap();
    manager.login().await.expect("login despite the noise");

    // The page was written before the receiver stopped; the browser task reports it.
    let log = log_rx.recv().await.expect("the browser task finished");
    assert_eq!(log[0], "favicon 404");
    assert!(log[1].starts_with("stale 400"), "{}", log[1]);
    assert!(log[1].contains("does not belong"), "{}", log[1]);
    assert_eq!(log[2], "done 200");
}

#[tokio::test]
async fn idp_access_denied_ends_the_login_with_a_typed_error() {
    let idp = Idp::start().await;
    let origin = idp.issuer().to_owned();
    let (page_tx, mut page_rx) = tokio::sync::mpsc::unbounded_channel();
    let client = OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let grant = AuthorizationCode::builder(
        AuthorizationRequest::builder(idp.url("/auth"))
            .scopes(["openid"])
            .build()
            .unwrap(),
    )
    .timeout(Duration::from_secs(60))
    .on_authorization_url(move |auth: &Url| {
        let (auth, origin, page_tx) = (auth.clone(), origin.clone(), page_tx.clone());
        tokio::spawn(async move {
            let agent = UserAgent::new();
            let redirect = latchkey_testkit::person::cancel_login(&agent, &auth, &origin).await;
            let shown = agent.get(&redirect).await;
            let _ = page_tx.send((shown.status.as_u16(), shown.body));
        });
    })
    .build()
    .unwrap();
    let manager = TokenManager::builder(client, grant).build().unwrap();
    let err = manager.login().await.unwrap_err();
    match &err {
        Error::Login(LoginError::AccessDenied { description }) => {
            assert!(description.is_some(), "the IdP's description is kept");
        }
        other => panic!("expected AccessDenied, got {other:?}"),
    }
    assert!(err.hint().is_some());
    // The page was written before the receiver stopped; the browser task reports it.
    let (status, body) = page_rx.recv().await.expect("the browser got a page");
    assert_eq!(status, 400);
    assert!(body.contains("access_denied"), "{body}");
    assert_eq!(idp.counters().await.token_total(), 0, "nothing exchanged");
}

#[tokio::test]
async fn provider_words_are_html_escaped_on_the_error_page() {
    let receiver = LoopbackReceiver::bind("http://127.0.0.1:0/cb")
        .await
        .unwrap();
    let uri = receiver.redirect_uri().clone();
    let wait = tokio::spawn(async move {
        receiver
            .wait(&ExpectedResponse::new("s".to_owned().into()))
            .await
    });
    let mut target = uri.clone();
    target
        .query_pairs_mut()
        .append_pair("error", "invalid_scope")
        .append_pair("error_description", "<script>alert('x')</script>")
        .append_pair("state", "s");
    let page = UserAgent::new().get(&target).await;
    assert_eq!(page.status.as_u16(), 400);
    assert!(!page.body.contains("<script>"), "{}", page.body);
    assert!(
        page.body.contains("&lt;script&gt;alert(&#x27;x&#x27;)"),
        "{}",
        page.body
    );
    let err = wait.await.unwrap().unwrap_err();
    assert!(
        matches!(&err, Error::Login(LoginError::Authorization { error, .. }) if error == "invalid_scope"),
        "{err:?}"
    );
}

#[tokio::test]
async fn no_redirect_within_the_timeout_is_a_clear_error() {
    let receiver = LoopbackReceiver::bind("http://127.0.0.1:0/callback")
        .await
        .unwrap()
        .with_timeout(Duration::from_millis(300));
    let err = receiver
        .wait(&ExpectedResponse::new("s".to_owned().into()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Login(LoginError::Timeout { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("no login response"), "{err}");
    // The library's hint names the API; the profile layer words it for the command line.
    assert!(
        err.hint().unwrap().contains("device grant"),
        "{:?}",
        err.hint()
    );
    #[cfg(feature = "profiles")]
    assert!(
        latchkey::profile::cli_hint(&err)
            .unwrap()
            .contains("--device"),
        "{:?}",
        latchkey::profile::cli_hint(&err)
    );
}

#[tokio::test]
async fn a_taken_pinned_port_is_named_in_the_error() {
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = squatter.local_addr().unwrap().port();
    let err = LoopbackReceiver::bind(&format!("http://127.0.0.1:{port}/callback"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Login(LoginError::PortInUse { port: p }) if p == port),
        "{err:?}"
    );
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    assert!(err.hint().unwrap().contains(&port.to_string()));
}

#[tokio::test]
async fn localhost_listens_on_both_families_on_one_port() {
    let receiver = LoopbackReceiver::bind("http://localhost:0/callback")
        .await
        .unwrap();
    let addrs = receiver.local_addrs();
    let port = receiver.redirect_uri().port().unwrap();
    assert!(
        addrs
            .iter()
            .all(|a| a.port() == port && a.ip().is_loopback())
    );
    assert!(addrs.iter().any(|a| a.is_ipv4()));
    let ipv6 = addrs.iter().any(|a| a.is_ipv6());
    let wait = tokio::spawn(async move {
        receiver
            .wait(&ExpectedResponse::new("st".to_owned().into()))
            .await
    });
    // Come back over IPv6 when the machine has it, as a browser resolving localhost may.
    let host = if ipv6 { "[::1]" } else { "127.0.0.1" };
    let url = Url::parse(&format!("http://{host}:{port}/callback?code=c6&state=st")).unwrap();
    assert_eq!(UserAgent::new().get(&url).await.status.as_u16(), 200);
    assert_eq!(wait.await.unwrap().unwrap().expose_secret(), "c6");
}

#[tokio::test]
async fn non_loopback_redirect_uris_are_refused() {
    for uri in [
        "http://example.org:0/callback",
        "https://127.0.0.1:0/callback",
        "http://0.0.0.0:0/callback",
    ] {
        let err = LoopbackReceiver::bind(uri).await.unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{uri}: {err:?}");
    }
}
