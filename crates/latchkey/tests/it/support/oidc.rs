//! Helpers shared by the OIDC test modules: tiny `fake_*` servers for malformed or quirky
//! responses, and a test RSA key (the fixture's public test key `svc-jwt`) to sign crafted
//! tokens served by a `fake_jwks` server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use latchkey::grant::Grant;
use latchkey::{OAuthClient, Password, SecretString, TokenSet};
use latchkey_testkit::{Idp, clients};
use serde_json::Value;

/// Serves `router` on a free loopback port; returns its base URL. The server lives until
/// the test's runtime ends.
pub(crate) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// The kid of the test key in `fake_jwks`.
pub(crate) const FAKE_KID: &str = "fake-rsa-1";

/// The private key that signs crafted tokens.
pub(crate) fn fake_signing_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(clients::svc_jwt_rsa_pem().as_bytes()).unwrap()
}

/// The public JWK of [`fake_signing_key`].
pub(crate) fn fake_jwk() -> Jwk {
    let mut jwk = Jwk::from_encoding_key(&fake_signing_key(), Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(FAKE_KID.into());
    jwk
}

/// A JWKS server holding [`fake_jwk`], counting its requests; `cache_control` is sent
/// as `Cache-Control` when given.
pub(crate) async fn fake_jwks(cache_control: Option<&'static str>) -> (url::Url, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let set = JwkSet {
        keys: vec![fake_jwk()],
    };
    let counter = hits.clone();
    let router = Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let set = set.clone();
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let mut headers = axum::http::HeaderMap::new();
                if let Some(cc) = cache_control {
                    headers.insert("cache-control", cc.parse().unwrap());
                }
                (headers, axum::Json(set))
            }
        }),
    );
    let base = serve(router).await;
    (url::Url::parse(&format!("{base}/jwks")).unwrap(), hits)
}

/// Seconds since the epoch.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signs `claims` with the fake key, with `kid`.
pub(crate) fn sign(claims: &Value, kid: &str) -> SecretString {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    SecretString::from(jsonwebtoken::encode(&header, claims, &fake_signing_key()).unwrap())
}

/// Valid claims for `iss` / `aud`, to be spoiled one at a time.
pub(crate) fn good_claims(iss: &str, aud: &str) -> serde_json::Map<String, Value> {
    let now = now();
    serde_json::json!({
        "iss": iss, "sub": "alice", "aud": aud, "exp": now + 600, "iat": now,
        "nonce": "n-0S6_WzA2Mj", "name": "Alice Example", "email": "alice@example.org"
    })
    .as_object()
    .unwrap()
    .clone()
}

/// Tokens from the fixture's password grant (`pw-client`, alice, scope `openid profile email`).
pub(crate) async fn password_tokens(idp: &Idp) -> TokenSet {
    let client = OAuthClient::builder(clients::PW_CLIENT)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    password_tokens_for(&client).await
}

/// Tokens for alice from the password grant, as `client`.
pub(crate) async fn password_tokens_for(client: &OAuthClient) -> TokenSet {
    Password::new(clients::ALICE.0, SecretString::from(clients::ALICE.1))
        .scopes(["openid", "profile", "email"])
        .obtain(client)
        .await
        .unwrap()
}
