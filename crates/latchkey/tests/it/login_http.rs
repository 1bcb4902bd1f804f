//! Browser logins end to end against the real IdP fixture, the "browser" being an HTTP
//! client with a cookie jar that fills the IdP's real login and consent forms and then
//! follows the redirect to latchkey's loopback receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use latchkey::authorization::AuthorizationRequest;
use latchkey::{
    AuthorizationCode, ClientAuth, Error, ExposeSecret, LoginError, OAuthClient, SecretString,
    TokenManager, TokenSet,
};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, NATIVE_APP, WEB_APP};
use latchkey_testkit::person::UserAgent;
use url::Url;

/// What the scripted browser saw, for assertions after the login.
#[derive(Debug, Default)]
struct Seen {
    authorization_url: Option<Url>,
    callback_status: Option<u16>,
    callback_body: String,
}

/// An opener that plays the user: logs in as alice, consents, and follows the redirect to
/// the loopback receiver.
fn scripted_user(idp: &Idp, seen: Arc<Mutex<Seen>>) -> impl Fn(&Url) + Send + Sync + 'static {
    let origin = idp.issuer().to_owned();
    move |url: &Url| {
        let (url, origin, seen) = (url.clone(), origin.clone(), seen.clone());
        seen.lock().unwrap().authorization_url = Some(url.clone());
        tokio::spawn(async move {
            let agent = UserAgent::new();
            let redirect = agent
                .log_in_and_consent(&url, &origin, ALICE)
                .await
                .expect_err("the IdP redirects back to the client");
            let page = agent.get(&redirect).await;
            let mut seen = seen.lock().unwrap();
            seen.callback_status = Some(page.status.as_u16());
            seen.callback_body = page.body;
        });
    }
}

/// The `nonce` claim of an ID token (the signature is the OIDC module's business).
fn id_token_nonce(tokens: &TokenSet) -> Option<String> {
    let jwt = tokens.id_token()?.expose_secret().to_owned();
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["nonce"].as_str().map(str::to_owned)
}

/// Checks the ID token's nonce against the one the grant generated, and records it.
fn nonce_check(
    checked: Arc<Mutex<Option<String>>>,
) -> impl Fn(&TokenSet, &SecretString) -> latchkey::Result<()> + Send + Sync {
    move |tokens, nonce| {
        let got = id_token_nonce(tokens);
        if got.as_deref() != Some(nonce.expose_secret()) {
            return Err(Error::Config(format!("nonce mismatch: {got:?}")));
        }
        *checked.lock().unwrap() = got;
        Ok(())
    }
}

async fn login_then_refresh(idp: &Idp, manager: &TokenManager, seen: &Arc<Mutex<Seen>>) {
    let tokens = manager.login().await.expect("login");
    assert!(
        tokens.refresh_token().is_some(),
        "offline_access was granted"
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.callback_status, Some(200), "{}", seen.callback_body);
        assert!(seen.callback_body.contains("Login complete"));
    }

    idp.reset_counters().await;
    manager
        .invalidate()
        .await
        .expect("refresh after invalidate");
    let counters = idp.counters().await;
    assert_eq!(counters.token("refresh_token"), 1, "{:?}", counters.0);
    assert_eq!(counters.token("authorization_code"), 0, "no second login");
    let refreshed = manager.tokens().await.expect("tokens");
    assert!(!refreshed.same_access_token(&tokens), "a new access token");
}

#[tokio::test]
async fn native_app_logs_in_on_an_ephemeral_port_and_refreshes() {
    let idp = Idp::start().await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let nonce = Arc::new(Mutex::new(None));
    let client = OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let grant = AuthorizationCode::builder(
        AuthorizationRequest::builder(idp.url("/auth"))
            .scopes(["openid", "profile", "offline_access"])
            // oidc-provider grants offline_access only with prompt=consent (Google wants the
            // same plus access_type=offline, which other providers ignore).
            .param("prompt", "consent")
            .param("access_type", "offline")
            .issuer(idp.issuer(), true)
            .build()
            .unwrap(),
    )
    .redirect_uri("http://127.0.0.1:0/callback")
    .timeout(Duration::from_secs(60))
    .on_authorization_url(scripted_user(&idp, seen.clone()))
    .id_token_check(nonce_check(nonce.clone()))
    .build()
    .unwrap();
    let manager = TokenManager::builder(client, grant).build().unwrap();

    login_then_refresh(&idp, &manager, &seen).await;

    let url = seen.lock().unwrap().authorization_url.clone().unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let redirect = Url::parse(&param("redirect_uri").unwrap()).unwrap();
    assert_ne!(redirect.port(), Some(0), "the bound port is sent");
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("access_type").as_deref(), Some("offline"));
    assert_eq!(
        nonce.lock().unwrap().as_deref(),
        param("nonce").as_deref(),
        "the ID token carries the nonce that was sent"
    );
}

#[tokio::test]
async fn confidential_web_app_logs_in_on_its_pinned_port_with_pkce_and_refreshes() {
    let idp = Idp::start().await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let client = OAuthClient::builder(WEB_APP.0)
        .auth(ClientAuth::SecretBasic(WEB_APP.1.to_owned().into()))
        .token_url(idp.token_url())
        .build()
        .unwrap();
    // The real OIDC validator (discovery + JWKS + signature + nonce) checks the ID token.
    let provider = latchkey::oidc::OidcProvider::discover(idp.issuer())
        .await
        .unwrap();
    let validator = provider
        .id_token_validator(WEB_APP.0)
        .unwrap()
        .build()
        .unwrap();
    let grant = AuthorizationCode::builder(
        AuthorizationRequest::builder(idp.url("/auth"))
            .scopes(["openid", "offline_access"])
            .param("prompt", "consent")
            .issuer(idp.issuer(), true)
            .build()
            .unwrap(),
    )
    .redirect_uri("http://127.0.0.1:8765/callback")
    .timeout(Duration::from_secs(60))
    .on_authorization_url(scripted_user(&idp, seen.clone()))
    .id_token_check(validator)
    .build()
    .unwrap();
    let manager = TokenManager::builder(client, grant).build().unwrap();

    // Port 8765 is fixed by the client registration; another test run on this machine may
    // hold it for a moment.
    for attempt in 1.. {
        match manager.login().await {
            Err(Error::Login(LoginError::PortInUse { port: 8765 })) if attempt < 20 => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(err) => panic!("login: {err}"),
            Ok(_) => break,
        }
    }
    // The first login above proved the pinned port works; check the refresh path too.
    let seen_ok = seen.lock().unwrap().callback_status;
    assert_eq!(seen_ok, Some(200));
    let url = seen.lock().unwrap().authorization_url.clone().unwrap();
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "redirect_uri" && v == "http://127.0.0.1:8765/callback")
    );
    assert!(url.query_pairs().any(|(k, _)| k == "code_challenge"));
    idp.reset_counters().await;
    manager.invalidate().await.expect("refresh");
    assert_eq!(idp.counters().await.token("refresh_token"), 1);
    assert_eq!(idp.counters().await.by_client(WEB_APP.0), 1);
}

#[tokio::test]
async fn a_redirect_capturer_replaces_the_loopback_receiver() {
    let idp = Idp::start().await;
    let origin = idp.issuer().to_owned();
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
    // Nothing listens here: the capturer returns the redirect without following it.
    .redirect_uri("http://127.0.0.1:9/callback")
    .redirect_capturer(move |auth: Url, redirect_uri: Url| {
        let origin = origin.clone();
        async move {
            let redirect = UserAgent::new()
                .log_in_and_consent(&auth, &origin, ALICE)
                .await
                .expect_err("redirected to the client");
            assert!(redirect.as_str().starts_with(redirect_uri.as_str()));
            Ok(redirect)
        }
    })
    .build()
    .unwrap();
    let manager = TokenManager::builder(client, grant).build().unwrap();
    let tokens = manager.login().await.expect("login through the capturer");
    assert!(tokens.id_token().is_some());
}

#[tokio::test]
async fn a_capturer_returning_a_forged_state_is_refused() {
    let idp = Idp::start().await;
    let client = OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let grant = AuthorizationCode::builder(
        AuthorizationRequest::builder(idp.url("/auth"))
            .build()
            .unwrap(),
    )
    .redirect_uri("http://127.0.0.1:9/callback")
    .redirect_capturer(|_auth: Url, redirect_uri: Url| async move {
        Ok(Url::parse(&format!("{redirect_uri}?code=stolen&state=forged")).unwrap())
    })
    .build()
    .unwrap();
    let manager = TokenManager::builder(client, grant).build().unwrap();
    let err = manager.login().await.unwrap_err();
    assert!(
        matches!(err, Error::Login(LoginError::StateMismatch)),
        "{err:?}"
    );
    assert_eq!(
        idp.counters().await.token("authorization_code"),
        0,
        "a forged code is never exchanged"
    );
}

/// dhis2w's `profile verify` probe: a capturer that refuses to open a browser ends the
/// login with its own error, and nothing is asked of the identity provider.
#[tokio::test]
async fn a_capturer_that_fails_ends_the_login_with_its_error() {
    let idp = Idp::start().await;
    let client = OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let grant = AuthorizationCode::builder(
        AuthorizationRequest::builder(idp.url("/auth"))
            .build()
            .unwrap(),
    )
    .redirect_uri("http://127.0.0.1:9/callback")
    .redirect_capturer(|_auth: Url, _redirect_uri: Url| async move {
        Err(Error::Config("no browser here: log in first".into()))
    })
    .build()
    .unwrap();
    let manager = TokenManager::builder(client, grant).build().unwrap();
    let err = manager.login().await.unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("no browser here")),
        "{err:?}"
    );
    assert_eq!(idp.counters().await.token_total(), 0);
}
