//! Fault tolerance under load (issue 7): timeouts, dropped connections, 429 with
//! `Retry-After`, 503 storms, malformed 200s and a slow JWKS, injected at the real IdP
//! fixture while up to 1,000 callers wait on the same token.
//!
//! `manager_faults.rs` covers each fault for a single caller; this suite checks what must hold
//! when many callers (and several managers sharing one file store) hit the fault together:
//! no panic, nothing lost from the store, requests at the IdP within the retry budget, and an
//! error that names the cause. Retry budgets are tiny so the whole file runs in seconds.
#![allow(
    clippy::disallowed_methods,
    reason = "clients with short timeouts, to make requests give up under injected faults"
)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use latchkey::oidc::{IdTokenValidator, JwksCache, OidcProvider};
use latchkey::{
    ClientAuth, ClientCredentials, Error, FileStore, ManualClock, OAuthClient, RetryPolicy,
    SecretString, TokenManager, TokenStore,
};
use latchkey_testkit::{Idp, clients};
use serde_json::{Value, json};

use crate::support::oidc;

const CALLERS: usize = 1000;
const MAX_ATTEMPTS: u32 = 4;

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: MAX_ATTEMPTS,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(1500),
    }
}

/// An HTTP client whose requests give up after `timeout` (the default is 30 s).
fn http_with_timeout(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .unwrap()
}

fn svc_basic(idp: &Idp, clock: &Arc<ManualClock>, http: Option<reqwest::Client>) -> OAuthClient {
    let mut builder = OAuthClient::builder(clients::SVC_BASIC.0)
        .auth(ClientAuth::SecretBasic(SecretString::from(
            clients::SVC_BASIC.1,
        )))
        .token_url(idp.token_url())
        .clock(clock.clone())
        .retry(retry());
    if let Some(http) = http {
        builder = builder.http_client(http);
    }
    builder.build().unwrap()
}

fn manager(client: OAuthClient, store: &Arc<FileStore>) -> TokenManager {
    TokenManager::builder(client, ClientCredentials::new())
        .key("svc")
        .store(store.clone())
        .build()
        .unwrap()
}

/// Runs `CALLERS` concurrent `authorization_header` calls spread over `managers`; a panic in
/// any caller fails the test through `JoinError`.
async fn storm(managers: &[TokenManager]) -> Vec<Result<String, Error>> {
    let tasks: Vec<_> = (0..CALLERS)
        .map(|i| {
            let manager = managers[i % managers.len()].clone();
            tokio::spawn(async move {
                manager
                    .authorization_header()
                    .await
                    .map(|h| h.to_str().unwrap().to_owned())
            })
        })
        .collect();
    let mut results = Vec::with_capacity(CALLERS);
    for task in tasks {
        results.push(task.await.expect("no caller panics"));
    }
    results
}

fn cc_requests(counters: &latchkey_testkit::Counters) -> u64 {
    counters.token("client_credentials")
}

/// What every manager test here starts from: the IdP fixture, a clock the test moves, and a
/// file store in a directory of its own (kept until the test drops it).
async fn rig() -> (Idp, Arc<ManualClock>, tempfile::TempDir, Arc<FileStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path()));
    (Idp::start().await, Arc::new(ManualClock::new()), dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_faults_under_a_thousand_callers_cost_one_bounded_round_and_lose_nothing() {
    let (idp, clock, _dir, store) = rig().await;
    // Four managers (think: four services in one process) share the file store.
    let managers: Vec<_> = (0..4)
        .map(|_| manager(svc_basic(&idp, &clock, None), &store))
        .collect();
    let first = managers[0].authorization_header().await.unwrap();

    clock.advance(Duration::from_secs(3601));
    // One of each transient failure, in this order, then the IdP recovers.
    idp.fault(json!({"path": "/token", "action": "drop"})).await;
    idp.fault(json!({"path": "/token", "action": "status", "status": 503}))
        .await;
    idp.fault(json!({"path": "/token", "action": "status", "status": 429,
        "headers": {"Retry-After": "0"}, "body": "{\"error\":\"temporarily_unavailable\"}"}))
        .await;
    let results = storm(&managers).await;

    let headers: HashSet<String> = results
        .into_iter()
        .map(|r| r.expect("every caller gets a token once the IdP recovers"))
        .collect();
    assert_eq!(headers.len(), 1, "all callers share one new token");
    assert!(!headers.contains(first.to_str().unwrap()));
    assert_eq!(
        cc_requests(&idp.counters().await),
        1 + 3 + 1,
        "first token, three faulted attempts, one success: the storm is one retry round"
    );
    // Nothing lost: the store holds exactly the token the callers got.
    let stored = store.load("svc").await.unwrap().expect("stored");
    let stored = stored.authorization_header().unwrap();
    assert!(headers.contains(stored.to_str().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_503_storm_fails_every_caller_with_the_status_after_one_bounded_round() {
    let (idp, clock, _dir, store) = rig().await;
    let managers: Vec<_> = (0..4)
        .map(|_| manager(svc_basic(&idp, &clock, None), &store))
        .collect();
    idp.fault(json!({"path": "/token", "action": "status", "status": 503,
        "body": "<html>Service Unavailable</html>", "content_type": "text/html", "times": -1}))
        .await;

    let results = storm(&managers).await;
    for result in &results {
        let err = result.as_ref().expect_err("the IdP is down");
        assert!(err.is_retryable(), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains("HTTP 503") && message.contains("/token"),
            "names the status and the endpoint: {message}"
        );
        assert!(!message.contains("<html>"), "never quotes the body");
    }
    let requests = cc_requests(&idp.counters().await);
    // Failures are not cached across managers, but each manager's callers share one round,
    // and the file lock serialises the managers: at most one round per manager.
    assert!(
        requests >= u64::from(MAX_ATTEMPTS) && requests <= 4 * u64::from(MAX_ATTEMPTS),
        "bounded retries: {requests} requests"
    );
    assert!(
        store.load("svc").await.unwrap().is_none(),
        "nothing half-written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_with_an_http_date_retry_after_is_waited_for_once_by_all_callers() {
    let (idp, clock, _dir, store) = rig().await;
    let manager = manager(svc_basic(&idp, &clock, None), &store);
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(1));
    idp.fault(json!({"path": "/token", "action": "status", "status": 429,
        "headers": {"Retry-After": at}, "times": 2}))
        .await;

    let results = storm(std::slice::from_ref(&manager)).await;
    assert!(results.iter().all(Result::is_ok), "all callers succeed");
    assert_eq!(cc_requests(&idp.counters().await), 3);
    assert!(store.load("svc").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timeouts_are_retried_within_the_budget_and_named_as_timeouts() {
    let (idp, clock, _dir, store) = rig().await;
    let http = http_with_timeout(Duration::from_millis(300));
    let manager = manager(svc_basic(&idp, &clock, Some(http)), &store);

    // Two slow answers, then a fast one: the callers never notice.
    idp.fault(json!({"path": "/token", "action": "delay", "delay_ms": 1000, "times": 2}))
        .await;
    let results = storm(std::slice::from_ref(&manager)).await;
    assert!(results.iter().all(Result::is_ok), "third attempt succeeds");
    assert_eq!(cc_requests(&idp.counters().await), 3);

    // Always slow: every caller gets one timeout error after MAX_ATTEMPTS attempts.
    clock.advance(Duration::from_secs(3601));
    idp.fault(json!({"path": "/token", "action": "delay", "delay_ms": 1000, "times": -1}))
        .await;
    let results = storm(std::slice::from_ref(&manager)).await;
    for result in results {
        let err = result.expect_err("the IdP is too slow");
        assert!(err.is_timeout(), "{err:?}");
        assert!(err.is_retryable(), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains("/token") && message.contains("timed out"),
            "{message}"
        );
        assert!(err.hint().is_some(), "says what to do");
    }
    assert_eq!(
        cc_requests(&idp.counters().await),
        3 + u64::from(MAX_ATTEMPTS)
    );
    // The expired token is still the stored one: a failed refresh never deletes it.
    assert!(store.load("svc").await.unwrap().is_some());
}

/// Bodies a broken IdP or proxy sends with `200 OK`, and what the error must say.
fn malformed_bodies() -> Vec<(Value, &'static str)> {
    vec![
        (json!({"action": "malformed", "body": ""}), "not valid JSON"),
        (
            json!({"action": "malformed", "body": "<html>maintenance</html>", "content_type": "text/html"}),
            "not valid JSON",
        ),
        (
            json!({"action": "malformed", "body": "[\"access_token\"]"}),
            "not an object",
        ),
        (
            json!({"action": "malformed", "body": "{\"token_type\":\"Bearer\",\"expires_in\":60}"}),
            "access_token",
        ),
        (
            json!({"action": "malformed", "body": "{\"access_token\":\"\",\"refresh_token\":\"leak-me\"}"}),
            "access_token",
        ),
        (
            json!({"action": "malformed", "body": "{\"access_token\":{\"value\":\"leak-me\"}}"}),
            "not a string",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_200s_are_typed_errors_not_retried_and_leave_the_store_untouched() {
    let (idp, clock, dir, store) = rig().await;
    let manager = TokenManager::builder(svc_basic(&idp, &clock, None), ClientCredentials::new())
        .key("svc")
        .store(store.clone())
        .build()
        .unwrap();
    manager.authorization_header().await.unwrap();
    let bytes_before = std::fs::read(dir.path().join("svc.json")).unwrap();
    clock.advance(Duration::from_secs(3601));

    for (mut fault, expected) in malformed_bodies() {
        fault["path"] = json!("/token");
        // One caller: the answer is not retried (a 200 is final, whatever its body).
        idp.reset_counters().await;
        idp.fault(fault.clone()).await;
        let err = manager
            .authorization_header()
            .await
            .expect_err(&format!("{fault}: malformed"));
        assert_eq!(
            cc_requests(&idp.counters().await),
            1,
            "{fault}: not retried"
        );
        assert!(!err.is_retryable(), "{fault}: {err:?}");

        // A thousand callers while the IdP keeps answering so: each gets the typed error.
        fault["times"] = json!(-1);
        idp.fault(fault.clone()).await;
        let results = storm(std::slice::from_ref(&manager)).await;
        idp.clear_faults().await;
        for result in &results {
            let err = result.as_ref().expect_err("malformed");
            let message = err.to_string();
            assert!(
                matches!(err, Error::InvalidResponse { .. }),
                "{fault}: {err:?}"
            );
            assert!(
                message.contains(expected),
                "{fault}: names the cause: {message}"
            );
            assert!(
                !message.contains("leak-me"),
                "{fault}: never quotes a token: {message}"
            );
        }
        assert_eq!(
            std::fs::read(dir.path().join("svc.json")).unwrap(),
            bytes_before,
            "{fault}: store untouched"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_503_storm_on_refresh_keeps_the_refresh_token_and_recovers_without_a_new_login() {
    let (idp, clock, _dir, store) = rig().await;
    let client = OAuthClient::builder(clients::PW_CLIENT)
        .token_url(idp.token_url())
        .clock(clock.clone())
        .retry(retry())
        .build()
        .unwrap();
    let password = latchkey::Password::new(clients::ALICE.0, SecretString::from(clients::ALICE.1))
        .scopes(["openid", "offline_access"]);
    let manager = TokenManager::builder(client, password)
        .key("alice")
        .store(store.clone())
        .failure_cooldown(Duration::ZERO)
        .build()
        .unwrap();
    let before = manager.tokens().await.unwrap();
    clock.advance(Duration::from_secs(3601));
    idp.fault(
        json!({"path": "/token", "grant_type": "refresh_token", "action": "status",
        "status": 503, "times": -1}),
    )
    .await;

    let results = storm(std::slice::from_ref(&manager)).await;
    assert!(
        results.iter().all(Result::is_err),
        "the refresh cannot succeed"
    );
    let refreshes = idp.counters().await.token("refresh_token");
    assert!(
        (1..=u64::from(MAX_ATTEMPTS)).contains(&refreshes),
        "a 503 surely did not consume the refresh token, so it is retried, within the budget: {refreshes}"
    );
    let stored = store.load("alice").await.unwrap().expect("still stored");
    assert!(
        stored.same_refresh_token(&before),
        "the refresh token survives"
    );

    idp.clear_faults().await;
    let after = manager.tokens().await.expect("recovers");
    assert!(!after.same_access_token(&before));
    assert_eq!(
        idp.counters().await.token("password"),
        1,
        "no new password login"
    );
}

/// A validator for `pw-client` whose JWKS is fetched with `http`.
async fn validator(idp: &Idp, http: reqwest::Client) -> IdTokenValidator {
    let provider = OidcProvider::discover(idp.issuer()).await.unwrap();
    let jwks = JwksCache::builder(provider.metadata().jwks_uri.clone().unwrap())
        .http_client(http)
        .build()
        .unwrap();
    IdTokenValidator::builder(idp.issuer(), clients::PW_CLIENT, jwks)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_jwks_is_fetched_once_for_a_thousand_validations() {
    let idp = Idp::start().await;
    let tokens = oidc::password_tokens(&idp).await;
    let id_token = tokens.id_token().unwrap().clone();
    let validator = validator(&idp, http_with_timeout(Duration::from_secs(5))).await;
    idp.fault(json!({"path": "/jwks", "action": "delay", "delay_ms": 500}))
        .await;

    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let validator = validator.clone();
            let id_token = id_token.clone();
            tokio::spawn(async move { validator.validate(&id_token, None).await.map(|c| c.sub) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("no panic").expect("valid"), "alice");
    }
    assert_eq!(idp.counters().await.endpoint("jwks"), 1, "single flight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_jwks_slower_than_the_timeout_fails_validation_with_a_named_timeout() {
    let idp = Idp::start().await;
    let tokens = oidc::password_tokens(&idp).await;
    let id_token = tokens.id_token().unwrap().clone();
    let validator = validator(&idp, http_with_timeout(Duration::from_millis(300))).await;
    idp.fault(json!({"path": "/jwks", "action": "delay", "delay_ms": 1500, "times": -1}))
        .await;

    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let validator = validator.clone();
            let id_token = id_token.clone();
            tokio::spawn(async move { validator.validate(&id_token, None).await })
        })
        .collect();
    for task in tasks {
        let err = task.await.expect("no panic").expect_err("JWKS unreachable");
        assert!(err.is_timeout(), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains("/jwks") && message.contains("timed out"),
            "{message}"
        );
    }
    assert_eq!(
        idp.counters().await.endpoint("jwks"),
        1,
        "one failed fetch; the failure is shared and cooled down, not repeated by each caller"
    );
}
