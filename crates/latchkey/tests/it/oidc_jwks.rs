//! The JWKS cache against the real IdP: key rotation, the unknown-`kid` cooldown,
//! single flight and serving stale keys, all counted at the IdP's `/jwks`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use latchkey::oidc::{IdTokenError, IdTokenValidator, JwksCache, OidcProvider};
use latchkey::{Error, ManualClock};
use latchkey_testkit::{Idp, clients};
use serde_json::json;

use crate::support::oidc;

const COOLDOWN: Duration = Duration::from_secs(30);

/// A validator for `pw-client` whose JWKS cache runs on `clock`.
async fn validator(idp: &Idp, clock: Arc<ManualClock>) -> (IdTokenValidator, JwksCache) {
    let provider = OidcProvider::discover(idp.issuer()).await.unwrap();
    let jwks = JwksCache::builder(provider.metadata().jwks_uri.clone().unwrap())
        .clock(clock)
        .refetch_cooldown(COOLDOWN)
        .default_ttl(Duration::from_secs(600))
        .build()
        .unwrap();
    let validator = IdTokenValidator::builder(idp.issuer(), clients::PW_CLIENT, jwks.clone())
        .algorithms([latchkey::Algorithm::RS256, latchkey::Algorithm::ES256])
        .build()
        .unwrap();
    (validator, jwks)
}

async fn jwks_count(idp: &Idp) -> u64 {
    idp.counters().await.endpoint("jwks")
}

fn forged(kid: &str) -> latchkey::SecretString {
    oidc::sign(&serde_json::Value::Object(oidc::good_claims("x", "y")), kid)
}

#[tokio::test]
async fn hard_rotation_refetches_once_and_unknown_kid_floods_are_throttled() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let (validator, _) = validator(&idp, clock.clone()).await;
    let before = oidc::password_tokens(&idp).await;
    validator
        .validate(before.id_token().unwrap(), None)
        .await
        .unwrap();
    validator
        .validate(before.id_token().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(jwks_count(&idp).await, 1, "a warm cache makes no request");

    idp.rotate_keys("hard").await;
    let after = oidc::password_tokens(&idp).await;
    let claims = validator
        .validate(after.id_token().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(
        jwks_count(&idp).await,
        2,
        "exactly one refetch for the new kid"
    );

    // The old key is gone, and the cooldown forbids another refetch for it.
    let err = validator
        .validate(before.id_token().unwrap(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::IdToken(IdTokenError::UnknownKey { .. })),
        "{err:?}"
    );
    assert_eq!(jwks_count(&idp).await, 2);

    // 100 concurrent unknown kids after the cooldown: one request in total.
    clock.advance(COOLDOWN + Duration::from_secs(1));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let validator = validator.clone();
            tokio::spawn(async move {
                validator
                    .validate(&forged(&format!("forged-{i}")), None)
                    .await
            })
        })
        .collect();
    for task in tasks {
        let err = task.await.unwrap().unwrap_err();
        assert!(
            matches!(err, Error::IdToken(IdTokenError::UnknownKey { .. })),
            "{err:?}"
        );
    }
    assert_eq!(
        jwks_count(&idp).await,
        3,
        "at most one JWKS request per cooldown"
    );
    // And 100 more right away: none.
    for i in 0..100 {
        validator
            .validate(&forged(&format!("again-{i}")), None)
            .await
            .unwrap_err();
    }
    assert_eq!(jwks_count(&idp).await, 3);
    // Known keys keep working throughout.
    validator
        .validate(after.id_token().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(jwks_count(&idp).await, 3);
}

#[tokio::test]
async fn concurrent_cold_fetches_coalesce() {
    let idp = Idp::start().await;
    let (validator, _) = validator(&idp, Arc::new(ManualClock::new())).await;
    let tokens = oidc::password_tokens(&idp).await;
    // Slow the JWKS down so that every task is waiting while the first fetch is in flight.
    idp.fault(json!({"path": "/jwks", "action": "delay", "delay_ms": 300, "times": -1}))
        .await;
    let id_token = tokens.id_token().unwrap().clone();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (validator, id_token) = (validator.clone(), id_token.clone());
            tokio::spawn(async move { validator.validate(&id_token, None).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(jwks_count(&idp).await, 1);
}

#[tokio::test]
async fn stale_keys_are_served_when_the_provider_fails() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let (validator, jwks) = validator(&idp, clock.clone()).await;
    let tokens = oidc::password_tokens(&idp).await;
    let id_token = tokens.id_token().unwrap();
    validator.validate(id_token, None).await.unwrap();
    assert_eq!(jwks_count(&idp).await, 1);

    idp.fault(json!({"path": "/jwks", "action": "status", "status": 503, "times": -1}))
        .await;
    clock.advance(Duration::from_secs(601)); // past the TTL
    validator.validate(id_token, None).await.unwrap();
    assert_eq!(jwks_count(&idp).await, 2, "one refresh attempt");
    validator.validate(id_token, None).await.unwrap();
    assert_eq!(
        jwks_count(&idp).await,
        2,
        "no new attempt within the cooldown"
    );
    assert!(jwks.refresh().await.unwrap_err().is_retryable());

    idp.clear_faults().await;
    clock.advance(COOLDOWN + Duration::from_secs(1));
    validator.validate(id_token, None).await.unwrap();
    let count = jwks_count(&idp).await;
    validator.validate(id_token, None).await.unwrap();
    assert_eq!(
        jwks_count(&idp).await,
        count,
        "fresh again after a successful fetch"
    );
}

#[tokio::test]
async fn a_cold_cache_without_a_provider_fails_with_a_network_error() {
    let jwks = JwksCache::builder(url::Url::parse("http://127.0.0.1:9/jwks").unwrap())
        .build()
        .unwrap();
    let validator = IdTokenValidator::builder("https://i.example", "c", jwks)
        .build()
        .unwrap();
    let err = validator
        .validate(&forged(oidc::FAKE_KID), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
}

#[tokio::test]
async fn cache_control_max_age_is_honoured_within_bounds() {
    let (url, hits) = oidc::fake_jwks(Some("public, max-age=120")).await;
    let clock = Arc::new(ManualClock::new());
    let jwks = JwksCache::builder(url)
        .clock(clock.clone())
        .ttl_bounds(Duration::from_secs(60), Duration::from_secs(3600))
        .build()
        .unwrap();
    let validator = IdTokenValidator::builder("https://fake-issuer.example", "my-client", jwks)
        .build()
        .unwrap();
    let token = oidc::sign(
        &serde_json::Value::Object(oidc::good_claims(
            "https://fake-issuer.example",
            "my-client",
        )),
        oidc::FAKE_KID,
    );
    validator.validate(&token, None).await.unwrap();
    clock.advance(Duration::from_secs(100));
    validator.validate(&token, None).await.unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "max-age=120 still fresh at 100 s"
    );
    clock.advance(Duration::from_secs(30));
    validator.validate(&token, None).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2, "refetched after max-age");

    // A tiny max-age is raised to the minimum TTL.
    let (url, hits) = oidc::fake_jwks(Some("max-age=1")).await;
    let jwks = JwksCache::builder(url)
        .clock(clock.clone())
        .ttl_bounds(Duration::from_secs(60), Duration::from_secs(3600))
        .build()
        .unwrap();
    let validator = IdTokenValidator::builder("https://fake-issuer.example", "my-client", jwks)
        .build()
        .unwrap();
    validator.validate(&token, None).await.unwrap();
    clock.advance(Duration::from_secs(30));
    validator.validate(&token, None).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}
