//! The file store: conformance, permissions, atomic replacement, corruption.
#![allow(
    clippy::disallowed_methods,
    reason = "tests write fixture files and damage them on purpose, bypassing the private-file helper"
)]

#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use latchkey::{
    ClientCredentials, FileStore, ManualClock, MemoryStore, StoreError, TokenManager, TokenStore,
};
use latchkey_testkit::{Idp, conformance};

use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_conformance_suite() {
    let store = MemoryStore::new();
    conformance::run(|| Arc::new(store.clone()) as Arc<dyn TokenStore>).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    // Separate instances on one directory: two processes, in effect.
    conformance::run(|| Arc::new(FileStore::new(&path)) as Arc<dyn TokenStore>).await;
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_0600_in_a_0700_directory_and_no_temp_file_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("nested/state"));
    store
        .save("svc", &conformance::sample_tokens("p"))
        .await
        .unwrap();
    assert_eq!(mode(&dir.path().join("nested/state")), 0o700);
    assert_eq!(mode(&dir.path().join("nested/state/svc.json")), 0o600);
    let _lock = store
        .lock("svc", std::time::Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(mode(&dir.path().join("nested/state/svc.lock")), 0o600);
    let names: Vec<String> = std::fs::read_dir(dir.path().join("nested/state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn a_file_readable_by_others_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path());
    store
        .save("svc", &conformance::sample_tokens("p"))
        .await
        .unwrap();
    let path = dir.path().join("svc.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = store.load("svc").await.unwrap_err();
    assert!(
        matches!(err, StoreError::InsecurePermissions { mode: 0o644, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(
        err.hint().unwrap(),
        format!("run `chmod 600 {}`", path.display())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_is_atomic_for_concurrent_readers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path()));
    store
        .save("svc", &conformance::sample_tokens("w0"))
        .await
        .unwrap();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 1..=200 {
                store
                    .save("svc", &conformance::sample_tokens(&format!("w{i}")))
                    .await
                    .unwrap();
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() {
        // Every read sees a whole record, old or new, never a torn or empty one.
        let tokens = store
            .load("svc")
            .await
            .expect("never a torn file")
            .expect("never missing");
        assert!(
            latchkey::ExposeSecret::expose_secret(tokens.access_token()).starts_with("access-w")
        );
        reads += 1;
    }
    writer.await.unwrap();
    assert!(reads > 0);
    #[cfg(unix)]
    old_file_survives_replacement(&store, dir.path()).await;
}

/// A reader that opened the old file keeps reading the old, whole record: the new one was
/// renamed over it, not written into it.
#[cfg(unix)]
async fn old_file_survives_replacement(store: &FileStore, dir: &std::path::Path) {
    let old = std::fs::File::open(dir.join("svc.json")).unwrap();
    let old_inode = std::os::unix::fs::MetadataExt::ino(&old.metadata().unwrap());
    store
        .save("svc", &conformance::sample_tokens("last"))
        .await
        .unwrap();
    let new_inode =
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(dir.join("svc.json")).unwrap());
    assert_ne!(
        old_inode, new_inode,
        "replaced by rename, not rewritten in place"
    );
    let old_text = std::io::read_to_string(old).unwrap();
    assert!(old_text.contains("access-w200"), "the old file is intact");
}

#[tokio::test]
async fn a_corrupt_file_is_a_clear_error_and_other_keys_are_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path());
    store
        .save("good", &conformance::sample_tokens("g"))
        .await
        .unwrap();
    store
        .save("bad", &conformance::sample_tokens("b"))
        .await
        .unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"version\":1,\"access_token\":").unwrap();
    let err = store.load("bad").await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&bad.display().to_string()),
        "names the path: {err}"
    );
    // Other keys keep working, and writing them never touches the corrupt file.
    store
        .save("good", &conformance::sample_tokens("g2"))
        .await
        .unwrap();
    assert!(store.load("good").await.unwrap().is_some());
    assert_eq!(
        std::fs::read(&bad).unwrap(),
        b"{\"version\":1,\"access_token\":"
    );
    // Administration tools see the corrupt entry: it exists and is listed, so it can be
    // found and deleted, while its load stays the error above.
    assert!(store.exists("bad").await.unwrap());
    assert_eq!(store.list_keys().await.unwrap(), ["bad", "good"]);
}

#[tokio::test]
async fn list_keys_skips_lock_temp_and_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path());
    assert_eq!(
        FileStore::new(dir.path().join("never-created"))
            .list_keys()
            .await
            .unwrap(),
        Vec::<String>::new(),
        "a store that never saved lists nothing"
    );
    store
        .save("svc", &conformance::sample_tokens("s"))
        .await
        .unwrap();
    let _lock = store
        .lock("svc", std::time::Duration::from_secs(1))
        .await
        .unwrap();
    for name in [".svc.json.1.abc.tmp", "notes.txt", "bad key.json"] {
        std::fs::write(dir.path().join(name), b"{}").unwrap();
    }
    assert_eq!(store.list_keys().await.unwrap(), ["svc"]);
}

#[tokio::test]
async fn a_manager_over_a_corrupt_store_fails_instead_of_logging_in_again() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("svc.json"), b"not json at all").unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(
        dir.path().join("svc.json"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let manager = TokenManager::builder(support::svc_basic(&idp, &clock), ClientCredentials::new())
        .key("svc")
        .store(Arc::new(FileStore::new(dir.path())))
        .build()
        .unwrap();
    let err = manager.authorization_header().await.unwrap_err();
    assert!(
        matches!(err, latchkey::Error::Store(StoreError::Corrupt { .. })),
        "{err:?}"
    );
    assert!(err.hint().unwrap().contains("delete"), "{:?}", err.hint());
    #[cfg(feature = "profiles")]
    assert!(
        latchkey::profile::cli_hint(&err)
            .unwrap()
            .contains("logout"),
        "{:?}",
        latchkey::profile::cli_hint(&err)
    );
    assert_eq!(
        idp.counters().await.token_total(),
        0,
        "corrupt is not 'logged out': nothing was requested"
    );
    assert_eq!(
        std::fs::read(dir.path().join("svc.json")).unwrap(),
        b"not json at all",
        "and nothing overwritten"
    );
    // `logout` is the way out: it removes the corrupt entry.
    manager.logout().await.unwrap();
    manager
        .authorization_header()
        .await
        .expect("works after logout");
}
