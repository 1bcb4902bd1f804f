//! Lease locks (SQLite, Redis) are fenced: a holder that stalled past its lease neither
//! spends a refresh token its successor rotated nor overwrites the tokens its successor saved.
//!
//! A stall is modelled by blocking the thread of a current-thread runtime: the holder's
//! heartbeat, timers and connections stop with it, as in a stopped process or a paused VM.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::future::BoxFuture;
use latchkey::{
    ExposeSecret, ManualClock, SecretString, StoreError, StoreLock, TokenManager, TokenSet,
    TokenStore,
};
use latchkey_testkit::Idp;

use crate::support;

/// The lease used here: short, so a stall outlives it quickly.
const LEASE: Duration = Duration::from_millis(300);

/// Opens a new handle on the shared store (as another process would), on the caller's
/// runtime.
type Opener = Arc<dyn Fn() -> BoxFuture<'static, Arc<dyn TokenStore>> + Send + Sync>;

/// Where [`Stall`] blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum At {
    /// Right after a `load` has read the stored tokens: the old refresh token in hand.
    Load,
    /// Right before a save under the lock: freshly refreshed tokens in hand.
    LockedSave,
}

/// A store that, once, blocks its thread at one point until the test lets it go. Everything
/// else goes to the real store unchanged.
#[derive(Debug)]
struct Stall {
    store: Arc<dyn TokenStore>,
    at: At,
    stall: Mutex<Option<(tokio::sync::oneshot::Sender<()>, mpsc::Receiver<()>)>>,
}

impl Stall {
    fn stall_if(&self, at: At) {
        if at != self.at {
            return;
        }
        let stall = self.stall.lock().unwrap().take();
        if let Some((stalled, resume)) = stall {
            stalled.send(()).unwrap();
            resume
                .recv_timeout(Duration::from_secs(60))
                .expect("the test resumes the stalled holder");
        }
    }
}

#[async_trait]
impl TokenStore for Stall {
    fn describe(&self) -> String {
        self.store.describe()
    }

    async fn load(&self, key: &str) -> Result<Option<TokenSet>, StoreError> {
        let loaded = self.store.load(key).await;
        self.stall_if(At::Load);
        loaded
    }

    async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError> {
        self.store.save(key, tokens).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store.delete(key).await
    }

    async fn list_keys(&self) -> Result<Vec<String>, StoreError> {
        self.store.list_keys().await
    }

    async fn lock(&self, key: &str, wait: Duration) -> Result<StoreLock, StoreError> {
        self.store.lock(key, wait).await
    }

    async fn save_locked(
        &self,
        key: &str,
        tokens: &TokenSet,
        lock: &StoreLock,
    ) -> Result<(), StoreError> {
        self.stall_if(At::LockedSave);
        self.store.save_locked(key, tokens, lock).await
    }
}

/// Token manager A takes the refresh lock, reads the stale tokens and stalls past its
/// lease (at [`At::Load`]); manager B (another store handle, as another process) takes the lock over,
/// refreshes and saves; then A resumes. A must serve B's tokens, the store must keep them,
/// and the identity provider (refresh tokens rotated, reuse revokes the grant) must see
/// exactly one refresh: A never presents the refresh token B already spent.
///
async fn stalled_holder_defers_to_its_successor(open: Opener) {
    let counters = stalled_manager_and_successor(open, At::Load).await;
    assert_eq!(
        (counters.token("password"), counters.token("refresh_token")),
        (1, 1),
        "one login and B's refresh only: the stalled holder did not replay the old refresh token"
    );
}

/// Like [`stalled_holder_defers_to_its_successor`], but A stalls after its refresh, before
/// saving. B then presents the refresh token A already spent (no fencing can prevent that:
/// A's request went out under a valid lease), the identity provider revokes the grant, and
/// B logs in again. A must drop its revoked tokens rather than save them over B's.
async fn holder_stalled_before_saving_drops_its_tokens(open: Opener) {
    let counters = stalled_manager_and_successor(open, At::LockedSave).await;
    assert_eq!(
        (counters.token("password"), counters.token("refresh_token")),
        (2, 2),
        "A's refresh, B's replayed one, and B's new login"
    );
}

/// Runs manager A (stalling at `at`, past its lease) and manager B (taking the lock over);
/// checks that A serves B's tokens, which the store keeps and the identity provider honours.
/// Returns the identity provider's counters.
async fn stalled_manager_and_successor(open: Opener, at: At) -> latchkey_testkit::Counters {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let manager = |store: Arc<dyn TokenStore>| {
        TokenManager::builder(support::pw_client(&idp, &clock), support::alice())
            .key("shared")
            .store(store)
            .lock_wait(Duration::from_secs(20))
            .build()
            .unwrap()
    };
    let store_b = open().await;
    let b = manager(store_b.clone());
    b.authorization_header().await.expect("the first login");
    // Both managers now find the stored access token expired.
    clock.advance(Duration::from_secs(3600 + 1));

    let (stalled_tx, stalled) = tokio::sync::oneshot::channel();
    let (resume, resume_rx) = mpsc::channel();
    let client_a = support::pw_client(&idp, &clock);
    let open_a = open.clone();
    let a = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let store = Arc::new(Stall {
                store: open_a().await,
                at,
                stall: Mutex::new(Some((stalled_tx, resume_rx))),
            });
            TokenManager::builder(client_a, support::alice())
                .key("shared")
                .store(store)
                .lock_wait(Duration::from_secs(20))
                .build()
                .unwrap()
                .authorization_header()
                .await
        })
    });
    stalled
        .await
        .expect("A read the stale tokens under the lock");

    let header_b = b.authorization_header().await.expect("B refreshes");
    let saved_b = store_b.load("shared").await.unwrap().expect("B saved");
    resume.send(()).unwrap();
    let header_a = tokio::task::spawn_blocking(move || a.join().unwrap())
        .await
        .unwrap()
        .expect("A ends up with tokens");

    assert_eq!(header_a, header_b, "A serves its successor's token");
    let stored = store_b.load("shared").await.unwrap().expect("stored");
    assert!(
        stored.same_access_token(&saved_b) && stored.same_refresh_token(&saved_b),
        "the store keeps B's tokens"
    );
    let refresh = stored.refresh_token().unwrap().expose_secret().to_owned();
    assert!(
        idp.is_active(&refresh).await,
        "the stored refresh token is still good"
    );
    idp.counters().await
}

/// Tokens with a refresh token good for an hour, tagged for comparison.
fn tokens(tag: &str) -> TokenSet {
    let now = SystemTime::now();
    TokenSet::new(SecretString::from(format!("access-{tag}")), now)
        .with_expires_at(Some(now + Duration::from_secs(300)))
        .with_refresh_token(Some(SecretString::from(format!("refresh-{tag}"))))
        .with_refresh_expires_at(Some(now + Duration::from_secs(3600)))
}

/// Holder one takes the lock and stalls past its lease (this test's thread is its runtime
/// and blocks); holder two, on its own thread and runtime, takes the lock and saves. One's
/// save under its lost lock is refused with `LeaseLost`, and the store keeps two's tokens.
async fn a_save_under_a_lost_lease_is_refused(open: Opener) {
    let one = open().await;
    one.save("k", &tokens("old")).await.unwrap();
    let held = one.lock("k", Duration::from_secs(1)).await.unwrap();
    let two = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let two = open().await;
            let lock = two
                .lock("k", Duration::from_secs(10))
                .await
                .expect("taken over once the stalled holder's lease lapses");
            two.save_locked("k", &tokens("successor"), &lock).await
        })
    });
    // Blocks this runtime's only thread: one's heartbeat stalls with it.
    two.join().unwrap().expect("the successor saves");

    match one.save_locked("k", &tokens("stale"), &held).await {
        Err(err @ StoreError::LeaseLost { .. }) => {
            assert!(err.hint().is_some());
            assert!(err.to_string().contains("nothing was saved"), "{err}");
        }
        other => panic!("a save under a lost lease must be refused, got {other:?}"),
    }
    assert!(matches!(
        held.ensure_held().await,
        Err(StoreError::LeaseLost { .. })
    ));
    let stored = one.load("k").await.unwrap().expect("stored");
    assert!(
        stored.same_access_token(&tokens("successor")),
        "the store keeps the successor's tokens, got {:?}",
        stored.access_token().expose_secret()
    );
    drop(held);

    // A lock that is still held saves, and a lock for another key is refused.
    let lock = one.lock("k", Duration::from_secs(5)).await.unwrap();
    lock.ensure_held().await.expect("held");
    one.save_locked("k", &tokens("mine"), &lock).await.unwrap();
    assert!(
        one.load("k")
            .await
            .unwrap()
            .unwrap()
            .same_access_token(&tokens("mine"))
    );
    assert!(matches!(
        one.save_locked("other", &tokens("x"), &lock).await,
        Err(StoreError::InvalidKey { .. })
    ));
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use latchkey::SqliteStore;

    fn opener(dir: &tempfile::TempDir) -> Opener {
        let path = dir.path().join("tokens.db");
        Arc::new(move || {
            let store = SqliteStore::open(&path).map(|s| s.with_lock_lease(LEASE));
            Box::pin(
                async move { Arc::new(store.expect("open the database")) as Arc<dyn TokenStore> },
            )
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finding_lease_locks_are_fenced_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        stalled_holder_defers_to_its_successor(opener(&dir)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finding_lease_locks_are_fenced_sqlite_stalled_before_saving() {
        let dir = tempfile::tempdir().unwrap();
        holder_stalled_before_saving_drops_its_tokens(opener(&dir)).await;
    }

    #[tokio::test]
    async fn finding_lease_locks_are_fenced_sqlite_save() {
        let dir = tempfile::tempdir().unwrap();
        a_save_under_a_lost_lease_is_refused(opener(&dir)).await;
    }
}

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use latchkey::RedisStore;
    use latchkey_testkit::RedisServer;

    fn opener(server: &RedisServer) -> Opener {
        let url = server.url();
        Arc::new(move || {
            let url = url.clone();
            Box::pin(async move {
                let store = RedisStore::connect_with(&url, "latchkey:", LEASE).await;
                Arc::new(store.expect("connect")) as Arc<dyn TokenStore>
            })
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finding_lease_locks_are_fenced_redis() {
        let server = RedisServer::start();
        stalled_holder_defers_to_its_successor(opener(&server)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finding_lease_locks_are_fenced_redis_stalled_before_saving() {
        let server = RedisServer::start();
        holder_stalled_before_saving_drops_its_tokens(opener(&server)).await;
    }

    #[tokio::test]
    async fn finding_lease_locks_are_fenced_redis_save() {
        let server = RedisServer::start();
        a_save_under_a_lost_lease_is_refused(opener(&server)).await;
    }
}
