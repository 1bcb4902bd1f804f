//! The loopback redirect receiver under the things browsers and users actually do.

use std::time::Duration;

use latchkey::authorization::AuthorizationRequest;
use latchkey::loopback::{ExpectedResponse, LoginOutcome, LoopbackPage, LoopbackReceiver};
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

/// Sends one request head over a raw TCP connection (so the `Host` line is exactly what the
/// test says, which no HTTP client allows) and returns the answer's status code.
async fn raw_get(port: u16, host: Option<&str>, target: &str) -> u16 {
    let answer = raw_answer(port, host, target).await;
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

/// Like [`raw_get`], but returns the whole answer: status line, headers and page.
async fn raw_answer(port: u16, host: Option<&str>, target: &str) -> String {
    use tokio::io::AsyncReadExt;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let host = host.map_or(String::new(), |h| format!("Host: {h}\r\n"));
    stream
        .write_all(format!("GET {target} HTTP/1.1\r\n{host}Connection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    answer
}

/// DNS rebinding: a web page whose host name resolves to 127.0.0.1 reaches the receiver with
/// its own name in `Host`. Only the bound address or `localhost`, with the bound port, is
/// served; anything else gets 400 and the receiver keeps waiting.
#[tokio::test]
async fn finding_loopback_receiver_refuses_foreign_host_headers() {
    let receiver = LoopbackReceiver::bind("http://127.0.0.1:0/callback")
        .await
        .unwrap()
        .with_timeout(Duration::from_secs(30));
    let port = receiver.redirect_uri().port().unwrap();
    let wait = tokio::spawn(async move {
        receiver
            .wait(&ExpectedResponse::new("st".to_owned().into()))
            .await
    });
    let good = "/callback?code=c13&state=st";
    let other_port = if port == 65535 { 1 } else { port + 1 };
    for host in [
        None,
        Some("evil.example".to_owned()),
        Some(format!("evil.example:{port}")),
        Some(format!("127.0.0.1:{other_port}")),
        Some("127.0.0.1".to_owned()),
        Some(format!("[::1]:{port}")),
        Some(format!("127.0.0.2:{port}")),
        Some(format!("localhost.evil.example:{port}")),
    ] {
        assert_eq!(
            raw_get(port, host.as_deref(), good).await,
            400,
            "Host {host:?}"
        );
    }
    assert!(!wait.is_finished(), "a foreign Host ended the login");
    assert_eq!(
        raw_get(port, Some(&format!("LOCALHOST:{port}")), good).await,
        200
    );
    assert_eq!(wait.await.unwrap().unwrap().expose_secret(), "c13");

    // The bound address itself, too.
    let receiver = LoopbackReceiver::bind("http://127.0.0.1:0/callback")
        .await
        .unwrap();
    let port = receiver.redirect_uri().port().unwrap();
    let wait = tokio::spawn(async move {
        receiver
            .wait(&ExpectedResponse::new("st".to_owned().into()))
            .await
    });
    assert_eq!(
        raw_get(port, Some(&format!("127.0.0.1:{port}")), good).await,
        200
    );
    assert_eq!(wait.await.unwrap().unwrap().expose_secret(), "c13");
}

/// A local process holding connections open (slow-loris) must neither exhaust the
/// receiver's file descriptors nor keep the real redirect out: past the cap, the oldest
/// connections still waiting for their request are closed, and the redirect, which sends
/// its request at once, gets through while the idle ones stay many.
#[tokio::test]
async fn finding_loopback_receiver_caps_connections_and_the_redirect_still_gets_through() {
    use tokio::io::AsyncReadExt;
    let receiver = LoopbackReceiver::bind("http://127.0.0.1:0/callback")
        .await
        .unwrap()
        .with_timeout(Duration::from_secs(60))
        .with_read_timeout(Duration::from_secs(60));
    let port = receiver.redirect_uri().port().unwrap();
    let wait = tokio::spawn(async move {
        receiver
            .wait(&ExpectedResponse::new("st".to_owned().into()))
            .await
    });
    const IDLE: usize = 200;
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        // Half a request line, never finished.
        stream.write_all(b"GET /callback?co").await.unwrap();
        idle.push(stream);
    }
    // Past the cap (64 connections), the oldest idle ones are closed at once ...
    const CAP: usize = 64;
    for (i, stream) in idle[..IDLE - CAP].iter_mut().enumerate() {
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await {
            Ok(Ok(0) | Err(_)) => {}
            other => panic!("idle connection {i} is still open past the cap: {other:?}"),
        }
    }
    // ... and the newest is kept: a new connection is never the one turned away.
    let mut byte = [0u8; 1];
    let newest = idle.last_mut().unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(200), newest.read(&mut byte))
            .await
            .is_err(),
        "the newest connection was closed"
    );
    // The redirect arrives while the receiver is full of idle connections.
    assert_eq!(
        raw_get(
            port,
            Some(&format!("127.0.0.1:{port}")),
            "/callback?code=c64&state=st"
        )
        .await,
        200
    );
    assert_eq!(wait.await.unwrap().unwrap().expose_secret(), "c64");
}

/// The header of `name` in a raw answer, if present once.
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let (head, _) = answer.split_once("\r\n\r\n")?;
    let mut values = head.lines().skip(1).filter_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then_some(v.trim())
    });
    match (values.next(), values.next()) {
        (Some(v), None) => Some(v),
        _ => None,
    }
}

#[tokio::test]
async fn every_page_carries_a_strict_csp_and_the_other_safety_headers() {
    let page = LoopbackPage::builder()
        .logo_url("https://cdn.example/logo.svg")
        .build()
        .unwrap();
    let csp = page.content_security_policy();
    let receiver = LoopbackReceiver::bind("http://127.0.0.1:0/callback")
        .await
        .unwrap()
        .with_timeout(Duration::from_secs(30))
        .with_page(page);
    let port = receiver.redirect_uri().port().unwrap();
    let wait = tokio::spawn(async move {
        receiver
            .wait(&ExpectedResponse::new("st".to_owned().into()))
            .await
    });
    let host = format!("127.0.0.1:{port}");
    let mut answers = Vec::new();
    for target in [
        "/favicon.ico",                     // 404
        "/callback?code=c&state=other-tab", // 400, foreign state
        "/callback?code=c&state=st",        // 200, ends the login
    ] {
        answers.push(raw_answer(port, Some(&host), target).await);
    }
    assert_eq!(wait.await.unwrap().unwrap().expose_secret(), "c");
    for answer in &answers {
        let policy =
            header(answer, "Content-Security-Policy").unwrap_or_else(|| panic!("no CSP: {answer}"));
        assert_eq!(policy, csp);
        // Nothing runs; only the page's own style (by hash) and the logo's origin load.
        assert!(
            policy.starts_with("default-src 'none'; style-src 'sha256-"),
            "{policy}"
        );
        assert!(policy.contains("img-src https://cdn.example;"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline") && !policy.contains("script-src"));
        assert_eq!(header(answer, "X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(header(answer, "Referrer-Policy"), Some("no-referrer"));
        assert_eq!(header(answer, "Cache-Control"), Some("no-store"));
        assert!(!answer.contains("<script"), "{answer}");
    }
    assert!(answers[2].starts_with("HTTP/1.1 200"), "{}", answers[2]);
    assert!(answers[2].contains("Login complete"), "{}", answers[2]);
}

#[tokio::test]
async fn branding_and_profile_names_are_html_escaped() {
    let page = LoopbackPage::builder()
        .product_name("<script>alert(1)</script>")
        .profile("\"><img src=x onerror=alert(2)>")
        .return_to("<b>the app</b>")
        .build()
        .unwrap();
    let receiver = LoopbackReceiver::bind("http://127.0.0.1:0/callback")
        .await
        .unwrap()
        .with_page(page);
    let uri = receiver.redirect_uri().clone();
    let wait = tokio::spawn(async move {
        receiver
            .wait(&ExpectedResponse::new("st".to_owned().into()))
            .await
    });
    let shown = UserAgent::new()
        .get(&with_path(&uri, "/callback?code=c&state=st"))
        .await;
    wait.await.unwrap().unwrap();
    let body = shown.body;
    assert!(
        !body.contains("<script>") && !body.contains("<img") && !body.contains("<b>"),
        "{body}"
    );
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    assert!(
        body.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"),
        "{body}"
    );
    assert!(body.contains("&lt;b&gt;the app&lt;/b&gt;"), "{body}");
}

#[test]
fn an_invalid_accent_colour_is_refused_with_a_clear_error() {
    for bad in ["red", "#12345", "#abc;} body{display:none", "rgb(1,2,3)"] {
        let err = LoopbackPage::builder()
            .accent_color(bad)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{bad}: {err:?}");
        let message = err.to_string();
        assert!(
            message.contains("`accent_color`") && message.contains("hex colour"),
            "{bad}: {message}"
        );
    }
    assert!(
        LoopbackPage::builder()
            .accent_color("#0A7D55")
            .build()
            .is_ok()
    );
}

/// A login through the fixture (completed, or cancelled at the provider) whose grant
/// records its close hook calls; returns the login's result, the calls and the status of
/// the page the browser got.
async fn login_with_close_hook(
    cancel: bool,
) -> (
    latchkey::Result<std::sync::Arc<latchkey::TokenSet>>,
    Vec<LoginOutcome>,
    u16,
) {
    let idp = Idp::start().await;
    let origin = idp.issuer().to_owned();
    let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (page_tx, mut page_rx) = tokio::sync::mpsc::unbounded_channel();
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
    .page(LoopbackPage::builder().profile("prod").build().unwrap())
    .close_hook({
        let calls = calls.clone();
        move |outcome| calls.lock().unwrap().push(outcome)
    })
    .on_authorization_url(move |auth: &Url| {
        let (auth, origin, page_tx) = (auth.clone(), origin.clone(), page_tx.clone());
        tokio::spawn(async move {
            let agent = UserAgent::new();
            let redirect = if cancel {
                latchkey_testkit::person::cancel_login(&agent, &auth, &origin).await
            } else {
                agent
                    .log_in_and_consent(&auth, &origin, ALICE)
                    .await
                    .expect_err("redirect to the client")
            };
            let shown = agent.get(&redirect).await;
            let _ = page_tx.send(shown.status.as_u16());
        });
    })
    .build()
    .unwrap();
    let manager = TokenManager::builder(client, grant).build().unwrap();
    let result = manager.login().await;
    let status = page_rx.recv().await.expect("the browser got a page");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let calls = calls.lock().unwrap().clone();
    (result, calls, status)
}

#[tokio::test]
async fn the_close_hook_is_called_once_after_a_successful_redirect() {
    let (result, calls, status) = login_with_close_hook(false).await;
    result.expect("login");
    assert_eq!(status, 200);
    assert_eq!(calls, [LoginOutcome::CodeReceived]);
}

#[tokio::test]
async fn the_close_hook_is_called_once_after_an_error_redirect() {
    let (result, calls, status) = login_with_close_hook(true).await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::Login(LoginError::AccessDenied { .. })),
        "{err:?}"
    );
    assert_eq!(status, 400);
    assert_eq!(calls, [LoginOutcome::Refused]);
}

#[tokio::test]
async fn the_close_hook_hears_a_timeout_too() {
    let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook_calls = calls.clone();
    let receiver = LoopbackReceiver::bind("http://127.0.0.1:0/callback")
        .await
        .unwrap()
        .with_timeout(Duration::from_millis(200))
        .with_close_hook(std::sync::Arc::new(move |o| {
            hook_calls.lock().unwrap().push(o)
        }));
    let err = receiver
        .wait(&ExpectedResponse::new("st".to_owned().into()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Login(LoginError::Timeout { .. })),
        "{err:?}"
    );
    assert_eq!(*calls.lock().unwrap(), [LoginOutcome::TimedOut]);
}

/// pywry's `AuthFlowManager.cancel()`: cancelling a login is dropping its future (here,
/// aborting its task); the receiver stops listening and a pinned port is free again.
#[tokio::test]
async fn cancelling_the_wait_stops_listening_and_frees_the_port() {
    let receiver = LoopbackReceiver::bind("http://127.0.0.1:0/callback")
        .await
        .unwrap();
    let port = receiver.redirect_uri().port().unwrap();
    let task = tokio::spawn(async move {
        receiver
            .wait(&ExpectedResponse::new("st".to_owned().into()))
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!task.is_finished());
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let mut rebound = None;
    for _ in 0..50 {
        match LoopbackReceiver::bind(&format!("http://127.0.0.1:{port}/callback")).await {
            Ok(receiver) => {
                rebound = Some(receiver);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(
        rebound.is_some(),
        "port {port} is still taken after the cancel"
    );
}
