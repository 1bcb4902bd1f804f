//! The store key a manager derives when none is given: two servers (or two clients) sharing
//! one store keep their tokens apart, and a later manager for the same server finds its own.

use std::sync::Arc;

use latchkey::{
    ClientCredentials, ExposeSecret, FileStore, ManualClock, MemoryStore, TokenManager, TokenStore,
};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::*;

use crate::support;

fn manager(client: latchkey::OAuthClient, store: &Arc<dyn TokenStore>) -> TokenManager {
    TokenManager::builder(client, ClientCredentials::new())
        .store(store.clone())
        .build()
        .expect("manager")
}

#[tokio::test]
async fn two_servers_sharing_one_file_store_never_collide() {
    let (a, b) = (Idp::start().await, Idp::start().await);
    let clock = Arc::new(ManualClock::new());
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir.path().join("tokens")));
    // The same client id at both servers: only the server tells them apart.
    let at_a = manager(support::svc_basic(&a, &clock), &store);
    let at_b = manager(support::svc_basic(&b, &clock), &store);
    assert_ne!(at_a.key(), at_b.key());
    assert!(at_a.key().starts_with("oauth-127.0.0.1_"), "{}", at_a.key());
    let token_a = at_a.tokens().await.unwrap().access_token().clone();
    let token_b = at_b.tokens().await.unwrap().access_token().clone();
    assert!(a.is_active(token_a.expose_secret()).await);
    assert!(b.is_active(token_b.expose_secret()).await);
    assert!(!a.is_active(token_b.expose_secret()).await);
    let mut keys = vec![at_a.key().to_owned(), at_b.key().to_owned()];
    keys.sort();
    assert_eq!(store.list_keys().await.unwrap(), keys);

    // A later manager (another run) for server A finds A's token: no new request.
    let again = manager(support::svc_basic(&a, &clock), &store);
    assert_eq!(again.key(), at_a.key());
    let reused = again.tokens().await.unwrap();
    assert_eq!(
        reused.access_token().expose_secret(),
        token_a.expose_secret()
    );
    assert_eq!(a.counters().await.by_client(SVC_BASIC.0), 1);
}

#[tokio::test]
async fn two_clients_of_one_server_sharing_one_memory_store_never_collide() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let basic = manager(support::svc_basic(&idp, &clock), &store);
    let post = manager(
        support::client(
            &idp,
            SVC_POST.0,
            latchkey::ClientAuth::SecretPost(latchkey::SecretString::from(SVC_POST.1)),
            &clock,
        ),
        &store,
    );
    assert_ne!(basic.key(), post.key());
    let one = basic.tokens().await.unwrap();
    let two = post.tokens().await.unwrap();
    assert_ne!(
        one.access_token().expose_secret(),
        two.access_token().expose_secret()
    );
    assert_eq!(store.list_keys().await.unwrap().len(), 2);
    let counters = idp.counters().await;
    assert_eq!(
        (
            counters.by_client(SVC_BASIC.0),
            counters.by_client(SVC_POST.0)
        ),
        (1, 1)
    );
    // An explicit key still wins (profiles keep theirs: the profile name).
    let named = TokenManager::builder(support::svc_basic(&idp, &clock), ClientCredentials::new())
        .key("prod")
        .build()
        .unwrap();
    assert_eq!(named.key(), "prod");
}
