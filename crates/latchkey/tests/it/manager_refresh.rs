//! Refresh, rotation, `invalid_grant` and re-authentication against the real fixture.
#![allow(
    clippy::disallowed_methods,
    reason = "a raw token request that replays an old refresh token, as an attacker would"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use latchkey::{
    ExposeSecret, FileStore, Grant, ManualClock, RefreshTokenOnly, TokenManager, TokenSet,
    TokenStore,
};
use latchkey_testkit::Idp;

use crate::support;

#[tokio::test]
async fn refresh_with_rotation_persists_the_new_refresh_token_and_the_old_one_is_dead() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path().join("tokens")));
    let manager = TokenManager::builder(support::pw_client(&idp, &clock), support::alice())
        .key("alice")
        .store(store.clone())
        .build()
        .unwrap();
    let first = manager.tokens().await.expect("password grant");
    let old_refresh = first.refresh_token().unwrap().expose_secret().to_owned();

    clock.advance(Duration::from_secs(3600));
    let second = manager.tokens().await.expect("refreshed");
    let new_refresh = second.refresh_token().unwrap().expose_secret().to_owned();
    assert_ne!(
        old_refresh, new_refresh,
        "the fixture rotates refresh tokens"
    );
    assert!(!second.same_access_token(&first));

    let counters = idp.counters().await;
    assert_eq!(
        (counters.token("password"), counters.token("refresh_token")),
        (1, 1)
    );
    assert!(
        !idp.is_active(&old_refresh).await,
        "the IdP rejects the old refresh token"
    );
    assert!(idp.is_active(&new_refresh).await);
    let stored = store.load("alice").await.unwrap().expect("stored");
    assert_eq!(
        stored.refresh_token().unwrap().expose_secret(),
        new_refresh,
        "the store holds the rotated token"
    );
    assert!(stored.same_access_token(&second));

    // Presented at the token endpoint, the old refresh token is refused. Done last: the
    // fixture's reuse detection then revokes the whole grant, as providers do.
    let response = reqwest::Client::new()
        .post(idp.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", old_refresh.as_str()),
            ("client_id", latchkey_testkit::clients::PW_CLIENT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
}

#[tokio::test]
async fn invalid_grant_on_refresh_re_authenticates_an_unattended_grant() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = support::pw_client(&idp, &clock);
    let manager = TokenManager::builder(client.clone(), support::alice())
        .build()
        .unwrap();
    let first = manager.tokens().await.unwrap();
    client
        .revoke(first.refresh_token().unwrap(), "refresh_token")
        .await
        .expect("revoke at the IdP");

    clock.advance(Duration::from_secs(3600));
    let again = manager
        .tokens()
        .await
        .expect("re-authenticated with the password grant");
    assert!(!again.same_access_token(&first));
    let counters = idp.counters().await;
    assert_eq!(
        counters.token("refresh_token"),
        1,
        "the refresh was tried once and refused"
    );
    assert_eq!(
        counters.token("password"),
        2,
        "then the grant ran again, unattended"
    );
}

#[tokio::test]
async fn invalid_grant_on_refresh_token_only_means_login_required() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = support::pw_client(&idp, &clock);
    let seed = support::alice().obtain(&client).await.unwrap();
    let seed_refresh = seed.refresh_token().unwrap().clone();

    let callbacks = Arc::new(AtomicUsize::new(0));
    let seen = callbacks.clone();
    let manager = TokenManager::builder(client.clone(), RefreshTokenOnly::new(seed_refresh))
        .key("cdse")
        .on_reauth_required(move |err| {
            assert!(err.needs_login());
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let tokens = manager
        .tokens()
        .await
        .expect("the seed refresh token works once");
    assert_eq!(idp.counters().await.token("refresh_token"), 1);

    client
        .revoke(tokens.refresh_token().unwrap(), "refresh_token")
        .await
        .unwrap();
    clock.advance(Duration::from_secs(3600));
    let err = manager.authorization_header().await.unwrap_err();
    assert!(err.needs_login(), "{err:?}");
    assert!(
        err.hint().unwrap().contains("TokenManager::login"),
        "{:?}",
        err.hint()
    );
    #[cfg(feature = "profiles")]
    assert_eq!(
        latchkey::profile::cli_hint(&err).as_deref(),
        Some("run `latchkey login cdse`")
    );
    assert!(
        err.to_string().contains("invalid_grant"),
        "the cause is kept: {err}"
    );
    assert_eq!(callbacks.load(Ordering::SeqCst), 1);
    assert_eq!(
        idp.counters().await.token("password"),
        1,
        "no password grant was attempted"
    );
}

#[tokio::test]
async fn a_refresh_token_rotated_by_a_peer_is_picked_up_from_the_store() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir.path()));
    let build = || {
        TokenManager::builder(support::pw_client(&idp, &clock), support::alice())
            .key("shared")
            .store(store.clone())
            .build()
            .unwrap()
    };
    // Two managers (two processes, in effect) over one store.
    let (one, two) = (build(), build());
    let first = one.tokens().await.unwrap();
    assert!(
        two.tokens().await.unwrap().same_access_token(&first),
        "the second adopts the stored token"
    );
    clock.advance(Duration::from_secs(3600));
    let from_one = one.tokens().await.unwrap();
    let from_two = two.tokens().await.unwrap();
    assert!(
        from_one.same_access_token(&from_two),
        "the peer's refresh is adopted, not repeated"
    );
    let counters = idp.counters().await;
    assert_eq!(
        (counters.token("password"), counters.token("refresh_token")),
        (1, 1)
    );
}

#[tokio::test]
async fn logout_revokes_at_the_idp_and_empties_the_store() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path()));
    let manager = TokenManager::builder(support::pw_client(&idp, &clock), support::alice())
        .key("alice")
        .store(store.clone())
        .build()
        .unwrap();
    let tokens = manager.tokens().await.unwrap();
    manager.logout().await.expect("logout");
    assert!(store.load("alice").await.unwrap().is_none());
    assert!(
        !idp.is_active(tokens.refresh_token().unwrap().expose_secret())
            .await
    );
    assert!(!idp.is_active(tokens.access_token().expose_secret()).await);
    assert!(idp.counters().await.endpoint("revocation") >= 1);
    let status = manager.status().await.unwrap();
    assert!(!status.valid && !status.has_refresh_token);
}

/// PyWry's `SessionManager.save_tokens`: tokens obtained by one manager are handed to
/// another, whose own grant needs a person (a device login), so only adoption can give it
/// tokens. It serves them without a token request, then refreshes them once, itself.
#[tokio::test]
async fn tokens_from_one_manager_adopted_by_another_then_refreshed_once() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let obtainer = TokenManager::builder(support::pw_client(&idp, &clock), support::alice())
        .key("alice")
        .build()
        .unwrap();
    let obtained = obtainer.tokens().await.expect("password grant");

    let store = Arc::new(latchkey::MemoryStore::new());
    let device = latchkey::DeviceCode::builder(idp.url("/device/auth"))
        .build()
        .unwrap();
    let adopter = TokenManager::builder(support::pw_client(&idp, &clock), device)
        .key("adopted")
        .store(store.clone())
        .build()
        .unwrap();
    let err = adopter.tokens().await.expect_err("nothing to serve yet");
    assert!(err.needs_login(), "{err:?}");

    let adopted = adopter
        .adopt_tokens(TokenSet::clone(&obtained))
        .await
        .expect("adopt");
    assert!(adopted.same_access_token(&obtained));
    let stored = store.load("adopted").await.unwrap().expect("stored");
    assert!(stored.same_access_token(&obtained) && stored.same_refresh_token(&obtained));
    let served = adopter.tokens().await.expect("served from the adopted set");
    assert!(served.same_access_token(&obtained));
    assert_eq!(
        idp.counters().await.token_total(),
        1,
        "only the password grant"
    );

    clock.advance(Duration::from_secs(3600));
    let refreshed = adopter.tokens().await.expect("refreshed by the adopter");
    assert!(!refreshed.same_access_token(&obtained));
    let counters = idp.counters().await;
    assert_eq!(
        (
            counters.token("password"),
            counters.token("refresh_token"),
            counters.token_total()
        ),
        (1, 1, 2)
    );
    assert!(
        idp.is_active(refreshed.access_token().expose_secret())
            .await
    );
    let stored = store.load("adopted").await.unwrap().expect("stored");
    assert!(
        stored.same_refresh_token(&refreshed) && !stored.same_refresh_token(&obtained),
        "the rotated refresh token is what the adopter keeps"
    );
}

/// CDSE's `TokenManager(expiry_skew=…)`: the builder takes the same name for the refresh
/// margin, and a token is refreshed that long before it expires.
#[tokio::test]
async fn cdse_expiry_skew_refreshes_that_long_before_expiry() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let manager = TokenManager::builder(support::pw_client(&idp, &clock), support::alice())
        .expiry_skew(Duration::from_secs(600))
        .build()
        .unwrap();
    let first = manager.tokens().await.unwrap();
    clock.advance(Duration::from_secs(2990));
    assert!(manager.tokens().await.unwrap().same_access_token(&first));
    assert_eq!(idp.counters().await.token("refresh_token"), 0);
    // The fixture's access tokens live 3600 s: 600 s before that, a refresh.
    clock.advance(Duration::from_secs(20));
    assert!(!manager.tokens().await.unwrap().same_access_token(&first));
    assert_eq!(idp.counters().await.token("refresh_token"), 1);
}

#[tokio::test]
async fn cached_header_until_says_when_the_header_stops_being_fresh() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let manager = TokenManager::builder(support::pw_client(&idp, &clock), support::alice())
        .refresh_margin(Duration::from_secs(60))
        .build()
        .unwrap();
    assert!(manager.cached_header_until().is_none(), "nothing held yet");
    let tokens = manager.tokens().await.expect("password grant");
    let (header, due) = manager.cached_header_until().expect("a fresh header");
    assert_eq!(Some(header.clone()), manager.cached_header());
    let expires_at = tokens.expires_at().expect("the fixture says expires_in");
    assert_eq!(due, Some(expires_at - Duration::from_secs(60)));

    // Just before the due moment it is still fresh; at it, neither call hands it out.
    let left = due
        .unwrap()
        .duration_since(latchkey::Clock::now(&*clock))
        .unwrap();
    clock.advance(left - Duration::from_secs(1));
    assert!(manager.cached_header_until().is_some());
    clock.advance(Duration::from_secs(1));
    assert!(manager.cached_header_until().is_none());
    assert!(manager.cached_header().is_none());

    // A rejected header is not fresh either, whatever the clock says.
    let fresh = manager.authorization_header().await.unwrap();
    manager.invalidate_header(&fresh).await.unwrap();
    let (after, _) = manager.cached_header_until().expect("a new token");
    assert_ne!(after, fresh);
}
