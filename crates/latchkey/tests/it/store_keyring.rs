//! The keyring store. This machine (like most CI runners and containers) has no Secret
//! Service, so what is checked here is the documented `Unavailable` error and each
//! fallback; with a reachable keyring the conformance suite runs against the real one.

use std::sync::Arc;

use latchkey::{KeyringFallback, KeyringStore, StoreError, TokenStore};
use latchkey_testkit::{conformance, keyring};

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

/// Whether `program` is on `PATH`.
/// A real Secret Service round trip: GNOME Keyring started in a private D-Bus session
/// (`dbus-run-session`), unlocked with a throwaway password, then this test binary run again
/// inside that session for the conformance suite and a chunked secret. `scripts/test.sh`
/// installs both programs and sets `LATCHKEY_REQUIRE_KEYRING=1`, so there a missing program
/// fails the test instead of skipping it.
#[test]
fn real_secret_service_round_trip_under_gnome_keyring() {
    if !keyring::session_tools_installed() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let output = std::process::Command::new("timeout")
        .args(keyring::session_args(
            "exec \"$0\" --exact store_keyring::inner_secret_service_conformance --ignored \
             --nocapture --test-threads=1",
        ))
        .arg(exe)
        .envs(keyring::session_env(home.path()))
        .env("LATCHKEY_KEYRING_INNER", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the inner run failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

/// Runs only inside the D-Bus session the test above starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by real_secret_service_round_trip_under_gnome_keyring inside a D-Bus session"]
async fn inner_secret_service_conformance() {
    assert!(
        std::env::var_os("LATCHKEY_KEYRING_INNER").is_some(),
        "run through real_secret_service_round_trip_under_gnome_keyring"
    );
    let state = tempfile::tempdir().unwrap();
    let store = KeyringStore::open("latchkey-test", state.path(), KeyringFallback::Fail)
        .await
        .expect("GNOME Keyring answers on the session bus");
    assert_eq!(store.fallback_in_use(), None);
    assert!(
        !store.describe().contains("unavailable"),
        "{}",
        store.describe()
    );
    conformance::run(|| Arc::new(store.clone()) as Arc<dyn TokenStore>).await;

    // An ID token far over one keyring entry's 2 KiB chunk: stored in chunks behind a
    // manifest, read back whole, and replaced by a smaller one without leftovers mattering.
    let big = "x".repeat(9_000);
    let tokens = conformance::sample_tokens("big")
        .with_id_token(Some(latchkey::SecretString::from(big.clone())));
    store.save("chunked", &tokens).await.unwrap();
    let loaded = store.load("chunked").await.unwrap().expect("saved");
    use latchkey::ExposeSecret;
    assert_eq!(loaded.id_token().unwrap().expose_secret(), big);
    store
        .save("chunked", &conformance::sample_tokens("small"))
        .await
        .unwrap();
    let loaded = store.load("chunked").await.unwrap().expect("saved");
    assert_eq!(loaded.id_token().unwrap().expose_secret(), "id-small");
    store.delete("chunked").await.unwrap();
    assert!(store.load("chunked").await.unwrap().is_none());
}
