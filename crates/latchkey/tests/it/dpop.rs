//! DPoP (RFC 9449) against the real identity provider fixture: bound tokens, refresh,
//! server nonces on the token endpoint and the resource route, and the resource route's
//! refusals (`tests/idp/dpop.mjs` checks proofs for real and counts what it saw).

use std::sync::Arc;

use http::Method;
use latchkey::{
    Authenticator, ClientAuth, ClientCredentials, DpopAlgorithm, ExposeSecret, FileStore, Grant,
    ManualClock, OAuthClient, SecretString, TokenManager, TokenStore,
};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::*;
use serde_json::{Value, json};
use url::Url;

use crate::support;

fn dpop_client(
    idp: &Idp,
    client_id: &str,
    auth: ClientAuth,
    clock: &Arc<ManualClock>,
) -> OAuthClient {
    OAuthClient::builder(client_id)
        .auth(auth)
        .token_url(idp.token_url())
        .revocation_url(idp.revocation_url())
        .clock(clock.clone())
        .retry(support::fast_retry(3))
        .dpop(true)
        .build()
        .expect("client config")
}

fn svc_post(idp: &Idp, clock: &Arc<ManualClock>) -> OAuthClient {
    dpop_client(
        idp,
        SVC_POST.0,
        ClientAuth::SecretPost(SecretString::from(SVC_POST.1)),
        clock,
    )
}

fn resource(idp: &Idp) -> Url {
    Url::parse(&idp.url("/__resource/dpop")).unwrap()
}

/// Calls the resource route with these headers; returns the status and the JSON body.
async fn call(url: &Url, headers: &[(&str, http::HeaderValue)]) -> (u16, Value, http::HeaderMap) {
    let mut request = latchkey::http_client().unwrap().get(url.clone());
    for (name, value) in headers {
        request = request.header(*name, value.clone());
    }
    let response = request.send().await.expect("resource request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        headers,
    )
}

async fn call_with(manager: &TokenManager, url: &Url) -> (u16, Value, http::HeaderMap) {
    let (authorization, proof) = manager
        .dpop_headers(&Method::GET, url)
        .await
        .expect("headers");
    call(url, &[("authorization", authorization), ("dpop", proof)]).await
}

#[tokio::test]
async fn dpop_token_refresh_and_resource_calls_use_one_key() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = dpop_client(&idp, PW_CLIENT, ClientAuth::None, &clock);
    let manager = TokenManager::builder(client, support::alice())
        .build()
        .unwrap();
    let first = manager.tokens().await.expect("login");
    assert_eq!(first.token_type(), "DPoP");
    let key = first.dpop_key().expect("a key with the tokens").clone();
    let url = resource(&idp);
    let (status, body, _) = call_with(&manager, &url).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["jkt"],
        key.thumbprint(),
        "the token is bound to the stored key"
    );

    manager.invalidate().await.expect("refresh");
    let second = manager.tokens().await.unwrap();
    assert!(!second.same_access_token(&first), "refreshed");
    assert_eq!(second.token_type(), "DPoP");
    assert!(
        second.dpop_key().unwrap().same_key(&key),
        "the same key after a refresh"
    );
    let (status, body, _) = call_with(&manager, &url).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["jkt"], key.thumbprint());

    let counters = idp.counters().await;
    assert_eq!(counters.token("password"), 1);
    // The login's answer carried a nonce, so no nonce request came before the refresh.
    assert_eq!(counters.token("refresh_token"), 1);
    let stats = idp.dpop_stats().await;
    assert_eq!(
        (stats["requests"].as_u64(), stats["ok"].as_u64()),
        (Some(2), Some(2)),
        "{stats}"
    );
}

#[tokio::test]
async fn token_endpoint_nonce_is_learned_from_the_refusal_and_retried_once() {
    let idp = Idp::start().await;
    idp.dpop(json!({ "requireNonce": true })).await;
    let clock = Arc::new(ManualClock::new());
    let client = svc_post(&idp, &clock);
    let tokens = ClientCredentials::new()
        .obtain(&client)
        .await
        .expect("token");
    assert_eq!(tokens.token_type(), "DPoP");
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        2,
        "refused once, then sent with the nonce"
    );
    // The nonce is remembered for the origin: the next request needs no retry.
    ClientCredentials::new()
        .obtain(&client)
        .await
        .expect("token");
    assert_eq!(idp.counters().await.token("client_credentials"), 3);
}

#[tokio::test]
async fn a_new_process_asks_for_a_nonce_before_spending_the_refresh_token() {
    let idp = Idp::start().await;
    // Nonces required, and a refresh without one spends the refresh token (ATProto's server).
    idp.dpop(json!({ "requireNonce": true, "consumeRefreshWithoutNonce": true }))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir.path()));
    let clock = Arc::new(ManualClock::new());
    let first = TokenManager::builder(
        dpop_client(&idp, PW_CLIENT, ClientAuth::None, &clock),
        support::alice(),
    )
    .key("alice")
    .store(store.clone())
    .build()
    .unwrap();
    let old = first.tokens().await.expect("login");
    assert_eq!(
        idp.counters().await.token("password"),
        2,
        "refused for the nonce, then granted"
    );

    // A second process: its own client, so it has heard no nonce yet.
    let second = TokenManager::builder(
        dpop_client(&idp, PW_CLIENT, ClientAuth::None, &clock),
        support::alice(),
    )
    .key("alice")
    .store(store.clone())
    .build()
    .unwrap();
    let loaded = second.tokens().await.expect("loaded from the store");
    assert!(loaded.same_access_token(&old));
    // The resource server rejected the token (say): the second process refreshes it.
    second
        .invalidate()
        .await
        .expect("refresh in the second process");
    let new = second.tokens().await.unwrap();
    assert!(
        !new.same_access_token(&old),
        "refreshed: {:?}",
        idp.counters().await.0
    );
    assert!(!new.same_refresh_token(&old), "rotated");
    assert!(new.dpop_key().unwrap().same_key(old.dpop_key().unwrap()));
    let counters = idp.counters().await;
    // One request that cannot consume anything fetched the nonce, then the one refresh
    // went through first time: without the nonce request it would have been refused.
    assert_eq!(counters.token("refresh_token"), 2, "{:?}", counters.0);
    assert_eq!(
        counters.token("password"),
        2,
        "no new login: the refresh token survived"
    );
    assert!(
        !idp.is_active(old.refresh_token().unwrap().expose_secret())
            .await
    );
    let (status, body, _) = call_with(&second, &resource(&idp)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn resource_server_nonce_is_retried_once_with_the_nonce_it_gave() {
    let idp = Idp::start().await;
    idp.dpop(json!({ "resourceNonce": true })).await;
    let clock = Arc::new(ManualClock::new());
    let manager = TokenManager::builder(svc_post(&idp, &clock), ClientCredentials::new())
        .build()
        .unwrap();
    let url = resource(&idp);
    let (status, body, headers) = call_with(&manager, &url).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "use_dpop_nonce");
    assert!(
        manager.observe_response(&url, http::StatusCode::UNAUTHORIZED, &headers),
        "asks for a retry"
    );
    let (status, body, headers) = call_with(&manager, &url).await;
    assert_eq!(status, 200, "{body}");
    // The same nonce again is nothing new: no second retry is asked for.
    assert!(!manager.observe_response(&url, http::StatusCode::OK, &headers));
    let stats = idp.dpop_stats().await;
    assert_eq!(stats["refused"]["nonce"], 1, "{stats}");
    assert_eq!(stats["ok"], 1, "{stats}");
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        1,
        "the token was not renewed"
    );
}

#[tokio::test]
async fn the_resource_route_refuses_a_replayed_proof_a_wrong_ath_and_another_url() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let manager = TokenManager::builder(svc_post(&idp, &clock), ClientCredentials::new())
        .build()
        .unwrap();
    let url = resource(&idp);
    let (authorization, proof) = manager.dpop_headers(&Method::GET, &url).await.unwrap();
    let sent = [("authorization", authorization.clone()), ("dpop", proof)];
    assert_eq!(call(&url, &sent).await.0, 200);
    let (status, body, _) = call(&url, &sent).await;
    assert_eq!(status, 401, "a replayed proof: {body}");
    assert_eq!(body["error"], "invalid_dpop_proof");

    let tokens = manager.tokens().await.unwrap();
    let key = tokens.dpop_key().unwrap();
    let wrong_ath = key
        .proof_header(&Method::GET, &url, Some("another-token"), None)
        .unwrap();
    let (status, _, _) = call(
        &url,
        &[
            ("authorization", authorization.clone()),
            ("dpop", wrong_ath),
        ],
    )
    .await;
    assert_eq!(status, 401, "a proof for another token");

    let elsewhere = Url::parse(&idp.url("/__resource/other")).unwrap();
    let token = tokens.access_token().expose_secret();
    let other_url = key
        .proof_header(&Method::GET, &elsewhere, Some(token), None)
        .unwrap();
    let (status, _, _) = call(
        &url,
        &[
            ("authorization", authorization.clone()),
            ("dpop", other_url),
        ],
    )
    .await;
    assert_eq!(status, 401, "a proof for another URL");

    let post = key
        .proof_header(&Method::POST, &url, Some(token), None)
        .unwrap();
    let (status, _, _) = call(
        &url,
        &[("authorization", authorization.clone()), ("dpop", post)],
    )
    .await;
    assert_eq!(status, 401, "a proof for another method");

    // Another key's proof for the right token: the binding (cnf.jkt) refuses it.
    let stranger = latchkey::DpopKey::generate(DpopAlgorithm::Es256).unwrap();
    let foreign = stranger
        .proof_header(&Method::GET, &url, Some(token), None)
        .unwrap();
    let (status, _, _) = call(&url, &[("authorization", authorization), ("dpop", foreign)]).await;
    assert_eq!(status, 401, "a proof by another key");

    let stats = idp.dpop_stats().await;
    let refused = &stats["refused"];
    assert_eq!(
        (
            refused["replay"].as_u64(),
            refused["ath"].as_u64(),
            refused["htu"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{stats}"
    );
    assert_eq!(
        (refused["htm"].as_u64(), refused["jkt"].as_u64()),
        (Some(1), Some(1)),
        "{stats}"
    );
    assert_eq!(stats["ok"], 1);
}

#[tokio::test]
async fn a_bare_header_is_refused_for_a_dpop_token() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let manager = TokenManager::builder(svc_post(&idp, &clock), ClientCredentials::new())
        .build()
        .unwrap();
    let mut headers = http::HeaderMap::new();
    let mut url = resource(&idp);
    let err = manager.apply(&mut headers, &mut url).await.unwrap_err();
    assert!(err.to_string().contains("DPoP-bound"), "{err}");
    manager
        .apply_to(&Method::GET, &mut headers, &mut url)
        .await
        .expect("with the method");
    assert!(headers.get("dpop").is_some());
    assert!(
        headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("DPoP ")
    );
    let (status, _, _) = call(
        &url,
        &[
            ("authorization", headers["authorization"].clone()),
            ("dpop", headers["dpop"].clone()),
        ],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn ed25519_keys_work_end_to_end() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = OAuthClient::builder(SVC_POST.0)
        .auth(ClientAuth::SecretPost(SecretString::from(SVC_POST.1)))
        .token_url(idp.token_url())
        .clock(clock.clone())
        .dpop_algorithm(DpopAlgorithm::Ed25519)
        .build()
        .unwrap();
    let manager = TokenManager::builder(client, ClientCredentials::new())
        .build()
        .unwrap();
    let (status, body, _) = call_with(&manager, &resource(&idp)).await;
    assert_eq!(status, 200, "{body}");
    let tokens = manager.tokens().await.unwrap();
    assert_eq!(
        tokens.dpop_key().unwrap().algorithm(),
        DpopAlgorithm::Ed25519
    );
}

/// Two processes on one store: the second loads the first's token *and key*, and its
/// resource call with that token passes the binding check.
async fn key_is_shared_through(
    idp: &Idp,
    store_a: Arc<dyn TokenStore>,
    store_b: Arc<dyn TokenStore>,
) {
    let clock = Arc::new(ManualClock::new());
    let first = TokenManager::builder(svc_post(idp, &clock), ClientCredentials::new())
        .key("svc")
        .store(store_a)
        .build()
        .unwrap();
    let tokens = first.tokens().await.expect("token");
    let second = TokenManager::builder(svc_post(idp, &clock), ClientCredentials::new())
        .key("svc")
        .store(store_b)
        .build()
        .unwrap();
    let loaded = second.tokens().await.unwrap();
    assert!(
        loaded.same_access_token(&tokens),
        "loaded, not obtained again"
    );
    assert!(
        loaded
            .dpop_key()
            .unwrap()
            .same_key(tokens.dpop_key().unwrap())
    );
    let (status, body, _) = call_with(&second, &resource(idp)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(idp.counters().await.token("client_credentials"), 1);
}

#[tokio::test]
async fn the_key_is_shared_across_processes_through_a_file_store() {
    let idp = Idp::start().await;
    let dir = tempfile::tempdir().unwrap();
    key_is_shared_through(
        &idp,
        Arc::new(FileStore::new(dir.path())),
        Arc::new(FileStore::new(dir.path())),
    )
    .await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn the_key_is_shared_across_processes_through_sqlite() {
    let idp = Idp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    let a = Arc::new(latchkey::SqliteStore::open(&path).unwrap());
    let b = Arc::new(latchkey::SqliteStore::open(&path).unwrap());
    key_is_shared_through(&idp, a, b).await;
}

#[tokio::test]
async fn logout_revokes_with_a_proof_of_the_stored_key() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = dpop_client(&idp, PW_CLIENT, ClientAuth::None, &clock);
    let manager = TokenManager::builder(client, support::alice())
        .build()
        .unwrap();
    let tokens = manager.tokens().await.unwrap();
    manager.logout().await.expect("revoked");
    assert!(!idp.is_active(tokens.access_token().expose_secret()).await);
    assert!(
        !idp.is_active(tokens.refresh_token().unwrap().expose_secret())
            .await
    );
}
