//! The SQLite store against the conformance suite, plus its own guarantees.
#![allow(
    clippy::disallowed_methods,
    reason = "the test creates a database file with the wrong mode on purpose"
)]

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::sync::Arc;
use std::time::Duration;

use latchkey::{SqliteStore, StoreError, TokenStore};
use latchkey_testkit::conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/tokens.db");
    conformance::run(|| {
        Arc::new(SqliteStore::open(&path).expect("open the database")) as Arc<dyn TokenStore>
    })
    .await;
}

#[tokio::test]
async fn database_is_created_private_and_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    let store = SqliteStore::open(&path).unwrap();
    store
        .save("k", &conformance::sample_tokens("p"))
        .await
        .unwrap();
    for file in [path.clone(), dir.path().join("tokens.db-wal")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_database_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&path)
        .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::InsecurePermissions { mode, .. }) => assert_eq!(mode, 0o644),
        other => panic!("expected InsecurePermissions, got {other:?}"),
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 7")
        .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("upgrade latchkey"), "{err}");
}

#[tokio::test]
async fn a_corrupt_row_is_an_error_not_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    let store = SqliteStore::open(&path).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO tokens (key, record, updated_at_ms) VALUES ('bad', x'00ff', 0)",
            [],
        )
        .unwrap();
    assert!(matches!(
        store.load("bad").await,
        Err(StoreError::Corrupt { .. })
    ));
    assert!(store.exists("bad").await.unwrap(), "a corrupt row exists");
    assert_eq!(store.list_keys().await.unwrap(), ["bad"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_whose_holder_vanished_lapses_after_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    let lease = Duration::from_millis(600);
    let store = SqliteStore::open(&path).unwrap().with_lock_lease(lease);
    // A lock row left by a holder that died: an owner nobody renews.
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + lease.as_millis() as i64;
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO locks (key, owner, expires_at_ms) VALUES ('k', 'dead-owner', ?1)",
            [expires],
        )
        .unwrap();
    assert!(matches!(
        store.lock("k", Duration::from_millis(100)).await,
        Err(StoreError::LockTimeout { .. })
    ));
    let _taken = store
        .lock("k", lease * 5)
        .await
        .expect("the dead holder's lock is taken over once its lease lapses");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_holder_keeps_its_lock_beyond_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    let lease = Duration::from_millis(300);
    let one = SqliteStore::open(&path).unwrap().with_lock_lease(lease);
    let two = SqliteStore::open(&path).unwrap().with_lock_lease(lease);
    let held = one.lock("k", Duration::from_secs(1)).await.unwrap();
    // Three leases long: only the heartbeat keeps the lock.
    assert!(matches!(
        two.lock("k", lease * 3).await,
        Err(StoreError::LockTimeout { .. })
    ));
    drop(held);
    let _again = two
        .lock("k", Duration::from_secs(5))
        .await
        .expect("released");
}
