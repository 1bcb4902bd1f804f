//! The Redis store against a real `redis-server`: conformance suite, TTL, locks, redaction.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use latchkey::{RedisConfig, RedisStore, StoreError, TokenSet, TokenStore};
use latchkey_testkit::{RedisCluster, RedisSentinels, RedisServer, conformance};

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_passes_the_conformance_suite() {
    let server = RedisServer::start();
    conformance_over(RedisConfig::new(&server.url()).unwrap()).await;
}

#[tokio::test]
async fn entries_expire_with_the_refresh_token_not_the_access_token() {
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let mut conn = raw(&server).await;
    let now = SystemTime::now();
    let tokens = TokenSet::new("at".to_string().into(), now)
        .with_expires_at(Some(now + Duration::from_secs(5)))
        .with_refresh_token(Some("rt".to_string().into()))
        .with_refresh_expires_at(Some(now + Duration::from_secs(1800)));
    store.save("ttl", &tokens).await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(store.token_key("ttl"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((1_790_000..=1_800_000).contains(&ttl), "pttl {ttl}");

    // Unknown refresh expiry: no TTL at all (and a previous TTL is cleared).
    let no_refresh_expiry = TokenSet::new("at".to_string().into(), now)
        .with_expires_at(Some(now + Duration::from_secs(5)));
    store.save("ttl", &no_refresh_expiry).await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(store.token_key("ttl"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(ttl, -1, "persistent key");
}

#[tokio::test]
async fn a_save_under_the_lock_sets_the_same_expiry_as_a_plain_save() {
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let mut conn = raw(&server).await;
    let pttl = async |conn: &mut redis::aio::MultiplexedConnection| -> i64 {
        redis::cmd("PTTL")
            .arg(store.token_key("ttl"))
            .query_async(conn)
            .await
            .unwrap()
    };
    let now = SystemTime::now();
    let tokens = TokenSet::new("at".to_string().into(), now)
        .with_expires_at(Some(now + Duration::from_secs(5)))
        .with_refresh_token(Some("rt".to_string().into()))
        .with_refresh_expires_at(Some(now + Duration::from_secs(1800)));
    let lock = store.lock("ttl", Duration::from_secs(1)).await.unwrap();
    store.save_locked("ttl", &tokens, &lock).await.unwrap();
    let ttl = pttl(&mut conn).await;
    assert!((1_790_000..=1_800_000).contains(&ttl), "pttl {ttl}");

    let no_refresh_expiry = TokenSet::new("at".to_string().into(), now)
        .with_expires_at(Some(now + Duration::from_secs(5)));
    store
        .save_locked("ttl", &no_refresh_expiry, &lock)
        .await
        .unwrap();
    assert_eq!(pttl(&mut conn).await, -1, "persistent key");
    let back = store.load("ttl").await.unwrap().expect("saved");
    assert!(back.same_access_token(&no_refresh_expiry));
}

#[tokio::test]
async fn keys_carry_the_prefix() {
    let server = RedisServer::start();
    let store = RedisStore::connect_with(&server.url(), "app1:", Duration::from_secs(5))
        .await
        .unwrap();
    store
        .save("svc", &conformance::sample_tokens("p"))
        .await
        .unwrap();
    let mut conn = raw(&server).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys, vec!["app1:token:svc".to_string()]);
}

/// `list_keys` walks with `SCAN … MATCH`, so a prefix's glob characters must be escaped:
/// `app*:` must not list `app1:`'s keys.
#[tokio::test]
async fn list_keys_sees_its_own_prefix_only() {
    let server = RedisServer::start();
    let lease = Duration::from_secs(5);
    let plain = RedisStore::connect_with(&server.url(), "app1:", lease)
        .await
        .unwrap();
    let globby = RedisStore::connect_with(&server.url(), "app*:", lease)
        .await
        .unwrap();
    for key in ["b", "a"] {
        plain
            .save(key, &conformance::sample_tokens(key))
            .await
            .unwrap();
    }
    globby
        .save("g", &conformance::sample_tokens("g"))
        .await
        .unwrap();
    assert_eq!(plain.list_keys().await.unwrap(), ["a", "b"]);
    assert_eq!(globby.list_keys().await.unwrap(), ["g"]);
    assert!(plain.exists("a").await.unwrap());
    assert!(!globby.exists("a").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_whose_holder_vanished_lapses_and_a_live_one_is_kept() {
    let server = RedisServer::start();
    let lease = Duration::from_millis(400);
    let store = RedisStore::connect_with(&server.url(), "latchkey:", lease)
        .await
        .unwrap();
    let mut conn = raw(&server).await;
    // A lock left by a holder that died: nobody renews it.
    let _: () = redis::cmd("SET")
        .arg("latchkey:lock:dead")
        .arg("dead-owner")
        .arg("PX")
        .arg(lease.as_millis() as u64)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        store.lock("dead", Duration::from_millis(100)).await,
        Err(StoreError::LockTimeout { .. })
    ));
    let taken = store
        .lock("dead", lease * 5)
        .await
        .expect("taken over once the lease lapses");
    // Held for three leases: only the heartbeat keeps it.
    assert!(matches!(
        store.lock("dead", lease * 3).await,
        Err(StoreError::LockTimeout { .. })
    ));
    drop(taken);
    let _again = store
        .lock("dead", Duration::from_secs(5))
        .await
        .expect("released on drop");
}

#[tokio::test]
async fn release_never_deletes_a_peers_lock() {
    let server = RedisServer::start();
    let lease = Duration::from_millis(300);
    let store = RedisStore::connect_with(&server.url(), "latchkey:", lease)
        .await
        .unwrap();
    let mut conn = raw(&server).await;
    let held = store.lock("k", Duration::from_secs(1)).await.unwrap();
    // A peer overwrites the lock (as after a lapsed lease); our release must leave it alone.
    let _: () = redis::cmd("SET")
        .arg("latchkey:lock:k")
        .arg("peer")
        .query_async(&mut conn)
        .await
        .unwrap();
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let owner: Option<String> = redis::cmd("GET")
        .arg("latchkey:lock:k")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(owner.as_deref(), Some("peer"));
}

#[tokio::test]
async fn the_password_in_the_url_is_never_shown() {
    let server = RedisServer::start();
    let mut conn = raw(&server).await;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("hunter2-secret")
        .query_async(&mut conn)
        .await
        .unwrap();
    let url = format!("redis://:hunter2-secret@127.0.0.1:{}/0", server.port());
    let store = RedisStore::connect(&url).await.expect("authenticated");
    store
        .save("k", &conformance::sample_tokens("pw"))
        .await
        .unwrap();
    let shown = format!("{} {:?}", store.describe(), store);
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains(&format!("127.0.0.1:{}", server.port())),
        "{shown}"
    );

    let wrong = format!("redis://:wrong-secret@127.0.0.1:{}/0", server.port());
    let err = RedisStore::connect(&wrong).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(
        !format!("{err} {err:?}").contains("wrong-secret"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_with_a_hint() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = RedisStore::connect(&format!("redis://127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(err.hint().is_some());
}

/// `SET` calls the server has answered so far (`INFO commandstats`).
async fn set_calls(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_set:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

/// A task waiting for a key this process just unlocked takes the lease with its first
/// attempt: the turn passes on only once the release has reached Redis. (Handing it over
/// earlier made the waiter find the lease still held, back off and try again.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_lock_is_taken_at_the_first_attempt_by_the_next_local_waiter() {
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let mut conn = raw(&server).await;
    let rounds = 20;
    let before = set_calls(&mut conn).await;
    for _ in 0..rounds {
        let lock = store
            .lock("handover", Duration::from_secs(5))
            .await
            .unwrap();
        drop(lock);
    }
    let attempts = set_calls(&mut conn).await - before;
    assert_eq!(attempts, rounds, "SET NX attempts for {rounds} locks");
}

/// The suite against a store and a second store (a second process) made from `config`;
/// clones of one store share one connection.
async fn conformance_over(config: RedisConfig) {
    let store = RedisStore::connect_config(config.clone())
        .await
        .expect("connect");
    let other = RedisStore::connect_config(config).await.expect("connect");
    let flip = std::sync::atomic::AtomicBool::new(false);
    conformance::run(|| {
        if flip.fetch_xor(true, std::sync::atomic::Ordering::Relaxed) {
            Arc::new(other.clone()) as Arc<dyn TokenStore>
        } else {
            Arc::new(store.clone()) as Arc<dyn TokenStore>
        }
    })
    .await;
}

fn ca_of(server: &RedisServer) -> Vec<u8> {
    server.pki().expect("a TLS server").ca.clone().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_over_tls_passes_the_conformance_suite() {
    // Before rediss:// was built with TLS support, connecting failed with "can't connect
    // with TLS, the feature is not enabled".
    let server = RedisServer::builder().tls().start();
    let config = RedisConfig::new(&server.url())
        .unwrap()
        .ca_pem(ca_of(&server));
    conformance_over(config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_with_mutual_tls_and_an_acl_user_passes_the_conformance_suite() {
    let server = RedisServer::builder()
        .require_client_certificates()
        .acl_user("worker", "w0rker-pass")
        .start();
    let pki = server.pki().unwrap().clone();
    let url = server.url().replace("rediss://", "rediss://worker@");
    let config = RedisConfig::new(&url)
        .unwrap()
        .ca_pem(pki.ca.into_bytes())
        .client_identity(pki.client_cert.into_bytes(), pki.client_key.into())
        .password("w0rker-pass".to_string().into());
    conformance_over(config).await;
}

#[tokio::test]
async fn mutual_tls_without_a_client_certificate_is_refused() {
    let server = RedisServer::builder().require_client_certificates().start();
    let config = RedisConfig::new(&server.url())
        .unwrap()
        .ca_pem(ca_of(&server));
    let err = RedisStore::connect_config(config).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    assert!(
        err.to_string().contains("requires a client certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused() {
    let server = RedisServer::builder().tls().start();
    let stranger = latchkey_testkit::TestPki::generate();
    let config = RedisConfig::new(&server.url())
        .unwrap()
        .ca_pem(stranger.ca.into_bytes());
    let err = RedisStore::connect_config(config).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    assert!(
        err.to_string().contains("give the CA that issued it"),
        "{err}"
    );
    // Nor do the platform's roots vouch for a test CA.
    let err = RedisStore::connect(&server.url()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
}

#[tokio::test]
async fn a_wrong_acl_password_is_refused_and_never_shown() {
    let server = RedisServer::builder()
        .acl_user("worker", "right-pass")
        .start();
    let url = server.url().replace("redis://", "redis://worker@");
    for config in [
        RedisConfig::new(&url)
            .unwrap()
            .password("wrong-pass".to_string().into()),
        RedisConfig::new(&url.replace("worker@", "worker:wrong-pass@")).unwrap(),
    ] {
        let err = RedisStore::connect_config(config).await.unwrap_err();
        let message = format!("{err} {err:?}");
        assert!(message.contains("check the ACL user"), "{message}");
        assert!(!message.contains("wrong-pass"), "{message}");
        assert!(message.contains("redis://127.0.0.1"), "{message}");
    }
    // The `default` user is off: no password, no access (refused at connect or first use).
    let denied = match RedisStore::connect(&server.url()).await {
        Err(_) => true,
        Ok(store) => store.load("nothing").await.is_err(),
    };
    assert!(denied);
    // The right password from outside the URL works.
    let store = RedisStore::connect_config(
        RedisConfig::new(&url)
            .unwrap()
            .password("right-pass".to_string().into()),
    )
    .await
    .unwrap();
    assert!(store.load("nothing").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_on_a_cluster_passes_the_conformance_suite() {
    let cluster = RedisCluster::start();
    conformance_over(RedisConfig::new(&cluster.url()).unwrap().cluster()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_store_keeps_a_token_and_its_lock_in_one_slot_and_follows_it_when_it_moves() {
    let cluster = RedisCluster::start();
    let config = RedisConfig::new(&cluster.url()).unwrap().cluster();
    let store = RedisStore::connect_config(config).await.unwrap();
    let now = SystemTime::now();
    let tokens = |access: &str| {
        TokenSet::new(access.to_string().into(), now)
            .with_refresh_token(Some("rt".to_string().into()))
            .with_refresh_expires_at(Some(now + Duration::from_secs(600)))
    };
    store.save("svc", &tokens("before")).await.unwrap();

    let first = cluster.ports()[0];
    let slot_of = |key: &str| -> u16 {
        cluster
            .cli(first, &["cluster", "keyslot", key])
            .trim()
            .parse()
            .unwrap()
    };
    let slot = slot_of(&store.token_key("svc"));
    assert_eq!(
        slot,
        slot_of("latchkey:lock:{svc}"),
        "token and lock share a slot"
    );
    let count_on = |port: u16| -> u64 {
        cluster
            .cli(port, &["cluster", "countkeysinslot", &slot.to_string()])
            .trim()
            .parse()
            .unwrap()
    };
    let owner = cluster
        .ports()
        .iter()
        .copied()
        .find(|p| count_on(*p) == 1)
        .unwrap();
    let to = cluster
        .ports()
        .iter()
        .copied()
        .find(|p| *p != owner)
        .unwrap();

    // Reshard under the client. Halfway, the keys are on the new owner while the old one
    // still owns the slot: it answers ASK, which the client must follow with ASKING.
    let migration = cluster.start_moving_slot(slot, to);
    assert_eq!((count_on(owner), count_on(to)), (0, 1), "the key moved");
    let back = store.load("svc").await.unwrap().expect("found through ASK");
    assert!(back.same_access_token(&tokens("before")));
    // Then every master names the new owner: the client is told MOVED and follows.
    cluster.finish_moving_slot(migration);
    let back = store
        .load("svc")
        .await
        .unwrap()
        .expect("found after the move");
    assert!(back.same_access_token(&tokens("before")));
    // The lock and the fenced save (one script over both keys) run on the new owner.
    let lock = store.lock("svc", Duration::from_secs(2)).await.unwrap();
    store
        .save_locked("svc", &tokens("after"), &lock)
        .await
        .unwrap();
    drop(lock);
    let back = store.load("svc").await.unwrap().unwrap();
    assert!(back.same_access_token(&tokens("after")));
    assert_eq!(count_on(owner), 0, "nothing was written to the old owner");
    assert!(
        count_on(to) >= 1,
        "the token (and perhaps the lock being released) on the new owner"
    );
}

fn sentinel_config(group: &RedisSentinels) -> RedisConfig {
    RedisConfig::new(&group.url())
        .unwrap()
        .more_sentinels(group.more_sentinels())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_through_sentinel_passes_the_conformance_suite() {
    let group = RedisSentinels::start();
    conformance_over(sentinel_config(&group)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_store_finds_the_new_master_after_a_failover() {
    let mut group = RedisSentinels::start();
    let store = RedisStore::connect_config(sentinel_config(&group))
        .await
        .unwrap();
    let now = SystemTime::now();
    let tokens = |access: &str| {
        TokenSet::new(access.to_string().into(), now)
            .with_refresh_token(Some("rt".to_string().into()))
            .with_refresh_expires_at(Some(now + Duration::from_secs(600)))
    };
    store.save("svc", &tokens("before")).await.unwrap();
    // Replication is asynchronous: wait until the replicas hold the record.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for replica in group.replica_ports().to_vec() {
        while group
            .cli(replica, &["exists", &store.token_key("svc")])
            .trim()
            != "1"
        {
            assert!(std::time::Instant::now() < deadline, "never replicated");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    group.kill_master();
    // The first call after the kill waits while the sentinels promote the replica.
    let back = store.load("svc").await.expect("served by the new master");
    assert!(
        back.expect("replicated")
            .same_access_token(&tokens("before"))
    );
    assert!(
        group.replica_ports().contains(&group.master_port()),
        "a replica was promoted"
    );
    store.save("svc", &tokens("after")).await.unwrap();
    let back = store.load("svc").await.unwrap().unwrap();
    assert!(back.same_access_token(&tokens("after")));
    assert_ne!(group.original_master_port(), group.master_port());
}

#[tokio::test]
async fn a_sentinel_url_must_name_its_master() {
    let err = RedisStore::connect("redis+sentinel://127.0.0.1:26379/")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("names no master"), "{err}");
}

#[tokio::test]
async fn waiting_for_replicas_refuses_what_no_replica_has() {
    // A master without replicas: nothing written can be copied anywhere.
    let server = RedisServer::start();
    let config = RedisConfig::new(&server.url())
        .unwrap()
        .lock_lease(Duration::from_millis(300))
        .wait_for_replicas(1, Duration::from_millis(50));
    let store = RedisStore::connect_config(config).await.unwrap();
    let now = SystemTime::now();
    let err = store
        .save("svc", &TokenSet::new("at".to_string().into(), now))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not copied to 1 replica(s)"),
        "{err}"
    );
    // A lock no replica holds is given back, never handed to a caller.
    assert!(store.lock("svc", Duration::from_millis(400)).await.is_err());
    let mut conn = raw(&server).await;
    let lock: Option<String> = redis::cmd("GET")
        .arg("latchkey:lock:svc")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(lock, None, "the unreplicated lock was released");
}
