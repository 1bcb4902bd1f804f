//! The keyring store. This machine (like most CI runners and containers) has no Secret
//! Service, so what is checked here is the documented `Unavailable` error and each
//! fallback; with a reachable keyring the conformance suite runs against the real one.
#![cfg(feature = "keyring")]

use std::sync::Arc;

use latchkey::{KeyringFallback, KeyringStore, StoreError, TokenStore};
use latchkey_testkit::conformance;

/// Whether the platform keyring answers; prints why not.
async fn keyring_reachable(state: &std::path::Path) -> bool {
    match KeyringStore::open("latchkey-test", state, KeyringFallback::Fail).await {
        Ok(_) => true,
        Err(err) => {
            eprintln!("no keyring here ({err}); checking the unavailable path only");
            false
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_policy_gives_unavailable_with_a_hint_or_a_working_keyring() {
    let state = tempfile::tempdir().unwrap();
    match KeyringStore::open("latchkey-test", state.path(), KeyringFallback::Fail).await {
        Ok(store) => {
            assert_eq!(store.fallback_in_use(), None);
            conformance::run(|| Arc::new(store.clone()) as Arc<dyn TokenStore>).await;
        }
        Err(err) => {
            assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
            let text = err.to_string();
            assert!(text.contains("keyring:latchkey-test"), "{text}");
            assert!(text.contains("Secret Service"), "{text}");
            let hint = err.hint().unwrap();
            assert!(
                hint.contains("gnome-keyring") && hint.contains("store"),
                "{hint}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_fallback_is_visible_and_conforms() {
    let state = tempfile::tempdir().unwrap();
    if keyring_reachable(state.path()).await {
        return;
    }
    let dir = state.path().join("fallback");
    let store = KeyringStore::open(
        "latchkey-test",
        state.path(),
        KeyringFallback::File(dir.clone()),
    )
    .await
    .expect("the file fallback opens");
    let shown = store.describe();
    assert!(
        shown.contains("unavailable") && shown.contains(&format!("file:{}", dir.display())),
        "{shown}"
    );
    assert!(store.fallback_in_use().is_some());
    conformance::run(|| Arc::new(store.clone()) as Arc<dyn TokenStore>).await;
    store
        .save("on-disk", &conformance::sample_tokens("f"))
        .await
        .unwrap();
    assert!(
        dir.join("on-disk.json").exists(),
        "tokens went to the fallback directory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_fallback_is_visible_and_conforms() {
    let state = tempfile::tempdir().unwrap();
    if keyring_reachable(state.path()).await {
        return;
    }
    let store = KeyringStore::open("latchkey-test", state.path(), KeyringFallback::Memory)
        .await
        .expect("the memory fallback opens");
    assert!(
        store
            .describe()
            .ends_with("(unavailable; falling back to memory)"),
        "{}",
        store.describe()
    );
    conformance::run(|| Arc::new(store.clone()) as Arc<dyn TokenStore>).await;
}
