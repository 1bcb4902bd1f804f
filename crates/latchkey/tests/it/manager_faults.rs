//! Transient failures, retries and serve-while-valid, with faults injected at the fixture.

use std::sync::Arc;
use std::time::Duration;

use latchkey::{ClientCredentials, Error, FileStore, ManualClock, TokenManager, TokenStore};
use latchkey_testkit::Idp;
use serde_json::json;

use crate::support;

fn manager(idp: &Idp, clock: &Arc<ManualClock>) -> TokenManager {
    TokenManager::builder(support::svc_basic(idp, clock), ClientCredentials::new())
        .key("svc")
        .build()
        .unwrap()
}

#[tokio::test]
async fn two_500s_then_ok_succeeds_after_retries() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    idp.fault(json!({"path": "/token", "action": "status", "status": 500, "times": 2}))
        .await;
    manager(&idp, &clock)
        .authorization_header()
        .await
        .expect("third attempt succeeds");
    assert_eq!(idp.counters().await.token("client_credentials"), 3);
}

#[tokio::test]
async fn retry_after_on_429_is_honoured_within_the_budget_and_not_beyond() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let retry = latchkey::RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(2),
    };
    let client = latchkey::OAuthClient::builder(latchkey_testkit::clients::SVC_BASIC.0)
        .auth(latchkey::ClientAuth::SecretBasic(
            latchkey_testkit::clients::SVC_BASIC.1.to_string().into(),
        ))
        .token_url(idp.token_url())
        .clock(clock.clone())
        .retry(retry)
        .build()
        .unwrap();
    let manager = TokenManager::builder(client, ClientCredentials::new())
        .build()
        .unwrap();
    let slow_down = |after: &str| json!({"path": "/token", "action": "status", "status": 429, "headers": {"Retry-After": after}, "body": "{\"error\":\"slow_down\"}", "times": 1});

    // Asked to wait longer than max_backoff: give up at once instead of hanging.
    idp.fault(slow_down("60")).await;
    let err = manager.authorization_header().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)), "{err:?}");
    assert_eq!(idp.counters().await.token("client_credentials"), 1);

    // Asked to wait 1 s: wait, then succeed.
    idp.fault(slow_down("1")).await;
    let started = std::time::Instant::now();
    manager
        .authorization_header()
        .await
        .expect("succeeds after waiting");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    assert_eq!(idp.counters().await.token("client_credentials"), 3);
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_a_replay_safe_grant() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    idp.fault(json!({"path": "/token", "action": "drop", "times": 1}))
        .await;
    manager(&idp, &clock)
        .authorization_header()
        .await
        .expect("retried after the drop");
    assert_eq!(idp.counters().await.token("client_credentials"), 2);
}

#[tokio::test]
async fn the_retry_budget_is_bounded_and_the_error_names_the_cause() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    idp.fault(json!({"path": "/token", "action": "status", "status": 503, "times": -1}))
        .await;
    let err = manager(&idp, &clock)
        .authorization_header()
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(
        err.to_string().contains("503") || err.to_string().contains("server_error"),
        "{err}"
    );
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        3,
        "max_attempts = 3"
    );
}

#[tokio::test]
async fn a_valid_token_is_served_while_the_idp_is_down() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let manager = manager(&idp, &clock);
    let header = manager.authorization_header().await.unwrap();
    // Inside the refresh margin but not expired: a refresh is due, the token still works.
    clock.advance(Duration::from_secs(3600 - 30));
    idp.fault(json!({"path": "/token", "action": "status", "status": 503, "times": -1}))
        .await;
    assert_eq!(
        manager
            .authorization_header()
            .await
            .expect("served while valid"),
        header
    );
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        1 + 3,
        "one bounded round of retries"
    );
    // Within the failure cooldown nobody hammers the IdP.
    assert_eq!(manager.authorization_header().await.unwrap(), header);
    assert_eq!(idp.counters().await.token("client_credentials"), 4);
    // Once it has really expired, the error surfaces.
    clock.advance(Duration::from_secs(31));
    let err = manager.authorization_header().await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    // And when the IdP is back, the next call recovers.
    idp.clear_faults().await;
    assert_ne!(manager.authorization_header().await.unwrap(), header);
}

#[tokio::test]
async fn malformed_json_is_a_typed_error_and_leaves_the_store_untouched() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path()));
    let manager = TokenManager::builder(support::svc_basic(&idp, &clock), ClientCredentials::new())
        .key("svc")
        .store(store.clone())
        .build()
        .unwrap();
    let before = manager.tokens().await.unwrap();
    let bytes_before = std::fs::read(dir.path().join("svc.json")).unwrap();

    clock.advance(Duration::from_secs(3601));
    idp.fault(json!({"path": "/token", "action": "malformed", "times": 1}))
        .await;
    let err = manager.authorization_header().await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert!(err.to_string().contains("not valid JSON"), "{err}");
    assert!(
        !err.to_string().contains("abc"),
        "the body is never quoted: {err}"
    );
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        2,
        "a malformed 200 is not retried"
    );
    assert_eq!(
        std::fs::read(dir.path().join("svc.json")).unwrap(),
        bytes_before,
        "store untouched"
    );
    assert!(
        store
            .load("svc")
            .await
            .unwrap()
            .unwrap()
            .same_access_token(&before)
    );
}

#[tokio::test]
async fn a_server_error_on_refresh_token_grant_does_not_burn_the_refresh_token() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let manager = TokenManager::builder(support::pw_client(&idp, &clock), support::alice())
        .build()
        .unwrap();
    manager.tokens().await.unwrap();
    clock.advance(Duration::from_secs(3600));
    // A dropped connection on a refresh may have been processed: it is not replayed
    // (replaying a rotated refresh token would make the IdP revoke the whole grant).
    idp.fault(
        json!({"path": "/token", "grant_type": "refresh_token", "action": "drop", "times": 1}),
    )
    .await;
    let err = manager.tokens().await.unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
    assert_eq!(idp.counters().await.token("refresh_token"), 1);
    // The refresh token was never consumed (the drop happened before the provider), so the
    // next call refreshes normally.
    manager.tokens().await.expect("refresh works afterwards");
    assert_eq!(idp.counters().await.token("password"), 1);
}
