//! DPoP-bound tokens through the middleware, against the fixture's resource route that
//! checks every proof (`tests/idp/dpop.mjs`).
#![allow(
    clippy::disallowed_methods,
    reason = "the middleware wraps a caller's own client; the tests build one as callers do"
)]

use latchkey::{ClientAuth, ClientCredentials, OAuthClient, SecretString, TokenManager};
use latchkey_reqwest::AuthMiddleware;
use latchkey_testkit::Idp;
use latchkey_testkit::clients::SVC_POST;

#[tokio::test]
async fn every_request_gets_a_fresh_proof_and_a_nonce_refusal_is_retried_once() {
    let idp = Idp::start().await;
    idp.dpop(serde_json::json!({ "resourceNonce": true })).await;
    let client = OAuthClient::builder(SVC_POST.0)
        .auth(ClientAuth::SecretPost(SecretString::from(SVC_POST.1)))
        .token_url(idp.token_url())
        .dpop(true)
        .build()
        .unwrap();
    let manager = TokenManager::builder(client, ClientCredentials::new())
        .build()
        .unwrap();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AuthMiddleware::new(manager))
        .build();
    let url = idp.url("/__resource/dpop");
    for _ in 0..3 {
        let response = http.get(&url).send().await.expect("request");
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
    }
    let stats = idp.dpop_stats().await;
    // The first request met the nonce demand once; the nonce was kept for the others. No
    // proof was reused (the route refuses a replayed jti).
    assert_eq!(stats["refused"]["nonce"], 1, "{stats}");
    assert_eq!(stats["ok"], 3, "{stats}");
    assert_eq!(stats["requests"], 4, "{stats}");
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        1,
        "the token was never renewed"
    );
}
