//! Resource indicators (RFC 8707) against the fixture, whose resource servers issue JWT
//! access tokens with `aud` = the resource: one token per resource, each under its own
//! store key, reused without requests; a refresh token spent for another resource.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use latchkey::authorization::AuthorizationRequest;
use latchkey::{
    AuthorizationCode, ClientAuth, ClientCredentials, ExposeSecret, MemoryStore, OAuthClient,
    Resource, SecretString, TokenManager, TokenSet, TokenStore,
};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, NATIVE_APP, SVC_POST};
use latchkey_testkit::person::UserAgent;
use url::Url;

/// The `aud` of a JWT access token (the fixture's resource servers issue JWTs).
pub(crate) fn audience(tokens: &TokenSet) -> String {
    let jwt = tokens.access_token().expose_secret();
    let payload = jwt.split('.').nth(1).expect("a JWT access token");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON claims");
    claims["aud"].as_str().expect("one audience").to_owned()
}

fn svc_post(idp: &Idp) -> OAuthClient {
    OAuthClient::builder(SVC_POST.0)
        .auth(ClientAuth::SecretPost(SecretString::from(SVC_POST.1)))
        .token_url(idp.token_url())
        .build()
        .unwrap()
}

#[tokio::test]
async fn two_resources_get_two_tokens_kept_apart_and_reused() {
    let idp = Idp::start().await;
    let (a, b) = ("https://a.example", "https://b.example/api");
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let grant = ClientCredentials::new()
        .scopes(["api:read"])
        .resource(Resource::parse(a).unwrap());
    let for_a = TokenManager::builder(svc_post(&idp), grant.clone())
        .store(store.clone())
        .build()
        .unwrap();
    let for_b = for_a.for_resource(Resource::parse(b).unwrap());
    assert_ne!(for_a.key(), for_b.key());
    let unresourced = TokenManager::builder(svc_post(&idp), ClientCredentials::new())
        .build()
        .unwrap();
    assert_ne!(
        for_a.key(),
        unresourced.key(),
        "the default key names the resource"
    );

    idp.reset_counters().await;
    let token_a = for_a.tokens().await.unwrap();
    let token_b = for_b.tokens().await.unwrap();
    assert_eq!(audience(&token_a), a);
    assert_eq!(audience(&token_b), b);
    assert!(!token_a.same_access_token(&token_b));
    assert_eq!(idp.counters().await.token("client_credentials"), 2);

    // Both are in the store, each under its key.
    let stored_a = store.load(for_a.key()).await.unwrap().expect("a stored");
    let stored_b = store.load(for_b.key()).await.unwrap().expect("b stored");
    assert!(stored_a.same_access_token(&token_a));
    assert!(stored_b.same_access_token(&token_b));

    // Reused: in this process, and by a new manager on the same store (another process).
    idp.reset_counters().await;
    for_a.tokens().await.unwrap();
    for_b.tokens().await.unwrap();
    let again = TokenManager::builder(svc_post(&idp), grant)
        .store(store.clone())
        .build()
        .unwrap();
    assert_eq!(again.key(), for_a.key());
    assert!(again.tokens().await.unwrap().same_access_token(&token_a));
    assert!(
        again
            .for_resource(Resource::parse(b).unwrap())
            .tokens()
            .await
            .unwrap()
            .same_access_token(&token_b)
    );
    assert_eq!(idp.counters().await.token_total(), 0, "no new requests");
}

#[tokio::test]
async fn a_resource_given_as_a_raw_parameter_is_refused() {
    let idp = Idp::start().await;
    let manager = TokenManager::builder(
        svc_post(&idp),
        ClientCredentials::new().param("resource", "https://a.example"),
    )
    .build()
    .unwrap();
    idp.reset_counters().await;
    let err = manager.tokens().await.unwrap_err();
    assert!(
        err.to_string().contains("ClientCredentials::resource"),
        "{err}"
    );
    assert_eq!(idp.counters().await.token_total(), 0);
}

/// An opener that logs in as alice and follows the redirect to the loopback receiver.
pub(crate) fn scripted_alice(idp: &Idp) -> impl Fn(&Url) + Send + Sync + 'static {
    let origin = idp.issuer().to_owned();
    move |url: &Url| {
        let (url, origin) = (url.clone(), origin.clone());
        tokio::spawn(async move {
            let agent = UserAgent::new();
            let redirect = agent
                .log_in_and_consent(&url, &origin, ALICE)
                .await
                .expect_err("the IdP redirects back to the client");
            agent.get(&redirect).await;
        });
    }
}

/// A browser login of the native app asking for `resources` (the first is the token's).
pub(crate) fn login_for(idp: &Idp, request: AuthorizationRequest) -> AuthorizationCode {
    AuthorizationCode::builder(request)
        .timeout(Duration::from_secs(60))
        .on_authorization_url(scripted_alice(idp))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_refresh_token_gives_a_token_for_another_resource_and_stays_rotation_safe() {
    let idp = Idp::start().await;
    let (a, b) = ("https://a.example", "https://b.example");
    let request = AuthorizationRequest::builder(idp.url("/auth"))
        .scopes(["openid", "offline_access", "api:read"])
        .param("prompt", "consent")
        .resource(Resource::parse(a).unwrap())
        .resource(Resource::parse(b).unwrap())
        .build()
        .unwrap();
    let client = OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let for_a = TokenManager::builder(client, login_for(&idp, request))
        .store(store.clone())
        .build()
        .unwrap();

    let first = for_a.login().await.expect("login");
    assert_eq!(
        audience(&first),
        a,
        "the code exchange names the first resource"
    );
    assert!(first.refresh_token().is_some());

    // B's token comes from A's refresh token: one refresh, no second login.
    idp.reset_counters().await;
    let for_b = for_a.for_resource(Resource::parse(b).unwrap());
    let token_b = for_b.tokens().await.expect("token for b");
    assert_eq!(audience(&token_b), b);
    let counters = idp.counters().await;
    assert_eq!(counters.token("refresh_token"), 1, "{:?}", counters.0);
    assert_eq!(counters.token("authorization_code"), 0);
    let stored_b = store.load(for_b.key()).await.unwrap().expect("b stored");
    assert!(
        stored_b.refresh_token().is_none(),
        "the refresh token stays in one place"
    );

    // The provider rotated the refresh token; A's entry holds the successor, so A's own
    // refresh works (spending the old one would revoke the whole grant).
    let stored_a = store.load(for_a.key()).await.unwrap().expect("a stored");
    assert!(
        !stored_a.same_refresh_token(&first),
        "rotated and written back"
    );
    assert!(stored_a.same_access_token(&first), "A's access token kept");
    for_a.invalidate().await.expect("A refreshes");
    let renewed_a = for_a.tokens().await.unwrap();
    assert_eq!(audience(&renewed_a), a);
    assert!(!renewed_a.same_access_token(&first));

    // B is reused while valid.
    idp.reset_counters().await;
    assert!(for_b.tokens().await.unwrap().same_access_token(&token_b));
    assert_eq!(idp.counters().await.token_total(), 0);
}

#[tokio::test]
async fn another_resource_without_a_refresh_token_asks_for_a_login() {
    let idp = Idp::start().await;
    let client = OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let request = AuthorizationRequest::builder(idp.url("/auth"))
        .scopes(["openid"])
        .build()
        .unwrap();
    let manager = TokenManager::builder(client, login_for(&idp, request))
        .key("work")
        .build()
        .unwrap();
    idp.reset_counters().await;
    let err = manager
        .for_resource(Resource::parse("https://b.example").unwrap())
        .tokens()
        .await
        .unwrap_err();
    assert!(err.needs_login(), "{err}");
    assert!(err.to_string().contains("`work`"), "{err}");
    assert_eq!(idp.counters().await.token_total(), 0);
}

#[tokio::test]
async fn a_given_refresh_token_serves_another_resource_and_its_successor_is_kept() {
    let idp = Idp::start().await;
    let (a, b) = ("https://a.example", "https://b.example");
    let request = AuthorizationRequest::builder(idp.url("/auth"))
        .scopes(["openid", "offline_access"])
        .param("prompt", "consent")
        .resource(Resource::parse(a).unwrap())
        .resource(Resource::parse(b).unwrap())
        .build()
        .unwrap();
    let native = || {
        OAuthClient::builder(NATIVE_APP)
            .token_url(idp.token_url())
            .build()
            .unwrap()
    };
    let login = TokenManager::builder(native(), login_for(&idp, request))
        .build()
        .unwrap();
    let given = login
        .login()
        .await
        .unwrap()
        .refresh_token()
        .unwrap()
        .clone();

    // A manager that starts from that refresh token (a `refresh-token` profile), nothing stored.
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let for_a = TokenManager::builder(
        native(),
        latchkey::RefreshTokenOnly::new(given).resource(Resource::parse(a).unwrap()),
    )
    .store(store.clone())
    .key("given")
    .build()
    .unwrap();
    idp.reset_counters().await;
    let token_b = for_a
        .for_resource(Resource::parse(b).unwrap())
        .tokens()
        .await
        .expect("the seed's refresh token is spent for b");
    assert_eq!(audience(&token_b), b);
    // The provider rotated it; the successor was saved under the parent's key, so the
    // parent's first refresh spends the successor, not the consumed seed.
    let token_a = for_a.tokens().await.expect("a from the successor");
    assert_eq!(audience(&token_a), a);
    assert_eq!(idp.counters().await.token("refresh_token"), 2);
}

#[tokio::test]
async fn a_device_login_names_every_resource_and_its_token_is_for_the_first() {
    let idp = Idp::start().await;
    idp.device_config(serde_json::json!({ "interval": 1 }))
        .await;
    let (a, b) = ("https://a.example", "https://b.example");
    let origin = idp.issuer().to_owned();
    let grant = latchkey::DeviceCode::builder(idp.url("/device/auth"))
        .scopes(["openid", "offline_access"])
        .resource(Resource::parse(a).unwrap())
        .resource(Resource::parse(b).unwrap())
        .on_prompt(move |prompt| {
            let url: Url = prompt
                .verification_uri_complete
                .as_deref()
                .expect("oidc-provider sends verification_uri_complete")
                .parse()
                .unwrap();
            let origin = origin.clone();
            tokio::spawn(async move {
                latchkey_testkit::person::approve_device(&url, &origin, ALICE).await
            });
        })
        .build()
        .unwrap();
    let client = OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let for_a = TokenManager::builder(client, grant).build().unwrap();
    let token_a = for_a.login().await.expect("device login");
    assert_eq!(audience(&token_a), a);
    // b was granted by the same approval: its token comes from the refresh token.
    let token_b = for_a
        .for_resource(Resource::parse(b).unwrap())
        .tokens()
        .await
        .expect("b from the refresh token");
    assert_eq!(audience(&token_b), b);
}
