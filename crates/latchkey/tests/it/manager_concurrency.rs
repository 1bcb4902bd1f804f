//! Single-flight refresh: many callers, one request at the identity provider.

use std::sync::Arc;
use std::time::Duration;

use latchkey::{ClientCredentials, ManualClock, TokenManager};
use latchkey_testkit::Idp;
use serde_json::json;

use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_callers_at_expiry_make_exactly_one_token_request() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let manager = TokenManager::builder(support::svc_basic(&idp, &clock), ClientCredentials::new())
        .key("svc")
        .build()
        .unwrap();
    let first = manager.authorization_header().await.expect("first token");
    assert_eq!(idp.counters().await.token("client_credentials"), 1);

    // Past expiry: every cached token is dead, all 1,000 callers arrive at once.
    clock.advance(Duration::from_secs(3600 + 1));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let manager = manager.clone();
            tokio::spawn(async move { manager.authorization_header().await })
        })
        .collect();
    for task in tasks {
        let header = task.await.unwrap().expect("header");
        assert_ne!(header, first, "nobody may see the expired token");
    }
    let tokens = manager.tokens().await.unwrap();
    assert!(tokens.access_valid(latchkey::Clock::now(&*clock), Duration::ZERO));
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        2,
        "one request for the first token, one for the stampede"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cold_stampede_also_makes_one_request() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let manager = TokenManager::builder(support::svc_basic(&idp, &clock), ClientCredentials::new())
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            tokio::spawn({
                let manager = manager.clone();
                async move { manager.authorization_header().await }
            })
        })
        .collect();
    let mut headers = std::collections::HashSet::new();
    for task in tasks {
        headers.insert(
            task.await
                .unwrap()
                .expect("header")
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(headers.len(), 1, "everyone shares the one token");
    assert_eq!(idp.counters().await.token("client_credentials"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_leader_does_not_strand_the_waiters() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let manager = TokenManager::builder(support::svc_basic(&idp, &clock), ClientCredentials::new())
        .build()
        .unwrap();
    idp.fault(json!({"path": "/token", "action": "delay", "delay_ms": 600}))
        .await;

    // The leader starts the refresh, then gives up long before the IdP answers.
    let leader =
        tokio::time::timeout(Duration::from_millis(100), manager.authorization_header()).await;
    assert!(leader.is_err(), "the leader was cancelled");
    let waiters: Vec<_> = (0..50)
        .map(|_| {
            tokio::spawn({
                let manager = manager.clone();
                async move { manager.authorization_header().await }
            })
        })
        .collect();
    for waiter in waiters {
        waiter
            .await
            .unwrap()
            .expect("waiters get the token the cancelled leader's refresh obtained");
    }
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        1,
        "the refresh was neither lost nor repeated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalidate_after_401_forces_one_coalesced_refresh() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let manager = TokenManager::builder(support::svc_basic(&idp, &clock), ClientCredentials::new())
        .build()
        .unwrap();
    let rejected = manager.authorization_header().await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            tokio::spawn({
                let manager = manager.clone();
                let rejected = rejected.clone();
                async move {
                    // Spread the 401s out: some arrive after the refresh already finished.
                    tokio::time::sleep(Duration::from_millis(i * 10)).await;
                    manager.invalidate_header(&rejected).await
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("invalidate");
    }
    let fresh = manager.authorization_header().await.unwrap();
    assert_ne!(fresh, rejected);
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        2,
        "20 401s for one token → one refresh"
    );
    // A 401 for the *new* token is a new rejection.
    manager.invalidate_header(&fresh).await.unwrap();
    assert_eq!(idp.counters().await.token("client_credentials"), 3);
}

/// A 401 reported to a manager that holds nothing yet (a new process, a rebuilt manager on
/// the same store) still counts: the rejected token in the store is not handed out again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_holding_nothing_yet_does_not_serve_the_rejected_stored_token() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let store: Arc<dyn latchkey::TokenStore> = Arc::new(latchkey::MemoryStore::new());
    let build = || {
        TokenManager::builder(support::svc_basic(&idp, &clock), ClientCredentials::new())
            .store(store.clone())
            .key("svc")
            .build()
            .unwrap()
    };
    let rejected = build().authorization_header().await.unwrap();
    let fresh_manager = build();
    fresh_manager.invalidate_header(&rejected).await.unwrap();
    assert_ne!(
        fresh_manager.authorization_header().await.unwrap(),
        rejected,
        "the rejected token came back from the store"
    );
    assert_eq!(idp.counters().await.token("client_credentials"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_refresh_renews_ahead_of_expiry() {
    let idp = Idp::start().await;
    idp.set_ttl(json!({"ClientCredentials": 4})).await;
    let client = latchkey::OAuthClient::builder(latchkey_testkit::clients::SVC_BASIC.0)
        .auth(latchkey::ClientAuth::SecretBasic(
            latchkey_testkit::clients::SVC_BASIC.1.to_string().into(),
        ))
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let manager = TokenManager::builder(client, ClientCredentials::new())
        .background_refresh(true)
        .build()
        .unwrap();
    // With 4-second tokens the margin is capped at 2 s, and the background task starts a
    // few hundred ms before that: a renewal about every 1.5 s without any caller, and a
    // caller sampling every 50 ms never finds the token stale (never has to wait).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut stale = 0;
    for _ in 0..100 {
        if manager.cached_header().is_none() {
            stale += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let renewals = idp.counters().await.token("client_credentials");
    assert!(
        (3..=7).contains(&renewals),
        "background task renewed {renewals} times"
    );
    assert_eq!(
        stale, 0,
        "callers found the token stale {stale} times out of 100"
    );
    drop(manager);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after_drop = idp.counters().await.token("client_credentials");
    assert!(
        after_drop <= renewals + 1,
        "the background task stops when the manager is dropped ({renewals} → {after_drop})"
    );
}
