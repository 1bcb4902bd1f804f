//! The web session lookup per request: `GET /whoami`, whose handler takes the
//! [`AuthenticatedUser`] extractor (signed cookie, session record from the store, the
//! session's token manager, its cached access token), sent through the real router
//! in-process (`tower::ServiceExt::oneshot`, no sockets), with memory sessions, Redis
//! sessions and Redis Cluster sessions. A route without the extractor is measured beside
//! them: the router's own cost.
//!
//! `cargo bench -p latchkey-axum --features redis --bench session_lookup [-- --quick]`
//! prints one JSON line per store (`bench/redis_scale.sh` puts them into its table):
//! latency of one request at a time (p50, p99) and throughput with 32 requests in flight.
//! Each store gets one real login at the IdP fixture first.
#![allow(missing_docs, reason = "a benchmark binary")]
#![allow(
    clippy::print_stdout,
    reason = "stdout is this benchmark's report channel"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use axum::routing::get;
use latchkey::{ClientAuth, OidcProvider, RedisConfig};
use latchkey_axum::{AuthenticatedUser, SessionStore, WebAuth};
use latchkey_testkit::clients::{ALICE, WEB_APP};
use latchkey_testkit::person::UserAgent;
use latchkey_testkit::{Idp, RedisCluster, RedisServer};
use serde_json::json;
use tower::ServiceExt;
use url::Url;

/// Where the app pretends to live (nothing listens: requests go through `oneshot`).
const ORIGIN: &str = "http://127.0.0.1:18080";
const PEER: [u8; 4] = [10, 0, 0, 1];
/// Requests in flight at once for the throughput figure.
const IN_FLIGHT: usize = 32;

struct Sizes {
    warm_up: usize,
    sequential: usize,
    concurrent_for: Duration,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes = Sizes {
        warm_up: 500,
        sequential: if quick { 2_000 } else { 20_000 },
        concurrent_for: Duration::from_secs(if quick { 1 } else { 3 }),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let idp = Idp::start().await;
        let redis = RedisServer::start();
        let cluster = RedisCluster::start();
        let cluster_config = RedisConfig::new(&cluster.url())
            .expect("the cluster URL")
            .cluster();
        let stores = [
            ("memory", SessionStore::memory()),
            (
                "redis",
                SessionStore::redis(&redis.url()).await.expect("Redis"),
            ),
            (
                "redis-cluster",
                SessionStore::redis_with(cluster_config)
                    .await
                    .expect("Redis Cluster"),
            ),
        ];
        for (index, (name, store)) in stores.into_iter().enumerate() {
            let app = app(&idp, store).await;
            let cookie = log_in(&idp, &app).await;
            if index == 0 {
                measure(
                    &app,
                    "none (route without a session)",
                    "/plain",
                    &cookie,
                    &sizes,
                )
                .await;
            }
            measure(&app, name, "/whoami", &cookie, &sizes).await;
        }
    });
}

async fn app(idp: &Idp, store: SessionStore) -> Router {
    let provider = OidcProvider::discover(idp.issuer())
        .await
        .expect("discovery");
    let client = provider
        .client_builder(WEB_APP.0)
        .auth(ClientAuth::SecretBasic(WEB_APP.1.to_string().into()))
        .build()
        .expect("the web-app client");
    let auth = WebAuth::builder(provider, client, ORIGIN)
        .cookie_key(vec![42u8; 64].into())
        .loopback_development(true)
        // offline_access needs an explicit consent at oidc-provider.
        .param("prompt", "consent")
        .store(store)
        .build()
        .expect("the login routes");
    auth.attach(
        Router::new()
            .route(
                "/whoami",
                get(|user: AuthenticatedUser| async move { user.name().unwrap_or("?").to_owned() }),
            )
            .route("/plain", get(|| async { "?" })),
    )
}

fn request(uri: &str, cookie: &str) -> Request<Body> {
    let mut request = Request::builder().uri(uri);
    if !cookie.is_empty() {
        request = request.header(header::COOKIE, cookie);
    }
    let mut request = request.body(Body::empty()).expect("a request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((PEER, 40000))));
    request
}

/// The `name=value` pairs a response sets, as a `Cookie` header would send them.
fn cookies<B>(response: &Response<B>) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .filter(|pair| !pair.ends_with('='))
        .collect()
}

/// One login through the IdP fixture's real forms; returns the session's `Cookie` header.
async fn log_in(idp: &Idp, app: &Router) -> String {
    let response = app
        .clone()
        .oneshot(request("/auth/login?return_to=%2Fwhoami", ""))
        .await
        .expect("the login route");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login_cookie = cookies(&response).join("; ");
    let location = response.headers()[header::LOCATION]
        .to_str()
        .expect("a Location");
    let authorization = Url::parse(location).expect("the authorization URL");
    let callback = match UserAgent::new()
        .log_in_and_consent(&authorization, idp.issuer(), ALICE)
        .await
    {
        Err(callback) => callback,
        Ok(page) => panic!("the IdP did not redirect back: {}", page.body),
    };
    let target = format!(
        "{}?{}",
        callback.path(),
        callback.query().unwrap_or_default()
    );
    let response = app
        .clone()
        .oneshot(request(&target, &login_cookie))
        .await
        .expect("the callback route");
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the login failed");
    let session = cookies(&response).join("; ");
    assert!(session.contains("latchkey_session="), "no session cookie");
    session
}

async fn get_ok(app: &Router, uri: &str, cookie: &str) {
    let response = app
        .clone()
        .oneshot(request(uri, cookie))
        .await
        .expect("the router");
    assert_eq!(response.status(), StatusCode::OK, "GET {uri}");
    axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("the body");
}

/// The `p`-th percentile (nearest rank) of ascending `sorted`.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn measure(app: &Router, name: &str, uri: &str, cookie: &str, sizes: &Sizes) {
    for _ in 0..sizes.warm_up {
        get_ok(app, uri, cookie).await;
    }
    let mut latencies: Vec<u64> = Vec::with_capacity(sizes.sequential);
    for _ in 0..sizes.sequential {
        let started = Instant::now();
        get_ok(app, uri, cookie).await;
        latencies.push(started.elapsed().as_nanos() as u64);
    }
    latencies.sort_unstable();

    let served = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + sizes.concurrent_for;
    let tasks: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (app, served, uri, cookie) = (
                app.clone(),
                served.clone(),
                uri.to_owned(),
                cookie.to_owned(),
            );
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    get_ok(&app, &uri, &cookie).await;
                    served.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a request task");
    }
    let per_second = served.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "store": name,
            "measure": "session",
            "requests": sizes.sequential,
            "p50_us": percentile(&latencies, 50.0) as f64 / 1e3,
            "p99_us": percentile(&latencies, 99.0) as f64 / 1e3,
            "in_flight": IN_FLIGHT,
            "per_second": per_second,
        })
    );
}
