//! Two instances of an app (two routers, same cookie key) behind one real Redis session
//! store: a login on one is a session on the other, and a logout on either ends it for both;
//! the same over TLS with an ACL user.

use crate::support::*;
use axum::http::StatusCode;
use latchkey::RedisConfig;
use latchkey_axum::SessionStore;
use latchkey_testkit::{Idp, RedisCluster, RedisServer};
use serde_json::Value;

async fn instance(idp: &Idp, redis: &RedisServer) -> axum::Router {
    let store = SessionStore::redis(&redis.url()).await.expect("redis");
    with_store(idp, store).await
}

async fn with_store(idp: &Idp, store: SessionStore) -> axum::Router {
    let auth = builder(idp).await.store(store).build().unwrap();
    app(&auth)
}

async fn authenticated(app: &axum::Router, jar: &Jar) -> bool {
    let (_, body) = send(app, request("GET", "/auth/status", jar, [10, 0, 0, 1])).await;
    serde_json::from_str::<Value>(&body).unwrap()["authenticated"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_on_one_instance_is_a_session_on_the_other() {
    let idp = Idp::start().await;
    let redis = RedisServer::start();
    let (one, two) = (instance(&idp, &redis).await, instance(&idp, &redis).await);
    login_on_one_is_a_session_on_the_other(&idp, one, two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_shared_over_tls_with_an_acl_user() {
    let idp = Idp::start().await;
    let redis = RedisServer::builder()
        .tls()
        .acl_user("web", "web-s3cret")
        .start();
    let url = redis.url().replace("rediss://", "rediss://web@");
    let config = RedisConfig::new(&url)
        .unwrap()
        .ca_pem(redis.pki().unwrap().ca.clone().into_bytes())
        .password("web-s3cret".to_string().into());
    let one = with_store(
        &idp,
        SessionStore::redis_with(config.clone()).await.unwrap(),
    )
    .await;
    let two = with_store(&idp, SessionStore::redis_with(config).await.unwrap()).await;
    login_on_one_is_a_session_on_the_other(&idp, one, two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_shared_on_a_redis_cluster() {
    let idp = Idp::start().await;
    let cluster = RedisCluster::start();
    let config = RedisConfig::new(&cluster.url()).unwrap().cluster();
    let one = with_store(
        &idp,
        SessionStore::redis_with(config.clone()).await.unwrap(),
    )
    .await;
    let two = with_store(&idp, SessionStore::redis_with(config).await.unwrap()).await;
    login_on_one_is_a_session_on_the_other(&idp, one, two).await;
}

async fn login_on_one_is_a_session_on_the_other(idp: &Idp, one: axum::Router, two: axum::Router) {
    // The login starts on one instance and its callback lands on the other.
    let mut jar = Jar::default();
    let callback = login_until_callback(idp, &one, &mut jar).await;
    let (response, body) = send(
        &two,
        request("GET", &target(&callback), &jar, [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{body}");
    // The login state is single-use across instances too.
    let (replay, _) = send(
        &one,
        request("GET", &target(&callback), &jar, [10, 0, 0, 1]),
    )
    .await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    jar.absorb(&response);

    assert!(authenticated(&one, &jar).await);
    assert!(authenticated(&two, &jar).await);
    let (_, name) = send(&one, request("GET", "/whoami", &jar, [10, 0, 0, 1])).await;
    assert_eq!(name, "Alice Example");

    // A refresh asked of both instances runs once: the second finds the first one's result
    // in Redis under the refresh lock (and never replays the rotated refresh token, which the
    // IdP would punish by revoking the whole grant).
    for app in [&one, &two] {
        let (response, body) =
            send(app, request("POST", "/auth/refresh", &jar, [10, 0, 0, 1])).await;
        assert_eq!(response.status(), StatusCode::OK, "{body}");
    }
    assert_eq!(idp.counters().await.token("refresh_token"), 1);
    let (_, token_one) = send(&one, request("GET", "/token", &jar, [10, 0, 0, 1])).await;
    let (_, token_two) = send(&two, request("GET", "/token", &jar, [10, 0, 0, 1])).await;
    assert_eq!(token_one, token_two);
    assert!(idp.is_active(&token_two).await);

    // Logging out on two ends the session on one as well.
    let (response, _) = send(&two, request("POST", "/auth/logout", &jar, [10, 0, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(!authenticated(&one, &jar).await);
    assert!(!idp.is_active(&token_two).await, "revoked at logout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_pending_logins_capped_across_instances() {
    let idp = Idp::start().await;
    let redis = RedisServer::start();
    let capped = || async {
        let store = SessionStore::redis(&redis.url()).await.expect("redis");
        let auth = builder(&idp)
            .await
            .store(store)
            .max_pending_logins(2)
            .build()
            .unwrap();
        app(&auth)
    };
    let (one, two) = (capped().await, capped().await);
    let mut first = Jar::default();
    let (response, body) = send(&one, request("GET", "/auth/login", &first, [10, 1, 0, 1])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{body}");
    first.absorb(&response);
    let (response, body) = send(
        &two,
        request("GET", "/auth/login", &Jar::default(), [10, 1, 0, 2]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{body}");
    // The cap counts the logins pending on every instance.
    for app in [&one, &two] {
        let (response, body) = send(
            app,
            request("GET", "/auth/login", &Jar::default(), [10, 1, 0, 3]),
        )
        .await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(response.headers().contains_key("retry-after"));
    }
    // The first login's callback, on the other instance, frees its place.
    let (response, _) = send(
        &two,
        request(
            "GET",
            "/auth/callback?state=forged&code=x",
            &first,
            [10, 1, 0, 1],
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (response, body) = send(
        &one,
        request("GET", "/auth/login", &Jar::default(), [10, 1, 0, 3]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{body}");
}
