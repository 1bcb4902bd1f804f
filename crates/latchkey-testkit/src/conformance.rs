//! The store conformance suite: every `TokenStore` backend must pass it.
//!
//! ```ignore
//! latchkey_testkit::conformance::run(|| Arc::new(MyStore::open(...)) as Arc<dyn TokenStore>).await;
//! ```
//! The factory must return handles onto the *same* backing storage (two handles model two
//! processes sharing a store). Every check uses its own keys, so backends need no reset.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use latchkey::{ExposeSecret, SecretString, StoreError, TokenSet, TokenStore};

static RUN: AtomicUsize = AtomicUsize::new(0);

fn unique_key(name: &str) -> String {
    format!(
        "conf-{}-{}-{name}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    )
}

/// A full token set whose values are derived from `tag`, for round-trip checks.
pub fn sample_tokens(tag: &str) -> TokenSet {
    let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_750_000_000_123);
    TokenSet::new(SecretString::from(format!("access-{tag}")), now)
        .with_refresh_token(Some(SecretString::from(format!("refresh-{tag}"))))
        .with_id_token(Some(SecretString::from(format!("id-{tag}"))))
        .with_scopes(vec!["openid".into(), format!("scope-{tag}")])
        .with_expires_at(Some(now + Duration::from_secs(300)))
        .with_refresh_expires_at(Some(now + Duration::from_secs(3600)))
}

fn assert_same(actual: &TokenSet, expected: &TokenSet) {
    assert!(actual.same_access_token(expected), "access token differs");
    assert!(actual.same_refresh_token(expected), "refresh token differs");
    assert_eq!(
        actual.id_token().map(|t| t.expose_secret().to_owned()),
        expected.id_token().map(|t| t.expose_secret().to_owned())
    );
    assert_eq!(actual.scopes(), expected.scopes());
    assert_eq!(actual.expires_at(), expected.expires_at());
    assert_eq!(actual.refresh_expires_at(), expected.refresh_expires_at());
    assert_eq!(actual.obtained_at(), expected.obtained_at());
    assert_eq!(actual.token_type(), expected.token_type());
}

/// Runs every check against the backend behind `store`.
pub async fn run<F>(store: F)
where
    F: Fn() -> Arc<dyn TokenStore>,
{
    missing_key_loads_none(store()).await;
    save_then_load_round_trips(store()).await;
    save_replaces(store()).await;
    delete_removes_and_is_idempotent(store()).await;
    keys_are_independent(store()).await;
    invalid_keys_are_refused(store()).await;
    handles_share_data(store(), store()).await;
    lock_excludes_and_times_out(store(), store()).await;
    lock_is_per_key(store()).await;
    lock_released_on_drop(store(), store()).await;
    save_under_a_held_lock(store(), store()).await;
    concurrent_saves_leave_one_whole_record(store()).await;
    describe_shows_no_secret(store()).await;
    list_keys_shows_saved_keys_only(store(), store()).await;
    exists_follows_save_and_delete(store(), store()).await;
}

async fn missing_key_loads_none(store: Arc<dyn TokenStore>) {
    let key = unique_key("missing");
    assert!(
        store
            .load(&key)
            .await
            .expect("load of a missing key")
            .is_none()
    );
}

async fn save_then_load_round_trips(store: Arc<dyn TokenStore>) {
    let key = unique_key("roundtrip");
    let tokens = sample_tokens("rt");
    store.save(&key, &tokens).await.expect("save");
    let back = store
        .load(&key)
        .await
        .expect("load")
        .expect("saved tokens are there");
    assert_same(&back, &tokens);
}

async fn save_replaces(store: Arc<dyn TokenStore>) {
    let key = unique_key("replace");
    store
        .save(&key, &sample_tokens("one"))
        .await
        .expect("first save");
    store
        .save(&key, &sample_tokens("two"))
        .await
        .expect("second save");
    let back = store.load(&key).await.expect("load").expect("present");
    assert_same(&back, &sample_tokens("two"));
}

async fn delete_removes_and_is_idempotent(store: Arc<dyn TokenStore>) {
    let key = unique_key("delete");
    store.save(&key, &sample_tokens("d")).await.expect("save");
    store.delete(&key).await.expect("delete");
    assert!(store.load(&key).await.expect("load after delete").is_none());
    store.delete(&key).await.expect("deleting nothing is fine");
}

async fn keys_are_independent(store: Arc<dyn TokenStore>) {
    let (a, b) = (unique_key("a"), unique_key("b"));
    store.save(&a, &sample_tokens("a")).await.expect("save a");
    store.save(&b, &sample_tokens("b")).await.expect("save b");
    store.delete(&a).await.expect("delete a");
    assert!(store.load(&a).await.expect("load a").is_none());
    assert_same(
        &store.load(&b).await.expect("load b").expect("b survives"),
        &sample_tokens("b"),
    );
}

async fn invalid_keys_are_refused(store: Arc<dyn TokenStore>) {
    for bad in ["", "../escape", "a/b", ".hidden"] {
        assert!(
            matches!(
                store.save(bad, &sample_tokens("x")).await,
                Err(StoreError::InvalidKey { .. })
            ),
            "key {bad:?} must be refused"
        );
        assert!(
            matches!(store.load(bad).await, Err(StoreError::InvalidKey { .. })),
            "key {bad:?} must be refused"
        );
    }
}

async fn handles_share_data(one: Arc<dyn TokenStore>, two: Arc<dyn TokenStore>) {
    let key = unique_key("shared");
    one.save(&key, &sample_tokens("shared"))
        .await
        .expect("save via one handle");
    assert_same(
        &two.load(&key)
            .await
            .expect("load via other")
            .expect("visible to the other handle"),
        &sample_tokens("shared"),
    );
}

async fn lock_excludes_and_times_out(one: Arc<dyn TokenStore>, two: Arc<dyn TokenStore>) {
    let key = unique_key("lock");
    let held = one
        .lock(&key, Duration::from_secs(5))
        .await
        .expect("first lock");
    match two.lock(&key, Duration::from_millis(200)).await {
        Err(StoreError::LockTimeout { .. }) => {}
        other => panic!("a second holder must time out while the lock is held, got {other:?}"),
    }
    drop(held);
}

async fn lock_is_per_key(store: Arc<dyn TokenStore>) {
    let (a, b) = (unique_key("la"), unique_key("lb"));
    let _held = store
        .lock(&a, Duration::from_secs(5))
        .await
        .expect("lock a");
    let _other = store
        .lock(&b, Duration::from_millis(500))
        .await
        .expect("locking b must not wait for a");
}

async fn lock_released_on_drop(one: Arc<dyn TokenStore>, two: Arc<dyn TokenStore>) {
    let key = unique_key("release");
    let held = one.lock(&key, Duration::from_secs(5)).await.expect("lock");
    let waiter =
        tokio::spawn(async move { two.lock(&key, Duration::from_secs(10)).await.map(drop) });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiter.is_finished(),
        "the waiter must wait while the lock is held"
    );
    drop(held);
    waiter
        .await
        .expect("waiter task")
        .expect("the lock is acquired once released");
}

async fn save_under_a_held_lock(one: Arc<dyn TokenStore>, two: Arc<dyn TokenStore>) {
    let key = unique_key("locked-save");
    one.save(&key, &sample_tokens("before"))
        .await
        .expect("save");
    let held = one.lock(&key, Duration::from_secs(5)).await.expect("lock");
    held.ensure_held().await.expect("a lock just taken is held");
    one.save_locked(&key, &sample_tokens("locked"), &held)
        .await
        .expect("a save under a held lock");
    drop(held);
    assert_same(
        &two.load(&key)
            .await
            .expect("load via the other handle")
            .expect("present"),
        &sample_tokens("locked"),
    );
}

async fn concurrent_saves_leave_one_whole_record(store: Arc<dyn TokenStore>) {
    let key = unique_key("race");
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move { store.save(&key, &sample_tokens(&format!("w{i}"))).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("save task").expect("concurrent save");
    }
    let back = store
        .load(&key)
        .await
        .expect("load after racing saves")
        .expect("present");
    let tag = back
        .access_token()
        .expose_secret()
        .trim_start_matches("access-")
        .to_owned();
    assert_same(&back, &sample_tokens(&tag));
}

async fn describe_shows_no_secret(store: Arc<dyn TokenStore>) {
    let key = unique_key("describe");
    store
        .save(&key, &sample_tokens("describe"))
        .await
        .expect("save");
    let shown = format!("{} {:?}", store.describe(), store);
    assert!(
        !shown.contains("access-describe") && !shown.contains("refresh-describe"),
        "{shown}"
    );
}

/// Other checks share the backend, so only this check's own keys are asserted on.
async fn list_keys_shows_saved_keys_only(one: Arc<dyn TokenStore>, two: Arc<dyn TokenStore>) {
    let (a, b, gone) = (
        unique_key("list-a"),
        unique_key("list-b"),
        unique_key("list-gone"),
    );
    let never = unique_key("list-never");
    for key in [&b, &a, &gone] {
        one.save(key, &sample_tokens("list")).await.expect("save");
    }
    one.delete(&gone).await.expect("delete");
    // A lock alone does not make a key (file stores keep a lock file, Redis a lock key).
    let _held = one
        .lock(&never, Duration::from_secs(5))
        .await
        .expect("lock");
    let keys = two.list_keys().await.expect("list_keys");
    assert!(
        keys.contains(&a) && keys.contains(&b),
        "saved keys are listed by another handle: {keys:?}"
    );
    assert!(!keys.contains(&gone), "a deleted key is not listed");
    assert!(
        !keys.contains(&never),
        "a locked, never saved key is not listed"
    );
    assert!(keys.is_sorted(), "keys come sorted: {keys:?}");
    assert_eq!(
        keys.iter().filter(|k| **k == a).count(),
        1,
        "each key is listed once"
    );
    assert!(
        keys.iter()
            .all(|k| latchkey::store::validate_key(k).is_ok()),
        "only valid keys are listed: {keys:?}"
    );
}

async fn exists_follows_save_and_delete(one: Arc<dyn TokenStore>, two: Arc<dyn TokenStore>) {
    let key = unique_key("exists");
    assert!(!two.exists(&key).await.expect("exists before save"));
    one.save(&key, &sample_tokens("exists"))
        .await
        .expect("save");
    assert!(two.exists(&key).await.expect("exists after save"));
    one.delete(&key).await.expect("delete");
    assert!(!two.exists(&key).await.expect("exists after delete"));
    assert!(
        matches!(two.exists("../x").await, Err(StoreError::InvalidKey { .. })),
        "an invalid key is refused, not reported absent"
    );
}
